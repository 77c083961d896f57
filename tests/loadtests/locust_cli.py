"""Running the real `locust` command, bounded in time, and reading its own final stats."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LOCUSTFILES = Path(__file__).parent / "locustfiles"


@dataclass(frozen=True)
class LocustRun:
    """The outcome of one `locust` command, with Locust's own stats (--json-file) by name."""

    code: int
    output: str
    stats: dict[str, dict[str, Any]]

    def requests(self, name: str) -> int:
        """How many requests Locust counted for `name`."""
        return int(self.stats[name]["num_requests"])

    def percentile(self, name: str, percent: float) -> int:
        """Locust's own percentile (its calculate_response_time_percentile, 0.0-1.0)."""
        entry = self.stats[name]
        times = {int(ms): int(n) for ms, n in entry["response_times"].items()}
        total = int(entry["num_requests"])
        processed = 0
        for response_time in sorted(times, reverse=True):
            processed += times[response_time]
            if total - processed <= int(total * percent):
                return response_time
        return 0


class LocustRunner:
    """Runs `locust -f locustfiles/<name> --headless` in `workdir`, bounded in time."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir

    def __call__(self, locustfile: str, host: str, *args: str, timeout: float = 60.0) -> LocustRun:
        stats_file = self.workdir / "locust-stats.json"
        stats_file.unlink(missing_ok=True)  # from an earlier run in this test
        command = [
            sys.executable, "-m", "locust", "-f", str(LOCUSTFILES / locustfile), "--headless",
            "--host", host, "--json-file", str(stats_file.with_suffix("")), "--only-summary",
            "--stop-timeout", "1", *args,
        ]  # fmt: skip
        result = subprocess.run(
            command,
            cwd=self.workdir,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        stats: dict[str, dict[str, Any]] = {}
        if stats_file.exists():
            stats = {e["name"]: e for e in json.loads(stats_file.read_text())}
        return LocustRun(result.returncode, result.stdout + result.stderr, stats)
