"""Small frozen settings objects and their defaults.

Plain values only: nothing here starts a task, opens a socket or reads the clock,
so these can be built at import time and shared between clients and threads.
"""

from __future__ import annotations

import datetime as _dt
import os
from typing import Any, Final, Literal
from urllib.parse import urlsplit

import attrs

from dumgum_async import _checks as check

# Re-exported: the client and its lifecycle normalise their durations with it.
from dumgum_async._checks import seconds as seconds
from dumgum_async._secret import Secret
from dumgum_async.exceptions import ConfigurationError

DEFAULT_BASE_URL = "https://api.dumgum.com"
SUGGESTION_PATH = "/cs/v1/content_creation/suggestion"
#: Seconds one HTTP attempt may take, connection included.
DEFAULT_TIMEOUT = 30.0
#: Requests in flight at once for one client.
DEFAULT_MAX_CONCURRENCY = 64
#: Items of ``suggest_many``/``suggest_all`` (and ``dumgum-async batch``) in flight at once.
DEFAULT_BATCH_CONCURRENCY = 32
#: A suggestion response is a few hundred bytes; anything near this is not one.
DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024
#: The API key the emulator (``dumgum_async.testing``) and its pytest fixtures accept by default.
DEFAULT_API_KEY = "test-key"
#: The languages the emulator's ``sample_requests`` writes conversations in by default.
DEFAULT_SAMPLE_LANGUAGES: Final[tuple[str, ...]] = ("EN", "FR", "DE", "ES", "IT", "PT_BR", "NL")

ENV_API_KEY = "DUMGUM_API_KEY"
ENV_BASE_URL = "DUMGUM_BASE_URL"
#: ``debug`` or ``info``: log the ``dumgum_async`` logger to stderr at that level.
ENV_LOG = "DUMGUM_LOG"


class NotGiven:
    """The type of :data:`NOT_GIVEN`: "use the client's setting" for a per-call option.

    It stands apart from None, which means "none" where an option has that meaning
    (``retry=None`` disables retries). The shape is openai-python's ``NotGiven``:
    falsy, shown as ``NOT_GIVEN``; here one instance only, kept through copies and
    pickling, so ``is NOT_GIVEN`` is always the test.
    """

    __slots__ = ()
    _instance: NotGiven | None = None

    def __new__(cls) -> NotGiven:
        instance = cls._instance
        if instance is None:
            instance = cls._instance = super().__new__(cls)
        return instance

    def __bool__(self) -> Literal[False]:
        return False

    def __repr__(self) -> str:
        return "NOT_GIVEN"

    def __reduce__(self) -> str:
        return "NOT_GIVEN"


#: "Use the client's (or the view's) setting": the default of every per-call option.
NOT_GIVEN: Final = NotGiven()

#: Seconds to get a connection (from the pool, or a new one: DNS, TCP, TLS); None: no
#: limit of its own, within ``total``.
DEFAULT_CONNECT_TIMEOUT: Final[float | None] = None
#: Longest silence between two reads of the response (its headers included); None:
#: no limit of its own, within ``total``.
DEFAULT_READ_TIMEOUT: Final[float | None] = None


@attrs.frozen(kw_only=True)
class Timeout:
    """Finer limits for one HTTP attempt than a plain number of seconds.

    A plain number ``t`` given as ``timeout=`` is ``Timeout(total=t)``. Every limit
    applies to each attempt on its own; waiting for a concurrency slot or a
    rate-limit token is not part of any (a ``RetryPolicy.deadline`` covers those).

    Args:
        total: Seconds the whole attempt may take: connecting, sending, the
            server's work and reading the answer.
        connect: Seconds to get a connection (from the pool, or a new one: DNS,
            TCP, TLS); None for no limit other than ``total``.
        read: Longest silence, in seconds, between two reads of the response (the
            wait for its headers included); None for no limit other than ``total``.

    Raises:
        ConfigurationError: A value that is not a positive number (or a ``timedelta``).
    """

    total: float = attrs.field(
        default=DEFAULT_TIMEOUT, converter=check.timedelta_to_seconds, validator=check.positive
    )
    connect: float | None = attrs.field(
        default=DEFAULT_CONNECT_TIMEOUT,
        converter=check.timedelta_to_seconds,
        validator=check.positive,
    )
    read: float | None = attrs.field(
        default=DEFAULT_READ_TIMEOUT, converter=check.timedelta_to_seconds, validator=check.positive
    )

    def __attrs_post_init__(self) -> None:
        if self.total is None:
            raise ConfigurationError("total must be a positive number, got None")


