"""The client-side limiter's logic on virtual time: spacing, bursts, windows, pauses,
stalls and cancellation, exactly and without flaking on a busy machine; and a few
checks on the real clock (one limiter across event loops).

Each logic test runs on ``tests.helpers.virtual_time.VirtualTimeLoop``, an event loop
whose clock jumps to the next timer instead of waiting for it; the limiter is given that
clock, and its default ``asyncio.sleep`` then sleeps in virtual time.
"""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dumgum_async as dg
from dumgum_async._throttle import Limiter, LocalLimiter
from tests.helpers.virtual_time import (
    VirtualTimeLoop,
    limiter_on,
    run_virtual,
    send_after,
    sends,
    span,
)
from tests.helpers.windows import max_in_window

# --- spacing, bursts, windows --------------------------------------------------------


def test_default_spacing_is_even_from_the_first_request() -> None:
    rate = dg.RateLimit.per_second(50)

    async def main(loop: VirtualTimeLoop) -> list[float]:
        return await sends(limiter_on(loop, rate), 30)

    stamps = run_virtual(main)
    interval = span(rate) / 50
    assert stamps == pytest.approx([k * interval for k in range(30)], abs=1e-9)


def test_the_margin_costs_two_percent_of_a_one_second_window() -> None:
    rate = dg.RateLimit.per_second(20)

    async def main(loop: VirtualTimeLoop) -> list[float]:
        return await sends(limiter_on(loop, rate), 21)

    stamps = run_virtual(main)
    assert stamps[20] - stamps[0] == pytest.approx(1.02)


def test_never_more_than_max_rate_in_any_window_from_the_start() -> None:
    async def main(loop: VirtualTimeLoop) -> list[float]:
        return await sends(limiter_on(loop, dg.RateLimit(20, 0.5)), 45)

    assert max_in_window(run_virtual(main), 0.5) == 20


def test_burst_lets_a_quick_start_but_keeps_the_window() -> None:
    async def main(loop: VirtualTimeLoop) -> list[float]:
        return await sends(limiter_on(loop, dg.RateLimit(10, 0.5, burst=5)), 25)

    stamps = run_virtual(main)
    assert stamps[:5] == [0.0] * 5
    assert stamps[5] > 0.0
    assert max_in_window(stamps, 0.5) == 10


def test_a_fractional_rate_allows_its_floor_in_any_window() -> None:
    async def main(loop: VirtualTimeLoop) -> list[float]:
        return await sends(limiter_on(loop, dg.RateLimit(2.5, 1.0)), 8)

    assert max_in_window(run_virtual(main), 1.0) == 2


@settings(max_examples=40, deadline=None)
@given(
    late=st.lists(st.floats(0.0, 0.3), min_size=1, max_size=12),
    burst=st.integers(1, 4),
)
def test_late_wake_ups_never_put_more_than_max_rate_in_a_window(
    late: list[float], burst: int
) -> None:
    rate = dg.RateLimit(4, 1.0, burst=burst)
    lateness = itertools.cycle(late)

    async def main(loop: VirtualTimeLoop) -> list[float]:
        async def late_sleep(seconds: float) -> None:
            await asyncio.sleep(seconds + next(lateness))

        return await sends(limiter_on(loop, rate, sleep=late_sleep), 14)

    assert max_in_window(run_virtual(main), 1.0) <= 4


def test_a_late_wake_up_does_not_shift_the_grid() -> None:
    rate = dg.RateLimit.per_second(10)
    woken = 0

    async def main(loop: VirtualTimeLoop) -> list[float]:
        async def sleep(seconds: float) -> None:
            nonlocal woken
            woken += 1
            await asyncio.sleep(seconds + (0.07 if woken == 1 else 0.0))

        return await sends(limiter_on(loop, rate, sleep=sleep), 6)

    stamps = run_virtual(main)
    interval = span(rate) / 10
    assert stamps[1] == pytest.approx(interval + 0.07)
    assert stamps[2:] == pytest.approx([k * interval for k in range(2, 6)])


# --- stalls between a release and its send ------------------------------------------


def test_a_stall_between_release_and_send_holds_the_next_window_back() -> None:
    # The race of a busy web backend: a caller is released, then another task's 30 ms
    # synchronous call runs before the request is written. The window must be counted
    # from when it was written.
    rate = dg.RateLimit(5, 1.0)

    async def main(loop: VirtualTimeLoop) -> list[float]:
        woken = 0

        async def sleep(seconds: float) -> None:
            nonlocal woken
            await asyncio.sleep(seconds)
            woken += 1
            if woken % 5 == 1:  # queued ahead of the send, after the release
                loop.call_soon(loop.advance, 0.03)

        return await sends(limiter_on(loop, rate, sleep=sleep), 16)

    assert max_in_window(run_virtual(main), 1.0) <= 5


