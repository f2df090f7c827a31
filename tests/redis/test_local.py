"""This process's own schedule (_redis_local.Schedule): the fallback keeps the window.

Every test that needs it starts its own ``redis-server`` (``tests/redis_server.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hypothesis import given, settings
from hypothesis import strategies as st

from dumgum_async import _redis_local
from tests.helpers.windows import max_in_window as _max_in_window

if TYPE_CHECKING:
    pass


def _schedule(rate: int, burst: int, period: float = 1.0) -> _redis_local.Schedule:
    window = period * 1.01
    interval = window / rate
    return _redis_local.Schedule(interval, (burst - 1) * interval, rate if burst > 1 else 0, window)


@settings(max_examples=60, deadline=None)
@given(
    rate=st.integers(2, 12),
    burst=st.integers(1, 4),
    steps=st.lists(
        st.tuples(st.floats(0, 0.4), st.booleans(), st.booleans()), min_size=5, max_size=80
    ),
)
def test_local_and_redis_grants_together_never_overrun_a_window(
    rate: int, burst: int, steps: list[tuple[float, bool, bool]]
) -> None:
    # Two schedules stand for Redis and for one process's fallback; each step is a
    # request after a pause of `gap`, granted by whichever is in use (switching
    # when told), with grants noted, and seeds handed over, as RedisRateLimit does.
    burst = min(burst, rate)
    redis, local = _schedule(rate, burst), _schedule(rate, burst)
    now, on_redis, slots = 0.0, True, []
    for gap, switch, _ in steps:
        now += gap
        if switch:
            if not on_redis:
                for seed in local.recent(now):
                    redis.note(seed)
            on_redis = not on_redis
        if on_redis:
            slot = redis.reserve(now)
            local.note(slot)
        else:
            slot = local.reserve(now)
        slots.append(slot)
    assert _max_in_window(sorted(slots), 1.0) <= rate


def test_a_fresh_local_schedule_would_overrun_the_window() -> None:
    # The control for the property above: without the slots granted through
    # Redis, the fallback starts a new window on top of the old one.
    redis, fresh = _schedule(10, 1), _schedule(10, 1)
    slots = [redis.reserve(0.0) for _ in range(10)]  # reserved up to 0.9 s ahead
    slots += [fresh.reserve(0.05) for _ in range(5)]
    assert _max_in_window(sorted(slots), 1.0) > 10