def attempt_timeout(value: object, name: str = "timeout") -> float | Timeout:
    """A per-attempt timeout as the HTTP layer takes it: seconds, or a :class:`Timeout`.

    A :class:`Timeout` with only ``total`` set becomes its number, which is what the
    common case costs nothing more than before.

    Raises:
        ConfigurationError: Neither positive seconds, a ``timedelta`` nor a Timeout.
    """
    if isinstance(value, Timeout):
        if value.connect is None and value.read is None:
            return float(value.total)
        return value
    if value is None or isinstance(value, NotGiven):
        raise ConfigurationError(f"{name} must be seconds, a timedelta or a Timeout, got None")
    if not isinstance(value, int | float | _dt.timedelta):
        raise ConfigurationError(f"{name} must be seconds, a timedelta or a Timeout, got {value!r}")
    total = seconds(value, name)
    assert total is not None
    return total


@attrs.frozen(kw_only=True)
class RetryBudget:
    """A cap on retries across a whole client, so a failing API sees no retry storm.

    Over the last ``window`` seconds, retries may number at most ``ratio`` of the
    first attempts made (``0.2``: 20% extra traffic) plus a small reserve of
    ``min_per_second`` retries per second, so that a quiet client can still retry
    the odd failure. When the budget is spent, errors surface at once instead of
    being retried. The shape and defaults are Finagle's ``RetryBudget`` (20%, 10 s,
    10 per second).

    Args:
        ratio: Retries allowed per first attempt over the window.
        window: Length of the sliding window, in seconds.
        min_per_second: Retries always allowed per second, however little traffic.

    Raises:
        ConfigurationError: A value out of range.
    """

    ratio: float = attrs.field(default=0.2, validator=check.non_negative)
    window: float = attrs.field(default=10.0, validator=check.positive)
    min_per_second: float = attrs.field(default=10.0, validator=check.non_negative)

    @property
    def reserve(self) -> float:
        """Retries allowed per window whatever the traffic."""
        return self.min_per_second * self.window


