"""What happened to the processes of a run, in order: events.jsonl and the `chaos.runtime` log.

One line per event, e.g.
    {"time": 1732240000.1, "event": "exited", "service": "payments", "replica": 0,
     "pid": 4242, "code": -9, "delay": 0.5, "detail": "killed by gameday"}

Events: started, ready, exited, restarting, killed, stopped, paused, resumed, failed.
Listeners (the state file writer) are called after each event; one that raises is logged
and ignored, so an observer cannot break supervision.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger("chaos.runtime")


@dataclass(frozen=True)
class Event:
    """One thing that happened to one process."""

    event: str
    service: str
    replica: int
    time: float
    pid: int | None = None
    code: int | None = None
    delay: float | None = None
    detail: str = ""

    def describe(self) -> str:
        """A log line: 'payments/0 exited (pid 4242, code -9); restarting in 0.5s'."""
        facts = [f"pid {self.pid}" if self.pid is not None else ""]
        if self.code is not None:
            facts.append(f"code {self.code}")
        text = f"{self.service}/{self.replica} {self.event}"
        inside = ", ".join(f for f in facts if f)
        if inside:
            text += f" ({inside})"
        if self.delay is not None:
            text += f"; restarting in {self.delay:.2f}s"
        return text + (f": {self.detail}" if self.detail else "")


class EventLog:
    """Appends events to a JSON-lines file, logs them and tells listeners."""

    def __init__(self, path: Path | None, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.clock = clock
        self.events: list[Event] = []
        self.listeners: list[Callable[[Event], None]] = []
        self._lock = threading.Lock()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)

    def emit(self, event: str, service: str, replica: int, **facts: object) -> Event:
        """Record one event (keyword facts: pid, code, delay, detail)."""
        record = Event(event, service, replica, self.clock(), **facts)  # type: ignore[arg-type]
        with self._lock:
            self.events.append(record)
            if self.path is not None:
                with self.path.open("a", encoding="utf-8") as handle:
                    handle.write(json.dumps(dataclasses.asdict(record)) + "\n")
        level = logging.WARNING if event in ("exited", "failed") else logging.INFO
        logger.log(level, "%s", record.describe())
        for listener in list(self.listeners):
            try:
                listener(record)
            except Exception:
                logger.exception("an event listener failed on %s", record.describe())
        return record


def read_events(path: Path) -> list[Event]:
    """The events of a run directory's events.jsonl."""
    if not path.exists():
        return []
    return [Event(**json.loads(line)) for line in path.read_text().splitlines() if line.strip()]
