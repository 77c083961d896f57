"""Deadlines for toxics: order, cancellation, and no growth under re-arming."""

from __future__ import annotations

import asyncio
import time

import pytest

from chaos.proxy.timers import Timers


@pytest.mark.parametrize("precise", [True, False])
@pytest.mark.asyncio
async def test_deadlines_fire_in_order_and_cancelled_ones_never(precise: bool) -> None:
    timers = Timers(asyncio.get_running_loop(), precise=precise)
    fired: list[str] = []
    done = asyncio.Event()
    start = time.monotonic()
    timers.at(start + 0.03, lambda: fired.append("c"))
    timers.at(start + 0.01, lambda: fired.append("a"))
    cancelled = timers.at(start + 0.02, lambda: fired.append("never"))
    timers.at(start + 0.02, lambda: fired.append("b"))
    timers.at(start + 0.04, done.set)
    cancelled.cancel()
    await asyncio.wait_for(done.wait(), 5)
    assert fired == ["a", "b", "c"]
    assert time.monotonic() - start >= 0.04
    timers.close()


@pytest.mark.asyncio
async def test_re_arming_a_far_deadline_does_not_grow_the_heap() -> None:
    timers = Timers(asyncio.get_running_loop())
    if not timers.precise:
        pytest.skip("timerfd unavailable")
    far = time.monotonic() + 3600
    for _ in range(10_000):
        timers.at(far, lambda: None).cancel()
    assert timers.pending < 200
    timers.close()
