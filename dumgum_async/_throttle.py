"""Client-side throttling: the rate limit, and the pause a server can impose.

The limit is a GCRA schedule (the "virtual scheduling" form of a token bucket):
each caller is given the next free slot on a grid of ``period / max_rate`` and
waits once until it. A late wake-up does not shift the grid, so the rate holds
on a busy machine; ``burst`` lets that many slots fall at once after a quiet
spell. Callers whose slots fall within one slice (1 ms) of the first of them
wait in one group, released by one timer set for the group's last slot: at high
rates one wake-up of the loop then releases several callers, in the order they
came, each at most a slice after its slot and never before it; at rates below one
slot per slice every caller has its own timer, on time. Only the first group's
timer is in the loop (its firing arms the next group's): a heap of one timer per
waiting group would cost every wake-up its upkeep. A log of the last ``max_rate``
actual release times then holds a release back until the oldest one has left the
window, so no window of ``period`` ever holds more than ``max_rate`` releases,
whatever the wake-up jitter or the grouping.

What counts is when requests reach the server, so the log is kept on the times
requests actually leave: a release is stamped when it is decided (by the timer, or
at once for a caller of an idle limiter), and stamped again when the request is
written, one loop iteration after its caller resumes (aiohttp writes the body in
a task of its own), so that a stall of the event loop in between (another task's
synchronous call) moves the stamp instead of bunching arrivals.

That restamp costs one more loop iteration per timer firing (the releases of one
firing share it). So at about 400 requests/s and more (slots at most 2.6 ms apart,
``_WATCH_GAP``), in windows of a second or more, a release the limiter's own timer
will come back to soon is not restamped: the next two firings of that timer watch
it instead. A firing more than 2 ms (``_STALL``) later than it was due means the
loop stalled, and only then the releases it watches are stamped again, at the
firing. A release no timer will come back to soon (the last before the queue
empties, one followed by a wait for the window or a pause, one given at once by
an idle limiter) is restamped at its write as below that rate. The trade: a write
held up by a stall too short to make a firing late (up to about 4.6 ms, or two in
a row, about 9 ms) goes unseen; the 20 ms ``ARRIVAL_MARGIN`` of such windows
absorbs it, and no window shorter than a second (whose margin is smaller) is
watched this way.

A pause (a 429's ``Retry-After``) voids the slots that fall inside it: a caller
already asleep toward one queues again behind the pause, and the grid restarts at
its end, evenly spaced.

Time comes from an injectable clock and sleep, so the logic can be tested on a
fake clock. What the limiter holds of a loop (the waiters' futures, its timer,
the loop) lives only while someone waits, and waiters a finished loop never
cancelled are dropped by the next loop: one limiter serves one loop after
another, keeping its schedule (its default clock,
``time.monotonic``, is not tied to a loop; uvloop's ``loop.time()`` would also be
stale within a loop iteration, hiding a stall earlier in the same iteration).

Why not aiolimiter, which this project started with: measured here, its bucket
sized to one request lost every late wake-up (88 requests/s at a limit of 100/s),
and on uvloop, whose clock moves in 1 ms steps, it spun on zero-delay timers
(~130 wake-ups and ~0.8 ms of CPU per acquire). A plain ``AsyncLimiter(R, 1)``
also lets about 2R through in the first second. See benchmarks/README.md.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import math
import time
from collections.abc import Awaitable, Callable
from typing import Final, Protocol, runtime_checkable

from dumgum_async._config import RateLimit

#: Extra spacing, beyond the window, between a release and the one ``max_rate``
#: releases before it (at most 2% of the window): the server counts arrivals, and
#: neither the network nor a busy server process delivers two requests with exactly
#: the gap they were sent with (a 20 ms stall of a server's event loop is ordinary;
#: on a loaded 2-core machine 10 ms was measured to be too little). A stall of *our*
#: loop between a release and the send is measured instead (``LocalLimiter._restamp``),
#: but not one inside aiohttp opening a new connection, which this also absorbs; nor,
#: at 400/s and more, one too short to make the limiter's next timer firings late
#: (up to ~9 ms, see the module docstring): watching for stalls instead of a restamp
#: per release saves a loop iteration per release, and this margin is what makes that
#: safe, hence only in windows of a second or more. It costs 2% of the rate for a one-second
#: window, 0.03% for a one-minute window.
ARRIVAL_MARGIN: Final = 0.02
_EARLY_OK: Final = 0.001
#: Callers whose slots fall within this many seconds of the first of them share one
#: timer wake-up (the last slot's): at 5,000/s that is one wake-up for five releases
#: instead of five, each released at most this much after its slot. The release log
#: still decides every release, so grouping never puts more than ``max_rate`` in a
#: window; below one slot per slice every caller has a timer of its own, on time.
_SLICE: Final = 0.001
#: At this spacing of slots or less (about 400 requests/s and up, in windows of a second
#: or more), the limiter's own timers watch for stalls instead of a restamp per release:
#: each release is watched by the next two timer firings, each due within this much of
#: the one before.
_WATCH_GAP: Final = 0.0026
#: A watching timer this late means the loop stalled: the releases it watches may have
#: been written that late, so they are stamped again. Under it is ordinary jitter
#: (uvloop's 1 ms timer rounding, a scheduler's tick).
_STALL: Final = 0.002
# A wait this short is over: a clock of coarse resolution (or a fake one) may not move
# for a sleep of a few ulps, and the loop around the sleep must still end.
_NEGLIGIBLE: Final = 1e-6

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[object]]


@runtime_checkable
class Limiter(Protocol):
    """What the client needs from a rate limiter; implement it to share one elsewhere.

    ``acquire`` returns when one request may be sent now; ``pause`` reports that
    the server asked everyone to wait (a 429 with ``Retry-After``), so that every
    caller sharing the limiter waits, not only the one that was told.

    Optionally, a limiter may also have ``observe(status: int, retry_after: float |
    None) -> None``: the client then calls it once per HTTP attempt that got an
    answer, with its status (and the ``Retry-After`` of a 429), so that the limiter
    can adapt its rate (``_throttle_adaptive.AdaptiveLimiter`` does).
    """

    async def acquire(self) -> None:
        """Wait until one request may be sent."""
        ...

    def pause(self, seconds: float) -> None:
        """Hold every caller back for ``seconds`` from now."""
        ...


class _Group:
    """Waiters whose slots fall within one slice, released together by one timer."""

    __slots__ = ("deadline", "start", "timer", "waiters")

    def __init__(self, start: float, deadline: float) -> None:
        self.start = start  # the first slot of the group
        self.deadline = deadline  # its timer's time: the last slot the slice can hold
        # Each resolves to the numbers of the releases its timer made (see _restamp),
        # or None: its slot fell inside a pause.
        self.waiters: collections.deque[asyncio.Future[list[int] | None]] = collections.deque()
        self.timer: asyncio.TimerHandle | asyncio.Task[None] | None = None


class LocalLimiter:
    """The in-process :class:`Limiter`.

    A caller cancelled while waiting gives up its slot; the slot is not reused,
    which can only make the rate lower, never higher. A pause holds back every
    caller, those already waiting for a slot included; after it, requests leave
    evenly spaced (no burst). Callers whose slots fall within about a millisecond of
    each other are released together by one timer, in the order they came; none is
    released before its slot (beyond the timer rounding of uvloop, up to 1 ms),
    none later than the slice. The limiter may be used from one event loop after
    another: what it holds of a loop (the waiters' futures, its timer) is dropped
    when the last waiter leaves.

    Args:
        rate: The limit to enforce, or None for no limit (only pauses apply).
        clock: Seconds, monotonic; must be the clock ``sleep`` waits on.
        sleep: Waits that many seconds (a fake one in tests). With the default,
            ``asyncio.sleep``, waiters wait on a timer of the running loop
            (``loop.call_at``), one at a time: the first waiting slice's, whose
            firing sets the next one's; with another, one task at a time waits
            with it.
    """

    def __init__(
        self,
        rate: RateLimit | None,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.rate = rate
        self._clock = clock
        self._sleep = sleep
        self._loop_timers = sleep is asyncio.sleep
        self._paused_until = -math.inf
        self._interval = 0.0
        self._tolerance = 0.0
        self._reach = 0.0  # from a group's first slot to its last
        self._tat = -math.inf  # theoretical arrival time of the next request
        self._span = 0.0
        self._slack = 0.0
        self._released: collections.deque[float] | None = None
        self._release_count = 0  # releases so far: numbers them for _restamp
        # The releases the armed timer watches (see _fire): from _watch_from (0: none)
        # on; those from _watch_mid on are watched by the firing after it too.
        self._watching = False  # the rate and window at which timers watch
        self._watch_from = 0
        self._watch_mid = 0
        self._due = 0.0  # when the armed timer should fire, on our clock
        # The waiting callers, oldest first, and the loop they wait in (None when
        # nobody waits: no loop-bound object outlives its waiters).
        self._groups: collections.deque[_Group] = collections.deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        if rate is not None:
            margin = min(ARRIVAL_MARGIN, rate.time_period / 50)
            self._span = rate.time_period + margin
            # The window check may pass this much early (a timer's rounding); it stays
            # well inside the margin, so the window of ``time_period`` holds exactly.
            self._slack = min(_EARLY_OK, margin / 4)
            self._set_rate(rate)

    def _set_rate(self, rate: RateLimit) -> None:
        # Also a live change of rate (same window): the log keeps its most recent
        # releases, as many as the new rate allows per window, so the window check
        # is judged at the new rate from the next release on.
        self.rate = rate
        # The grid includes the margin, so that on time the window check below
        # never has to hold anyone back (a second sleep would double the cost).
        self._interval = self._span / rate.max_rate
        self._tolerance = (rate.burst - 1) * self._interval
        # The last slot strictly within a slice of a group's first: at rates below one
        # per slice, every caller has a timer of its own, on time.
        self._reach = (math.ceil(_SLICE / self._interval) - 1) * self._interval
        # Only a margin of 20 ms absorbs what a watch can miss (see ARRIVAL_MARGIN).
        self._watching = rate.time_period >= 1.0 and self._interval <= _WATCH_GAP
        window = max(1, math.floor(rate.max_rate))  # 2.5/s allows 2 in any second
        old = self._released
        if old is None or old.maxlen != window:
            self._released = collections.deque(old or (), maxlen=window)

    @property
    def current_rate(self) -> float | None:
        """Requests per second allowed now; None for no limit."""
        rate = self.rate
        return None if rate is None else rate.max_rate / rate.time_period

    @property
    def rate_ceiling(self) -> float | None:
        """Requests per second at which 429s began; None (a fixed limit learns none)."""
        return None

    def pause(self, seconds: float) -> None:
        """Hold every caller back for ``seconds`` from now."""
        if not seconds > 0:  # "Retry-After: 0" (or NaN) asks for no pause
            return
        until = self._clock() + seconds
        if until > self._paused_until:
            self._paused_until = until
            # Slots inside the pause are void (their holders queue again); the grid
            # resumes at its end without burst credit: the server was just overloaded.
            restart = until + self._tolerance
            if restart > self._tat:
                self._tat = restart

    async def acquire(self) -> None:
        """Wait for any pause to end and for a slot; the request may then be sent."""
        clock = self._clock
        while True:
            now = clock()
            # A loop, not one sleep: the pause may be extended while we wait.
            if (wait := self._paused_until - now) > _NEGLIGIBLE:
                await self._sleep(wait)
                continue
            released = self._released  # replaced when the rate changes
            if released is None:
                return
            tat = self._tat if self._tat > now else now
            at = tat - self._tolerance
            if at < now:
                at = now
            self._tat = tat + self._interval
            groups = self._groups
            # Due now, nobody ahead, and room in the window: released with no await, as
            # a caller of an idle limiter is.
            if (
                not groups
                and at <= now
                and (
                    len(released) < (released.maxlen or 0)
                    or now - released[0] >= self._span - self._slack
                )
            ):
                released.append(now)
                self._release_count += 1
                # aiohttp writes the request one loop iteration from now.
                count = self._release_count
                asyncio.get_running_loop().call_soon(self._restamp, count, count)
                return
            loop = asyncio.get_running_loop()
            if self._loop is not loop:
                self._drop_stale()
                self._loop = loop
            group = groups[-1] if groups else None
            if group is None or at > group.deadline:
                group = _Group(at, at + self._reach)
                groups.append(group)
                # One timer, the first group's: each firing arms the next group's.
                if len(groups) == 1:
                    self._arm(group, group.deadline, now)
            waiter: asyncio.Future[list[int] | None] = loop.create_future()
            group.waiters.append(waiter)
            try:
                got = await waiter
            except asyncio.CancelledError:
                self._forget(group, waiter)
                raise
            if got is not None:
                # The first of those released together to resume asks for the restamp
                # of all of them, when aiohttp writes their requests.
                if got[0]:
                    loop.call_soon(self._restamp, got[0], got[1])
                    got[0] = 0
                return
            # Our slot fell inside a pause: queue again behind it.

    def _arm(self, group: _Group, at: float, now: float) -> None:
        # The limiter's one timer, the first group's, for ``at`` on our clock.
        loop = self._loop
        assert loop is not None
        delay = at - now
        self._due = at if delay > 0.0 else now
        if self._loop_timers:
            group.timer = loop.call_at(loop.time() + delay, self._fire, group)
        else:
            group.timer = loop.create_task(self._sleep_then_fire(group, delay))

    async def _sleep_then_fire(self, group: _Group, delay: float) -> None:
        await self._sleep(delay if delay > 0.0 else 0.0)
        self._fire(group)

    def _fire(self, fired: _Group) -> None:
        # Releases, oldest first, every waiter whose group is due and fits in the
        # window, each stamped now, then arms the timer for the first group left.
        fired.timer = None
        groups = self._groups
        released = self._released
        if not groups or released is None:
            return
        now = self._clock()
        count = self._release_count
        if self._watch_from and now - self._due > _STALL:
            # The loop stalled: the watched releases may have been written only now.
            self._restamp(self._watch_from, count, now)
        # A timer up to 1 ms early counts as on time (uvloop rounds timers to whole
        # milliseconds, and its clock lags; a second timer for that sliver would double
        # the cost): its group, and those before it, are due; a later group is due only
        # once its own time has come.
        due = fired.deadline if 0.0 < fired.deadline - now <= _EARLY_OK else now
        span = self._span - self._slack
        full = released.maxlen or 0
        batch = [count + 1, 0]
        blocked = False
        while groups:
            group = groups[0]
            waiters = group.waiters
            paused_until = self._paused_until
            if paused_until > group.start:
                # The slots fell inside a pause: void, their holders queue again (now:
                # they sleep out the pause, and no timer has to fire for each group).
                groups.popleft()
                while waiters:
                    waiter = waiters.popleft()
                    if not waiter.done():
                        waiter.set_result(None)
                continue
            if group.deadline > due or paused_until > now:
                break  # not due yet (an early timer), or the pause before it is not over
            while waiters:
                waiter = waiters[0]
                if waiter.done():  # cancelled; its task has not run since
                    waiters.popleft()
                    continue
                if len(released) >= full and now - released[0] < span:
                    blocked = True
                    break
                waiters.popleft()
                released.append(now)
                self._release_count += 1
                waiter.set_result(batch)
            if blocked:
                break
            groups.popleft()
        last = batch[1] = self._release_count
        loop = self._loop
        assert loop is not None
        watched = False
        if groups:
            head = groups[0]
            if head.timer is None:
                at = released[0] + self._span if blocked else head.deadline
                if self._paused_until > at:
                    at = self._paused_until
                self._arm(head, at, now)
                watched = self._watching and at - due <= _WATCH_GAP  # due: now, or early
        else:
            self._loop = None
        if watched:
            # No restamp: the next two firings watch these releases for a stall.
            batch[0] = 0
            self._watch_from = self._watch_mid or count + 1
            self._watch_mid = count + 1
        elif last > count:
            # Nothing fires soon enough to watch: restamped when written, as at low
            # rates, with any releases still watched.
            if self._watch_from:
                batch[0] = self._watch_from
                self._watch_from = self._watch_mid = 0
        else:
            self._unwatch(loop)

    def _unwatch(self, loop: asyncio.AbstractEventLoop) -> None:
        # No timer will fire soon: the watched releases are restamped a loop iteration
        # from now instead, as a release is at low rates.
        if self._watch_from:
            loop.call_soon(self._restamp, self._watch_from, self._release_count)
            self._watch_from = self._watch_mid = 0

    def _forget(self, group: _Group, waiter: asyncio.Future[list[int] | None]) -> None:
        # A waiter was cancelled: it leaves the queue; a group left empty takes its
        # timer with it, and the next group then needs one of its own.
        waiters = group.waiters
        if waiter in waiters:
            waiters.remove(waiter)
        groups = self._groups
        if waiters or group not in groups:
            return
        groups.remove(group)
        if group.timer is not None:
            group.timer.cancel()
            group.timer = None
        loop = self._loop
        assert loop is not None
        if not groups:
            self._loop = None
            self._unwatch(loop)
        elif groups[0].timer is None:
            head = groups[0]
            now = self._clock()
            at = max(head.deadline, self._paused_until)
            self._arm(head, at, now)
            if at - now > _WATCH_GAP:
                self._unwatch(loop)

    def _drop_stale(self) -> None:
        # Waiters left in a loop that ended without cancelling them can never be
        # released; their slots are given up, as a cancelled waiter's are (and the
        # watched releases were that loop's: it wrote them or never will).
        for group in self._groups:
            if group.timer is not None:
                with contextlib.suppress(RuntimeError):  # their loop may be closed
                    group.timer.cancel()
        self._groups.clear()
        self._watch_from = self._watch_mid = 0

    def _restamp(self, first: int, last: int, now: float | None = None) -> None:
        # Releases ``first`` to ``last`` left no earlier than now: whatever ran since
        # they were stamped stalled them. Entries already pushed out of the log by
        # ``max_rate`` later releases are gone.
        released = self._released
        assert released is not None
        i = len(released) - 1 - (self._release_count - last)
        if now is None:
            now = self._clock()
        for _ in range(last - first + 1):
            if i < 0:
                break
            if released[i] < now:
                released[i] = now
            i -= 1
