"""The adaptive-rate controller: finds a server's sustainable rate and holds under it.

Pure logic, no asyncio: it is told of each answer (``success(now)``,
``rate_limited(now, retry_after)``) and says which rate to send at (``rate``).
The limiter in ``_throttle.py`` spaces requests at that rate.

The shape is congestion control. Until the first 429 the rate grows
exponentially from a conservative start (``FAST_GROWTH`` per window of clean
answers). The first 429 records the *ceiling* (the rate at which 429s began) and
cuts ``START_CUT`` under it: a token bucket's burst lets the climb run past the
sustainable rate before the first 429 comes. Later 429s take as the ceiling what
the server accepted over the last ``MEASURE_AFTER`` windows (the rate sent at
overstates a bucket's limit by its burst) and hold ``HOLD_MARGIN`` under it,
rather than halving as AIMD would: remember where 429s began and keep a margin
under it, as BBR-style controllers do. After each cut's pause and a quiet spell
the rate probes upward slowly (``PROBE_GROWTH`` per window), so a limit that rose
is followed and one that fell is obeyed at its next 429; probes that find the same
ceiling come less often (each costs the whole client a pause). 429s that arrive
before the pause ends were sent at the old rate: they belong to the same cut.
"""

from __future__ import annotations

import collections
import math
from typing import Final

#: Growth per window of clean answers while no ceiling is known (x1.5 per window).
FAST_GROWTH: Final = 0.5
#: Rate held under the ceiling after a 429 (5% under it).
HOLD_MARGIN: Final = 0.05
#: Growth per window when probing upward after a cut (+2% per window).
PROBE_GROWTH: Final = 0.02
#: Cut at the first 429, which ends the fast climb: by then the climb has overshot
#: the sustainable rate by as much as the server's burst allowance let through.
START_CUT: Final = 0.3
#: Windows over which the rate the server accepted is measured: after a pause at
#: least this long ago, it is a better estimate of a token bucket's limit at a 429
#: than the rate sent at (which overstates it by the bucket's burst).
MEASURE_AFTER: Final = 5.0
#: Windows of clean answers, after a cut's pause, before probing upward again.
PROBE_AFTER: Final = 10.0
#: Windows, after the first cut, before probing upward again.
START_PROBE_AFTER: Final = 2.0
#: Longest wait between probes, in windows, reached by doubling while probes keep
#: finding the same ceiling.
MAX_PROBE_AFTER: Final = 300.0


class AdaptiveController:
    """State of one adaptive rate: the current rate, the ceiling, the last cut.

    Rates are requests per ``time_period`` seconds, like :class:`RateLimit`'s.

    Args:
        min_rate: Never below this, however many 429s.
        max_rate: Never above this, whatever the server allows.
        start: The rate of the first requests.
        time_period: The window, in seconds, rates are counted in.
    """

    __slots__ = (
        "_last",
        "_probe_at",
        "_probe_wait",
        "_quiet_until",
        "_since_cut",
        "ceiling",
        "cuts",
        "max_rate",
        "min_rate",
        "rate",
        "time_period",
    )

    def __init__(self, min_rate: float, max_rate: float, start: float, time_period: float) -> None:
        self.min_rate = min_rate
        self.max_rate = max_rate
        self.time_period = time_period
        self.rate = min(max(start, min_rate), max_rate)
        #: The rate at which 429s began (the latest cut); None before any.
        self.ceiling: float | None = None
        #: How many times the rate was cut.
        self.cuts = 0
        self._last: float | None = None  # when growth was last applied
        self._quiet_until = -math.inf  # 429s before this belong to the last cut
        self._probe_at = -math.inf  # no growth above the hold rate before this
        self._probe_wait = PROBE_AFTER * time_period
        # Times of the successes of the last MEASURE_AFTER windows since the last
        # cut's pause ended (oldest first).
        self._since_cut: collections.deque[float] = collections.deque()

    def success(self, now: float) -> float:
        """An answer that was not a 429 arrived at ``now``; returns the new rate."""
        last, self._last = self._last, now
        if now < self._quiet_until:
            return self.rate
        recent = self._since_cut
        recent.append(now)
        horizon = now - MEASURE_AFTER * self.time_period
        while recent[0] < horizon:
            recent.popleft()
        if last is None or now <= last:
            return self.rate
        windows = (now - last) / self.time_period
        rate = self.rate
        ceiling = self.ceiling
        if ceiling is None:
            rate *= (1.0 + FAST_GROWTH) ** windows
        elif now >= self._probe_at:
            rate *= (1.0 + PROBE_GROWTH) ** windows
            if rate > ceiling:
                # Clean answers above the old ceiling: the limit rose; follow it.
                self.ceiling = rate
        self.rate = min(rate, self.max_rate)
        return self.rate

    def rate_limited(self, now: float, retry_after: float | None) -> float:
        """A 429 arrived at ``now`` (with ``Retry-After`` seconds, if any); returns
        the new rate."""
        if now < self._quiet_until:
            return self.rate  # sent before the last cut took effect
        old = self.ceiling
        rate = self.rate
        if old is None:
            # The climb overshot by as much as the server's burst allowance let
            # through before the first 429: cut deep, probe again soon.
            ceiling = rate
            rate *= 1.0 - START_CUT
            probe_wait = START_PROBE_AFTER * self.time_period
        else:
            # What the server accepted since the last pause, when that is long enough
            # to count: the rate at the 429 overstates a bucket's limit by its burst.
            ceiling = rate
            elapsed = now - self._quiet_until
            if elapsed >= MEASURE_AFTER * self.time_period:
                ceiling = min(ceiling, len(self._since_cut) / MEASURE_AFTER)
            if abs(ceiling - old) <= HOLD_MARGIN * old:
                # The same limit again: probe less often (each probe costs a pause).
                self._probe_wait = min(2 * self._probe_wait, MAX_PROBE_AFTER * self.time_period)
            else:
                self._probe_wait = PROBE_AFTER * self.time_period
            probe_wait = self._probe_wait
            rate = ceiling * (1.0 - HOLD_MARGIN)
        self.ceiling = ceiling
        self.cuts += 1
        self.rate = min(max(self.min_rate, rate), self.max_rate)
        pause = retry_after if retry_after is not None and retry_after > 0 else 0.0
        self._quiet_until = now + max(pause, 0.1 * self.time_period)
        self._probe_at = self._quiet_until + probe_wait
        self._since_cut.clear()
        self._last = self._quiet_until
        return self.rate

    def follow(self, now: float, rate: float, ceiling: float | None) -> None:
        """Adopt a cut another process made (a shared rate): hold at ``rate`` as if
        this controller had cut to it at ``now``, then probe upward as after its own."""
        self.ceiling = ceiling if ceiling is not None else self.ceiling
        self.rate = min(max(self.min_rate, rate), self.max_rate)
        self._quiet_until = now + 0.1 * self.time_period
        self._probe_at = self._quiet_until + self._probe_wait
        self._since_cut.clear()
        self._last = self._quiet_until
