"""Virtual time for limiter tests: an event loop whose clock jumps to the next timer.

:class:`VirtualTimeLoop` never waits for a timer: its clock jumps to it, so a limiter
given the loop's clock (and sleeping with ``asyncio.sleep``) runs a minute of schedule
in milliseconds, exactly and without flaking on a busy machine. A "stall" of the loop
(another task's synchronous call) is ``loop.advance(seconds)`` without yielding.
Release times are taken one loop iteration after ``acquire`` returns, when aiohttp
writes a request.
"""

from __future__ import annotations

import asyncio
import contextvars
import selectors
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar, TypeVarTuple

import dumgum_async as dg
from dumgum_async._throttle import ARRIVAL_MARGIN, Limiter, LocalLimiter

_Ts = TypeVarTuple("_Ts")
_T = TypeVar("_T")


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An event loop on virtual time: waiting for a timer takes no real time."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0
        real_select = self._selector.select  # type: ignore[attr-defined]

        def select(timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
            if timeout is None:  # nothing scheduled: only another thread can wake us
                events: list[tuple[selectors.SelectorKey, int]] = real_select(5.0)
                if not events:
                    raise RuntimeError("virtual time: nothing will ever happen (deadlock)")
                return events
            self.now += timeout
            ready: list[tuple[selectors.SelectorKey, int]] = real_select(0)
            return ready

        self._selector.select = select  # type: ignore[attr-defined]

    def time(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """A stall: the clock moves while no other task runs."""
        self.now += seconds


def run_virtual(main: Callable[[VirtualTimeLoop], Coroutine[Any, Any, _T]]) -> _T:
    loop = VirtualTimeLoop()
    try:
        return loop.run_until_complete(main(loop))
    finally:
        loop.close()


def limiter_on(loop: VirtualTimeLoop, rate: dg.RateLimit | None, **kwargs: Any) -> LocalLimiter:
    return LocalLimiter(rate, clock=loop.time, **kwargs)


async def send_after(limiter: Limiter, sent: list[float]) -> None:
    """Acquire, then record the send one loop iteration later, as aiohttp writes."""
    await limiter.acquire()
    loop = asyncio.get_running_loop()
    loop.call_soon(lambda: sent.append(loop.time()))


async def sends(limiter: Limiter, n: int) -> list[float]:
    sent: list[float] = []
    await asyncio.gather(*(send_after(limiter, sent) for _ in range(n)))
    await asyncio.sleep(0)  # the last send
    return sorted(sent)


def span(rate: dg.RateLimit) -> float:
    return rate.time_period + min(ARRIVAL_MARGIN, rate.time_period / 50)


class CountingLoop(VirtualTimeLoop):
    """Virtual time, counting the limiter's timers; ``lateness`` makes them late."""

    def __init__(self) -> None:
        super().__init__()
        self.fires: list[float] = []  # when each limiter timer was asked for
        self.lateness: Callable[[], float] = lambda: 0.0

    def call_at(
        self,
        when: float,
        callback: Callable[[*_Ts], object],
        *args: *_Ts,
        context: contextvars.Context | None = None,
    ) -> asyncio.TimerHandle:
        if getattr(callback, "__name__", "") == "_fire":
            self.fires.append(when)
            when += self.lateness()
        return super().call_at(when, callback, *args, context=context)


def run_counting(main: Callable[[CountingLoop], Any]) -> Any:
    loop = CountingLoop()
    try:
        return loop.run_until_complete(main(loop))
    finally:
        loop.close()
