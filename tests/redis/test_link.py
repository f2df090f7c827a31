"""The breaker that remembers Redis is down (_redis_link.Breaker), on a fake clock.

Every test that needs it starts its own ``redis-server`` (``tests/redis_server.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dumgum_async import _redis_link

if TYPE_CHECKING:
    pass


class FakeClock:
    """A monotonic clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_breaker_checks_again_only_after_the_interval() -> None:
    clock = FakeClock()
    breaker = _redis_link.Breaker(5.0, clock)
    assert not breaker.start_check()  # not down: nothing to check
    assert breaker.failed("refused")
    assert breaker.down
    assert breaker.seconds_to_check() == 5.0
    clock.now += 4.9
    assert not breaker.start_check()
    clock.now += 0.1
    assert breaker.start_check()


def test_the_breaker_runs_one_check_at_a_time() -> None:
    clock = FakeClock()
    breaker = _redis_link.Breaker(1.0, clock)
    breaker.failed("refused")
    clock.now += 1.0
    assert breaker.start_check()
    assert not breaker.start_check()
    assert breaker.seconds_to_check() == 0.0


def test_a_failed_check_waits_a_whole_interval_again() -> None:
    clock = FakeClock()
    breaker = _redis_link.Breaker(1.0, clock)
    breaker.failed("refused")
    clock.now += 1.5
    assert breaker.start_check()
    assert not breaker.failed("no answer")  # still down: not a new outage
    assert breaker.error == "no answer"
    clock.now += 0.9
    assert not breaker.start_check()
    clock.now += 0.1
    assert breaker.start_check()


def test_an_answer_closes_the_breaker_once() -> None:
    breaker = _redis_link.Breaker(1.0, FakeClock())
    breaker.failed("refused")
    assert breaker.succeeded()
    assert not breaker.down
    assert not breaker.succeeded()
