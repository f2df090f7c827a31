"""The limiter's shared wake-ups on virtual time: callers whose slots fall within one
slice are released by one timer, in order, never early and less than a slice late;
cancellation at every await; the window on random schedules; and end to end, the
arrival times an emulator saw at a high rate.

Timers are counted on :class:`CountingLoop`, a :class:`VirtualTimeLoop` that notes
every ``call_at`` the limiter makes (its ``_fire`` callbacks) and can make timers late.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any, TypeVarTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dumgum_async as dg
from dumgum_async._throttle import _NEGLIGIBLE, _SLICE, LocalLimiter
from dumgum_async._throttle_adaptive import AdaptiveLimiter
from dumgum_async.testing import FakeDumGumServer
from tests.helpers.bodies import minimal_request
from tests.helpers.virtual_time import (
    CountingLoop,
    VirtualTimeLoop,
    run_counting,
    run_virtual,
    send_after,
    sends,
    span,
)
from tests.helpers.windows import max_in_window

_Ts = TypeVarTuple("_Ts")

FAST = dg.RateLimit.per_second(5000)  # five slots per slice
INTERVAL = span(FAST) / 5000


# --- grouping -----------------------------------------------------------------------


def test_callers_due_within_one_slice_share_one_timer() -> None:
    async def main(loop: CountingLoop) -> tuple[list[float], int]:
        limiter = LocalLimiter(FAST, clock=loop.time)
        stamps = await sends(limiter, 6)  # the first goes at once, five wait
        return stamps, len(loop.fires)

    stamps, fires = run_counting(main)
    assert fires == 1
    assert stamps[0] == 0.0
    # Slots 1 to 5 fall within one slice of slot 1: released together at slot 5.
    assert stamps[1:] == [pytest.approx(5 * INTERVAL)] * 5


def test_one_timer_per_slice_not_per_caller() -> None:
    loop_seen: list[CountingLoop] = []

    async def main(loop: CountingLoop) -> list[float]:
        loop_seen.append(loop)
        return await sends(LocalLimiter(FAST, clock=loop.time), 101)

    run_counting(main)
    # 100 waiting callers, five slots per slice; rounding may split one group.
    assert 20 <= len(loop_seen[0].fires) <= 22


def test_a_grouped_release_is_never_early_and_less_than_a_slice_late() -> None:
    async def main(loop: CountingLoop) -> list[float]:
        return await sends(LocalLimiter(FAST, clock=loop.time), 200)

    stamps = run_counting(main)
    for k, t in enumerate(stamps):
        assert k * INTERVAL - 1e-12 <= t < k * INTERVAL + _SLICE


def test_below_one_slot_per_slice_every_caller_has_its_own_timer_on_time() -> None:
    rate = dg.RateLimit.per_second(500)
    fires: list[float] = []

    async def main(loop: CountingLoop) -> list[float]:
        stamps = await sends(LocalLimiter(rate, clock=loop.time), 30)
        fires.extend(loop.fires)
        return stamps

    stamps = run_counting(main)
    interval = span(rate) / 500
    assert stamps == pytest.approx([k * interval for k in range(30)], abs=1e-12)
    assert len(fires) == 29


def test_grouped_callers_are_released_in_the_order_they_came() -> None:
    async def main(loop: CountingLoop) -> list[int]:
        limiter = LocalLimiter(FAST, clock=loop.time)
        order: list[int] = []

        async def caller(i: int) -> None:
            await limiter.acquire()
            order.append(i)

        await asyncio.gather(*(caller(i) for i in range(40)))
        return order

    assert run_counting(main) == list(range(40))


def test_a_late_timer_releases_the_oldest_callers_first_and_keeps_the_grid() -> None:
    late = itertools.cycle([0.004, 0.0, 0.0, 0.0007])

    async def main(loop: CountingLoop) -> list[float]:
        loop.lateness = lambda: next(late)
        return await sends(LocalLimiter(FAST, clock=loop.time), 60)

    stamps = run_counting(main)
    for k, t in enumerate(stamps):
        assert t >= k * INTERVAL - 1e-12
    assert stamps[-1] < 59 * INTERVAL + 0.004 + _SLICE  # lateness does not accumulate


def test_a_limiter_with_an_injected_sleep_groups_on_it() -> None:
    asked: list[float] = []

    async def main(loop: VirtualTimeLoop) -> list[float]:
        async def sleep(seconds: float) -> None:
            asked.append(seconds)
            await asyncio.sleep(seconds)

        return await sends(LocalLimiter(FAST, clock=loop.time, sleep=sleep), 5)

    stamps = run_virtual(main)
    assert asked == [pytest.approx(5 * INTERVAL)]
    assert stamps[1:] == [pytest.approx(5 * INTERVAL)] * 4


def test_a_rate_cut_while_groups_wait_holds_every_later_window_to_the_new_rate() -> None:
    config = dg.RateLimit.adaptive(start=200.0, max_rate=250.0, time_period=0.05)

    async def main(loop: CountingLoop) -> tuple[list[float], float, float]:
        limiter = AdaptiveLimiter(config, clock=loop.time)
        sent: list[float] = []
        tasks = [asyncio.ensure_future(send_after(limiter, sent)) for _ in range(600)]
        await asyncio.sleep(0.03)  # groups queued well ahead
        cut_at = loop.time()
        limiter.observe(429, None)
        await asyncio.gather(*tasks)
        await asyncio.sleep(0)
        return sorted(sent), cut_at, limiter.controller.rate

    stamps, cut_at, rate = run_counting(main)
    assert rate < 200  # 200 per 50 ms window before the cut
    late = [t for t in stamps if t > cut_at]
    worst = max(sum(1 for s in stamps if t - 0.05 < s <= t) for t in late)
    assert worst <= int(rate)


# --- cancellation -----------------------------------------------------------------------


def _state_is_clear(limiter: LocalLimiter) -> bool:
    return not limiter._groups and limiter._loop is None


def test_a_caller_cancelled_inside_a_group_leaves_the_others_on_time() -> None:
    async def main(loop: CountingLoop) -> tuple[list[float], bool, LocalLimiter]:
        limiter = LocalLimiter(FAST, clock=loop.time)
        sent: list[float] = []
        tasks = [asyncio.ensure_future(send_after(limiter, sent)) for _ in range(5)]
        await asyncio.sleep(0)
        tasks[2].cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.sleep(0)
        return sorted(sent), isinstance(results[2], asyncio.CancelledError), limiter

    stamps, cancelled, limiter = run_counting(main)
    assert cancelled
    assert stamps == [0.0, *[pytest.approx(5 * INTERVAL)] * 3]
    assert _state_is_clear(limiter)


def test_a_group_whose_callers_are_all_cancelled_cancels_its_timer() -> None:
    async def main(loop: CountingLoop) -> tuple[list[float], int, LocalLimiter]:
        limiter = LocalLimiter(FAST, clock=loop.time)
        await limiter.acquire()
        first = [asyncio.ensure_future(limiter.acquire()) for _ in range(5)]  # one group
        sent: list[float] = []
        later = [asyncio.ensure_future(send_after(limiter, sent)) for _ in range(3)]
        await asyncio.sleep(0)
        (group, *_) = limiter._groups
        timer = group.timer
        for task in first:
            task.cancel()
        await asyncio.gather(*first, return_exceptions=True)
        assert timer is not None
        assert timer.cancelled()
        await asyncio.gather(*later)
        await asyncio.sleep(0)
        return sent, len(loop.fires), limiter

    sent, fires, limiter = run_counting(main)
    # The cancelled slots are not reused: the later callers keep theirs.
    assert sorted(sent) == [pytest.approx(k * INTERVAL, abs=_SLICE) for k in (6, 7, 8)]
    assert min(sent) >= 6 * INTERVAL - 1e-12
    assert fires == 2
    assert _state_is_clear(limiter)


class _CancelOnRelease(LocalLimiter):
    """Cancels one released caller in the timer callback, before it has resumed."""

    victim: asyncio.Task[Any] | None = None

    def _fire(self, fired: Any) -> None:
        super()._fire(fired)
        if self.victim is not None:
            self.victim.cancel()
            self.victim = None


def test_a_caller_cancelled_after_its_release_raises_and_its_slot_stays_spent() -> None:
    async def main(loop: CountingLoop) -> tuple[list[float], bool, int]:
        limiter = _CancelOnRelease(FAST, clock=loop.time)
        sent: list[float] = []
        tasks = [asyncio.ensure_future(send_after(limiter, sent)) for _ in range(6)]
        limiter.victim = tasks[1]
        results = await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.sleep(0)
        return (
            sorted(sent),
            isinstance(results[1], asyncio.CancelledError),
            len(limiter._released or ()),
        )

    stamps, cancelled, logged = run_counting(main)
    assert cancelled  # never swallowed, even though its slot was granted
    assert stamps == [0.0, *[pytest.approx(5 * INTERVAL)] * 4]
    assert logged == 6  # counted in the window as sent: the rate can only be lower


def test_a_caller_cancelled_while_the_window_holds_it_back_frees_its_place() -> None:
    rate = dg.RateLimit(3, 1.0, burst=3)

    async def main(loop: CountingLoop) -> tuple[list[float], LocalLimiter]:
        limiter = LocalLimiter(rate, clock=loop.time)
        for _ in range(3):
            await limiter.acquire()
        loop.advance(0.05)  # a stall: the window now holds the next callers back
        await asyncio.sleep(0)
        head = asyncio.ensure_future(limiter.acquire())
        sent: list[float] = []
        behind = asyncio.ensure_future(send_after(limiter, sent))
        await asyncio.sleep(0.1)
        head.cancel()
        await asyncio.gather(head, return_exceptions=True)
        await behind
        await asyncio.sleep(0)
        return sent, limiter

    sent, limiter = run_counting(main)
    assert sent == [pytest.approx(0.05 + span(rate))]
    assert _state_is_clear(limiter)


def test_callers_cancelled_during_a_pause_leave_the_others_released() -> None:
    async def main(loop: CountingLoop) -> tuple[list[float], int, LocalLimiter]:
        limiter = LocalLimiter(FAST, clock=loop.time)
        sent: list[float] = []
        tasks = [asyncio.ensure_future(send_after(limiter, sent)) for _ in range(10)]
        loop.call_later(0.0005, limiter.pause, 0.2)  # voids the waiting slots
        loop.call_later(0.1, tasks[4].cancel)  # back in the pause's sleep by then
        loop.call_later(0.1, tasks[7].cancel)
        results = await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.sleep(0)
        cancelled = sum(isinstance(r, asyncio.CancelledError) for r in results)
        return sorted(sent), cancelled, limiter

    stamps, cancelled, limiter = run_counting(main)
    assert cancelled == 2
    assert len(stamps) == 8
    assert [t for t in stamps if 0.0005 < t < 0.2005] == []
    assert _state_is_clear(limiter)


def test_a_loop_left_with_waiters_it_never_cancelled_does_not_block_the_next() -> None:
    limiter = LocalLimiter(dg.RateLimit.per_second(20))
    old = asyncio.new_event_loop()
    try:

        async def leave_one_waiting() -> asyncio.Task[None]:
            await limiter.acquire()
            task = asyncio.ensure_future(limiter.acquire())
            await asyncio.sleep(0)
            return task

        stranded = old.run_until_complete(leave_one_waiting())

        async def two() -> int:
            await limiter.acquire()
            await limiter.acquire()
            return 2

        assert asyncio.run(two()) == 2
        stranded.cancel()
        old.run_until_complete(asyncio.gather(stranded, return_exceptions=True))
    finally:
        old.close()
    assert _state_is_clear(limiter)


# --- the window on random schedules ------------------------------------------------------


PERIOD = 0.005


@settings(max_examples=60, deadline=None)
@given(
    rate=st.integers(2, 30),
    burst=st.integers(1, 3),
    arrivals=st.lists(st.floats(0.0, 0.03), min_size=5, max_size=60),
    cancels=st.lists(st.tuples(st.integers(0, 59), st.floats(0.0, 0.04)), max_size=12),
    late=st.lists(st.floats(0.0, 0.003), min_size=1, max_size=8),
    pause=st.none() | st.tuples(st.floats(0.0, 0.03), st.floats(0.0005, 0.01)),
)
def test_no_window_ever_holds_more_than_max_rate(
    rate: int,
    burst: int,
    arrivals: list[float],
    cancels: list[tuple[int, float]],
    late: list[float],
    pause: tuple[float, float] | None,
) -> None:
    # A 5 ms window: up to 6,000/s, so that up to six callers share a slice.
    limit = dg.RateLimit(rate, PERIOD, burst=min(burst, rate))
    lateness = itertools.cycle(late)

    async def main(loop: CountingLoop) -> tuple[list[float], list[int], list[int], LocalLimiter]:
        loop.lateness = lambda: next(lateness)
        limiter = LocalLimiter(limit, clock=loop.time)
        sent: list[float] = []
        asked: list[int] = []
        order: list[int] = []

        async def caller(i: int, delay: float) -> None:
            await asyncio.sleep(delay)
            asked.append(i)
            await limiter.acquire()
            order.append(i)
            loop.call_soon(lambda: sent.append(loop.time()))

        tasks = [asyncio.ensure_future(caller(i, d)) for i, d in enumerate(arrivals)]
        for i, at in cancels:
            if i < len(tasks):
                loop.call_later(at, tasks[i].cancel)
        if pause is not None:
            loop.call_later(pause[0], limiter.pause, pause[1])
        results = await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.sleep(0)
        gone = {i for i, r in enumerate(results) if isinstance(r, asyncio.CancelledError)}
        return sorted(sent), [i for i in asked if i not in gone], order, limiter

    stamps, asked, order, limiter = run_counting(main)
    assert max_in_window(stamps, PERIOD) <= rate
    assert len(stamps) == len(asked)  # every caller not cancelled got out
    if pause is not None:
        start, seconds = pause
        # A wait shorter than _NEGLIGIBLE is over (a clock may not move for a few ulps).
        assert [t for t in stamps if start < t < start + seconds - _NEGLIGIBLE] == []
    else:
        assert order == asked  # first come, first served
    assert _state_is_clear(limiter)


# --- end to end -------------------------------------------------------------------------


async def test_at_2000_per_second_no_server_window_holds_more_than_max_rate() -> None:
    rate = dg.RateLimit.per_second(2000)
    async with FakeDumGumServer(api_key="k", validate=False, max_recorded=None) as server:
        async with dg.DumGumClient(
            api_key="k", base_url=server.url, rate_limit=rate, max_concurrency=32
        ) as client:
            # Open the connections first: their set-up would delay the first requests
            # by more than the margin, a cost outside the limiter.
            await asyncio.gather(*(client.suggest(minimal_request()) for _ in range(32)))
            await asyncio.sleep(1.1)
            server.clear()
            await asyncio.gather(*(client.suggest(minimal_request()) for _ in range(4000)))
        arrivals = sorted(r.received_at for r in server.requests)
    assert len(arrivals) == 4000
    assert max_in_window(arrivals, 1.0) <= 2000
