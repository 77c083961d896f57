"""The Kubernetes rendering: the checked-in deploy/k8s equals a fresh render, and every
manifest validates against the pinned Kubernetes schemas (kubernetes-validate)."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from chaos.render.k8s import hpa, render
from chaos.system.model import load_system
from tests.support import ROOT

KUBERNETES = "1.33.0"  # the pinned schema version (kubernetes-validate bundles it)
CHECKED_IN = ROOT / "deploy" / "k8s"
SYSTEM = ROOT / "sample_system" / "system.yaml"


def test_the_checked_in_rendering_is_current(tmp_path: Path) -> None:
    written = render(load_system(SYSTEM), tmp_path)
    fresh = {p.name: p.read_text() for p in written}
    kept = {p.name: p.read_text() for p in CHECKED_IN.glob("*.yaml")}
    assert fresh == kept, (
        "deploy/k8s is stale: gameday render k8s sample_system/system.yaml -o deploy/k8s"
    )


@pytest.mark.parametrize("path", sorted(CHECKED_IN.glob("*.yaml")), ids=lambda p: p.name)
def test_every_manifest_validates_against_the_kubernetes_schemas(path: Path) -> None:
    for document in yaml.safe_load_all(path.read_text()):
        kubernetes_validate.validate(document, KUBERNETES, strict=True)


def test_payments_hpa_carries_the_system_file_policy() -> None:
    spec = load_system(SYSTEM)
    policy = spec.services["payments"].autoscale
    assert policy is not None
    manifest = hpa(spec, "payments", policy)
    body = manifest["spec"]
    assert (body["minReplicas"], body["maxReplicas"]) == (policy.min, policy.max)
    assert body["metrics"][0]["pods"]["target"]["averageValue"] == "500m"  # target: 0.5
    assert body["behavior"]["scaleUp"]["stabilizationWindowSeconds"] == 3
    assert body["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 10
    documents = list(yaml.safe_load_all((CHECKED_IN / "orders.yaml").read_text()))
    env = documents[0]["data"]
    assert env["PAYMENTS_URLS"].startswith("http://toxiproxy:")  # every edge through its proxy
    edges = yaml.safe_load_all((CHECKED_IN / "toxiproxy.yaml").read_text())
    config = next(edges)["data"]["toxiproxy.json"]
    assert '"name": "orders.payments"' in config
