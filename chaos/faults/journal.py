"""The run journal: `journal.json` in the run directory, written before every fault.

Whatever gameday injects is recorded here *before* it is applied and marked removed after, so
the journal always names everything that might still be in place. After a crash — even a
SIGKILL — `gameday rollback` reads it and undoes what is left.

    journal = Journal.create(run_dir, experiment="payments-down", ...)
    index = journal.begin_fault(fault, actions)      # on disk before anything is touched
    journal.fault_applied(index, completed_actions)
    journal.fault_removed(index)
    journal.finish("completed", verdict=..., deviated=False)

Statuses: running, completed, failed (an error stopped the run), interrupted (a signal),
crashed (the run's process died without finishing; see chaos.experiment.crashed).
Writes are atomic (temporary file, fsync, rename): a reader never sees half a journal.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from chaos.errors import GamedayError
from chaos.experiment.model import Fault
from chaos.faults.actions import Action

JOURNAL_FILE = "journal.json"
FORMAT = "gameday-journal"
VERSION = 1

Status = Literal["running", "completed", "failed", "interrupted", "crashed"]
FaultState = Literal["pending", "applied", "removed", "failed"]
LIVE_STATES = ("pending", "applied")  # may still be in place


class JournalError(GamedayError):
    """A journal could not be read or written."""


class Journal:
    """The journal of one run, mirrored to disk on every change."""

    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path = path
        self.data = data

    @classmethod
    def create(
        cls,
        run_dir: Path,
        *,
        experiment: str,
        experiment_file: str,
        system_file: str,
        owns_system: bool,
        guarded_by: Mapping[str, Any] | None = None,
    ) -> Journal:
        """Start the journal of a new run (status running); `guarded_by` (its owner and
        watchdog, `RunGuard.fields`) is in the very first save."""
        run_dir.mkdir(parents=True, exist_ok=True)
        journal = cls(
            run_dir / JOURNAL_FILE,
            {
                "format": FORMAT,
                "version": VERSION,
                "experiment": {  # absolute: a later command may run from elsewhere
                    "name": experiment,
                    "file": _absolute(experiment_file),
                    "system_file": _absolute(system_file),
                },
                "run_dir": str(run_dir),
                "status": "running",
                "started": time.time(),
                "ended": None,
                "owns_system": owns_system,
                "toxiproxy": None,
                "windows": {},
                "faults": [],
                "deviated": None,
                "verdict": None,
                "invariants": None,
                "error": None,
                **(guarded_by or {}),
            },
        )
        journal.save()
        return journal

    @classmethod
    def load(cls, path: Path) -> Journal:
        """Read a journal file (a run directory is accepted too)."""
        path = path / JOURNAL_FILE if path.is_dir() else path
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            message = f"no journal at {path}; pass a run directory under .gameday/runs"
            raise JournalError(message) from None
        except ValueError as exc:
            raise JournalError(f"{path} is not valid JSON ({exc})") from exc
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise JournalError(f"{path} is not a gameday journal")
        return cls(path, data)

    def save(self) -> None:
        """Write atomically and durably."""
        scratch = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with scratch.open("w") as handle:
            json.dump(self.data, handle, indent=2)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        scratch.replace(self.path)

    @property
    def status(self) -> str:
        """running, completed, failed, interrupted or crashed."""
        return str(self.data["status"])

    @property
    def unreported(self) -> bool:
        """The run writes a report (summary.md, junit.xml) and has not finished writing it.

        Set by a runner before it starts (`set(reported=False)`) and cleared once its outputs
        are written: a run whose process died in between, even after its final status was
        saved, is still found dead and gets its report from the journal and the samples.
        """
        return self.data.get("reported") is False

    def set(self, **fields: Any) -> None:
        """Set top-level fields (toxiproxy URL, system details...) and save."""
        self.data.update(fields)
        self.save()

    def set_window(self, name: str, start: float, end: float) -> None:
        """Record a phase of the timeline (unix seconds)."""
        self.data["windows"][name] = [start, end]
        self.save()

    def begin_fault(self, fault: Fault, actions: Sequence[Action]) -> int:
        """Record a fault as pending, before any of it is applied; returns its index."""
        self.data["faults"].append(
            {
                "name": fault.name,
                "kind": fault.kind,
                "target": str(fault.target),
                "state": "pending",
                "actions": [a.to_json() for a in actions],
                "applied_at": None,
                "removed_at": None,
                "error": None,
            }
        )
        self.save()
        return len(self.data["faults"]) - 1

    def fault_applied(self, index: int, actions: Sequence[Action]) -> None:
        """The fault is in place; `actions` carry what undo needs (process groups)."""
        entry = self.data["faults"][index]
        entry.update(
            state="applied", applied_at=time.time(), actions=[a.to_json() for a in actions]
        )
        self.save()

    def fault_removed(self, index: int) -> None:
        """The fault was undone."""
        self.data["faults"][index].update(state="removed", removed_at=time.time())
        self.save()

    def fault_failed(self, index: int, error: str) -> None:
        """Applying or removing failed; the entry stays live so rollback retries it."""
        self.data["faults"][index]["error"] = error
        self.save()

    def live_faults(self) -> list[tuple[int, list[Action]]]:
        """Faults that may still be in place, newest first, with their actions."""
        return [
            (index, [Action.from_json(a) for a in entry["actions"]])
            for index, entry in reversed(list(enumerate(self.data["faults"])))
            if entry["state"] in LIVE_STATES
        ]

    def finish(self, status: Status, **fields: Any) -> None:
        """Close the run with its final status and results."""
        self.data.update(status=status, ended=time.time(), **fields)
        self.save()


def unique_run_dir(root: Path, name: str) -> Path:
    """`<root>/<name>-<UTC time>`, with `-2`, `-3`... if taken (absolute, not created)."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = root / f"{name}-{stamp}"
    suffix = 1
    while path.exists():
        suffix += 1
        path = root / f"{name}-{stamp}-{suffix}"
    return path.resolve()


def find_journals(root: Path) -> list[Path]:
    """Journal files of every run under `root` (a run directory or .gameday/runs)."""
    if (root / JOURNAL_FILE).is_file():
        return [root / JOURNAL_FILE]
    return sorted(root.glob(f"*/{JOURNAL_FILE}"))


def _absolute(path: str) -> str:
    """`path` made absolute against the current directory ("" stays "")."""
    return str(Path(path).resolve()) if path else path
