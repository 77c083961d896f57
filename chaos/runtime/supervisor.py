"""Keeping processes up: restart with capped exponential backoff, kill and pause on request.

    backoff = Backoff(initial=0.5, factor=2, cap=30, reset_after=10)
    backoff.delay(3)                           # 2.0 s before the third restart in a row
    supervisor = Supervisor(replicas, spawn, events, backoff)
    supervisor.start()                         # a thread: one pass every `interval`

Each pass: a process that exited unexpectedly goes to `backoff` and is spawned again when
its delay has passed; a restarted one is `starting` until its readiness probe passes (then
`running`), and is killed and backed off again if it is not ready within `ready_timeout`.
A `paused` process (SIGSTOP) is alive to the kernel and left alone; a `stopped` one (killed
with restart=False, or stopped with the system) stays down until `start`.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from chaos.errors import RuntimeFailure
from chaos.runtime.events import EventLog, logger
from chaos.runtime.health import probe
from chaos.runtime.process import Child

STARTING, RUNNING, PAUSED, BACKOFF, STOPPED = "starting", "running", "paused", "backoff", "stopped"


@dataclass(frozen=True, kw_only=True)
class Backoff:
    """Restart delays: `initial * factor**(n-1)` for the n-th failure in a row, at most `cap`.

    The count starts again when a process had been ready for `reset_after` seconds.
    """

    initial: float = 0.5
    factor: float = 2.0
    cap: float = 30.0
    reset_after: float = 10.0

    def delay(self, failures: int) -> float:
        """Seconds to wait before restarting after the `failures`-th failure in a row."""
        return float(min(self.cap, self.initial * self.factor ** max(0, failures - 1)))

    def after_exit(self, failures: int, ready_since: float | None, now: float) -> tuple[int, float]:
        """(failures in a row including this exit, delay before the restart)."""
        if ready_since is not None and now - ready_since >= self.reset_after:
            failures = 0
        return failures + 1, self.delay(failures + 1)


class Replica:
    """The supervisor's record of one process."""

    def __init__(self, child: Child, on_ready: Callable[[], None] | None = None) -> None:
        self.child = child
        self.on_ready = on_ready
        self.state = STOPPED
        self.restarts = 0
        self.failures = 0
        self.since = 0.0  # when the current state began (supervisor clock)
        self.restart_at: float | None = None
        self.ready_since: float | None = None
        self.before_pause = RUNNING

    @property
    def key(self) -> str:
        """`service/replica`."""
        return self.child.plan.key


