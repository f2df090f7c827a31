"""This process's own copy of the shared schedule: the fallback while Redis is lost.

:class:`Schedule` is the Lua script's algorithm (``data/redis_limiter.lua``) in
Python, over the slots one process was granted. It is the fallback limiter when
Redis is lost (so the slots already granted through Redis count against the first
local window), and its recent slots are written back into Redis with the first
acquire after Redis returns (so the slots granted locally count against the first
shared window). It also holds the grid both sides use (:meth:`Schedule.for_rate`,
:meth:`Schedule.script_args`).
"""

from __future__ import annotations

import bisect
import math

__all__ = ["Schedule"]


class Schedule:
    """The script's algorithm in Python, over the slots of one process.

    Times are seconds of any one clock (the loop's). :meth:`note` records a slot
    granted elsewhere (by Redis); :meth:`reserve` grants one here, after every
    slot noted or granted before, exactly as the script would. So a process that
    loses Redis goes on with the schedule it had, not with a fresh, empty one.

    Args:
        interval: Seconds between two slots on the grid.
        tolerance: How far ahead of the grid a slot may be (``(burst - 1) * interval``).
        window_n: Slots allowed in one ``window``; 0 when the grid alone keeps it
            (a whole rate, evenly spaced), as in the script.
        window: The window, margin included, in seconds.
    """

    def __init__(self, interval: float, tolerance: float, window_n: int, window: float) -> None:
        self.interval = interval
        self.tolerance = tolerance
        self.window_n = window_n
        self.window = window
        self._keep = max(window_n, 1)
        self._tat: float | None = None
        self._slots: list[float] = []  # sorted; the last `_keep` slots
        #: Bumped by every :meth:`reserve`: which local grants Redis has been told of.
        self.version = 0

    @classmethod
    def for_rate(cls, max_rate: float, time_period: float, burst: int, margin: float) -> Schedule:
        """The grid of ``max_rate`` per ``time_period`` (widened by ``margin``) with ``burst``."""
        window = time_period + margin
        interval = window / max_rate
        # A window log is needed when a burst, or a fractional rate, could fit more
        # than max_rate slots in one window; whole rates evenly spaced never can.
        window_n = math.floor(max_rate)
        needs_log = burst > 1 or window_n != max_rate
        window_n = max(window_n, 1) if needs_log else 0
        return cls(interval, (burst - 1) * interval, window_n, window)

    def script_args(self) -> list[float | int]:
        """The grid as the script's first arguments: interval, tolerance, window_n, window."""
        return [self.interval * 1e6, self.tolerance * 1e6, self.window_n, self.window * 1e6]

    def set_rate(self, rate: float) -> None:
        """Follow the adaptive shared ``rate`` (per window), as the script judges it:
        evenly spaced, and a log of the last ``floor(rate)`` slots kept whatever it is."""
        self.interval = self.window / rate
        self.tolerance = 0.0
        self.window_n = max(math.floor(rate), 1)
        self._keep = self.window_n

    def reserve(self, now: float, not_before: float = -math.inf) -> float:
        """Grant the next free slot at or after ``now`` and ``not_before``; return it."""
        tat = now if self._tat is None else self._tat
        slot = max(now, tat - self.tolerance, not_before)
        slots = self._slots
        if self.window_n > 0:
            if len(slots) >= self.window_n:
                slot = max(slot, slots[-self.window_n] + self.window)
            if slots:
                slot = max(slot, slots[-1])
        self._tat = max(tat, slot) + self.interval
        self._record(slot)
        self.version += 1
        return slot

    def note(self, slot: float) -> None:
        """Record a slot granted elsewhere, so that later local grants keep clear of it."""
        end = slot + self.interval
        self._tat = end if self._tat is None else max(self._tat, end)
        self._record(slot)

    def recent(self, now: float) -> list[float]:
        """The slots Redis must know of to keep the window: those not yet a window old."""
        fresh = [s for s in self._slots if s > now - self.window]
        # Without a window log the script keeps the window with the grid alone,
        # for which the latest slot is all it needs.
        return fresh if self.window_n > 0 else fresh[-1:]

    def _record(self, slot: float) -> None:
        bisect.insort(self._slots, slot)
        if len(self._slots) > self._keep:
            del self._slots[0]
