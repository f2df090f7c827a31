"""The limiter's stall watch on virtual time: at 400 requests/s and more, in windows of
a second or more, releases are restamped only when one of the limiter's own timers
fires late (a stall); below that, every release is restamped when it is written; and
only the first waiting group has a timer in the loop.

A stall between a release and its write is ``loop.advance`` queued right after the
timer's callback released its callers, so that it runs before their writes (which
:func:`tests.test_throttle.send_after` makes one loop iteration after ``acquire``).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dumgum_async as dg
from dumgum_async._throttle import LocalLimiter
from dumgum_async._throttle_adaptive import AdaptiveLimiter
from tests.helpers.virtual_time import (
    CountingLoop,
    VirtualTimeLoop,
    run_counting,
    send_after,
    sends,
)
from tests.helpers.windows import max_in_window

HIGH = dg.RateLimit.per_second(1000)  # watched: slots 1.02 ms apart, one-second window


class _Watched(LocalLimiter):
    """Notes every restamp, and stalls the loop after the chosen timer firings,
    before the released callers write their requests."""

    def __init__(
        self, rate: dg.RateLimit, loop: VirtualTimeLoop, stalls: dict[int, float] | None = None
    ) -> None:
        super().__init__(rate, clock=loop.time)
        self.virtual = loop
        self.stalls = stalls or {}
        self.firings = 0
        self.restamps: list[tuple[int, int]] = []

    def _fire(self, fired: Any) -> None:
        super()._fire(fired)
        self.firings += 1
        stall = self.stalls.get(self.firings)
        if stall:
            self.virtual.call_soon(self.virtual.advance, stall)

    def _restamp(self, first: int, last: int, now: float | None = None) -> None:
        self.restamps.append((first, last))
        super()._restamp(first, last, now)


def _run(rate: dg.RateLimit, n: int, stalls: dict[int, float] | None = None) -> Any:
    async def main(loop: CountingLoop) -> tuple[list[float], _Watched]:
        limiter = _Watched(rate, loop, stalls)
        return await sends(limiter, n), limiter

    return run_counting(main)


def test_a_stall_between_release_and_write_restamps_the_stalled_releases() -> None:
    sent, limiter = _run(HIGH, 30, stalls={3: 0.02})
    log = list(limiter._released or ())
    # Every request in the log is stamped no earlier than it was written: the stalled
    # ones were seen late by the next timer and stamped again.
    assert len(log) == len(sent) == 30
    assert all(stamp >= written for stamp, written in zip(log, sent, strict=True))


def test_the_late_timer_restamps_the_releases_of_the_two_firings_before_it() -> None:
    _, limiter = _run(HIGH, 30, stalls={3: 0.02})
    # Release 1 went at once (restamped at its write), firing k released number k + 1;
    # the stall after the 3rd firing made the 4th late, which restamps releases 3 and 4.
    # The last firing's releases, with no timer after them, are restamped at the write.
    assert limiter.restamps == [(1, 1), (3, 4), (28, 30)]


def test_at_a_high_rate_without_a_stall_only_the_unwatched_releases_are_restamped() -> None:
    sent, limiter = _run(HIGH, 60)
    # The first release (an idle limiter's, with no timer to watch it) and the last
    # firing's (nothing fires after it) are restamped at their write; none between.
    assert len(sent) == 60
    assert [last for _, last in limiter.restamps] == [1, 60]
    assert limiter.firings >= 59


@pytest.mark.parametrize(
    "rate",
    [dg.RateLimit.per_second(300), dg.RateLimit(500, 0.5)],
    ids=["300 per second", "1000 per second in a half-second window"],
)
def test_below_400_per_second_or_in_a_short_window_every_release_is_restamped(
    rate: dg.RateLimit,
) -> None:
    _, limiter = _run(rate, 20)
    assert limiter.restamps == [(k, k) for k in range(1, 21)]


class _WatchedAdaptive(AdaptiveLimiter):
    """An adaptive limiter noting every restamp."""

    restamps: list[tuple[int, int]]

    def _restamp(self, first: int, last: int, now: float | None = None) -> None:
        self.restamps.append((first, last))
        super()._restamp(first, last, now)


def test_a_rate_cut_below_400_per_second_goes_back_to_restamping_every_release() -> None:
    config = dg.RateLimit.adaptive(start=450.0, max_rate=500.0)

    async def main(loop: CountingLoop) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        limiter = _WatchedAdaptive(config, clock=loop.time)
        limiter.restamps = []
        await sends(limiter, 20)
        watched = list(limiter.restamps)
        limiter.observe(429, None)  # a cut to 315/s
        limiter.restamps = []
        await sends(limiter, 10)
        return watched, limiter.restamps

    watched, after_cut = run_counting(main)
    assert [last for _, last in watched] == [1, 20]  # the idle limiter's and the last's
    assert after_cut == [(k, k) for k in range(21, 31)]


def test_only_the_first_of_several_waiting_groups_has_a_timer() -> None:
    async def main(loop: CountingLoop) -> tuple[int, list[bool], int]:
        limiter = LocalLimiter(dg.RateLimit.per_second(5000), clock=loop.time)
        sent: list[float] = []
        tasks = [asyncio.ensure_future(send_after(limiter, sent)) for _ in range(30)]
        await asyncio.sleep(0)
        armed = [group.timer is not None for group in limiter._groups]
        fires_so_far = len(loop.fires)
        await asyncio.gather(*tasks)
        return fires_so_far, armed, len(sent)

    fires_so_far, armed, sent = run_counting(main)
    assert len(armed) >= 5  # 29 waiting callers, five slots per slice
    assert armed == [True] + [False] * (len(armed) - 1)
    assert fires_so_far == 1
    assert sent == 30


def test_a_stall_no_timer_can_see_is_caught_when_the_request_is_written() -> None:
    # The last caller's release is followed by no timer: a stall before its write is
    # measured by the write-time restamp, as at low rates.
    sent, limiter = _run(HIGH, 5, stalls={4: 0.03})
    log = list(limiter._released or ())
    assert sent[-1] == pytest.approx(4 * 1.02 / 1000 + 0.03)
    assert log[-1] >= sent[-1]


# --- the window with stalls injected ----------------------------------------------------


@settings(max_examples=12, deadline=None)
@given(
    per_second=st.sampled_from([400, 700]),
    burst=st.sampled_from([1, 20]),
    stalls=st.dictionaries(st.integers(1, 1200), st.floats(0.0, 0.05), max_size=12),
    more=st.lists(st.tuples(st.floats(0.0, 2.0), st.floats(0.0, 0.05)), max_size=6),
)
def test_stalls_anywhere_never_put_more_than_max_rate_in_a_window(
    per_second: int,
    burst: int,
    stalls: dict[int, float],
    more: list[tuple[float, float]],
) -> None:
    # Stalls between a release and its write (after chosen firings), and at random
    # moments; unseen ones (under the watch's threshold) are absorbed by the margin.
    rate = dg.RateLimit.per_second(per_second, burst=burst)
    n = round(per_second * 2.3)

    async def main(loop: CountingLoop) -> list[float]:
        limiter = _Watched(rate, loop, stalls)
        for at, seconds in more:
            loop.call_later(at, loop.advance, seconds)
        return await sends(limiter, n)

    sent = run_counting(main)
    assert len(sent) == n
    assert max_in_window(sent, 1.0) <= per_second