class Supervisor:
    """Watches replicas from a thread; every transition happens under `lock`."""

    def __init__(
        self,
        replicas: list[Replica],
        spawn: Callable[[Child], int],
        events: EventLog,
        backoff: Backoff,
        *,
        ready_timeout: float = 60.0,
        interval: float = 0.05,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.replicas = replicas
        self.spawn_child = spawn
        self.events = events
        self.backoff = backoff
        self.ready_timeout = ready_timeout
        self.interval = interval
        self.clock = clock
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.passes = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the loop -----------------------------------------------------------------------------

    def start(self) -> None:
        """Start watching (a daemon thread)."""
        self._thread = threading.Thread(target=self._run, name="gameday-supervisor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop watching (processes are left as they are)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30.0)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.tick()
            except Exception:  # a bug here must not leave the system unsupervised
                logger.exception("supervisor pass failed")

    def tick(self) -> None:
        """One pass over every replica."""
        with self.lock:
            replicas = list(self.replicas)  # scaling adds and removes replicas meanwhile
        for replica in replicas:
            if self._stop.is_set():
                return
            with self.lock:
                self._watch(replica)
            if replica.state == STARTING:
                self._check_ready(replica)
        with self.lock:
            self.passes += 1
            self.changed.notify_all()

    def _watch(self, replica: Replica) -> None:
        now = self.clock()
        if replica.state in (STARTING, RUNNING, PAUSED):
            code = replica.child.exit_code()
            if code is not None:
                self._exited(replica, code, "")
        elif (
            replica.state == BACKOFF
            and replica.restart_at is not None
            and now >= replica.restart_at
        ):
            self._respawn(replica, f"restart {replica.restarts + 1}")

    def _check_ready(self, replica: Replica) -> None:
        pid = replica.child.pid
        ok, seen = probe(replica.child.plan, timeout=0.5)
        with self.lock:
            if replica.state != STARTING or replica.child.pid != pid:
                return
            if ok:
                self._ready(replica)
            elif self.clock() - replica.since > self.ready_timeout:
                self.events.emit(
                    "failed",
                    *_who(replica),
                    pid=pid,
                    detail=f"not ready within {self.ready_timeout:.0f}s ({seen})",
                )
                code = replica.child.kill()
                self._exited(replica, code if code is not None else -9, "killed: not ready")

    # -- transitions (callers hold the lock) --------------------------------------------------

    def _set(self, replica: Replica, state: str) -> None:
        replica.state = state
        replica.since = self.clock()
        self.changed.notify_all()

    def _ready(self, replica: Replica) -> None:
        if replica.on_ready is not None:
            try:
                replica.on_ready()
            except Exception as exc:
                self.events.emit(
                    "failed", *_who(replica), pid=replica.child.pid, detail=f"after start: {exc}"
                )
                code = replica.child.kill()
                self._exited(replica, code if code is not None else -9, "killed: setup failed")
                return
        self._set(replica, RUNNING)
        replica.ready_since = self.clock()
        self.events.emit("ready", *_who(replica), pid=replica.child.pid)

    def _exited(self, replica: Replica, code: int, detail: str) -> None:
        # The leader is gone; whatever it left in its group (workers holding the port) goes too.
        replica.child.signal(signal.SIGKILL)
        replica.failures, delay = self.backoff.after_exit(
            replica.failures, replica.ready_since, self.clock()
        )
        replica.restart_at = self.clock() + delay
        replica.ready_since = None
        pid = replica.child.pid
        self._set(replica, BACKOFF)
        self.events.emit("exited", *_who(replica), pid=pid, code=code, delay=delay, detail=detail)

    def _respawn(self, replica: Replica, detail: str) -> None:
        try:
            pid = self.spawn_child(replica.child)
        except RuntimeFailure as exc:
            self.events.emit("failed", *_who(replica), detail=str(exc))
            self._exited(replica, -1, "could not start")
            return
        replica.restarts += 1
        self._set(replica, STARTING)
        self.events.emit("started", *_who(replica), pid=pid, detail=detail)

    # -- requests -----------------------------------------------------------------------------

    def mark_started(self, replica: Replica) -> None:
        """Record a first start done by the caller (already spawned and ready)."""
        with self.lock:
            self._set(replica, RUNNING)
            replica.ready_since = self.clock()

    def adopt(self, replica: Replica) -> None:
        """Watch a replica added while the system runs (spawned and ready)."""
        with self.lock:
            self.replicas.append(replica)
            self._set(replica, RUNNING)
            replica.ready_since = self.clock()

    def forget(self, replica: Replica) -> None:
        """Stop watching a replica that is being removed (it will not be restarted)."""
        with self.lock:
            if replica in self.replicas:
                self.replicas.remove(replica)

    def kill(self, replica: Replica, *, restart: bool) -> None:
        """SIGKILL the process group; restart it with backoff, or keep it down."""
        with self.lock:
            if replica.state in (BACKOFF, STOPPED):
                if not restart:
                    self._set(replica, STOPPED)
                return
            pid = replica.child.pid
            code = replica.child.kill()
            if restart:
                self._exited(replica, code if code is not None else -9, "killed by request")
            else:
                self._set(replica, STOPPED)
                replica.ready_since = None
                self.events.emit(
                    "killed", *_who(replica), pid=pid, code=code, detail="down until started"
                )

    def request_start(self, replica: Replica) -> None:
        """Spawn a stopped or backing-off replica now (it becomes `starting`)."""
        with self.lock:
            if replica.state == PAUSED:
                raise RuntimeFailure(f"{replica.key} is paused; resume it instead of starting it")
            if replica.state in (STOPPED, BACKOFF):
                replica.failures = 0
                self._respawn(replica, "started by request")

    def pause(self, replica: Replica) -> None:
        """SIGSTOP the process group."""
        with self.lock:
            if replica.state not in (STARTING, RUNNING):
                raise RuntimeFailure(f"{replica.key} is {replica.state}; only a live one can pause")
            replica.child.signal(signal.SIGSTOP)
            replica.before_pause = replica.state
            self._set(replica, PAUSED)
            self.events.emit("paused", *_who(replica), pid=replica.child.pid)

    def resume(self, replica: Replica) -> None:
        """SIGCONT the process group."""
        with self.lock:
            if replica.state != PAUSED:
                return
            replica.child.signal(signal.SIGCONT)
            self._set(replica, replica.before_pause)
            self.events.emit("resumed", *_who(replica), pid=replica.child.pid)

    def stopped(self, replica: Replica) -> None:
        """Record that the process was stopped with the system."""
        with self.lock:
            self._set(replica, STOPPED)
            self.events.emit("stopped", *_who(replica), pid=replica.child.pid)

    def wait_for(self, condition: Callable[[], bool], timeout: float) -> bool:
        """Wait until `condition()` (checked under the lock after each change or pass)."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while not condition():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.changed.wait(min(left, 0.1))
        return True


def _who(replica: Replica) -> tuple[str, int]:
    return replica.child.plan.service, replica.child.plan.replica
