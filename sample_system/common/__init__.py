"""Code shared by the shop's services: config, database, HTTP client, resilience, messaging."""
