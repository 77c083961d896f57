"""`gameday render compose`: the checked-in stack is the shop's rendering, and it is valid."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import jsonschema
import yaml

from chaos.render.compose import compose_file, proxies, render
from chaos.system.model import load_system
from tests.conftest import require_binary

ROOT = Path(__file__).parents[3]
SHOP = ROOT / "sample_system" / "system.yaml"
# The Compose specification's JSON schema, as Debian's docker-compose 1.29 ships it
# (compose/config/compose_spec.json, Apache-2.0), vendored so the check runs anywhere.
SCHEMA = Path(__file__).with_name("compose_spec.json")


def test_the_checked_in_stack_is_the_rendering_of_the_shop(tmp_path: Path):
    written = render(load_system(SHOP), tmp_path)
    stale = [
        str(p.relative_to(tmp_path))
        for p in written
        if (ROOT / p.relative_to(tmp_path)).read_text() != p.read_text()
    ]
    assert not stale, f"regenerate with `gameday render compose {SHOP.relative_to(ROOT)} -o .`"


def test_the_stack_validates_against_the_compose_specification_schema():
    document = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    validator().validate(document)


def validator() -> jsonschema.Draft201909Validator:
    return jsonschema.Draft201909Validator(json.loads(SCHEMA.read_text()))


def test_a_broken_stack_fails_the_schema():
    document = compose_file(load_system(SHOP))
    document["services"]["gateway"]["ports"] = "8000"  # must be a list
    try:
        validator().validate(document)
    except jsonschema.ValidationError as exc:
        assert "ports" in str(exc.path)
    else:
        raise AssertionError("a string for ports passed the schema")


def test_debians_docker_compose_accepts_the_stack():
    binary = require_binary("docker-compose", "sudo apt-get install docker-compose")

    def config(secret: dict[str, str]) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if k != "GAMEDAY_RUN_SECRET"}
        return subprocess.run(
            [binary, "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
            env={**env, **secret},
        )

    result = config({"GAMEDAY_RUN_SECRET": "a-secret-for-this-run-only"})
    assert result.returncode == 0, result.stderr
    # The services' secret comes from the shell: without it, compose stops and says so.
    assert "export GAMEDAY_RUN_SECRET first" in config({}).stderr


def test_every_edge_goes_through_its_own_toxiproxy_proxy():
    spec = load_system(SHOP)
    stack = compose_file(spec)
    routes = {p["name"]: p for p in proxies(spec)}
    assert routes["orders.payments.1"]["upstream"] == "payments-1:8000"
    assert routes["orders.nats.0"]["upstream"] == "nats:4222"
    listen = {p["listen"].rsplit(":", 1)[1] for p in routes.values()}
    assert len(listen) == len(routes)  # one port per proxy
    orders = stack["services"]["orders"]["environment"]
    ports = [url.rsplit(":", 1)[1] for url in orders["PAYMENTS_URLS"].split(",")]
    assert ports == [routes[f"orders.payments.{r}"]["listen"].rsplit(":", 1)[1] for r in (0, 1)]
    assert orders["NATS_URLS"].startswith("nats://toxiproxy:")
    expected = {
        "gateway", "catalog", "reviews", "inventory", "orders", "payments-0", "payments-1",
        "notifications", "nats", "toxiproxy", "otel-collector", "jaeger", "prometheus",
        "grafana", "locust",
    }  # fmt: skip
    assert set(stack["services"]) == expected
    published = [p for s in stack["services"].values() for p in s.get("ports", [])]
    assert all(p.startswith("127.0.0.1:") for p in published)


def test_prometheus_in_the_stack_scrapes_every_replica_with_the_runtimes_labels():
    config = yaml.safe_load((ROOT / "compose" / "prometheus.yml").read_text())
    labels = {
        (t["labels"]["service"], t["labels"]["replica"])
        for job in config["scrape_configs"]
        for t in job["static_configs"]
    }
    assert ("payments", "1") in labels and ("gameday-proxy", "0") in labels
    assert ("nats", "0") not in labels  # infrastructure without /metrics
    stack = compose_file(load_system(SHOP))
    assert "--enable-feature=exemplar-storage" in stack["services"]["prometheus"]["command"]
