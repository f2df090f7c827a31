"""Misbehaviour on demand: fault kinds and probabilities, latency, scripted responses."""

from __future__ import annotations

import enum
import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal, TypeAlias

__all__ = [
    "FaultKind",
    "Faults",
    "Latency",
    "LatencySpec",
    "ScriptedResponse",
    "latency_sampler",
]


class FaultKind(str, enum.Enum):
    """A way the emulator can misbehave.  The value is the matching :class:`Faults` field."""

    HTTP_429 = "http_429"
    """429 Too Many Requests with a JSON body and ``Retry-After``."""
    HTTP_500 = "http_500"
    """500 Internal Server Error with a JSON body."""
    HTTP_502 = "http_502"
    """502 Bad Gateway with an HTML page (``text/html``), as a proxy would send."""
    HTTP_503 = "http_503"
    """503 Service Unavailable with a JSON body and ``Retry-After``."""
    HTTP_504 = "http_504"
    """504 Gateway Timeout with an HTML page (``text/html``)."""
    RESET = "reset"
    """The connection is closed without any response."""
    STALL = "stall"
    """Nothing is sent for ``stall_seconds``, then the normal answer (if anyone still waits)."""
    TRUNCATED = "truncated"
    """200 with full headers (``Content-Length`` of the whole body) but half the JSON body,
    then the connection is closed."""
    NON_JSON = "non_json"
    """200 announcing ``application/json`` whose body is not JSON."""
    HTML = "html"
    """200 with an HTML page (``text/html``), like a captive portal or maintenance page."""
    BOMB = "bomb"
    """200 with a small gzip body (``Content-Encoding: gzip``, about 64 KiB on the wire)
    that inflates to 64 MiB of zeros: a decompression bomb."""
    TRICKLE = "trickle"
    """200 whose chunked body never ends: one space every ``trickle_interval`` seconds,
    until the client gives up or the server closes."""
    CUT = "cut"
    """200 with a chunked body (no ``Content-Length``) cut in the middle: the
    connection is dropped without the final chunk."""
    GIANT_HEADER = "giant_header"
    """200 with the normal body and a 64 KiB response header, beyond what HTTP clients
    accept (aiohttp: 8 KiB)."""
    REDIRECT = "redirect"
    """307 to ``http://user:password@evil.example/steal``: another host, with
    credentials in the URL; following it would send the key away."""

    @property
    def retry_after(self) -> bool:
        """Whether responses of this kind carry a ``Retry-After`` header."""
        return self in (FaultKind.HTTP_429, FaultKind.HTTP_503)


_PROBABILITY_FIELDS = tuple(kind.value for kind in FaultKind)


