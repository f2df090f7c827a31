"""One coarse timer per event loop, shared by every timed attempt in flight on it.

``asyncio.timeout`` (and aiohttp's per-request total timeout) arms a
``loop.call_at`` for each timed block: a ``TimerHandle`` allocated, pushed on the
loop's heap, cancelled when the block ends early (nearly always), and swept later.
Here a deadline is filed in a slot of :data:`TICK` seconds instead, and one handle
wakes the loop at the end of the earliest slot that still holds one, to cancel the
tasks whose deadline has passed. Arming and disarming a deadline is a dict insert
and delete.

What a :class:`TimerScope` promises is what ``asyncio.timeout_at`` promises, one tick
coarser: it never fires before its time (a slot ends at or after each of its
deadlines, and is swept only once ``loop.time()`` has passed its end), fires at
most about one tick late, and
turns only its own cancellation into ``TimeoutError``. The bookkeeping is CPython's
``asyncio.timeouts.Timeout``: the task's ``cancelling()`` count is noted on entry,
the expiry is ``task.cancel()``, and the exit ``uncancel()``\\ s it; so a cancel
from anyone else (the caller's, an outer timeout's) still propagates, and nested
timeouts work.

While no deadline is armed no handle is either: an idle loop is never woken. A
:class:`CoarseTimer` is bound to one loop; its owner replaces it with the loop
(``_http.Transport``).
"""

from __future__ import annotations

import asyncio
import heapq
from types import TracebackType
from typing import Final

#: Seconds per slot: how late, at most (plus the loop's own latency), a deadline
#: fires. Coarse enough that the deadlines of a busy client share a wake-up; fine
#: next to aiohttp's own rounding (it ceils timeouts over 5 s to a whole second).
TICK: Final = 0.01

#: An instant (the loop's clock: seconds since boot, roughly) beyond which a deadline
#: is never filed: some 30,000 years cannot pass in a process, and a slot number for a
#: ``Timeout(total=1e307)`` would overflow to infinity.
_NEVER: Final = 1e12

# Scope states, as CPython's asyncio.timeouts._State.
_CREATED: Final = 0
_ARMED: Final = 1
_EXPIRING: Final = 2
_EXPIRED: Final = 3
_EXITED: Final = 4


