"""The watchdog: when a gameday process dies, even by SIGKILL, what it started stops too.

    guard = watchdog.current()                     # this process's watchdog, started on first use
    key = guard.watch_env("GAMEDAY_RUN_DIR", run_dir)   # every process carrying this marker
    guard.watch_group(pid, start_time(pid))        # and this process group
    guard.on_death([python, "-m", "chaos.cli", "rollback", run_dir], cwd=os.getcwd())
    ...
    guard.forget(key)                              # the run ended cleanly: nothing to do
    # at exit, with nothing left to watch, the process waits for its watchdog to leave

The watchdog is a small process of its own (`python -m chaos.watchdog`, stdlib and
`chaos.procfs` only) in a session of its own, so a Ctrl-C or a signal to the terminal's group
does not reach it. It reads what to watch from a pipe whose only writer is the watched
process. When that process dies, however it dies, the kernel closes the pipe; the watchdog
reads end-of-file and then:

1. sends SIGTERM (and SIGCONT, should one be paused) to every watched process group and to
   every process carrying a watched environment marker — found anew each pass, so workers
   forked meanwhile are found too — and SIGKILL to whatever is left after the grace period;
2. runs the `on_death` commands (e.g. `gameday rollback RUN_DIR`: undo faults left on an
   external Toxiproxy, mark the run crashed and write its summary);
3. appends what it did to every `log` named by an entry, and exits.

Why not Linux's PR_SET_PDEATHSIG alone: it fires when the parent *thread* ends (the runtime's
supervisor thread, which restarts replicas, ends at every clean shutdown), reaches only the
direct child (not Locust's workers or anything a service forks), and a SIGKILLed child gets
no chance to leave its samples. See docs/runtime.md.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from chaos.procfs import group_members, is_running, kill_group, pids_with_env, process_group

GRACE = 3.0  # seconds between SIGTERM and SIGKILL
THEN_TIMEOUT = 120.0  # seconds each on_death command may take

Entry = dict[str, Any]


class Watchdog:
    """The parent's side: registers what to stop; thread-safe; restarted if it died."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, Entry] = {}
        self._counter = 0
        self._fd: int | None = None
        self._process: subprocess.Popen[bytes] | None = None

    def __repr__(self) -> str:
        return f"Watchdog(pid={self.pid}, entries={len(self._entries)})"

    @property
    def pid(self) -> int | None:
        """The watchdog process's PID (None until something is watched)."""
        return self._process.pid if self._process is not None else None

    def watch_group(self, pgid: int, started: int | None, *, log: str | None = None) -> str:
        """Stop process group `pgid` (its leader started at `started`) if this process dies."""
        return self._add({"group": pgid, "start_time": started, "log": log})

    def watch_env(self, name: str, value: str, *, log: str | None = None) -> str:
        """Stop every process whose environment holds `name=value` if this process dies."""
        return self._add({"env": f"{name}={value}", "log": log})

    def on_death(self, argv: Sequence[str], *, cwd: str, log: str | None = None) -> str:
        """Run `argv` in `cwd` after everything watched has been stopped."""
        return self._add({"then": list(argv), "cwd": cwd, "log": log})

    def forget(self, *keys: str) -> None:
        """Stop watching these entries (the thing they name was stopped cleanly)."""
        with self._lock:
            for key in keys:
                if self._entries.pop(key, None) is not None:
                    self._send(f"-{key}\n")

    def close(self, timeout: float = 5.0) -> None:
        """At a clean exit (nothing left to watch): let the watchdog go and wait until it has.

        So a gameday command that exits has nothing of its own left running. With entries
        still registered the pipe is closed all the same (the watchdog then does its work,
        as it would after any death) but not waited for.
        """
        with self._lock:
            process, idle = self._process, not self._entries
            self._drop()
        if process is not None and idle:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout)

    def start(self) -> int:
        """Make sure the watchdog process runs; its PID."""
        with self._lock:
            self._ensure()
            assert self._process is not None
            return self._process.pid

    def _add(self, entry: Entry) -> str:
        with self._lock:
            self._counter += 1
            key = str(self._counter)
            self._entries[key] = entry
            self._send(_line(key, entry))
            return key

    def _send(self, line: str) -> None:
        # Lines are far below PIPE_BUF: each write is atomic, even if this process dies.
        for _ in range(2):
            fresh = self._ensure()
            if fresh:
                return  # a new watchdog was sent every entry, this one included
            assert self._fd is not None
            try:
                os.write(self._fd, line.encode())
                return
            except OSError:  # the watchdog died: start another one with every entry
                self._drop()

    def _ensure(self) -> bool:
        """Start the process if it is not running; True when it was (re)started."""
        if self._process is not None and self._process.poll() is None:
            return False
        self._drop()
        read_end, write_end = os.pipe()  # both non-inheritable: no other child holds them
        root = str(Path(__file__).resolve().parent.parent)
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, (root, os.environ.get("PYTHONPATH")))),
        }
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "chaos.watchdog", str(os.getpid())],
                stdin=read_end,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                cwd="/",
                env=env,
                start_new_session=True,  # Ctrl-C and the terminal's signals do not reach it
            )
        finally:
            os.close(read_end)
        self._fd = write_end
        text = "".join(_line(k, e) for k, e in self._entries.items())
        if text:
            os.write(write_end, text.encode())
        return True

    def _drop(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._process is not None:
            self._process.poll()  # reap it if it is gone
            self._process = None

    def _after_fork_in_child(self) -> None:
        # A forked child must not keep the pipe open: the watchdog would never see EOF.
        if self._fd is not None:
            os.close(self._fd)
        self._fd = None
        self._process = None
        self._entries = {}
        self._lock = threading.Lock()


def _line(key: str, entry: Entry) -> str:
    return f"+{key} {json.dumps({k: v for k, v in entry.items() if v is not None})}\n"


_current = Watchdog()
os.register_at_fork(after_in_child=_current._after_fork_in_child)
atexit.register(_current.close)


def current() -> Watchdog:
    """This process's watchdog (one per process; it starts with the first entry)."""
    return _current


# -- the watchdog process ---------------------------------------------------------------------


def read_entries(fd: int) -> dict[str, Entry]:
    """Read `+KEY JSON` / `-KEY` lines until end of file; the entries still registered."""
    entries: dict[str, Entry] = {}
    pending = b""
    while True:
        try:
            data = os.read(fd, 65536)
        except InterruptedError:
            continue
        except OSError:
            break
        if not data:
            break
        pending += data
        *lines, pending = pending.split(b"\n")
        for raw in lines:
            line = raw.decode("utf-8", "replace")
            if line.startswith("+"):
                key, _, body = line[1:].partition(" ")
                try:
                    entries[key] = json.loads(body)
                except ValueError:
                    continue
            elif line.startswith("-"):
                entries.pop(line[1:], None)
    return entries  # an unterminated last line was cut by the writer's death: ignored


def _targets(entries: Iterable[Entry]) -> tuple[set[int], set[int]]:
    """(process groups, single PIDs) to signal now."""
    mine = {0, 1, os.getpgrp()}
    groups: set[int] = set()
    pids: set[int] = set()
    for entry in entries:
        if "group" in entry:
            pgid = int(entry["group"])
            # The leader may be gone while workers of its group live on (a PGID is never
            # reused while in use); a live leader must be the process that was registered.
            leader_ok = is_running(pgid, entry.get("start_time")) or not is_running(pgid)
            if pgid not in mine and leader_ok and group_members(pgid):
                groups.add(pgid)
        elif "env" in entry:
            name, _, value = str(entry["env"]).partition("=")
            for pid in pids_with_env(name, value):
                # A leader's whole group goes; any other marked process alone.
                if process_group(pid) == pid and pid not in mine:
                    groups.add(pid)
                elif pid != os.getpid():
                    pids.add(pid)
    return groups, pids


def _signal(groups: set[int], pids: set[int], sig: int) -> None:
    for pgid in groups:
        kill_group(pgid, sig)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def stop_everything(entries: list[Entry], grace: float = GRACE) -> tuple[list[int], list[int]]:
    """SIGTERM what the entries name, SIGKILL what is left after `grace`: (signalled, killed)."""
    signalled: set[int] = set()
    deadline = time.monotonic() + grace
    while True:
        groups, pids = _targets(entries)
        if not groups and not pids:
            return sorted(signalled), []
        _signal(groups - signalled, pids - signalled, signal.SIGTERM)
        _signal(groups - signalled, pids - signalled, signal.SIGCONT)
        signalled |= groups | pids
        if time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    killed: set[int] = set()
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        groups, pids = _targets(entries)
        if not groups and not pids:
            break
        _signal(groups, pids, signal.SIGKILL)
        killed |= groups | pids
        time.sleep(0.05)
    return sorted(signalled), sorted(killed)


def _run_then(entry: Entry) -> str:
    argv = [str(a) for a in entry["then"]]
    try:
        done = subprocess.run(
            argv,
            cwd=entry.get("cwd") or "/",
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=THEN_TIMEOUT,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"ran {' '.join(argv)}: {exc}"
    output = (done.stdout + done.stderr).strip()
    return f"ran {' '.join(argv)}: exit {done.returncode}" + (f"\n{output}" if output else "")


def main(argv: Sequence[str] | None = None) -> int:
    """Watch stdin; when the writer is gone, stop everything registered and report."""
    args = list(sys.argv[1:] if argv is None else argv)
    parent = args[0] if args else "?"
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_IGN)
    entries = list(read_entries(0).values())
    if not entries:
        return 0  # the parent ended cleanly: it had forgotten everything
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
    signalled, killed = stop_everything(
        entries, max([GRACE, *(e.get("grace", 0) for e in entries)])
    )
    lines = [
        f"{stamp} gameday watchdog: process {parent} ended with things still running; "
        f"sent SIGTERM to {signalled or 'nothing'}" + (f", SIGKILL to {killed}" if killed else "")
    ]
    lines += [_run_then(e) for e in entries if "then" in e]
    report = "\n".join(lines) + "\n"
    for log in {str(e["log"]) for e in entries if e.get("log")}:
        with contextlib.suppress(OSError), open(log, "a") as handle:
            handle.write(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
