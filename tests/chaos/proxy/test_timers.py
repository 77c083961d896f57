"""Deadlines for toxics: order, cancellation, and no growth under re-arming."""

from __future__ import annotations

import asyncio
import time

import pytest

from chaos.proxy.timers import LEAD_MAX, Timers


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


@pytest.mark.asyncio
async def test_no_deadline_fires_early_however_early_the_loop_wakes() -> None:
    timers = Timers(asyncio.get_running_loop())
    if not timers.precise:
        pytest.skip("timerfd unavailable")
    timers._lead = LEAD_MAX  # as after late wake-ups: the timerfd fires 1 ms before each deadline
    fired: list[tuple[float, float]] = []
    done = asyncio.Event()
    start = time.monotonic()
    deadlines = [start + 0.005 + i * 0.0023 for i in range(40)]
    for deadline in deadlines:
        timers.at(deadline, lambda d=deadline: fired.append((d, time.monotonic())))
    timers.at(deadlines[-1] + 0.001, done.set)
    await asyncio.wait_for(done.wait(), 5)
    assert len(fired) == len(deadlines)
    assert all(at >= deadline for deadline, at in fired)
    assert 0 <= timers.lead <= LEAD_MAX
    timers.close()


@pytest.mark.asyncio
async def test_waiting_awake_for_deadlines_is_bounded_under_back_to_back_deadlines() -> None:
    timers = Timers(asyncio.get_running_loop())
    if not timers.precise:
        pytest.skip("timerfd unavailable")
    timers._lead = LEAD_MAX
    done = asyncio.Event()
    start, cpu = time.monotonic(), time.process_time()
    for i in range(2000):  # every 0.5 ms for a second: spinning for each would burn the core
        timers.at(start + i * 0.0005, lambda: None)
    timers.at(start + 1.0, done.set)
    await asyncio.wait_for(done.wait(), 10)
    used = time.process_time() - cpu
    # Firing 2000 callbacks costs a few tens of ms; awake waiting may add 5% + 10 ms.
    assert used < 0.5, f"{used:.2f}s of CPU in 1s of timers"
    timers.close()
