"""The live view of `gameday run`: the phase, time left, and per journey the error rate and
p95 over the last few seconds. An observer of the runner; it only reads."""

from __future__ import annotations

import time

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from chaos.experiment.model import Experiment, Fault
from loadtests.windows import SampleSet, Window

RECENT_SECONDS = 5


class LiveDisplay:
    """A rich Live panel, refreshed on every tick of the run."""

    def __init__(self, experiment: Experiment, console: Console | None = None) -> None:
        self.experiment = experiment
        self.console = console or Console(stderr=True)
        self.phase_name = "starting"
        self.phase_end = time.time()
        self.faults: dict[str, str] = {f.name: "pending" for f in experiment.faults}
        self.rows: list[tuple[str, str, str, str]] = []
        self.live = Live(self.render(), console=self.console, refresh_per_second=4, transient=False)

    def __enter__(self) -> LiveDisplay:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.__exit__(None, None, None)

    def render(self) -> Group:
        """The current view."""
        left = max(0.0, self.phase_end - time.time())
        head = Text.assemble(
            (f"{self.experiment.name}  ", "bold"),
            (f"{self.phase_name}", "bold cyan"),
            f"  {left:4.0f}s left   faults: ",
            ", ".join(f"{name} {state}" for name, state in self.faults.items()),
        )
        table = Table(box=None, pad_edge=False)
        for column in ("journey", "req/s", "errors", "p95"):
            table.add_column(column, justify="left" if column == "journey" else "right")
        for row in self.rows:
            table.add_row(*row)
        return Group(head, table)

    def phase(self, name: str, ends_at: float) -> None:
        """A new phase began."""
        self.phase_name, self.phase_end = name, ends_at
        self.live.update(self.render())

    def fault(self, fault: Fault, state: str) -> None:
        """A fault was applied or removed."""
        self.faults[fault.name] = state
        self.live.update(self.render())

    def tick(self, samples: SampleSet, now: float) -> None:
        """New samples: recompute the last few seconds per journey."""
        last = int(now) - 1  # the current second is still filling
        window = Window("recent", last - RECENT_SECONDS + 1, last + 1)
        rows = []
        for journey in samples.journeys:
            stats = samples.stats(journey, window)
            p95 = stats.percentile_ms(95)
            rows.append(
                (
                    journey,
                    f"{stats.throughput:.1f}",
                    f"{stats.error_rate * 100:.1f}%",
                    "-" if p95 is None else f"{p95:.0f}ms",
                )
            )
        self.rows = rows
        self.live.update(self.render())
