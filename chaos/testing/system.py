"""The system a test session runs against: started from its system file, or `gameday up`'s.

    with system_under_test("sample_system/system.yaml") as system:
        system.entry_url             # base URL of the public service (where load is sent)
        system.url("payments", 1)    # direct URL of one replica
        system.runtime               # RunningSystem (kill, pause, scale...) or AttachedSystem
        system.journal               # every fault the session injects, before it is injected

The session has its own run directory, `.gameday/runs/pytest-<system>-<UTC time>`: the
runtime's files (when the session started the system), the journal, and each load's
samples. Should the session die without cleaning up, `gameday rollback` finds the journal
there, undoes the faults it still lists and stops the processes of the run.

With `attach`, the session uses the system `gameday up` runs (read from its state file):
only proxy faults are possible then, and the system keeps running after the session.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from chaos.experiment.attach import AttachedSystem, attach_system
from chaos.experiment.crashed import RunGuard
from chaos.faults.actions import Injector
from chaos.faults.injection import remove_live
from chaos.faults.journal import Journal, unique_run_dir
from chaos.proxy.client import ToxiproxyClient
from chaos.runtime.state import STATE_FILE
from chaos.runtime.system import RunningSystem, start_system
from chaos.system.model import SystemSpec, load_system
from chaos.system.topology import Topology

RUNS_DIR = Path(".gameday") / "runs"
JOURNAL_KIND = "pytest"


@dataclass
class SystemUnderTest:
    """A running system, the session's run directory and its fault journal."""

    spec: SystemSpec
    runtime: RunningSystem | AttachedSystem
    run_dir: Path
    journal: Journal

    def __repr__(self) -> str:
        how = "started" if self.owns else "attached"
        return f"SystemUnderTest({self.spec.name!r}, {how}, run_dir={str(self.run_dir)!r})"

    @property
    def owns(self) -> bool:
        """True when the session started the system (and can kill or pause its processes)."""
        return isinstance(self.runtime, RunningSystem)

    @property
    def topology(self) -> Topology:
        """Processes and proxies as they are now."""
        return self.runtime.topology

    @property
    def toxiproxy(self) -> ToxiproxyClient:
        """The Toxiproxy API of the system's fault proxy."""
        return self.runtime.toxiproxy

    @property
    def entry(self) -> str:
        """The public service (`public: true`) that load is sent to."""
        return self.spec.public[0]

    @property
    def entry_url(self) -> str:
        """Direct base URL of the public service."""
        return self.url(self.entry)

    def url(self, service: str, replica: int = 0) -> str:
        """Direct base URL of one replica (no proxy in between)."""
        return self.runtime.url(service, replica)

    def injector(self) -> Injector:
        """Applies and undoes fault actions on this system."""
        processes = self.runtime if isinstance(self.runtime, RunningSystem) else None
        return Injector(self.runtime.toxiproxy, processes)


def new_run_dir(spec: SystemSpec, root: Path = RUNS_DIR) -> Path:
    """`<root>/pytest-<system>-<UTC time>` (unique, absolute)."""
    return unique_run_dir(root, f"pytest-{spec.name}")


@contextlib.contextmanager
def system_under_test(
    system_file: str | os.PathLike[str],
    *,
    attach: bool = False,
    state_file: Path = STATE_FILE,
    runs_root: Path = RUNS_DIR,
    ready_timeout: float = 60.0,
) -> Iterator[SystemUnderTest]:
    """Start the system (or attach to `gameday up`'s), yield it, then remove every fault the
    journal still lists and stop the system (an attached one keeps running).

    Replica counts stay those of the system file: the runtime's autoscaler is off, so a
    replica a test aims at exists for the whole session.
    """
    spec = load_system(system_file)
    attached = attach_system(spec, state_file) if attach else None
    run_dir = new_run_dir(spec, runs_root)
    # The session's process owns the run (`gameday rollback` leaves a session in progress
    # alone); should it be killed, its watchdog removes the faults and stops the system.
    guard = RunGuard.start(run_dir)
    with guard.until_started():
        journal = Journal.create(
            run_dir,
            experiment=f"pytest-{spec.name}",
            experiment_file=JOURNAL_KIND,
            system_file=spec.source,
            owns_system=attached is None,
            guarded_by=guard.fields,
        )
    journal.set(kind=JOURNAL_KIND)
    try:
        with _runtime(spec, run_dir, attached, ready_timeout) as runtime:
            system = SystemUnderTest(spec, runtime, run_dir, journal)
            journal.set(toxiproxy=runtime.toxiproxy_url)
            try:
                yield system
            finally:
                errors = remove_live(journal, system.injector())
        journal.finish(
            "failed" if errors else "completed",
            error="; ".join(errors) or None,
        )
    except BaseException as exc:
        if journal.status == "running":
            journal.finish(
                "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed",
                error=str(exc) or type(exc).__name__,
            )
        raise
    finally:
        guard.release()  # the session ended by itself: cleaned up above


@contextlib.contextmanager
def _runtime(
    spec: SystemSpec, run_dir: Path, attached: AttachedSystem | None, ready_timeout: float
) -> Iterator[RunningSystem | AttachedSystem]:
    if attached is not None:
        yield attached
        return
    with start_system(
        spec, run_dir=run_dir, autoscale=False, ready_timeout=ready_timeout
    ) as running:
        yield running
