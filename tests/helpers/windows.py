"""Counting a rate limit's promise: the most events in any window of a period."""

from __future__ import annotations

from collections.abc import Iterable


def max_in_window(times: Iterable[float], period: float) -> int:
    """The most of ``times`` (in any order) in any half-open window ``(t - period, t]``."""
    ordered = sorted(times)
    best = i = 0
    for j, t in enumerate(ordered):
        while t - ordered[i] >= period:
            i += 1
        best = max(best, j - i + 1)
    return best