@dataclass(frozen=True, slots=True)
class Faults:
    """Probabilities that a request meets each fault (each in 0..1, together at most 1).

    For every request that reaches the fault stage (after routing, auth, scripted
    responses and the rate limit), the server draws one number from its seeded
    ``random.Random`` and picks at most one fault, so the sequence of faults for a sequence
    of requests is reproducible under a given ``seed``.

    Args:
        http_429: Probability of a 429 with ``Retry-After``.
        http_500: Probability of a 500 (JSON body).
        http_502: Probability of a 502 (HTML body).
        http_503: Probability of a 503 with ``Retry-After``.
        http_504: Probability of a 504 (HTML body).
        reset: Probability that the connection is closed without a response.
        stall: Probability of a stall of ``stall_seconds`` before the normal answer.
        truncated: Probability of a 200 whose JSON body is cut in the middle.
        non_json: Probability of a 200 ``application/json`` response that is not JSON.
        html: Probability of a 200 ``text/html`` page.
        bomb: Probability of a 200 gzip body that inflates to 64 MiB.
        trickle: Probability of a 200 body that trickles forever.
        cut: Probability of a 200 chunked body cut in the middle.
        giant_header: Probability of a 200 with a 64 KiB header.
        redirect: Probability of a 307 to another host, with credentials.
        retry_after: Seconds announced in ``Retry-After`` (rounded up to an integer).
        retry_after_http_date: Probability that a ``Retry-After`` header is written as an
            HTTP date (``Wed, 21 Oct 2026 07:28:00 GMT``) instead of seconds.
        stall_seconds: How long a stall lasts; make it longer than the client's timeout.
        trickle_interval: Seconds between the bytes of a trickling body.

    Raises:
        ValueError: A probability is outside 0..1, they add up to more than 1, or a
            duration is negative (``stall_seconds`` and ``trickle_interval`` must be positive).
    """

    http_429: float = 0.0
    http_500: float = 0.0
    http_502: float = 0.0
    http_503: float = 0.0
    http_504: float = 0.0
    reset: float = 0.0
    stall: float = 0.0
    truncated: float = 0.0
    non_json: float = 0.0
    html: float = 0.0
    bomb: float = 0.0
    trickle: float = 0.0
    cut: float = 0.0
    giant_header: float = 0.0
    redirect: float = 0.0
    retry_after: float = 1.0
    retry_after_http_date: float = 0.0
    stall_seconds: float = 30.0
    trickle_interval: float = 0.5

    def __post_init__(self) -> None:
        for name in (*_PROBABILITY_FIELDS, "retry_after_http_date"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0.0 <= value <= 1.0):
                raise ValueError(f"Faults.{name} must be a probability in 0..1, got {value!r}")
        if self.total > 1.0 + 1e-9:
            raise ValueError(f"fault probabilities add up to {self.total:g}, more than 1")
        if not (math.isfinite(self.retry_after) and self.retry_after >= 0):
            raise ValueError(f"Faults.retry_after must be >= 0, got {self.retry_after!r}")
        if not (math.isfinite(self.stall_seconds) and self.stall_seconds > 0):
            raise ValueError(f"Faults.stall_seconds must be > 0, got {self.stall_seconds!r}")
        if not (math.isfinite(self.trickle_interval) and self.trickle_interval > 0):
            raise ValueError(f"Faults.trickle_interval must be > 0, got {self.trickle_interval!r}")

    @classmethod
    def only(cls, kind: FaultKind | str, probability: float = 1.0, **options: Any) -> Faults:
        """Return faults of a single kind, e.g. ``Faults.only(FaultKind.RESET, 0.2)``.

        Args:
            kind: The fault kind (or its value, e.g. ``"http_503"``).
            probability: Its probability (default: every request).
            **options: Other fields (``retry_after``, ``stall_seconds``, ...).

        Raises:
            ValueError: Unknown kind or invalid values.
        """
        return cls(**{FaultKind(kind).value: probability, **options})

    @property
    def total(self) -> float:
        """The probability that a request meets any fault."""
        return float(sum(getattr(self, name) for name in _PROBABILITY_FIELDS))

    def probability(self, kind: FaultKind) -> float:
        """Return the probability of ``kind``."""
        return float(getattr(self, kind.value))

    def pick(self, draw: float) -> FaultKind | None:
        """Map a uniform draw in [0, 1) to a fault (cumulative, in FaultKind order) or None."""
        cumulative = 0.0
        for kind in FaultKind:
            probability = getattr(self, kind.value)
            if probability:
                cumulative += probability
                if draw < cumulative:
                    return kind
        return None

    def as_dict(self) -> dict[str, float]:
        """Return the fields as a dict (handy for logs and CLI echoes)."""
        return {f.name: float(getattr(self, f.name)) for f in fields(self)}


@dataclass(frozen=True, slots=True)
class Latency:
    """Added response time, drawn per request from the server's seeded latency RNG.

    Build it with :meth:`fixed`, :meth:`uniform`, :meth:`exponential` or :meth:`lognormal`;
    the server also accepts a plain number (fixed seconds) or a callable taking a
    ``random.Random`` and returning seconds.

    Raises:
        ValueError: Negative or inconsistent parameters.
    """

    distribution: Literal["fixed", "uniform", "exponential", "lognormal"]
    a: float
    b: float = 0.0
    cap: float | None = None

    def __post_init__(self) -> None:
        values = (self.a, self.b) if self.cap is None else (self.a, self.b, self.cap)
        if not all(math.isfinite(v) and v >= 0 for v in values):
            raise ValueError(f"latency parameters must be finite and >= 0: {self!r}")
        if self.distribution == "uniform" and self.b < self.a:
            raise ValueError("Latency.uniform needs low <= high")

    @classmethod
    def fixed(cls, seconds: float) -> Latency:
        """Always ``seconds``."""
        return cls("fixed", seconds)

    @classmethod
    def uniform(cls, low: float, high: float) -> Latency:
        """Uniform between ``low`` and ``high`` seconds."""
        return cls("uniform", low, high)

    @classmethod
    def exponential(cls, mean: float, cap: float | None = None) -> Latency:
        """Exponential with the given ``mean`` seconds, optionally capped at ``cap``."""
        return cls("exponential", mean, cap=cap)

    @classmethod
    def lognormal(cls, median: float, sigma: float = 0.5, cap: float | None = None) -> Latency:
        """Log-normal with the given ``median`` seconds and shape ``sigma`` (long tail)."""
        return cls("lognormal", median, sigma, cap=cap)

    def sample(self, rng: random.Random) -> float:
        """Draw one latency in seconds."""
        if self.distribution == "fixed":
            value = self.a
        elif self.distribution == "uniform":
            value = rng.uniform(self.a, self.b)
        elif self.distribution == "exponential":
            value = rng.expovariate(1.0 / self.a) if self.a > 0 else 0.0
        else:
            value = self.a * math.exp(rng.gauss(0.0, self.b)) if self.a > 0 else 0.0
        if self.cap is not None:
            value = min(value, self.cap)
        return max(0.0, value)


