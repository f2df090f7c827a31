"""Counters a client keeps about its own calls, cheap enough for every request."""

from __future__ import annotations

import collections
from typing import Final, Protocol, runtime_checkable

import attrs

#: Latencies kept for percentiles: the most recent ones, so memory stays flat.
LATENCY_WINDOW: Final = 10_000


@attrs.frozen(kw_only=True)
class StatsSnapshot:
    """A consistent copy of a client's counters at one moment.

    Attributes:
        calls: Calls started (``suggest`` and batch items), counted before validation:
            a request rejected as invalid counts here and in ``failed``.
        succeeded: Calls that returned suggestions.
        failed: Calls that ended in an error, by exception class name.
        attempts: HTTP attempts made, retries included.
        retries: Retries made, by reason (``HTTP 503``, ``timeout``, ...).
        rate_limited: 429 answers received.
        latency_p50: Median seconds of a successful call, from its start to its
            answer: retries, backoff sleeps and waiting for a slot or a rate-limit
            token included; None before the first success.
        latency_p95: 95th percentile, or None.
        latency_p99: 99th percentile, or None.
        attempt_latency_p50: Median seconds one HTTP attempt spent on the wire, from
            sending the request to having the whole response (any status); waiting
            for a slot or a token is not part of it. None before the first answer.
        attempt_latency_p95: 95th percentile, or None.
        attempt_latency_p99: 99th percentile, or None.
        wait_p50: Median seconds one HTTP attempt waited, before it was sent, for a
            concurrency slot and a rate-limit token (counted for attempts that got
            an answer, like ``attempt_latency_*``); None before the first answer.
        wait_p95: 95th percentile, or None.
        wait_p99: 99th percentile, or None.
        breaker_state: The circuit breaker's state, ``"closed"``, ``"open"`` or
            ``"half_open"``; None when the client has none.
        breaker_openings: How many times the circuit breaker opened.
        rate_limit_current: Requests per second the client's rate limiter allows
            now (for ``RateLimit.adaptive``, the rate it settled on so far); None
            without a limit, or for a limiter that does not say.
        rate_limit_ceiling: Requests per second at which 429s began, as an
            adaptive limit measured it (the server's limit, near enough); None
            before any 429, or for a fixed limit.
    """

    calls: int
    succeeded: int
    failed: dict[str, int]
    attempts: int
    retries: dict[str, int]
    rate_limited: int
    latency_p50: float | None
    latency_p95: float | None
    latency_p99: float | None
    attempt_latency_p50: float | None
    attempt_latency_p95: float | None
    attempt_latency_p99: float | None
    wait_p50: float | None
    wait_p95: float | None
    wait_p99: float | None
    breaker_state: str | None = None
    breaker_openings: int = 0
    rate_limit_current: float | None = None
    rate_limit_ceiling: float | None = None

    @property
    def total_failed(self) -> int:
        """Failed calls of every kind."""
        return sum(self.failed.values())

    @property
    def total_retries(self) -> int:
        """Retries of every reason."""
        return sum(self.retries.values())


class _BreakerView(Protocol):
    @property
    def state(self) -> str: ...

    openings: int


@runtime_checkable
class _RateView(Protocol):
    @property
    def current_rate(self) -> float | None: ...

    @property
    def rate_ceiling(self) -> float | None: ...


class ClientStats:
    """Live counters of one client; read them with :meth:`snapshot`.

    Args:
        breaker: The client's circuit breaker, whose state the snapshot reports.
        limiter: The client's rate limiter; its rate is reported when it has
            ``current_rate`` and ``rate_ceiling``.
    """

    __slots__ = (
        "_breaker",
        "_latencies",
        "_limiter",
        "_waits",
        "_wire",
        "attempts",
        "calls",
        "failed",
        "rate_limited",
        "retries",
        "succeeded",
    )

    def __init__(self, breaker: _BreakerView | None = None, limiter: object = None) -> None:
        self._breaker = breaker
        self._limiter = limiter if isinstance(limiter, _RateView) else None
        self.calls = 0
        self.succeeded = 0
        self.attempts = 0
        self.rate_limited = 0
        self.failed: collections.Counter[str] = collections.Counter()
        self.retries: collections.Counter[str] = collections.Counter()
        self._latencies: collections.deque[float] = collections.deque(maxlen=LATENCY_WINDOW)
        self._wire: collections.deque[float] = collections.deque(maxlen=LATENCY_WINDOW)
        self._waits: collections.deque[float] = collections.deque(maxlen=LATENCY_WINDOW)

    def record_success(self, seconds: float) -> None:
        """A call returned suggestions after ``seconds``."""
        self.succeeded += 1
        self._latencies.append(seconds)

    def record_attempt(self, waited: float, wire: float) -> None:
        """An HTTP attempt got an answer: it waited ``waited`` s for a slot and a
        token, then spent ``wire`` s on the wire."""
        self._waits.append(waited)
        self._wire.append(wire)

    def snapshot(self) -> StatsSnapshot:
        """Copy the counters and compute latency percentiles."""
        ordered = sorted(self._latencies)
        wire = sorted(self._wire)
        waits = sorted(self._waits)
        breaker = self._breaker
        limiter = self._limiter
        return StatsSnapshot(
            calls=self.calls,
            succeeded=self.succeeded,
            failed=dict(self.failed),
            attempts=self.attempts,
            retries=dict(self.retries),
            rate_limited=self.rate_limited,
            latency_p50=_percentile(ordered, 0.50),
            latency_p95=_percentile(ordered, 0.95),
            latency_p99=_percentile(ordered, 0.99),
            attempt_latency_p50=_percentile(wire, 0.50),
            attempt_latency_p95=_percentile(wire, 0.95),
            attempt_latency_p99=_percentile(wire, 0.99),
            wait_p50=_percentile(waits, 0.50),
            wait_p95=_percentile(waits, 0.95),
            wait_p99=_percentile(waits, 0.99),
            breaker_state=breaker.state if breaker is not None else None,
            breaker_openings=breaker.openings if breaker is not None else 0,
            rate_limit_current=limiter.current_rate if limiter is not None else None,
            rate_limit_ceiling=limiter.rate_ceiling if limiter is not None else None,
        )


def _percentile(ordered: list[float], q: float) -> float | None:
    if not ordered:
        return None
    # Nearest rank: an observed value, never an interpolation between two.
    rank = max(0, min(len(ordered) - 1, round(q * len(ordered) + 0.5) - 1))
    return ordered[rank]
