"""schemathesis, as a library, against every service of the shop as the runtime runs them.

Every phase (examples, coverage, fuzzing, stateful over the documents' links), every check
(status codes, response schemas and headers, positive data accepted, negative data refused,
auth enforced, Allow, ...), on real processes on loopback, with the run's secret or the demo
API key. A deterministic seed and a bound on examples keep it repeatable and under a minute.

    flock /tmp/gameday-heavy.lock .venv/bin/pytest tests/sample_system/test_schemathesis.py -s
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from schemathesis.engine import Status, events

from chaos.runtime import RunningSystem, start_system
from chaos.runtime.secret import read_secret
from chaos.system.model import load_system
from tests.sample_system.test_e2e import KEY, SYSTEM_FILE
from tests.sample_system.test_e2e_crash import with_env

pytestmark = pytest.mark.slow

SERVICES = ("catalog", "reviews", "inventory", "payments", "orders", "notifications", "gateway")
SEED = 20261122
MAX_EXAMPLES = 20  # per operation and phase
MAX_STEPS = 6  # per stateful scenario


@dataclass
class Outcome:
    """What one schemathesis run found."""

    operations: int
    cases: set[str] = field(default_factory=set)
    failures: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)
    phases: dict[str, str] = field(default_factory=dict)
    stop_reason: str = ""
    seconds: float = 0.0

    def summary(self, service: str) -> str:
        return (
            f"{service}: {self.operations} operations, {len(self.cases)} cases, "
            f"{len(self.failures)} failures, {len(self.errors)} errors in {self.seconds:.1f} s "
            f"(phases: {', '.join(f'{k}={v}' for k, v in self.phases.items())})"
        )


def run_schemathesis(base_url: str, headers: Mapping[str, str]) -> Outcome:
    """Run every phase and check of schemathesis against the service at `base_url`."""
    config = schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "headers": dict(headers),
            "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True},
            "checks": {"enabled": True},
            "phases": {"stateful": {"max-steps": MAX_STEPS}},
            "request-timeout": 10,
        }
    )
    schema = schemathesis.openapi.from_url(
        base_url + "/openapi.json", config=config, headers=dict(headers), timeout=10
    )
    schema.config.update(base_url=base_url)
    outcome = Outcome(operations=schema.statistic.operations.selected)
    started = time.monotonic()
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            _record(outcome, event)
        elif isinstance(event, events.PhaseFinished):
            outcome.phases[event.phase.name.value] = event.status.value
        elif isinstance(event, events.NonFatalError):
            outcome.errors.append(f"{event.label}: {event.info.format()}")
        elif isinstance(event, events.FatalError):
            outcome.errors.append(f"fatal: {event.exception!r}")
        elif isinstance(event, events.EngineFinished):
            outcome.stop_reason = event.stop_reason.value
            outcome.failures.update(f"after the run: {f.title}" for f in event.failures)
    outcome.seconds = time.monotonic() - started
    return outcome


def _record(outcome: Outcome, event: events.ScenarioFinished) -> None:
    recorder = event.recorder
    outcome.cases.update(recorder.cases)
    for case_id, checks in recorder.checks.items():
        for check in checks:
            if check.status != Status.FAILURE:
                continue
            case: Any = recorder.cases[case_id].value
            failure = check.failure_info.failure if check.failure_info else None
            detail = f"{failure.title}: {failure.message}" if failure else ""
            outcome.failures.add(
                f"{check.name} on {case.operation.label}: {detail}\n    {case.as_curl_command()}"
            )


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSystem]:
    # The processor's real latency only slows the fuzzing of payments down.
    spec = with_env(load_system(SYSTEM_FILE), {"payments": {"PROCESSOR_LATENCY_MS": "1-3"}})
    with start_system(spec, run_dir=tmp_path_factory.mktemp("shop")) as system:
        yield system


@pytest.mark.parametrize("service", SERVICES)
def test_the_service_keeps_its_documented_contract(shop: RunningSystem, service: str):
    secret = read_secret(Path(shop.run_dir))
    headers = KEY if service == "gateway" else {"Authorization": f"Bearer {secret}"}
    outcome = run_schemathesis(shop.url(service), headers)
    print(outcome.summary(service))
    assert outcome.stop_reason == "completed", outcome.summary(service)
    assert outcome.errors == [], "\n".join(outcome.errors)
    assert outcome.failures == set(), "\n".join(sorted(outcome.failures))
    assert outcome.phases.get("stateful") == "success", outcome.summary(service)
    assert outcome.operations >= 2 and len(outcome.cases) >= 10 * outcome.operations
