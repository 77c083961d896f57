"""Loading SLO files: what is accepted, and errors that name file:line, the value and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadtests.errors import SloInvalid
from loadtests.slo import load_slo, parse_slo

GOOD = """\
window: 10s
warmup: 2s
journeys:
  checkout:
    p50: 100       # bare numbers are milliseconds
    p99.9: 1.5s
    error_rate: 1%
    min_throughput: 300/m
  "*":
    p95: 250ms
"""


def test_a_full_file(tmp_path: Path) -> None:
    path = tmp_path / "slo.yaml"
    path.write_text(GOOD)
    spec = load_slo(path)
    assert (spec.window_s, spec.warmup_s) == (10.0, 2.0)
    checkout = spec.for_journey("checkout")
    assert checkout is not None
    assert [(o.metric, o.limit) for o in checkout.objectives] == [
        ("p50", 100.0),
        ("p99.9", 1500.0),
        ("error_rate", pytest.approx(0.01)),
        ("min_throughput", pytest.approx(5.0)),
    ]
    assert checkout.objectives[1].percentile == 99.9
    assert checkout.objectives[0].source == f"{path}:5"
    other = spec.for_journey("browse")
    assert other is not None and other.journey == "*"
    assert spec.named_journeys == ("checkout",)


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("journeys:\n  a:\n    p99: fast\n", 3, r"'fast' is not a duration; write e\.g\. 250ms"),
        ("journeys:\n  a:\n    p999: 1s\n", 3, r"'p999' must be in \(0, 100\]; write p99 for"),
        ("journeys:\n  a:\n    eror_rate: 1%\n", 3, r"unknown threshold 'eror_rate' \(did you"),
        ("journey:\n  a: {p99: 1s}\n", 1, r"unknown key 'journey' \(did you mean 'journeys'\?\)"),
        ("journeys:\n  a:\n    error_rate: 120%\n", 3, r"error_rate: '120%' is more than 100%"),
        ("journeys:\n  a: {}\n", 2, r"journey 'a' has no thresholds; add e\.g\. 'p99: 1s'"),
        ("journeys:\n  a: {p99: 1s}\n  a: {p50: 1s}\n", 3, r"'a' appears twice"),
        ("window: 0s\njourneys: {a: {p99: 1s}}\n", 1, r"window must be > 0"),
        ("journeys:\n  a: [p99]\n", 2, r"journey 'a' must be a mapping"),
        ("journeys:\n  a:\n    p99: [1, 2]\n", 3, r"p99 must be a single value"),
        ("journeys:\n  a: {p99: 1s\n", 3, r"not valid YAML"),
    ],
)
def test_errors_name_file_line_value_and_fix(text: str, line: int, message: str) -> None:
    with pytest.raises(SloInvalid, match=rf"^slo\.yaml:{line}: .*{message}"):
        parse_slo(text, source="slo.yaml")


def test_missing_journeys_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SloInvalid, match=r"no 'journeys' key; add e\.g\."):
        parse_slo("window: 10s\n", source="slo.yaml")
    with pytest.raises(SloInvalid, match=r"--gameday-slo or GAMEDAY_SLO"):
        load_slo(tmp_path / "nope.yaml")
    with pytest.raises(SloInvalid, match=r"the SLO file must be a mapping"):
        parse_slo("", source="slo.yaml")
