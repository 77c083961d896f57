"""scripts/wait-for-dpkg-lock.sh: `make test` waits for another apt-get, saying for which."""

from __future__ import annotations

import fcntl
import os
import subprocess
import threading
from pathlib import Path

from tests.support import ROOT

SCRIPT = ROOT / "scripts" / "wait-for-dpkg-lock.sh"


def _wait(lock: Path, limit: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT), str(limit)],
        env={**os.environ, "GAMEDAY_DPKG_LOCKS": f"{lock.parent / 'absent'} {lock}"},
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_it_waits_for_the_process_holding_the_lock_and_names_it(tmp_path: Path) -> None:
    lock = tmp_path / "lock-frontend"
    with lock.open("w") as handle:
        fcntl.lockf(handle, fcntl.LOCK_EX)  # as dpkg and apt hold it: a POSIX record lock
        threading.Timer(1.5, fcntl.lockf, (handle, fcntl.LOCK_UN)).start()
        done = _wait(lock, 20)
    assert done.returncode == 0, done.stderr
    me = Path("/proc/self/comm").read_text().strip()
    assert f"waiting for the dpkg lock {lock}, held by process {os.getpid()} ({me})" in (
        done.stdout
    )


def test_it_gives_up_after_the_limit_and_says_what_to_do(tmp_path: Path) -> None:
    lock = tmp_path / "lock"
    with lock.open("w") as handle:
        fcntl.lockf(handle, fcntl.LOCK_EX)
        done = _wait(lock, 1)
    assert done.returncode == 1
    assert f"gave up after 1s: {lock}, held by process {os.getpid()}" in done.stderr
    assert "then run `make system-deps` again" in done.stderr


def test_free_locks_do_not_wait(tmp_path: Path) -> None:
    lock = tmp_path / "lock"
    lock.touch()
    done = _wait(lock, 1)
    assert done.returncode == 0 and done.stdout == ""