def _slot(when: float) -> int:
    """The slot whose end is the first tick after ``when`` (after: never before it,
    whatever the float rounding, which is what makes a sweep never early)."""
    slot = int(when // TICK) + 1
    if slot * TICK < when:
        slot += 1
    return slot


class CoarseTimer:
    """The slots of one event loop's armed deadlines, and the handle that sweeps them.

    Args:
        loop: The loop whose clock (``loop.time()``) deadlines are on.
    """

    __slots__ = ("_armed", "_due", "_handle", "_loop", "_pending", "_slots")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        # Slot number -> its deadlines (a dict: an ordered set). A slot emptied by
        # disarms is kept until swept, so each slot is in the heap exactly once.
        self._slots: dict[int, dict[TimerScope, None]] = {}
        self._pending: list[int] = []  # heap of the keys of _slots
        self._handle: asyncio.TimerHandle | None = None
        self._due = 0  # the slot _handle is set for
        self._armed = 0

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The loop this timer runs on."""
        return self._loop

    @property
    def armed(self) -> int:
        """How many deadlines are armed (entered, neither expired nor exited), but for
        those too far ahead to come, which are never filed."""
        return self._armed

    @property
    def scheduled(self) -> bool:
        """True while a wake-up of the loop is scheduled."""
        return self._handle is not None

    def at(self, when: float) -> TimerScope:
        """A deadline at ``when`` (the loop's clock), to enter with ``with``."""
        return TimerScope(self, when)

    def _arm(self, deadline: TimerScope) -> None:
        if not deadline.when < _NEVER:
            return  # armed, but no slot and no count: it cannot come (_disarm knows)
        slot = _slot(deadline.when)
        bucket = self._slots.get(slot)
        if bucket is None:
            bucket = self._slots[slot] = {}
            heapq.heappush(self._pending, slot)
        bucket[deadline] = None
        deadline._bucket = bucket
        self._armed += 1
        handle = self._handle
        if handle is None or slot < self._due:
            if handle is not None:
                handle.cancel()
            self._schedule(slot)

    def _schedule(self, slot: int) -> None:
        self._due = slot
        self._handle = self._loop.call_at(slot * TICK, self._tick)

    def _disarm(self, deadline: TimerScope) -> None:
        bucket = deadline._bucket
        if bucket is None:
            return  # never filed (_arm): a deadline too far to come
        deadline._bucket = None
        del bucket[deadline]
        self._armed -= 1
        if not self._armed:
            self._idle()

    def _idle(self) -> None:
        # Nothing in flight: no wake-up scheduled, nothing kept.
        handle = self._handle
        if handle is not None:
            handle.cancel()
            self._handle = None
        self._slots.clear()
        self._pending.clear()

    def _tick(self) -> None:
        self._handle = None
        now = self._loop.time()
        slots, pending = self._slots, self._pending
        expired: list[TimerScope] = []
        while pending:
            slot = pending[0]
            bucket = slots[slot]
            # A slot is swept once its end has passed: every deadline in it is then
            # due (_slot). The loop may run a handle a hair early (its clock
            # resolution): the slot then waits for the next run.
            if bucket and slot * TICK > now:
                break  # the earliest slot that holds a deadline, not yet due
            heapq.heappop(pending)
            del slots[slot]
            expired.extend(bucket)
        self._armed -= len(expired)
        if not self._armed:
            self._idle()
        else:
            # Every slot left in the heap holds a deadline (emptied ones were swept).
            self._schedule(pending[0])
        # Cancelled last, with the books already straight.
        for deadline in expired:
            deadline._expire()


class TimerScope:
    """A timeout at a given instant, sharing its loop's :class:`CoarseTimer`.

    Used as ``asyncio.timeout_at``, but with ``with`` (entering and leaving it awaits
    nothing): a block still running at ``when`` is cancelled at most about one
    :data:`TICK` later, and the ``CancelledError`` leaves the block as
    ``TimeoutError``, unless someone else cancelled the task too.

    Raises:
        RuntimeError: Entered twice, or outside a task of the timer's loop.
    """

    __slots__ = ("_bucket", "_cancelling", "_state", "_task", "_timer", "when")

    def __init__(self, timer: CoarseTimer, when: float) -> None:
        self._timer = timer
        #: The instant (the loop's clock) the block may run until.
        self.when = when
        self._state = _CREATED
        self._task: asyncio.Task[object] | None = None
        self._cancelling = 0
        self._bucket: dict[TimerScope, None] | None = None

    def expired(self) -> bool:
        """True if the deadline passed while the block ran (and cancelled it)."""
        return self._state in (_EXPIRING, _EXPIRED)

    def __enter__(self) -> TimerScope:
        if self._state != _CREATED:
            raise RuntimeError("a TimerScope can be entered only once")
        task = asyncio.current_task(self._timer._loop)
        if task is None:
            raise RuntimeError("a TimerScope must be entered inside a task of its loop")
        self._task = task
        self._cancelling = task.cancelling()
        self._state = _ARMED
        # A deadline already past is filed too: the sweep cancels the task as soon
        # as it awaits. Cancelling it here, while it runs, would leave a pending
        # cancel behind if the block then awaited nothing (3.11's uncancel() keeps it).
        self._timer._arm(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        state = self._state
        task = self._task
        self._task = None  # no cycle through the task's frame
        if state == _ARMED:
            self._state = _EXITED
            self._timer._disarm(self)
            return
        if state != _EXPIRING:
            raise RuntimeError("a TimerScope can be left only once")
        self._state = _EXPIRED
        assert task is not None
        # As CPython's Timeout.__aexit__: only if no other cancel is outstanding is
        # this cancellation ours to turn into TimeoutError.
        if (
            task.uncancel() <= self._cancelling
            and exc_type is not None
            and issubclass(exc_type, asyncio.CancelledError)
        ):
            raise TimeoutError from exc

    def _expire(self) -> None:
        # Called by the sweep only for a deadline still armed: its task is inside the
        # block, suspended (the sweep is a callback), so the cancel lands in the block.
        self._bucket = None
        self._state = _EXPIRING
        assert self._task is not None
        self._task.cancel()

    def __repr__(self) -> str:
        names = ("created", "armed", "expiring", "expired", "exited")
        return f"<TimerScope [{names[self._state]}] when={self.when:.3f}>"