def test_a_stall_after_a_burst_holds_back_every_request_of_it() -> None:
    rate = dg.RateLimit(3, 1.0, burst=3)

    async def main(loop: VirtualTimeLoop) -> list[float]:
        limiter = limiter_on(loop, rate)
        for _ in range(3):
            await limiter.acquire()  # all three in one loop iteration
        loop.advance(0.05)  # then a stall before any of them is written
        await asyncio.sleep(0)
        return await sends(limiter, 1)

    assert run_virtual(main) == [pytest.approx(0.05 + span(rate))]


# --- pauses -------------------------------------------------------------------------


def test_pause_holds_every_caller() -> None:
    async def main(loop: VirtualTimeLoop) -> list[float]:
        limiter = limiter_on(loop, None)
        limiter.pause(0.2)
        return await sends(limiter, 5)

    assert run_virtual(main) == [pytest.approx(0.2)] * 5


def test_a_longer_pause_extends_a_shorter_one() -> None:
    async def main(loop: VirtualTimeLoop) -> list[float]:
        limiter = limiter_on(loop, None)
        limiter.pause(0.05)
        limiter.pause(0.2)
        limiter.pause(0.01)
        return await sends(limiter, 1)

    assert run_virtual(main) == [pytest.approx(0.2)]


def test_a_pause_extended_while_waiting_holds_until_its_new_end() -> None:
    async def main(loop: VirtualTimeLoop) -> list[float]:
        limiter = limiter_on(loop, dg.RateLimit.per_second(10))
        limiter.pause(0.1)
        loop.call_later(0.05, limiter.pause, 0.5)
        return await sends(limiter, 2)

    assert run_virtual(main)[0] == pytest.approx(0.55)


def test_pause_holds_callers_already_asleep_toward_their_slot() -> None:
    rate = dg.RateLimit.per_second(20)

    async def main(loop: VirtualTimeLoop) -> tuple[float, list[float]]:
        limiter = limiter_on(loop, rate)
        loop.call_later(0.12, limiter.pause, 1.0)  # a 429 with Retry-After: 1
        return 0.12, await sends(limiter, 30)

    paused_at, stamps = run_virtual(main)
    during = [t for t in stamps if paused_at < t < paused_at + 1.0]
    assert during == []
    assert len(stamps) == 30


def test_after_a_pause_requests_leave_evenly_spaced_without_a_burst() -> None:
    rate = dg.RateLimit.per_second(20, burst=10)

    async def main(loop: VirtualTimeLoop) -> list[float]:
        limiter = limiter_on(loop, rate)
        loop.call_later(0.01, limiter.pause, 1.0)
        return await sends(limiter, 25)

    after = [t for t in run_virtual(main) if t > 0.01]
    gaps = [b - a for a, b in itertools.pairwise(after)]
    assert after[0] == pytest.approx(1.01)
    assert min(gaps) == pytest.approx(span(rate) / 20)


def test_a_pause_that_ends_before_a_slot_keeps_the_slot() -> None:
    rate = dg.RateLimit.per_second(2)

    async def main(loop: VirtualTimeLoop) -> list[float]:
        limiter = limiter_on(loop, rate)
        loop.call_later(0.1, limiter.pause, 0.2)
        return await sends(limiter, 2)

    assert run_virtual(main) == [0.0, pytest.approx(span(rate) / 2)]


def test_a_zero_retry_after_is_no_pause() -> None:
    async def main(loop: VirtualTimeLoop) -> list[float]:
        limiter = limiter_on(loop, dg.RateLimit.per_second(10, burst=3))
        limiter.pause(0.0)
        return await sends(limiter, 3)

    assert run_virtual(main) == [0.0, 0.0, 0.0]


# --- cancellation ---------------------------------------------------------------------


def test_a_cancelled_caller_gives_up_its_slot_and_the_rate_never_rises() -> None:
    rate = dg.RateLimit.per_second(10)

    async def main(loop: VirtualTimeLoop) -> list[float]:
        limiter = limiter_on(loop, rate)
        sent: list[float] = []
        tasks = [asyncio.ensure_future(send_after(limiter, sent)) for _ in range(4)]
        await asyncio.sleep(0.05)
        tasks[1].cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.sleep(0)
        return sorted(sent)

    interval = span(rate) / 10
    assert run_virtual(main) == pytest.approx([0.0, 2 * interval, 3 * interval])


