"""A client's life: bound to one running loop at a time, closed once, drained on close.

``Lifecycle`` is the base of ``DumGumClient`` that owns this: the per-loop state
(:class:`LoopState`: the loop, the concurrency :class:`Slots`, the batch gate), the
session it opens and closes through ``Transport``, and the set of calls in flight
that :meth:`Lifecycle.aclose` waits for or cancels. Nothing here sends a request.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime as _dt
from collections.abc import AsyncGenerator
from typing import Any, Self

from dumgum_async._config import seconds
from dumgum_async._http import ClientSession, Transport
from dumgum_async.exceptions import ClientClosedError, DumGumError


class Slots:
    """The concurrency bound of one loop: ``free`` slots, then a queue of waiters.

    An ``asyncio.Semaphore`` whose free case the caller takes inline
    (``if slots.free: slots.free -= 1``), where the semaphore's ``acquire()`` makes a
    coroutine per request. A released slot is handed straight to the first waiter
    that is still waiting, so ``free`` is never above zero while anyone waits and a
    newcomer cannot overtake the queue; a waiter cancelled just after it was handed
    one passes it on. Holders never exceed the count.
    """

    __slots__ = ("_loop", "_waiters", "free")

    def __init__(self, count: int, loop: asyncio.AbstractEventLoop) -> None:
        self.free = count
        self._loop = loop
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    async def wait(self) -> None:
        """Wait for a slot; for when none is ``free`` (it is held on return)."""
        waiter = self._loop.create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.cancelled():  # never handed a slot
                with contextlib.suppress(ValueError):  # release() may have dropped it
                    self._waiters.remove(waiter)
            else:  # handed one as it was cancelled: it is not ours to keep
                self.release()
            raise

    def release(self) -> None:
        """Give a slot back: to the first waiter still waiting, else to ``free``."""
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self.free += 1


class LoopState:
    """What belongs to one event loop: the loop itself and the primitives bound to it."""

    __slots__ = ("batch_gate", "guard", "guard_started", "loop", "slots")

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        max_concurrency: int,
        guard: AsyncGenerator[None, None] | None,
    ) -> None:
        self.loop = loop
        self.slots = Slots(max_concurrency, loop)
        # Batch workers queue for a token one at a time, behind interactive calls.
        self.batch_gate = asyncio.Lock()
        self.guard = guard
        self.guard_started = False


def slots_for(max_concurrency: int, session: ClientSession | None) -> int:
    # A rate-limit token taken while no connection is free would wait in aiohttp's
    # pool and leave later in a burst: never hold more slots than the caller's
    # session has connections (0 means unlimited in aiohttp).
    connector = session.connector if session is not None else None
    if connector is None:
        return max_concurrency
    return min([max_concurrency, *(n for n in (connector.limit, connector.limit_per_host) if n)])


class Lifecycle:
    """The lifecycle half of ``DumGumClient`` (its ``__init__`` sets these attributes)."""

    _closed: bool
    _transport: Transport
    _slot_count: int
    _bound: LoopState | None
    _inflight: set[asyncio.Task[Any]]
    _cancelled_by_close: set[asyncio.Task[Any]]
    _idle: asyncio.Future[None] | None

    async def __aenter__(self) -> Self:
        await self._bind()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def _open(self) -> LoopState:
        """The state for the running loop; a new session when the loop is a new one.

        Raises:
            ClientClosedError: The client is closed.
            DumGumError: Another event loop is using the client right now, or the
                caller's session belongs to a loop that has ended.
        """
        if self._closed:
            raise ClientClosedError("this DumGumClient is closed; create a new one")
        loop = asyncio.get_running_loop()
        bound = self._bound
        if bound is not None:
            if bound.loop is loop:
                return bound
            old = bound.loop
            if not old.is_closed() and old.is_running():
                raise DumGumError(
                    "this DumGumClient is in use by another running event loop; "
                    "create one client per loop (per thread)"
                )
            if not self._transport.owns_session:
                raise DumGumError(
                    "the aiohttp session given to this DumGumClient belongs to an event loop "
                    "that has ended; give it a session of the running loop, or none"
                )
            # The old loop ended without closing our session (it was closed without
            # asyncio.run's clean-up): it cannot be closed from here, only dropped.
            self._transport.forget()
            # So did the calls it left in flight: they run only if that loop runs
            # again, so this loop's aclose() can neither wait for them (a drain that
            # never ends) nor cancel them (a closed loop raises RuntimeError).
            self._inflight.clear()
            self._cancelled_by_close.clear()
        self._transport.open()
        guard = self._session_guard(loop) if self._transport.owns_session else None
        self._bound = bound = LoopState(loop, self._slot_count, guard)
        return bound

    async def _session_guard(self, loop: asyncio.AbstractEventLoop) -> AsyncGenerator[None, None]:
        # An async generator, because asyncio.run() and asyncio.Runner close every
        # one still suspended in their loop before closing the loop: this closes our
        # session in the loop it belongs to, even if aclose() is never called.
        try:
            yield
        finally:
            bound = self._bound
            if bound is not None and bound.loop is loop:
                self._bound = None
                await self._transport.close()

    async def _bind(self) -> LoopState:
        bound = self._bound
        if bound is not None and bound.loop is asyncio.get_running_loop() and not self._closed:
            return bound
        bound = self._open()
        if bound.guard is not None and not bound.guard_started:
            bound.guard_started = True
            await anext(bound.guard)  # run it up to its yield
        return bound

    async def aclose(self, *, drain: float | _dt.timedelta | None = None) -> None:
        """Close the client and its own session; safe to call more than once.

        New calls are refused from the start (:class:`ClientClosedError`). Calls in
        flight are given ``drain`` seconds to finish; those still running then (all
        of them, without ``drain``) are cancelled and raise
        :class:`ClientClosedError` (a batch stops: see :meth:`suggest_many`).
        A cancellation of the caller's own is never turned into that error.

        Args:
            drain: Seconds (or a ``timedelta``) in-flight calls may take to finish.

        Raises:
            ConfigurationError: ``drain`` is not a positive duration.
        """
        grace = seconds(drain, "drain")
        self._closed = True
        bound = self._bound
        here = bound is not None and bound.loop is asyncio.get_running_loop()
        if here and self._inflight:
            if grace is not None:
                await self._wait_idle(grace)
            if self._inflight:
                for task in self._inflight:
                    # Once: a second closer's cancel would count as someone else's
                    # (uncancel() != 0), and the call would end in a bare CancelledError.
                    if task not in self._cancelled_by_close:
                        self._cancelled_by_close.add(task)
                        task.cancel()
                # They unwind at once: nothing in a call shields itself.
                await self._wait_idle(None)
            self._cancelled_by_close.clear()
        if bound is not None and not here:
            old = bound.loop
            if not old.is_closed() and old.is_running():
                raise DumGumError("close this DumGumClient from the event loop that uses it")
            self._bound = None
            self._transport.forget()
            return
        guard = bound.guard if bound is not None else None
        if bound is not None and guard is not None:
            bound.guard = None  # a second aclose() meanwhile must not re-enter it
            await guard.aclose()  # closes the session
        self._bound = None
        await self._transport.close()

    async def _wait_idle(self, timeout: float | None) -> None:
        # One future for every closer waiting at once (aclose may be called twice);
        # shielded, so that one closer's timeout does not cancel it for the others.
        idle = self._idle
        if idle is None or idle.done():
            idle = self._idle = asyncio.get_running_loop().create_future()
        try:
            async with asyncio.timeout(timeout):
                await asyncio.shield(idle)
        except TimeoutError:
            pass
