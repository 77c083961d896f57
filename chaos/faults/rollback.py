"""`gameday rollback`: undo what crashed runs left behind, from their journals.

For every journal under the given directory (default `.gameday/runs`) that still lists a
live fault or never finished, and whose process is gone (a run in progress is left alone):

1. each live fault's actions are undone, newest first (toxics removed, proxies enabled,
   paused process groups continued) through the Toxiproxy API recorded in the journal;
2. every process still carrying that run's GAMEDAY_RUN_DIR (the load, and the services, the
   fault proxy and infrastructure of a system the run started) is stopped;
3. a journal still `running` is marked crashed (`gameday rollback` then rewrites the run's
   summary.md and junit.xml, see chaos.experiment.crashed).

Running it twice is harmless: the second time there is nothing left.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from chaos.errors import GamedayError
from chaos.experiment.crashed import mark_crashed, owner_alive
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
    note: str | None = None  # why nothing was done (a run still in progress)


def needs_rollback(journal: Journal) -> bool:
    """True when the run never finished (or never wrote its report) or a fault may still be
    in place."""
    return journal.status == "running" or journal.unreported or bool(journal.live_faults())


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
    # The load carries the run's GAMEDAY_RUN_DIR even when the system was not the run's own.
    stopped, survivors = stop_run({"run_dir": str(run_dir)}, grace)
    report.stopped = stopped
    report.errors += [f"process {pid} would not stop" for pid in survivors]
    if journal.status == "running" or journal.unreported:
        mark_crashed(journal)
    return report


def rollback(root: Path) -> list[Rollback]:
    """Roll back every run under `root` that needs it and whose process is gone."""
    reports = []
    for path in find_journals(root):
        journal = Journal.load(path)
        if not needs_rollback(journal):
            continue
        if owner_alive(journal.data):
            pid = journal.data["owner"]["pid"]
            reports.append(
                Rollback(
                    Path(journal.data["run_dir"]),
                    note=f"still in progress (pid {pid}); left alone: Ctrl-C or `kill {pid}` "
                    "stops it and removes its faults",
                )
            )
            continue
        reports.append(rollback_run(journal))
    return reports