def test_a_caller_cancelled_during_a_pause_leaves_the_others_on_time() -> None:
    async def main(loop: VirtualTimeLoop) -> list[float]:
        limiter = limiter_on(loop, dg.RateLimit.per_second(10))
        limiter.pause(0.3)
        sent: list[float] = []
        tasks = [asyncio.ensure_future(send_after(limiter, sent)) for _ in range(3)]
        loop.call_later(0.1, tasks[0].cancel)
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.sleep(0)
        return sorted(sent)

    stamps = run_virtual(main)
    assert len(stamps) == 2
    assert stamps[0] == pytest.approx(0.3)


def test_without_rate_or_pause_acquire_is_immediate() -> None:
    async def main(loop: VirtualTimeLoop) -> list[float]:
        return await sends(limiter_on(loop, None), 100)

    assert run_virtual(main) == [0.0] * 100


def test_the_injected_sleep_is_the_only_way_the_limiter_waits() -> None:
    asked: list[float] = []

    async def main(loop: VirtualTimeLoop) -> list[float]:
        async def sleep(seconds: float) -> None:
            asked.append(seconds)
            await asyncio.sleep(seconds)

        limiter = limiter_on(loop, dg.RateLimit.per_second(10), sleep=sleep)
        limiter.pause(0.5)
        return await sends(limiter, 3)

    stamps = run_virtual(main)
    # Each caller sleeps out the pause, then one timer sleeps to the 2nd slot, and from
    # there to the 3rd (only the first waiting group has a timer).
    interval = span(dg.RateLimit.per_second(10)) / 10
    assert asked == pytest.approx([0.5, 0.5, 0.5, interval, interval])
    assert stamps == pytest.approx([0.5, 0.5 + interval, 0.5 + 2 * interval])


# --- across event loops (real clock) ----------------------------------------------------


def _stamp_in_new_loop(limiter: LocalLimiter, n: int) -> list[float]:
    async def main() -> list[float]:
        out: list[float] = []
        for _ in range(n):
            await limiter.acquire()
            out.append(time.monotonic())
        return out

    return asyncio.run(main())


def test_one_limiter_keeps_its_schedule_across_event_loops() -> None:
    limiter = LocalLimiter(dg.RateLimit.per_second(5))  # 0.204 s apart
    first = _stamp_in_new_loop(limiter, 2)
    second = _stamp_in_new_loop(limiter, 1)
    # A fresh schedule would release at once; a busy machine only makes it later.
    assert second[0] - first[0] >= 2 * 0.204 - 0.05


def test_a_pause_set_in_one_event_loop_holds_the_next() -> None:
    limiter = LocalLimiter(None)

    async def told() -> float:
        limiter.pause(0.3)
        return time.monotonic()

    paused_at = asyncio.run(told())
    (released,) = _stamp_in_new_loop(limiter, 1)
    assert released - paused_at >= 0.3 - 0.002


def test_a_loop_ended_mid_wait_leaves_the_limiter_usable() -> None:
    limiter = LocalLimiter(dg.RateLimit.per_second(5))

    async def abandon() -> None:
        await limiter.acquire()
        waiting = asyncio.ensure_future(limiter.acquire())  # cancelled by asyncio.run
        await asyncio.sleep(0)
        assert not waiting.done()

    asyncio.run(abandon())
    assert len(_stamp_in_new_loop(limiter, 2)) == 2


def test_local_limiter_satisfies_the_protocol() -> None:
    assert isinstance(LocalLimiter(None), Limiter)


# --- RateLimit --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "rate", "period"),
    [("20/s", 20, 1.0), ("600/min", 600, 60.0), ("5/m", 5, 60.0), ("36000/h", 36000, 3600.0)],
)
def test_rate_limit_parses_rate_strings(text: str, rate: float, period: float) -> None:
    limit = dg.RateLimit.parse(text)
    assert (limit.max_rate, limit.time_period) == (rate, period)


@pytest.mark.parametrize("text", ["fast", "20/fortnight", "/s"])
def test_rate_limit_rejects_bad_strings(text: str) -> None:
    with pytest.raises(dg.ConfigurationError, match="20/s"):
        dg.RateLimit.parse(text)


def test_burst_above_the_rate_is_refused() -> None:
    with pytest.raises(dg.ConfigurationError, match="burst"):
        dg.RateLimit(5, burst=6)


def test_per_minute_helper() -> None:
    assert dg.RateLimit.per_minute(120).interval == 0.5
