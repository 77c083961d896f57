"""`gameday render k8s SYSTEM -o DIR`: Kubernetes manifests from the same system file.

    render(spec, Path("deploy/k8s"))   # -> [deploy/k8s/<service>.yaml, ..., toxiproxy.yaml]

One file per service (and per infrastructure process): a ConfigMap with its `env:`, a
Deployment (the command of the system file, `replicas`, the readiness probe, Prometheus
scrape annotations), a Service, and for a service with `autoscale:` an autoscaling/v2
HorizontalPodAutoscaler with the same policy (min, max, the metric as a per-pod target,
`scale_up_after`/`scale_down_after` as the stabilisation windows, the tolerance).

Per-edge faults need a proxy on every edge: `toxiproxy.yaml` runs Toxiproxy (the real one)
with one proxy per edge *caller -> callee* from a ConfigMap, and every caller's `<DEP>_URLS`
points at its edge's proxy; the callee's Service balances over its pods behind it (so in a
cluster a fault targets a service or an edge; one replica is a pod to delete). Every service
reads `GAMEDAY_RUN_SECRET` from the Secret `<system>-run-secret`, made before applying:

    kubectl create secret generic shop-run-secret --from-literal=GAMEDAY_RUN_SECRET=$(
        python3 -c 'import secrets; print(secrets.token_urlsafe(32))')

Pure apart
from writing the files; the output is deterministic (a test compares it with deploy/k8s/).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from chaos.runtime.secret import SECRET_ENV
from chaos.system.model import Autoscale, ServiceSpec, SystemSpec, urls_env

PORT = 8000
TOXIPROXY = "toxiproxy"
TOXIPROXY_IMAGE = "ghcr.io/shopify/toxiproxy:2.9.0"
TOXIPROXY_API = 8474
FIRST_EDGE_PORT = 20000
DATA = "/data"
# The custom-metrics names a metrics adapter (e.g. prometheus-adapter) serves per pod.
POD_METRICS = {"busy": "concurrency_busy_ratio", "in_flight": "http_server_active_requests"}
CPU_REQUEST_MILLI = 1000  # a `cpu` target in cores is a utilisation of one core per pod


def image_of(spec: SystemSpec) -> str:
    """The one image every process runs from (built from the project, e.g. `<name>:latest`)."""
    return f"{spec.name}:latest"


def _labels(spec: SystemSpec, name: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": spec.name}


def _command(component: ServiceSpec) -> list[str]:
    values = {"port": PORT, "data": DATA, "python": "python", "name": component.name, "replica": 0}
    # Pods talk over the pod network: a command bound to loopback listens on every interface.
    return [w.format(**values).replace("127.0.0.1", "0.0.0.0") for w in component.command]


def edges(spec: SystemSpec) -> list[tuple[str, str, int]]:
    """(caller, callee, proxy port) for every dependency edge, in system-file order."""
    found: list[tuple[str, str, int]] = []
    for caller, service in spec.services.items():
        for callee in service.depends_on:
            found.append((caller, callee, FIRST_EDGE_PORT + len(found)))
    return found


def _config_map(
    spec: SystemSpec, component: ServiceSpec, proxies: dict[str, str]
) -> dict[str, Any]:
    data = {
        **component.env,
        **proxies,
        "GAMEDAY_SERVICE": component.name,
        "GAMEDAY_DATA_DIR": f"{DATA}/{component.name}",
        "OTEL_SERVICE_NAME": component.name,
    }
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"{component.name}-env", "labels": _labels(spec, component.name)},
        "data": dict(sorted(data.items())),
    }


def secret_name(spec: SystemSpec) -> str:
    """The Secret every service's `GAMEDAY_RUN_SECRET` comes from (made with kubectl)."""
    return f"{spec.name}-run-secret"


def _probe(component: ServiceSpec) -> dict[str, Any]:
    if component.health == "tcp":
        return {"tcpSocket": {"port": PORT}, "periodSeconds": 2}
    return {"httpGet": {"path": component.health, "port": PORT}, "periodSeconds": 2}


def _deployment(spec: SystemSpec, component: ServiceSpec) -> dict[str, Any]:
    labels = _labels(spec, component.name)
    annotations = {}
    if component.metrics is not None:
        annotations = {
            "prometheus.io/scrape": "true",
            "prometheus.io/port": str(PORT),
            "prometheus.io/path": component.metrics,
        }
    container: dict[str, Any] = {
        "name": component.name,
        "image": image_of(spec),
        "command": _command(component),
        "ports": [{"name": "main", "containerPort": PORT}],
        "envFrom": [{"configMapRef": {"name": f"{component.name}-env"}}],
        "readinessProbe": _probe(component),
        "volumeMounts": [{"name": "data", "mountPath": DATA}],
    }
    if not component.infrastructure:
        # The run's secret (chaos/runtime/secret.py), from a Secret made for each deployment.
        secret = {"name": secret_name(spec), "key": SECRET_ENV}
        container["env"] = [{"name": SECRET_ENV, "valueFrom": {"secretKeyRef": secret}}]
    if component.autoscale is not None and component.autoscale.metric == "cpu":
        container["resources"] = {"requests": {"cpu": f"{CPU_REQUEST_MILLI}m"}}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": component.name, "labels": labels},
        "spec": {
            "replicas": component.replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels, "annotations": annotations},
                "spec": {
                    "containers": [container],
                    "volumes": [{"name": "data", "emptyDir": {}}],
                },
            },
        },
    }