#: Attempts per call, the first included.
DEFAULT_MAX_ATTEMPTS = 4


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How a call retries: which failures, how often, how long it waits, and for how long.

    Retried: connection errors and timeouts, and HTTP 408, 409, 425, 429, 500, 502,
    503 and 504. Never retried: other 4xx, validation errors, cancellation.

    The waits grow exponentially from ``initial_backoff`` (doubling) up to
    ``max_backoff``, each shortened by a random part of up to ``jitter`` of itself so
    that clients that failed together do not return together. A ``Retry-After``
    header replaces the computed wait when ``respect_retry_after`` is set; if it asks
    for more than ``max_retry_after`` or than what is left of the ``deadline``, the
    call fails at once with the :class:`~dumgum_async.RateLimitError` (or 503 error)
    carrying ``retry_after`` rather than sleeping past its budget.

    Why these defaults: the OpenAI and Anthropic SDKs make 3 attempts with waits
    from 0.5 s to 8 s; we make 4, because this library runs bulk jobs against a
    rate-limited API where a 429 is routine rather than exceptional, and a shared
    :class:`RetryBudget` (which they lack) keeps the extra attempt from turning an
    outage into a storm. There is no default ``deadline``: throttle and
    concurrency waits count toward it, and a batch queued behind a rate limit
    would fail for waiting its turn; web handlers should set one.

    Args:
        max_attempts: Attempts per call, the first included (1 disables retries).
        initial_backoff: Wait before the first retry, in seconds.
        max_backoff: Longest computed wait, in seconds.
        jitter: Fraction (0 to 1) of each wait that is randomised away.
        deadline: Seconds for the whole call: throttle and slot waits, every
            attempt and every wait; None for no limit.
        respect_retry_after: Obey the server's ``Retry-After`` header.
        max_retry_after: Longest ``Retry-After`` we are willing to wait, in seconds.
        budget: The client-wide retry budget; None for unlimited retries.

    Raises:
        ConfigurationError: A value out of range.
    """

    max_attempts: int = attrs.field(default=DEFAULT_MAX_ATTEMPTS, validator=check.count)
    initial_backoff: float = attrs.field(default=0.5, validator=check.positive)
    max_backoff: float = attrs.field(default=8.0, validator=check.positive)
    jitter: float = attrs.field(default=0.5, validator=check.fraction)
    deadline: float | None = attrs.field(
        default=None, converter=check.timedelta_to_seconds, validator=check.positive
    )
    respect_retry_after: bool = attrs.field(default=True, validator=check.switch)
    max_retry_after: float = attrs.field(default=60.0, validator=check.non_negative)
    budget: RetryBudget | None = attrs.field(
        factory=RetryBudget, validator=check.optional_instance(RetryBudget)
    )


#: Outcomes the circuit breaker remembers (the last N attempts, counted not timed).
DEFAULT_BREAKER_WINDOW = 20
#: Share of failures among them that opens the breaker.
DEFAULT_BREAKER_FAILURE_RATIO = 0.8
#: Seconds the breaker stays open before the first probe.
DEFAULT_BREAKER_COOLDOWN = 5.0
#: Longest cool-down, reached by doubling while probes keep failing.
DEFAULT_BREAKER_MAX_COOLDOWN = 60.0
#: Probes in a row that must succeed before the breaker closes.
DEFAULT_BREAKER_PROBES = 2


@attrs.frozen(kw_only=True)
class CircuitBreaker:
    """When the API keeps failing, stop sending for a while instead of retrying into it.

    The breaker watches the outcome of the last ``window`` attempts of a client.
    Connection errors, timeouts, 5xx answers and unreadable 2xx bodies are
    failures; any other answer, 4xx included, shows that the API is up. When at
    least ``failure_ratio`` of a full window failed, the breaker *opens*: no request
    is sent for ``cooldown`` seconds. Then it is *half open*: one probe request at a
    time goes out; ``probes`` successes in a row close it, a failure opens it again
    for twice the previous cool-down (at most ``max_cooldown``).

    While it is open, :meth:`~dumgum_async.DumGumClient.suggest` fails at once with
    :class:`~dumgum_async.CircuitOpenError`, and batch items wait for the API to
    come back (within their ``RetryPolicy.deadline``, if any) without spending
    attempts.

    Why these defaults: a full window of 20 attempts at 80% failures never happens
    by chance under a 30% random fault mix (odds below 1 in 100,000 per window) yet
    an API that fails every attempt opens it within 20 attempts; a 5 s first
    cool-down, doubling to 60 s, probes a long outage about once a minute.

    Args:
        window: Attempts remembered (and the minimum before it may open).
        failure_ratio: Share of failed attempts in the window that opens it (0 to 1].
        cooldown: Seconds it stays open the first time.
        max_cooldown: Longest cool-down, in seconds.
        probes: Probes in a row that must succeed to close it.

    Raises:
        ConfigurationError: A value out of range.
    """

    window: int = attrs.field(default=DEFAULT_BREAKER_WINDOW, validator=check.count)
    failure_ratio: float = attrs.field(default=DEFAULT_BREAKER_FAILURE_RATIO, validator=check.share)
    cooldown: float = attrs.field(
        default=DEFAULT_BREAKER_COOLDOWN,
        converter=check.timedelta_to_seconds,
        validator=check.positive,
    )
    max_cooldown: float = attrs.field(
        default=DEFAULT_BREAKER_MAX_COOLDOWN,
        converter=check.timedelta_to_seconds,
        validator=check.positive,
    )
    probes: int = attrs.field(default=DEFAULT_BREAKER_PROBES, validator=check.count)

    def __attrs_post_init__(self) -> None:
        if self.max_cooldown < self.cooldown:
            raise ConfigurationError(
                f"max_cooldown ({self.max_cooldown}) must be at least cooldown ({self.cooldown})"
            )


#: Lowest rate an adaptive limit falls to, per window, however many 429s.
DEFAULT_ADAPTIVE_MIN_RATE: Final = 1.0
#: Highest rate an adaptive limit climbs to, per window, whatever the server allows.
DEFAULT_ADAPTIVE_MAX_RATE: Final = 1000.0
#: Rate of an adaptive limit's first requests, per window: conservative, below the
#: limits of the vendor's published plans, reached within a few windows if higher.
DEFAULT_ADAPTIVE_START: Final = 10.0
#: ``RedisRateLimit``: seconds added to each window, as many as the in-process limiter
#: adds (``_throttle.ARRIVAL_MARGIN``, measured on a loaded 2-core machine): half
#: absorbs a late wake-up, half what the limiter cannot see (see the class). With 10 ms,
#: the 5 ms left for a wake-up were missed so often on such a machine that slots were
#: forfeited by the dozen (the shared throughput fell to 40-60%, measured).
DEFAULT_REDIS_MARGIN: Final = 0.02
#: ``RedisRateLimit``: seconds one exchange with Redis may take, connection included.
DEFAULT_REDIS_SOCKET_TIMEOUT: Final = 2.0
#: ``RedisRateLimit``: seconds between two checks of whether an unreachable Redis answers again.
DEFAULT_REDIS_RECHECK_INTERVAL: Final = 5.0


def _burst(instance: RateLimit, _: attrs.Attribute[Any], value: int) -> None:
    # A plain function, not @burst.validator: pyright reads that as attribute access.
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"burst must be an integer >= 1, got {value!r}")
    if value > instance.max_rate:
        raise ConfigurationError(
            f"burst ({value}) cannot exceed max_rate ({instance.max_rate}) per window"
        )


@attrs.frozen
class RateLimit:
    """At most ``max_rate`` requests in any window of ``time_period`` seconds.

    The limit holds from the first second: by default requests are spaced evenly
    (one every ``time_period / max_rate`` seconds). ``burst`` lets up to that many
    go at once after a quiet spell, while still never exceeding ``max_rate`` in
    any window.

    Args:
        max_rate: Requests allowed per window.
        time_period: Window length in seconds.
        burst: Requests that may leave back to back (1 = evenly spaced; at most
            ``max_rate``).

    Raises:
        ConfigurationError: A value out of range.
    """

    max_rate: float = attrs.field(validator=check.positive)
    time_period: float = attrs.field(default=1.0, validator=check.positive)
    burst: int = attrs.field(default=1, kw_only=True, validator=_burst)

    @classmethod
    def per_second(cls, n: float, *, burst: int = 1) -> RateLimit:
        """``n`` requests per second."""
        return cls(n, 1.0, burst=burst)

    @classmethod
    def per_minute(cls, n: float, *, burst: int = 1) -> RateLimit:
        """``n`` requests per minute."""
        return cls(n, 60.0, burst=burst)

    @classmethod
    def parse(cls, text: str) -> RateLimit:
        """Read ``"20/s"``, ``"600/min"``, ``"5/m"`` or ``"36000/h"``.

        Raises:
            ConfigurationError: Not of that form.
        """
        num, _, unit = text.strip().partition("/")
        periods = {"s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "hour": 3600.0}
        try:
            rate = float(num)
            period = periods[unit.strip().lower() or "s"]
        except (ValueError, KeyError):
            raise ConfigurationError(
                f"rate must look like 20/s, 600/min or 36000/h, got {text!r}"
            ) from None
        return cls(rate, period)

    @property
    def interval(self) -> float:
        """Seconds between two evenly spaced requests."""
        return self.time_period / self.max_rate

    @staticmethod
    def adaptive(
        *,
        min_rate: float = DEFAULT_ADAPTIVE_MIN_RATE,
        max_rate: float = DEFAULT_ADAPTIVE_MAX_RATE,
        start: float = DEFAULT_ADAPTIVE_START,
        time_period: float = 1.0,
    ) -> AdaptiveRateLimit:
        """A limit that finds the server's sustainable rate by itself; see
        :class:`AdaptiveRateLimit`.

        Raises:
            ConfigurationError: A value out of range, or not ``min_rate <= start <= max_rate``.
        """
        return AdaptiveRateLimit(
            min_rate=min_rate, max_rate=max_rate, start=start, time_period=time_period
        )


@attrs.frozen(kw_only=True)
class AdaptiveRateLimit:
    """A rate limit the client finds by itself, for a server whose limit it is not told.

    Requests start at ``start`` per window, evenly spaced; the rate grows by half
    per window while answers succeed. The first 429 records the rate at which 429s
    began (the *ceiling*) and cuts to 30% under it (a server's burst allowance lets
    the climb overshoot); after the pause its ``Retry-After`` asks for, the rate
    probes upward slowly (2% per window). A later 429 sets the ceiling to what the
    server accepted over the last 5 windows and holds 5% under it; probes come 10
    windows after a cut, the wait doubling (up to 300) while they find the same
    ceiling. A limit that rises is followed, one that falls obeyed at its next 429.
    Every guarantee of :class:`RateLimit` holds at the current rate: evenly spaced,
    never more than the current rate in any window, every caller paused by a 429.
    ``DumGumClient.stats`` reports the current rate and the ceiling.

    Args:
        min_rate: Requests per window it never goes below.
        max_rate: Requests per window it never exceeds, whatever the server allows.
        start: Requests per window at first.
        time_period: Window length in seconds.

    Raises:
        ConfigurationError: A value out of range, or not ``min_rate <= start <= max_rate``.
    """

    min_rate: float = attrs.field(default=DEFAULT_ADAPTIVE_MIN_RATE, validator=check.positive)
    max_rate: float = attrs.field(default=DEFAULT_ADAPTIVE_MAX_RATE, validator=check.positive)
    start: float = attrs.field(default=DEFAULT_ADAPTIVE_START, validator=check.positive)
    time_period: float = attrs.field(default=1.0, validator=check.positive)

    def __attrs_post_init__(self) -> None:
        if not self.min_rate <= self.max_rate:
            raise ConfigurationError(
                f"min_rate ({self.min_rate}) must not exceed max_rate ({self.max_rate})"
            )
        if not self.min_rate <= self.start <= self.max_rate:
            raise ConfigurationError(
                f"start ({self.start}) must be between min_rate ({self.min_rate}) "
                f"and max_rate ({self.max_rate})"
            )


def resolve_base_url(base_url: str | None, *, allow_insecure_http: bool) -> str:
    """The base URL to use: the argument, else ``DUMGUM_BASE_URL``, else the vendor's.

    Raises:
        ConfigurationError: Not an http(s) URL, or plain http to a host that is not
            loopback without ``allow_insecure_http`` (the key would travel in clear).
    """
    url = base_url or os.environ.get(ENV_BASE_URL) or DEFAULT_BASE_URL
    if not isinstance(url, str):
        raise ConfigurationError(f"base_url must be a str, got {type(url).__name__}")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not one
    except ValueError:  # an unclosed IPv6 bracket, a port out of range or not a number
        raise ConfigurationError(f"base_url is not a valid URL: {url!r}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(f"base_url must be an http(s) URL, got {url!r}")
    if parts.username or parts.password:
        raise ConfigurationError("base_url must not contain credentials; pass api_key instead")
    if parts.query or parts.fragment:
        raise ConfigurationError(f"base_url must not have a query or fragment: {url!r}")
    if (
        parts.scheme == "http"
        and not allow_insecure_http
        and not check.is_loopback_host(parts.hostname)
    ):
        raise ConfigurationError(
            f"refusing plain http to {parts.hostname}: the API key would travel in clear. "
            "Use https, or pass allow_insecure_http=True if you really mean it."
        )
    return url.rstrip("/")


def resolve_api_key(api_key: Secret | str | None) -> Secret:
    """The API key to use: the argument, else ``DUMGUM_API_KEY``; always a :class:`Secret`.

    Neither this frame nor any it raises from holds the bare key: error trackers
    record the locals of every frame of a traceback.

    Raises:
        ConfigurationError: No key anywhere, a key that is not a ``str``, or one
            that is not printable ASCII (whitespace, control characters and the
            like cannot go in a header, and are always a copy-and-paste accident).
    """
    source = "api_key" if api_key is not None else ENV_API_KEY
    secret = Secret.wrap(api_key if api_key is not None else os.environ.get(ENV_API_KEY))
    del api_key
    if secret is not None and not secret.is_text:
        raise ConfigurationError(f"api_key must be a str, got {secret.type_name}")
    problem = None if secret is None else check.key_problem(secret.reveal())
    if secret is None or problem == "":
        raise ConfigurationError(
            f"no API key: pass api_key=... or set the {ENV_API_KEY} environment variable"
        )
    if problem is not None:
        raise ConfigurationError(
            f"{source} has {problem}: an API key is printable ASCII, without whitespace "
            "or control characters (check how it was copied or set)"
        )
    return secret