LatencySpec: TypeAlias = float | Latency | Callable[[random.Random], float] | None
"""What the server accepts as ``latency``: seconds, a :class:`Latency`, a callable, or None."""


def latency_sampler(spec: LatencySpec) -> Callable[[random.Random], float] | None:
    """Normalize a :data:`LatencySpec` into a sampling function (None for no latency).

    Raises:
        ValueError: A negative number.
        TypeError: Anything else than the accepted forms.
    """
    if spec is None:
        return None
    if isinstance(spec, Latency):
        return spec.sample if spec.distribution != "fixed" or spec.a > 0 else None
    if isinstance(spec, (int, float)) and not isinstance(spec, bool):
        if not (math.isfinite(spec) and spec >= 0):
            raise ValueError(f"latency must be >= 0 seconds, got {spec!r}")
        seconds = float(spec)
        return (lambda _rng: seconds) if seconds > 0 else None
    if callable(spec):
        return spec
    raise TypeError(f"unsupported latency {spec!r}")


class _Unset:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<unset>"


_NO_JSON: Any = _Unset()


@dataclass(frozen=True, slots=True)
class ScriptedResponse:
    """An exact answer for one upcoming request to the suggestion endpoint.

    Queue them with ``server.script(...)``.  They are consumed first-in first-out by
    requests that passed routing and authentication (a request with a wrong key still
    gets its 401 and leaves the queue alone); a scripted answer skips the rate limit,
    random faults and body validation.  Build one directly for an exact response, or
    with :meth:`fault_of`, :meth:`reset`, :meth:`stall` or :meth:`normal_response`.

    Args:
        status: HTTP status.
        headers: Extra response headers (set ``Content-Type`` here for ``body``).
        json: A JSON value to send (``Content-Type: application/json``).
        body: Raw bytes to send instead of ``json``.  Neither: an empty body.
        delay: Seconds to wait before answering (the server's latency is not added).
        fault: Misbehave like the random fault of this kind instead of sending the above.
        stall_seconds: For ``fault=FaultKind.STALL``: how long (default: the server's
            ``Faults.stall_seconds``).
        normal: Answer as if nothing were scripted (rate limit, faults, validation apply);
            useful between scripted failures.

    Raises:
        ValueError: Both ``json`` and ``body``, a bad status or a negative delay.
    """

    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    json: Any = _NO_JSON
    body: bytes | None = None
    delay: float = 0.0
    fault: FaultKind | None = None
    stall_seconds: float | None = None
    normal: bool = False

    def __post_init__(self) -> None:
        if self.json is not _NO_JSON and self.body is not None:
            raise ValueError("give json or body, not both")
        if not 100 <= self.status <= 599:
            raise ValueError(f"invalid HTTP status {self.status}")
        if not (math.isfinite(self.delay) and self.delay >= 0):
            raise ValueError(f"delay must be >= 0, got {self.delay!r}")
        if self.stall_seconds is not None and not self.stall_seconds > 0:
            raise ValueError(f"stall_seconds must be > 0, got {self.stall_seconds!r}")

    @property
    def has_json(self) -> bool:
        """Whether a JSON value (possibly ``None``, sent as ``null``) was given."""
        return self.json is not _NO_JSON

    @classmethod
    def fault_of(cls, kind: FaultKind | str, *, delay: float = 0.0) -> ScriptedResponse:
        """Misbehave once like the random fault ``kind`` (e.g. ``FaultKind.HTTP_503``)."""
        return cls(fault=FaultKind(kind), delay=delay)

    @classmethod
    def reset(cls, *, delay: float = 0.0) -> ScriptedResponse:
        """Close the connection without answering (after ``delay`` seconds)."""
        return cls(fault=FaultKind.RESET, delay=delay)

    @classmethod
    def stall(cls, seconds: float = 30.0) -> ScriptedResponse:
        """Send nothing for ``seconds``, then answer normally if the client still waits."""
        return cls(fault=FaultKind.STALL, stall_seconds=seconds)

    @classmethod
    def normal_response(cls) -> ScriptedResponse:
        """Answer this request normally (a placeholder between scripted answers)."""
        return cls(normal=True)
