"""Quiet seconds and the baseline each cell attempt is judged against."""

from __future__ import annotations

from chaos.judgement.matrix import CellRecord, CellWindows
from chaos.matrix.quiet import QuietSeconds, nearest, rebaseline
from loadtests.windows import Window, WindowSet


def seconds(window: WindowSet | None) -> list[int]:
    assert window is not None
    return window.whole_seconds()


def test_the_nearest_quiet_seconds_are_taken_from_both_sides_of_the_window() -> None:
    parts = [Window("q", 0, 10), Window("q", 40, 42), Window("q", 46, 50)]
    fault = Window("fault", 43, 46)
    # 42 and 46 are one second away, 41 and 47 two...; before wins a tie
    assert seconds(nearest(parts, fault, 4)) == [40, 41, 46, 47]
    assert seconds(nearest(parts, fault, 6)) == [40, 41, 46, 47, 48, 49]
    # a stale part far before comes only once the near ones are used up
    assert seconds(nearest(parts, fault, 8)) == [8, 9, 40, 41, 46, 47, 48, 49]
    chosen = nearest(parts, fault, 8)
    assert chosen is not None and [(p.start, p.end) for p in chosen.parts] == [
        (8, 10),
        (40, 42),
        (46, 50),
    ]


def test_nothing_quiet_is_none_and_the_window_itself_is_never_baseline() -> None:
    assert nearest([], Window("fault", 3, 6), 15) is None
    assert seconds(nearest([Window("q", 0, 10)], Window("fault", 3, 6), 15)) == [
        0, 1, 2, 6, 7, 8, 9,
    ]  # fmt: skip


def test_a_run_of_audited_cells_no_longer_leaves_a_stale_baseline() -> None:
    # The shop, measured: a chain of cells with an audit after each has no quiet second
    # before the next window; the latest quiet seconds before the window were 55 s old.
    quiet = QuietSeconds()
    quiet.open(0)
    quiet.close(15)  # the first baseline
    quiet.open(70)  # quiet again after the chain and this cell's recovery
    fault = Window("fault", 66, 69)
    before_only = quiet.last(15)  # what the runner sees at injection time
    assert seconds(before_only)[-1] == 14
    attempt = (CellWindows(before_only, fault, Window("recovery", 69, 70)), CellRecord())
    judged = rebaseline({"cell": [attempt]}, quiet.all(80), 15)["cell"][0][0]
    assert seconds(judged.baseline) == [*range(10, 15), *range(70, 80)]
