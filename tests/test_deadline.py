"""``_deadline.Deadline``: a call's deadline on an injected clock."""

from __future__ import annotations

import asyncio

import pytest

import dumgum_async as dg
from dumgum_async._deadline import Deadline, expired


class _Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now

    def time(self) -> float:  # as an event loop's
        return self.now


def test_a_policy_without_a_deadline_gives_none() -> None:
    assert Deadline.of(dg.RetryPolicy(), _Clock()) is None
    assert Deadline.of(None, _Clock()) is None


def test_the_deadline_counts_from_the_call_start() -> None:
    clock = _Clock()
    clock.now = 49.0
    deadline = Deadline.of(dg.RetryPolicy(deadline=2.0), clock)
    clock.now = 50.0
    assert deadline is not None
    assert deadline.remaining() == 1.0
    assert not deadline.expired()
    clock.now = 51.0
    assert deadline.expired()


def test_cap_shortens_a_delay_to_what_is_left_never_below_zero() -> None:
    clock = _Clock()
    deadline = Deadline(51.0, clock)
    assert (deadline.cap(0.5), deadline.cap(3.0)) == (0.5, 1.0)
    clock.now = 52.0
    assert deadline.cap(3.0) == 0.0


def test_a_timeout_that_fits_is_returned_as_it_is() -> None:
    deadline = Deadline(60.0, _Clock())
    timeout = dg.Timeout(total=5.0, connect=1.0)
    assert deadline.cap_timeout(timeout) is timeout
    seconds = 5.0
    assert deadline.cap_timeout(seconds) is seconds


def test_a_timeout_longer_than_what_is_left_is_cut_keeping_its_other_limits() -> None:
    deadline = Deadline(52.0, _Clock())
    assert deadline.cap_timeout(5.0) == 2.0
    assert deadline.cap_timeout(dg.Timeout(total=5.0, connect=1.0, read=3.0)) == dg.Timeout(
        total=2.0, connect=1.0, read=3.0
    )


def test_a_passed_deadline_leaves_no_timeout() -> None:
    clock = _Clock()
    deadline = Deadline(50.0, clock)
    assert deadline.cap_timeout(5.0) is None


def test_the_error_says_what_the_call_was_waiting_for() -> None:
    error = expired("waiting for a rate-limit token", "http://x/y")
    assert isinstance(error, dg.APITimeoutError)
    assert str(error).startswith("the call's deadline passed while waiting for a rate-limit")
    assert error.url == "http://x/y"


async def test_within_raises_the_deadline_error_when_it_passes_first() -> None:
    loop = asyncio.get_running_loop()
    deadline = Deadline(loop.time(), loop.time)  # already passed: no real waiting
    with pytest.raises(dg.APITimeoutError, match="waiting for a slot") as info:
        await deadline.within(asyncio.Event().wait(), "waiting for a slot", "http://x")
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__
