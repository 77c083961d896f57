"""The model behind the rules: slis.yaml read against the system file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dashboards.slo import ModelInvalid, load_model

ROOT = Path(__file__).parents[2]
DASHBOARDS = ROOT / "dashboards"


def with_edges(tmp_path: Path, edge_latency: str) -> Path:
    text = (DASHBOARDS / "slis.yaml").read_text()
    start = text.index("edge_latency:\n")
    end = text.index("# Services with a transactional outbox")
    system = (DASHBOARDS.parent / "sample_system" / "system.yaml").resolve()
    text = text[:start] + f"edge_latency: {edge_latency}\n" + text[end:]
    path = tmp_path / "slis.yaml"
    path.write_text(text.replace("system: ../sample_system/system.yaml", f"system: {system}"))
    return path


CLIENT = re.compile(r'client_from_env\(\s*env,\s*"(\w+)",\s*Policy\(timeout=([\d.]+)')


def callers_timeouts() -> dict[str, float]:
    """Each edge's timeout, as the caller's code sets it (sample_system/<caller>/app.py)."""
    found = {}
    for app in sorted((ROOT / "sample_system").glob("*/app.py")):
        for callee, timeout in CLIENT.findall(app.read_text()):
            found[f"{app.parent.name}->{callee}"] = float(timeout)
    return found


def test_each_edge_latency_threshold_is_below_its_callers_timeout():
    model = load_model(DASHBOARDS / "slis.yaml")
    thresholds = {f"{e.caller}->{e.callee}": e.latency_threshold for e in model.edges}
    timeouts = callers_timeouts()
    assert timeouts.keys() == {e for e in thresholds if not e.endswith("->nats")}
    # A call ends at its timeout: a threshold at or above it could never fire.
    assert {e: (thresholds[e], t) for e, t in timeouts.items() if thresholds[e] >= t} == {}


def test_a_threshold_between_buckets_is_refused_with_the_nearest_ones(tmp_path: Path):
    with pytest.raises(ModelInvalid, match=r"orders->payments: 0.3 is not .* use 0.25 or 0.5"):
        load_model(with_edges(tmp_path, "{orders->payments: 0.3}"))


def test_a_threshold_for_an_edge_the_system_lacks_is_refused(tmp_path: Path):
    with pytest.raises(ModelInvalid, match=r"\['orders->reviews'\], not edges of"):
        load_model(with_edges(tmp_path, "{orders->reviews: 0.25}"))
