"""Rendering a system file for other runtimes: Docker Compose (`compose`) and Kubernetes (`k8s`)."""
