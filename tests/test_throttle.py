"""The client-side limiter: spacing, bursts, windows and the shared pause (no network)."""

from __future__ import annotations

import asyncio
import itertools

import pytest

import dumgum_async as dg
from dumgum_async._throttle import Limiter, LocalLimiter


async def _stamps(limiter: LocalLimiter, n: int) -> list[float]:
    loop = asyncio.get_running_loop()
    stamps: list[float] = []

    async def one() -> None:
        await limiter.acquire()
        stamps.append(loop.time())

    await asyncio.gather(*(one() for _ in range(n)))
    return sorted(stamps)


def _max_in_window(stamps: list[float], period: float) -> int:
    best = 0
    j = 0
    for i, t in enumerate(stamps):
        while stamps[j] <= t - period:
            j += 1
        best = max(best, i - j + 1)
    return best


async def test_default_spacing_is_even_from_the_first_request() -> None:
    limiter = LocalLimiter(dg.RateLimit.per_second(50))
    stamps = await _stamps(limiter, 30)
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    # A busy machine can only make gaps longer, never shorter.
    assert min(gaps) >= 0.02 - 0.002


async def test_never_more_than_max_rate_in_any_window_from_the_start() -> None:
    limiter = LocalLimiter(dg.RateLimit(20, 0.5))
    stamps = await _stamps(limiter, 45)
    assert _max_in_window(stamps, 0.5) <= 20


async def test_burst_lets_a_quick_start_but_keeps_the_window() -> None:
    limiter = LocalLimiter(dg.RateLimit(10, 0.5, burst=5))
    stamps = await _stamps(limiter, 25)
    assert stamps[4] - stamps[0] < 0.04  # the first five left together
    assert _max_in_window(stamps, 0.5) <= 10


async def test_pause_holds_every_caller() -> None:
    limiter = LocalLimiter(None)
    loop = asyncio.get_running_loop()
    limiter.pause(0.2)
    started = loop.time()
    stamps = await _stamps(limiter, 5)
    assert min(stamps) - started >= 0.19


async def test_a_longer_pause_extends_a_shorter_one() -> None:
    limiter = LocalLimiter(None)
    loop = asyncio.get_running_loop()
    started = loop.time()
    limiter.pause(0.05)
    limiter.pause(0.2)
    limiter.pause(0.01)
    await limiter.acquire()
    assert loop.time() - started >= 0.19


async def test_without_rate_or_pause_acquire_is_immediate() -> None:
    limiter = LocalLimiter(None)
    stamps = await _stamps(limiter, 100)
    assert stamps[-1] - stamps[0] < 0.1


def test_local_limiter_satisfies_the_protocol() -> None:
    async def make() -> LocalLimiter:
        return LocalLimiter(None)

    assert isinstance(asyncio.run(make()), Limiter)


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