def _service(spec: SystemSpec, name: str, ports: list[tuple[str, int]]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": _labels(spec, name)},
        "spec": {
            "selector": _labels(spec, name),
            "ports": [{"name": n, "port": p, "targetPort": p} for n, p in ports],
        },
    }


def hpa(spec: SystemSpec, name: str, policy: Autoscale) -> dict[str, Any]:
    """An autoscaling/v2 HorizontalPodAutoscaler carrying the system file's policy."""
    if policy.metric == "cpu":
        metric: dict[str, Any] = {
            "type": "Resource",
            "resource": {
                "name": "cpu",
                "target": {
                    "type": "Utilization",
                    "averageUtilization": round(policy.target * 1000 / CPU_REQUEST_MILLI * 100),
                },
            },
        }
    else:
        metric = {
            "type": "Pods",
            "pods": {
                "metric": {"name": POD_METRICS[policy.metric]},
                "target": {
                    "type": "AverageValue",
                    "averageValue": f"{round(policy.target * 1000)}m",
                },
            },
        }

    def rules(window: float) -> dict[str, Any]:
        return {
            "stabilizationWindowSeconds": round(window),
            "tolerance": f"{round(policy.tolerance * 100)}m",
        }

    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name, "labels": _labels(spec, name)},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": policy.min,
            "maxReplicas": policy.max,
            "metrics": [metric],
            "behavior": {
                "scaleUp": rules(policy.scale_up_after),
                "scaleDown": rules(policy.scale_down_after),
            },
        },
    }


def _toxiproxy(spec: SystemSpec) -> list[dict[str, Any]]:
    proxies = [
        {
            "name": f"{caller}.{callee}",
            "listen": f"0.0.0.0:{port}",
            "upstream": f"{callee}:{PORT}",
            "enabled": True,
        }
        for caller, callee, port in edges(spec)
    ]
    labels = _labels(spec, TOXIPROXY)
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "toxiproxy-config", "labels": labels},
        "data": {"toxiproxy.json": json.dumps(proxies, indent=2) + "\n"},
    }
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": TOXIPROXY, "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {
                            "name": TOXIPROXY,
                            "image": TOXIPROXY_IMAGE,
                            "args": ["-host=0.0.0.0", "-config=/config/toxiproxy.json"],
                            "ports": [{"name": "api", "containerPort": TOXIPROXY_API}],
                            "readinessProbe": {
                                "httpGet": {"path": "/version", "port": TOXIPROXY_API}
                            },
                            "volumeMounts": [{"name": "config", "mountPath": "/config"}],
                        }
                    ],
                    "volumes": [{"name": "config", "configMap": {"name": "toxiproxy-config"}}],
                },
            },
        },
    }
    ports = [("api", TOXIPROXY_API)] + [(f"edge-{i}", p) for i, (_, _, p) in enumerate(edges(spec))]
    return [config, deployment, _service(spec, TOXIPROXY, ports)]


def manifests(spec: SystemSpec) -> dict[str, list[dict[str, Any]]]:
    """File name -> the documents in it (pure)."""
    by_edge = {(c, d): p for c, d, p in edges(spec)}
    files: dict[str, list[dict[str, Any]]] = {}
    for name, component in spec.components.items():
        proxies = {
            urls_env(dep): f"{spec.components[dep].scheme}://{TOXIPROXY}:{by_edge[name, dep]}"
            for dep in component.depends_on
        }
        documents = [
            _config_map(spec, component, proxies),
            _deployment(spec, component),
            _service(spec, name, [("main", PORT)]),
        ]
        if component.autoscale is not None:
            documents.append(hpa(spec, name, component.autoscale))
        files[f"{name}.yaml"] = documents
    files[f"{TOXIPROXY}.yaml"] = _toxiproxy(spec)
    return files


def render(spec: SystemSpec, out_dir: Path) -> list[Path]:
    """Write one YAML file per service, infrastructure process, and the Toxiproxy."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, documents in manifests(spec).items():
        path = out_dir / name
        header = f"# Rendered by `gameday render k8s` from {Path(spec.source).name}; do not edit.\n"
        path.write_text(header + yaml.safe_dump_all(documents, sort_keys=False))
        written.append(path)
    return written
