"""`gameday rollback`: undo what crashed runs left behind, from their journals.

For every journal under the given directory (default `.gameday/runs`) that still lists a
live fault or never finished:

1. each live fault's actions are undone, newest first (toxics removed, proxies enabled,
   paused process groups continued) through the Toxiproxy API recorded in the journal;
2. when the run had started its own system, every process still carrying that run's
   GAMEDAY_RUN_DIR (services, the fault proxy, the load) is stopped;
3. the journal is marked interrupted, with what was rolled back.

Running it twice is harmless: the second time there is nothing left.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from chaos.errors import GamedayError
from chaos.faults.actions import Injector
from chaos.faults.journal import Journal, find_journals
from chaos.proxy.client import ToxiproxyClient
from chaos.runtime.state import stop_run

logger = logging.getLogger(__name__)


@dataclass
class Rollback:
    """What rolling back one run did."""

    run_dir: Path
    undone: list[str] = field(default_factory=list)
    stopped: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def needs_rollback(journal: Journal) -> bool:
    """True when the run never finished or a fault may still be in place."""
    return journal.status == "running" or bool(journal.live_faults())


def rollback_run(journal: Journal, *, grace: float = 5.0) -> Rollback:
    """Undo one run's live faults and stop its leftover processes."""
    run_dir = Path(journal.data["run_dir"])
    report = Rollback(run_dir)
    url = journal.data.get("toxiproxy")
    toxiproxy = ToxiproxyClient(url) if url else None
    reachable = toxiproxy is not None and toxiproxy.running()
    for index, actions in journal.live_faults():
        failed = False
        for action in reversed(actions):
            if action.kind in ("toxic", "disable") and not reachable:
                # The proxy server is gone, and with it every toxic it held.
                report.undone.append(f"{action.describe()} (proxy server gone)")
                continue
            try:
                Injector(toxiproxy, None).undo(action)
                report.undone.append(action.describe())
            except GamedayError as exc:
                failed = True
                report.errors.append(f"{action.describe()}: {exc}")
        if not failed:
            journal.fault_removed(index)
    if journal.data.get("owns_system"):
        stopped, survivors = stop_run({"run_dir": str(run_dir)}, grace)
        report.stopped = stopped
        report.errors += [f"process {pid} would not stop" for pid in survivors]
    if journal.status == "running":
        journal.finish("interrupted", error="the run died; rolled back by `gameday rollback`")
    return report


def rollback(root: Path) -> list[Rollback]:
    """Roll back every run under `root` that needs it."""
    reports = []
    for path in find_journals(root):
        journal = Journal.load(path)
        if needs_rollback(journal):
            reports.append(rollback_run(journal))
    return reports
