"""One rate limit shared by many processes and machines, kept in Redis.

:class:`RedisRateLimit` satisfies the :class:`~dumgum_async._throttle.Limiter`
protocol, so any number of clients, in any number of processes on any number of
machines, pass it as ``rate_limit=`` and share one budget and one pause::

    limiter = RedisRateLimit("redis://cache:6379/0", key="dumgum:prod", max_rate=20)
    async with limiter, DumGumClient(rate_limit=limiter) as client:
        ...

This is the only module that imports ``redis`` (``pip install 'dumgum-async[redis]'``),
and only when a limiter is created: ``import dumgum_async`` never needs it.

Why a Lua GCRA and not the ``limits`` library (checked: limits 5.8): ``limits``
answers "may I, now?" (``hit``/``test``) and cannot make a caller wait for its
turn except by polling; its Redis strategies stamp requests with the *worker's*
``time.time()`` (passed to its Lua scripts as an argument), so workers whose
clocks disagree by a few milliseconds break an exact window; it has no pause that
a 429 could impose on everyone; and its redis-py storage pins ``redis<8``. One
short script, run atomically by Redis, does all of it: it reads Redis's own clock
(``TIME``), honours and extends the shared pause, and *reserves* the caller's
slot, however far ahead: one round trip per request, no polling, and no race
between workers, because Redis runs scripts one at a time.

The algorithm, per acquire: ``slot = max(now, tat - (burst - 1) * interval,
pause_until, oldest of the last max_rate slots + window)``, then ``tat = max(tat,
slot) + interval``; the slot is returned in Redis time and the caller sleeps until
it. To sleep until a time of Redis's clock, each process maps that clock onto its
own loop clock from the answers' round trips, as NTP does (:class:`_RedisClock`):
the mapping is as good as the quickest round trip, a fraction of a millisecond on
a LAN, and a slow answer (a busy loop, a new connection) does not disturb it.

Each process also keeps :class:`_Schedule`, the same algorithm in Python over the
slots *it* was granted. It is the fallback limiter when Redis is lost (so the
slots already granted through Redis count against the first local window), and
its recent slots are written back into Redis with the first acquire after Redis
returns (so the slots granted locally count against the first shared window).
:class:`_Breaker` remembers that Redis is unreachable, so that a hung Redis costs
one timeout, not one per request.

An adaptive limiter (:meth:`RedisRateLimit.adaptive`) keeps the rate itself in
Redis: each process runs the adaptive controller on its own answers and proposes
its cut or its rise with its next acquire; the script takes a cut only downward
and a rise only if the rate did not change within the last window (so N processes
add one step, not N), then derives the grid and the window log from the shared
rate and returns it, and each process's controller follows it.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import math
import secrets
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Literal, cast
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from dumgum_async._adaptive import AdaptiveController
from dumgum_async._config import (
    DEFAULT_ADAPTIVE_MAX_RATE,
    DEFAULT_ADAPTIVE_MIN_RATE,
    DEFAULT_ADAPTIVE_START,
    AdaptiveRateLimit,
    RateLimit,
)
from dumgum_async._secret import Secret
from dumgum_async.exceptions import (
    ClientClosedError,
    ConfigurationError,
    RateLimiterUnavailableError,
)

if TYPE_CHECKING:
    from redis.asyncio import ConnectionPool, Redis
    from redis.commands.core import AsyncScript

__all__ = ["RedisRateLimit"]

logger: Final = logging.getLogger("dumgum_async")

#: Seconds between two checks of whether an unreachable Redis answers again.
RECHECK_INTERVAL: Final = 5.0
#: Slots one acquire may give up for being woken too late, before it goes anyway.
_MAX_FORFEITS: Final = 3
#: Seconds before its slot that a caller that slept asks Redis whether another
#: process paused meanwhile: ahead of the slot, so that the round trip does not
#: make it late; a pause set in this last sliver is missed.
_CHECK_LEAD: Final = 0.02

# KEYS[1] tat: the GCRA "theoretical arrival time" (µs, Redis clock) of the next slot.
# KEYS[2] pause_until: no slot before this time (µs, Redis clock).
# KEYS[3] log: sorted set of the last `window_n` reserved slots (only when window_n > 0).
# KEYS[4] rate: hash of the adaptive shared rate: `rate` (per window), `changed` (µs,
# Redis clock, of its last change), `ceiling` (per window, or absent).
# ARGV: interval, tolerance, window_n, window (µs except window_n), pause_for (µs, 0 for
# none), mode ("acquire" or "sync"), start (the adaptive rate while none is stored;
# 0 for a fixed rate), proposal ("none", "cut" or "raise"), the proposed rate, its
# ceiling ('' for none), then pairs (offset from now in µs, member) of slots this
# process granted while Redis was away ("seeds").
# "acquire" returns {now, slot, rate, ceiling, changed}; "sync" only extends the pause and
# returns {now, pause_until}; times in µs of Redis's clock, rates as strings ('' for
# no ceiling, and for a fixed rate).
#
# Times go through string.format('%.17g'): Redis turns Lua numbers into strings with
# 14 significant digits, which would round a µs epoch (16 digits) to 100 µs.
_SCRIPT: Final = """
if redis.replicate_commands then pcall(redis.replicate_commands) end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local window_n = tonumber(ARGV[3])
local window = tonumber(ARGV[4])
local pause_for = tonumber(ARGV[5])

local raw = redis.call('GET', KEYS[2])
local pause_until = raw and tonumber(raw) or 0
if pause_for > 0 and now + pause_for > pause_until then
    -- Only ever extended: a short Retry-After never cuts a longer pause short.
    pause_until = now + pause_for
    redis.call('SET', KEYS[2], string.format('%.17g', pause_until),
               'PX', math.ceil(pause_for / 1000) + 1000)
end
if ARGV[6] == 'sync' then
    return {now, math.ceil(pause_until)}
end

local start = tonumber(ARGV[7])
local rate_text, ceiling_text, changed_text = '', '', ''
if start > 0 then
    -- The adaptive rate is one for every process: a cut only ever lowers it, and a
    -- raise is taken only if nobody changed it within the last window, so N
    -- processes do not each add their step.
    local stored = redis.call('HMGET', KEYS[4], 'rate', 'changed', 'ceiling')
    local rate = tonumber(stored[1])
    if not rate or not (rate > 0) then rate = start end  -- absent, or not a rate
    local changed = tonumber(stored[2]) or 0
    ceiling_text = stored[3] or ''
    local proposed = tonumber(ARGV[9])
    local kind = ARGV[8]
    if (kind == 'cut' and proposed < rate)
            or (kind == 'raise' and proposed > rate and now - changed >= window) then
        rate = proposed
        changed = now
        if ARGV[10] ~= '' then ceiling_text = ARGV[10] end
    end
    rate_text = string.format('%.17g', rate)
    changed_text = string.format('%.17g', changed)
    redis.call('HSET', KEYS[4], 'rate', rate_text, 'changed', changed_text, 'ceiling', ceiling_text)
    -- Longer-lived than the schedule: a worker that returns after a quiet hour
    -- starts at the rate found, not at `start` again.
    redis.call('PEXPIRE', KEYS[4], 3600000)
    -- Judged at the shared rate: the grid's spacing, and the log of the last
    -- floor(rate) slots (always kept: the rate may be fractional, and a cut must
    -- not let the slots granted at the old rate crowd a window at the new one).
    interval = window / rate
    tolerance = 0
    window_n = math.max(math.floor(rate), 1)
end

raw = redis.call('GET', KEYS[1])
local tat = raw and tonumber(raw) or now
-- Seeds are offsets from the moment the caller sent this script: Redis reads `now`
-- a little later, so they land a little late, which errs on the safe side.
for i = 11, #ARGV, 2 do
    local seed = now + tonumber(ARGV[i])
    tat = math.max(tat, seed + interval)
    if window_n > 0 then
        redis.call('ZADD', KEYS[3], string.format('%.17g', seed), ARGV[i + 1])
    end
end
-- GCRA: the slot may be up to `tolerance` (burst - 1 intervals) ahead of the schedule.
local slot = math.max(now, tat - tolerance, pause_until)
if window_n > 0 then
    -- A burst could put more than window_n slots in one window: keep the log of the
    -- last window_n slots and start this one a whole window after the oldest of them.
    local n = redis.call('ZCARD', KEYS[3])
    if n >= window_n then
        local oldest = redis.call('ZRANGE', KEYS[3], n - window_n, n - window_n, 'WITHSCORES')
        slot = math.max(slot, tonumber(oldest[2]) + window)
    end
    if n > 0 then
        local last = redis.call('ZRANGE', KEYS[3], -1, -1, 'WITHSCORES')
        slot = math.max(slot, tonumber(last[2]))
    end
end
local new_tat = math.max(tat, slot) + interval
-- Keys outlive the schedule by a window, then vanish: an idle limiter leaves nothing.
local ttl = math.ceil((new_tat - now + window) / 1000) + 1000
redis.call('SET', KEYS[1], string.format('%.17g', new_tat), 'PX', ttl)
if window_n > 0 then
    -- new_tat grows with every call, so it is a unique member name.
    redis.call('ZADD', KEYS[3], string.format('%.17g', slot), string.format('%.17g', new_tat))
    redis.call('ZREMRANGEBYRANK', KEYS[3], 0, -(window_n + 1))
    redis.call('PEXPIRE', KEYS[3], ttl)
end
return {now, math.ceil(slot), rate_text, ceiling_text, changed_text}
"""


class _RedisClock:
    """Maps Redis's clock onto this loop's clock, as NTP does.

    Each answer tells what Redis's clock read at some moment between sending the
    script and reading the answer: the midpoint, give or take half the round trip.
    The sample with the smallest error wins, its error growing slowly with age
    (clocks drift apart); a sample that contradicts it (a clock was stepped)
    replaces it at once. So a slow answer (a new connection, a busy loop) does not
    move the mapping: slots are placed to within the best round trip, ~0.1 ms on a
    LAN, never to within the slowest one.
    """

    #: How fast an estimate loses accuracy, in seconds per second (clock rate drift).
    DRIFT: Final = 1e-4

    def __init__(self) -> None:
        self._offset = 0.0
        self._error = math.inf
        self._at = 0.0

    def update(self, sent_at: float, answered_at: float, redis_us: int) -> None:
        """Learn from one answer: sent and read at these loop times, Redis read ``redis_us``."""
        error = (answered_at - sent_at) / 2
        offset = sent_at + error - redis_us / 1e6
        current = self.error(answered_at)
        if error <= current or abs(offset - self._offset) > error + current:
            self._offset, self._error, self._at = offset, error, answered_at

    def error(self, now: float) -> float:
        """How far off :meth:`local` may be at loop time ``now``, in seconds."""
        return self._error + self.DRIFT * (now - self._at)

    def local(self, redis_us: int) -> float:
        """The loop time at which Redis's clock reads ``redis_us``."""
        return redis_us / 1e6 + self._offset


def _redact(url: str) -> str:
    """``url`` with any password (``user:password@`` or ``?password=``) shown as ``***``."""
    parts = urlsplit(url)
    if parts.password is not None:
        host = parts.hostname or ""
        if ":" in host:  # an IPv6 literal lost its brackets in hostname
            host = f"[{host}]"
        port = f":{parts.port}" if parts.port is not None else ""
        parts = parts._replace(netloc=f"{parts.username or ''}:***@{host}{port}")
    if parts.query:
        query = [(k, "***" if k == "password" else v) for k, v in parse_qsl(parts.query, True)]
        parts = parts._replace(query=urlencode(query, safe="*"))
    text = urlunsplit(parts)
    if not parts.netloc and url.startswith(f"{parts.scheme}://"):  # keep unix:///path
        text = text.replace(":", "://", 1)
    return text


class _Schedule:
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


class _Breaker:
    """Whether Redis is known to be unreachable, and when to check again.

    One failed exchange opens it; from then on callers do not wait on Redis, and
    one check at a time may run once ``recheck_interval`` has passed since the
    last failure; a successful exchange closes it.

    Args:
        recheck_interval: Seconds from a failure to the next check.
        clock: Seconds, monotonic (injectable for tests).
    """

    def __init__(
        self, recheck_interval: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.recheck_interval = recheck_interval
        self._clock = clock
        self.down = False
        #: What went wrong last, for messages (never a password).
        self.error = ""
        self._check_at = 0.0
        self._checking = False

    def failed(self, error: str) -> bool:
        """Record a failure; True if Redis was thought reachable until now."""
        was_up = not self.down
        self.down, self.error, self._checking = True, error, False
        self._check_at = self._clock() + self.recheck_interval
        return was_up

    def succeeded(self) -> bool:
        """Record an answer; True if Redis was thought unreachable until now."""
        was_down = self.down
        self.down, self._checking = False, False
        return was_down

    def start_check(self) -> bool:
        """True (and the check counts as running) if a check is due and none is running."""
        if not self.down or self._checking or self._clock() < self._check_at:
            return False
        self._checking = True
        return True

    def seconds_to_check(self) -> float:
        """Seconds until the next check may start (0 if it may now, or one is running)."""
        return max(self._check_at - self._clock(), 0.0)


class _Credentials:
    """Redis's username and password, given to redis-py only when it authenticates.

    A redis-py ``CredentialProvider`` by duck typing (redis is imported lazily).
    Neither its ``repr`` nor redis-py's keyword dictionaries ever hold the
    password, so neither do tracebacks, frame locals or messages.
    """

    __slots__ = ("_password", "_username")

    def __init__(self, username: str | None, password: str | None) -> None:
        self._username = username
        # A Secret too, so that serialisers walking attributes find nothing either.
        self._password = Secret(password or "")

    def __repr__(self) -> str:
        return "<redis credentials>"

    def get_credentials(self) -> tuple[str] | tuple[str, str]:
        """``(password,)`` or ``(username, password)``, as redis-py's AUTH wants."""
        if self._username:
            return (self._username, self._password.reveal())
        return (self._password.reveal(),)

    async def get_credentials_async(self) -> tuple[str] | tuple[str, str]:
        """:meth:`get_credentials`, for redis-py 5.1 and later."""
        return self.get_credentials()

    def scrub(self, text: str) -> str:
        """``text`` with the password, raw or percent-encoded, replaced by ``***``."""
        password = self._password.reveal()
        if password:
            for form in {password, quote(password, safe=""), unquote(password)}:
                text = text.replace(form, "***")
        return text


class _SecretURL:
    """A Redis URL that never shows its password (``repr``, ``str``, frame locals)."""

    __slots__ = ("_url",)

    def __init__(self, url: object) -> None:
        self._url = url

    def __repr__(self) -> str:
        return repr(self.shown()) if isinstance(self._url, str) else "<not a URL>"

    __str__ = __repr__

    def shown(self) -> str:
        """The URL with its password replaced by ``***``."""
        try:
            return _redact(self._url) if isinstance(self._url, str) else "<not a URL>"
        except ValueError:
            return "<unreadable URL>"

    def parse(self) -> tuple[dict[str, Any], _Credentials | None, str | None]:
        """redis-py connection options, the credentials apart, and a problem or None.

        Never raises: an exception raised here would carry the URL in its frames'
        locals, so every failure becomes a message that names the problem only.
        """
        url = self._url
        bad = "url must be a redis://, rediss:// or unix:// URL with a valid port"
        if not isinstance(url, str):
            return {}, None, "url must be a string"
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises ValueError for a port that is not one
        except ValueError:
            return {}, None, bad
        if parts.scheme not in ("redis", "rediss", "unix"):
            return {}, None, bad
        from redis.asyncio.connection import Connection, parse_url

        try:
            options: dict[str, Any] = dict(parse_url(url))
            username, password = options.pop("username", None), options.pop("password", None)
            connection_class = options.pop("connection_class", Connection)
            # Built only to check the options (no I/O): an unknown one is a TypeError
            # that names it, here rather than at the first request.
            connection_class(**options)
        except Exception as exc:  # any failure: its frames hold the password
            # redis-py names the option ("Invalid value for 'socket_timeout' in
            # connection URL.", "unexpected keyword argument 'foo'"), not its value;
            # the password is scrubbed all the same.
            problem = f"url: {type(exc).__name__}: {exc}"
            raw = parts.password
            return {}, None, _Credentials(None, unquote(raw)).scrub(problem) if raw else problem
        options["connection_class"] = connection_class
        credentials = _Credentials(username, password) if username or password else None
        return options, credentials, None


def _text(value: object) -> str:
    """A script's string answer, which redis-py gives as bytes unless decoding."""
    return value.decode() if isinstance(value, bytes) else str(value)


def _settle_question(task: asyncio.Task[tuple[int, int]]) -> None:
    # A question nobody waits for any more: its failure is recorded by _run
    # (the breaker); retrieving it here keeps asyncio from reporting it.
    if not task.cancelled():
        task.exception()


class RedisRateLimit:
    """A rate limit and a pause shared through Redis by every process using ``key``.

    No window of ``time_period`` seconds holds more than ``max_rate`` requests,
    across all processes, and by default they are evenly spaced (one every
    ``time_period / max_rate``). ``acquire`` reserves the next free slot in one
    atomic script and sleeps until it: callers wait their turn, they are never
    refused, and they do not poll. ``pause`` (called by the client on a 429 with
    ``Retry-After``) holds back every process sharing the key, callers already
    asleep toward a reserved slot included: this process's at once, other
    processes' when they wake (each caller that slept asks Redis for the pause,
    ``margin / 2`` before its slot).

    Time is Redis's clock (``TIME``), never the workers' clocks. ``margin`` widens
    every window a little, because a slot's time and the moment the request reaches
    the API differ by network and scheduling jitter: without it two requests
    ``max_rate`` apart could land less than ``time_period`` apart and draw a 429.
    For the same reason a caller woken more than ``margin / 2`` after its slot (its
    event loop was busy) gives the slot up and queues again, at most 3 times.
    Raise ``margin`` when the API is far away (its arrival jitter is larger).

    A caller cancelled while it waits (a deadline, say) loses its slot: slots are
    never handed back, so the limit errs on the safe side. If Redis's clock is
    stepped back, slots already reserved come that much later.

    Create it anywhere; it connects on first use, inside the running loop, and is
    then tied to that loop. Close it with :meth:`aclose` (or ``async with``); the
    clients using it do not close it.

    When Redis fails (refuses, resets, or does not answer within
    ``socket_timeout``), this process knows it is unreachable: from then on no
    ``acquire`` waits on it. The first ``acquire`` after ``recheck_interval``
    starts one check in the background, and acquires use Redis again as soon as it
    answers. Calls already waiting on Redis when it fails give up at once. So a
    hung Redis costs one ``socket_timeout``, not one per request. One WARNING is
    logged when Redis is found unreachable, one INFO when it answers again.
    Meanwhile ``on_redis_error`` decides:

    * ``"raise"`` (default): ``acquire`` raises :class:`RateLimiterUnavailableError`
      at once. The budget is shared, so sending without it could overrun the API
      for everyone; failing loudly is the safe default.
    * ``"local"``: carry on with an in-process limit of the
      same rate, which continues this process's schedule: the slots it was granted
      through Redis count, so the switch never lets more than ``max_rate`` through
      in a window, and the slots granted locally are written back into Redis when
      it returns. Each process then keeps to the full rate on its own, so N
      processes may send up to N times the limit until Redis returns (the API's
      429s then pause each process separately); choose it when availability
      matters more than exactness.

    A caller that already holds a slot from Redis goes at its slot even if Redis
    then fails.

    For a limit the server does not tell, :meth:`adaptive` makes one adaptive rate
    that all processes sharing the key move together.

    Args:
        url: ``redis://[user:password@]host:port/db``, ``rediss://...`` or
            ``unix:///path``, with redis-py's query options; the password never
            appears in ``repr``, messages or tracebacks.
        key: Name of the shared budget; every process using the same key and Redis
            shares one limit. The Redis keys are ``{key}:tat``, ``{key}:pause_until``,
            ``{key}:log`` and, for :meth:`adaptive`, ``{key}:rate`` (braces
            included: one Redis Cluster slot).
        max_rate: Requests allowed in any window of ``time_period`` seconds.
        time_period: Window length in seconds.
        burst: Requests that may leave back to back after a quiet spell (1 = evenly
            spaced); never more than ``max_rate`` in a window either way.
        margin: Seconds added to each window against jitter (0 for none); the
            default costs 1% of the throughput of a one-second window.
        on_redis_error: ``"raise"`` or ``"local"``, see above.
        socket_timeout: Seconds one exchange with Redis may take, connection
            included.
        recheck_interval: Seconds between checks of an unreachable Redis.

    Raises:
        ConfigurationError: A value out of range, or a URL that is not Redis's or
            has a bad option (``?socket_timeout=abc``).
        ImportError: The ``redis`` package is not installed.
    """

    def __init__(
        self,
        url: str,
        *,
        key: str,
        max_rate: float,
        time_period: float = 1.0,
        burst: int = 1,
        margin: float = 0.01,
        on_redis_error: Literal["raise", "local"] = "raise",
        socket_timeout: float = 2.0,
        recheck_interval: float = RECHECK_INTERVAL,
    ) -> None:
        # From here on the URL lives only in the wrapper: a traceback of any error
        # raised below, frame locals included, cannot show the password.
        secret = _SecretURL(url)
        del url
        self._where = secret.shown()
        try:
            import redis  # noqa: F401 - only to fail here, early, with the fix in the message
        except ImportError as exc:
            raise ImportError(
                "RedisRateLimit needs the redis package: pip install 'dumgum-async[redis]'"
            ) from exc
        options, credentials, problem = secret.parse()
        if problem is not None:
            raise ConfigurationError(problem)
        if not isinstance(key, str) or not key:
            raise ConfigurationError(f"key must be a non-empty string, got {key!r}")
        self.rate: RateLimit = RateLimit(max_rate, time_period, burst=burst)  # validates all three
        if isinstance(margin, bool) or not isinstance(margin, int | float):
            raise ConfigurationError(f"margin must be a number of seconds, got {margin!r}")
        if not 0 <= margin < time_period:
            raise ConfigurationError(f"margin must be in [0, time_period), got {margin!r}")
        if on_redis_error not in ("raise", "local"):
            raise ConfigurationError(
                f"on_redis_error must be 'raise' or 'local', got {on_redis_error!r}"
            )
        for name, value in (
            ("socket_timeout", socket_timeout),
            ("recheck_interval", recheck_interval),
        ):
            if isinstance(value, bool) or not (
                isinstance(value, int | float) and 0 < value < math.inf
            ):
                raise ConfigurationError(f"{name} must be positive, got {value!r}")
        self.key = key
        self.margin: float = float(margin)
        self.on_redis_error = on_redis_error
        self.socket_timeout: float = float(socket_timeout)
        self._options = options
        self._credentials = credentials
        self._keys = [
            f"{{{key}}}:tat",
            f"{{{key}}}:pause_until",
            f"{{{key}}}:log",
            f"{{{key}}}:rate",
        ]
        # Half the margin absorbs a late wake-up, half the network's jitter.
        self._late_limit = self.margin / 2 if self.margin > 0 else math.inf
        window = time_period + self.margin
        interval = window / max_rate
        # A window log is needed when a burst, or a fractional rate, could fit more
        # than max_rate slots in one window; whole rates evenly spaced never can.
        window_n = math.floor(max_rate)
        needs_log = burst > 1 or window_n != max_rate
        window_n = max(window_n, 1) if needs_log else 0
        self._args: list[float | int] = [
            interval * 1e6,
            (burst - 1) * interval * 1e6,
            window_n,
            window * 1e6,
        ]
        self._schedule = _Schedule(interval, (burst - 1) * interval, window_n, window)
        # Since Redis last failed, it may lack slots this process granted or was
        # granted (a restarted Redis has none): every acquire carries them as seeds
        # until one that did returns.
        self._unseeded = False
        self._seed_tag = secrets.token_hex(4)
        self._breaker = _Breaker(float(recheck_interval))
        self._redis: Redis | None = None
        self._pool: ConnectionPool | None = None
        self._script: AsyncScript | None = None
        self._loaded = False
        self._clock = _RedisClock()
        self._errors: tuple[type[BaseException], ...] = ()
        # Exchanges in flight, so that the first to fail can end the others at once.
        self._inflight: set[asyncio.Timeout] = set()
        # The pause, in time.monotonic() seconds: what was asked, what Redis has,
        # and what Redis last said (which another process may have set).
        self._pause_deadline = 0.0
        self._pause_written = 0.0
        self._pause_seen = 0.0
        self._pause_task: asyncio.Task[None] | None = None
        self._check_task: asyncio.Task[None] | None = None
        # Sleepers' questions for the shared pause, still running past their slot.
        self._questions: set[asyncio.Task[tuple[int, int]]] = set()
        # Resolved by pause() to wake this process's sleepers, whose slot may now
        # fall inside the pause: they give it up and reserve a new one.
        self._pause_signal: asyncio.Future[None] | None = None
        self._closed = False
        #: The adaptive rate's bounds, or None for a fixed rate (see :meth:`adaptive`).
        self.adaptive_config: AdaptiveRateLimit | None = None
        # This process's controller of the shared adaptive rate, or None.
        self._controller: AdaptiveController | None = None
        self._now: Callable[[], float] = time.monotonic  # the controller's clock
        self._synced = 0.0  # the shared rate as Redis last said it
        self._synced_at = -math.inf  # when (Redis clock, µs) it last changed
        self._cut_pending = False  # a cut Redis has not been told of yet

    @classmethod
    def adaptive(
        cls,
        url: str,
        *,
        key: str,
        min_rate: float = DEFAULT_ADAPTIVE_MIN_RATE,
        max_rate: float = DEFAULT_ADAPTIVE_MAX_RATE,
        start: float = DEFAULT_ADAPTIVE_START,
        time_period: float = 1.0,
        margin: float = 0.01,
        on_redis_error: Literal["raise", "local"] = "raise",
        socket_timeout: float = 2.0,
        recheck_interval: float = RECHECK_INTERVAL,
    ) -> RedisRateLimit:
        """An adaptive rate (:class:`AdaptiveRateLimit`) shared by every process using ``key``.

        Each process runs the adaptive controller on the answers it sees, but the
        rate is one, kept in Redis (``{key}:rate``, for an hour after the last
        request): a 429 seen by any process cuts it for all (a cut only ever lowers
        it), and it rises by at most one step per window however many processes
        saw clean answers, so N workers do not each find the limit and overshoot
        it N-fold. Every slot comes from one schedule at that rate: evenly
        spaced, never more than the current rate in any window, a change of rate
        included. While Redis is unreachable (``on_redis_error="local"``) each
        process keeps the last shared rate, lowered by its own 429s only.

        Args:
            url: As for :class:`RedisRateLimit`.
            key: As for :class:`RedisRateLimit`.
            min_rate: Requests per window it never goes below.
            max_rate: Requests per window it never exceeds.
            start: Requests per window while no rate is stored under ``key``.
            time_period: Window length in seconds.
            margin: As for :class:`RedisRateLimit`.
            on_redis_error: As for :class:`RedisRateLimit`.
            socket_timeout: As for :class:`RedisRateLimit`.
            recheck_interval: As for :class:`RedisRateLimit`.

        Raises:
            ConfigurationError: A value out of range, or not ``min_rate <= start <=
                max_rate``, or a bad URL.
            ImportError: The ``redis`` package is not installed.
        """
        config = AdaptiveRateLimit(
            min_rate=min_rate, max_rate=max_rate, start=start, time_period=time_period
        )
        self = cls(
            url,
            key=key,
            max_rate=config.start,
            time_period=config.time_period,
            margin=margin,
            on_redis_error=on_redis_error,
            socket_timeout=socket_timeout,
            recheck_interval=recheck_interval,
        )
        self.adaptive_config = config
        self._controller = AdaptiveController(
            config.min_rate, config.max_rate, config.start, config.time_period
        )
        self._synced = self._controller.rate
        self._set_rate(self._controller.rate)
        return self

    def __repr__(self) -> str:
        if not hasattr(self, "_closed"):  # in a traceback of __init__'s own errors
            return f"<RedisRateLimit {getattr(self, '_where', '?')} (not set up)>"
        if self._closed:
            mode = "closed"
        elif not self._breaker.down:
            mode = "redis"
        else:
            mode = "local fallback" if self.on_redis_error == "local" else "redis unavailable"
        return (
            f"<RedisRateLimit {self._where} key={self.key!r} "
            f"{self.rate.max_rate:g}/{self.rate.time_period:g}s burst={self.rate.burst} {mode}>"
        )

    async def __aenter__(self) -> RedisRateLimit:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    @property
    def redis_available(self) -> bool:
        """False while Redis is known to be unreachable (from a failed exchange
        until one succeeds); True before the first exchange."""
        return not self._breaker.down

    @property
    def using_fallback(self) -> bool:
        """True while Redis is unreachable and the local limit is in use."""
        return self._breaker.down and self.on_redis_error == "local"

    @property
    def current_rate(self) -> float:
        """Requests per second allowed now (the shared rate, when adaptive)."""
        return self.rate.max_rate / self.rate.time_period

    @property
    def rate_ceiling(self) -> float | None:
        """Requests per second at which 429s began (adaptive, after a cut); else None."""
        ceiling = None if self._controller is None else self._controller.ceiling
        return None if ceiling is None else ceiling / self.rate.time_period

    def observe(self, status: int, retry_after: float | None) -> None:
        """An HTTP attempt got ``status`` (with the ``Retry-After`` of a 429).

        Adaptive only (a no-op for a fixed rate): the controller's cut or rise is
        proposed to Redis with the next acquire; while Redis is unreachable a cut
        applies to this process's fallback at once.
        """
        controller = self._controller
        if controller is None:
            return
        before = controller.rate
        if status == 429:
            controller.rate_limited(self._now(), retry_after)
            if controller.rate < before:
                self._cut_pending = True
        elif 200 <= status < 300:
            controller.success(self._now())
        else:
            return  # no evidence about the rate limit
        if self._breaker.down and controller.rate < self.rate.max_rate:
            self._set_rate(controller.rate)

    # --- the Limiter protocol ---------------------------------------------------------

    async def acquire(self) -> None:
        """Wait until one request may be sent, by this and every process sharing the key.

        Reserves the next free slot (after any pause) and sleeps until it. The
        first call connects to Redis.

        Raises:
            RateLimiterUnavailableError: Redis failed, now or recently (only with
                ``on_redis_error="raise"``).
            ClientClosedError: The limiter was closed.
        """
        loop = asyncio.get_running_loop()
        forfeited = 0
        while True:
            if self._closed:
                raise ClientClosedError("this RedisRateLimit is closed; create a new one")
            if self._pause_signal is None or self._pause_signal.done():
                self._pause_signal = loop.create_future()
            signal = self._pause_signal
            slot_us: int | None = None
            if self._breaker.down:
                self._start_check(loop)
                if self.on_redis_error == "raise":
                    raise self._unavailable()
                release_at = self._schedule.reserve(loop.time(), self._pause_until(loop))
            else:
                try:
                    slot_us = await self._run_acquire()
                except RateLimiterUnavailableError:
                    if self.on_redis_error == "raise":
                        raise
                    continue  # Redis is marked down: the local schedule takes over
                release_at = self._clock.local(slot_us)
                self._schedule.note(release_at)
            if not await self._sleep_until(loop, release_at, signal, slot_us):
                continue  # a pause came: queue again behind it
            late = loop.time() - release_at
            if slot_us is not None:
                late += self._clock.error(loop.time())
            if late <= self._late_limit or forfeited >= _MAX_FORFEITS:
                return
            # Possibly too late (a busy loop, a slow answer): a request sent now could
            # crowd the next window at the API, so give the slot up and queue again.
            # Bounded, so that a slow machine still makes progress.
            forfeited += 1
            logger.debug(
                "rate limiter %r: %.1f ms late for a slot, queueing again", self.key, late * 1e3
            )

    def pause(self, seconds: float) -> None:
        """Hold back every process sharing the key for ``seconds`` from now.

        The pause only ever extends. It is written to Redis in the background (and
        by the next :meth:`acquire` if that comes first); this process's waiting
        callers give up their reserved slots and queue again after the pause.
        """
        if self._closed or not seconds > 0:
            return
        deadline = time.monotonic() + seconds
        if deadline <= self._pause_deadline:
            return
        self._pause_deadline = deadline
        signal = self._pause_signal
        if signal is not None and not signal.done():
            signal.set_result(None)
        if self._breaker.down:
            return  # the next check carries it to Redis
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # called outside the loop: the next acquire writes it
            return
        if self._pause_task is None or self._pause_task.done():
            self._pause_task = loop.create_task(self._write_pause())

    async def aclose(self) -> None:
        """Deliver a pending pause, then close the connections; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        check, self._check_task = self._check_task, None
        if check is not None and not check.done():
            check.cancel()
        task, self._pause_task = self._pause_task, None
        questions = list(self._questions)
        for question in questions:
            question.cancel()
        tasks: list[asyncio.Future[Any]] = [t for t in (check, task, *questions) if t is not None]
        # Bounded: each exchange gives up after socket_timeout, and no new one
        # starts once closed.
        await asyncio.gather(*tasks, return_exceptions=True)
        client, self._redis, self._script = self._redis, None, None
        pool, self._pool = self._pool, None
        if client is not None:
            # aclose() arrived in redis-py 5.0.1; 5.0.0 only has close().
            close = getattr(client, "aclose", None) or client.close
            await close()
        if pool is not None:
            await pool.disconnect()

    # --- internals ----------------------------------------------------------------------

    def _set_rate(self, rate: float) -> None:
        """Make ``rate`` (per window) this process's rate: for ``repr`` and stats, and
        for the local schedule, which Redis's loss hands the last shared rate to."""
        self.rate = RateLimit(rate, self.rate.time_period)
        schedule = self._schedule
        schedule.interval = schedule.window / rate
        schedule.tolerance = 0.0
        schedule.window_n = max(math.floor(rate), 1)
        schedule._keep = schedule.window_n

    def _proposal(self) -> list[str | float]:
        """The script's adaptive arguments: start, proposal kind, rate, ceiling."""
        controller, config = self._controller, self.adaptive_config
        if controller is None or config is None:
            return [0, "none", 0, ""]
        if self._cut_pending:
            kind = "cut"
        elif controller.rate > self._synced:
            kind = "raise"
        else:
            kind = "none"
        ceiling = "" if controller.ceiling is None else repr(controller.ceiling)
        return [repr(config.start), kind, repr(controller.rate), ceiling]

    def _sync(self, answer: Any, sent_cut: bool) -> None:
        """Adopt the shared rate an acquire's answer carries (adaptive only)."""
        controller = self._controller
        if controller is None or len(answer) < 5:
            return
        rate_text, ceiling_text, changed_text = (_text(v) for v in answer[2:5])
        if not rate_text:
            return
        if sent_cut:
            self._cut_pending = False  # applied, or the shared rate was lower already
        changed = float(changed_text)
        if changed < self._synced_at:
            return  # an answer overtaken by a later change (another connection)
        rate = float(rate_text)
        ceiling = float(ceiling_text) if ceiling_text else None
        if rate < self._synced and rate < controller.rate:
            controller.follow(self._now(), rate, ceiling)  # another process cut it
        elif rate > self._synced:  # another process (or this one) raised it
            # Growth this controller made since goes on: its next proposal is its
            # own step, which Redis takes at most once per window from anyone.
            controller.rate = max(controller.rate, rate)
            if ceiling is not None:
                controller.ceiling = ceiling
        self._synced, self._synced_at = rate, changed
        if rate != self.rate.max_rate:
            self._set_rate(rate)

    async def _sleep_until(
        self,
        loop: asyncio.AbstractEventLoop,
        release_at: float,
        signal: asyncio.Future[None],
        slot_us: int | None,
    ) -> bool:
        """Sleep until ``release_at``; False if a pause means the slot must be given up.

        A caller holding a slot from Redis that sleeps long enough for another
        process to have paused meanwhile asks Redis, a little before its slot. It
        waits for the answer no later than its slot: a slow or hung Redis never
        makes it late (the question, still running, records any failure).
        """
        wait = release_at - loop.time()
        if wait <= 0:
            return True
        lead = max(self.margin / 2, _CHECK_LEAD)
        if slot_us is not None and wait > lead:
            done, _ = await asyncio.wait({signal}, timeout=wait - lead)
            if done:
                return False
            if not (self._breaker.down or self._closed):  # closed: no new connection
                question = loop.create_task(self._run("sync"))
                self._questions.add(question)
                question.add_done_callback(_settle_question)
                question.add_done_callback(self._questions.discard)
                left = max(release_at - loop.time(), 0.0)
                either: set[asyncio.Future[Any]] = {signal, question}
                await asyncio.wait(either, timeout=left)
                if signal.done():
                    return False
                if question.done() and not question.cancelled() and not question.exception():
                    _, pause_until_us = question.result()
                    if pause_until_us > slot_us:
                        return False  # another process paused everyone meanwhile
            wait = release_at - loop.time()
            if wait <= 0:
                return True
        done, _ = await asyncio.wait({signal}, timeout=wait)
        return not done

    def _pause_until(self, loop: asyncio.AbstractEventLoop) -> float:
        """The end of every pause this process knows of, in loop time."""
        left = max(self._pause_deadline, self._pause_seen) - time.monotonic()
        return loop.time() + left if left > 0 else -math.inf

    def _pending_pause_us(self) -> tuple[int, float]:
        """µs of pause that Redis has not been told of yet, and its deadline."""
        deadline = self._pause_deadline
        if deadline <= self._pause_written:
            return 0, deadline
        return max(math.ceil((deadline - time.monotonic()) * 1e6), 0), deadline

    async def _write_pause(self) -> None:
        # Loops because pause() may extend the deadline while a write is in flight.
        while not self._breaker.down:
            pause_us, _ = self._pending_pause_us()
            if pause_us <= 0:
                return
            try:
                await self._run("sync")
            except RateLimiterUnavailableError:
                # Not lost: the check that finds Redis again carries it, and the
                # local schedule honours it meanwhile.
                return

    def _start_check(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._closed or not self._breaker.start_check():
            return
        self._check_task = loop.create_task(self._check())

    async def _check(self) -> None:
        # Failure needs nothing here: _run has recorded it and set the next check.
        try:
            await self._run("sync")
        except RateLimiterUnavailableError:
            return

    def _unavailable(self) -> RateLimiterUnavailableError:
        wait = self._breaker.seconds_to_check()
        when = f"checking again in {wait:.1f} s" if wait > 0 else "checking again now"
        return RateLimiterUnavailableError(
            f"rate limiter {self.key!r}: Redis at {self._where} is unavailable "
            f"({self._breaker.error}); {when}"
        )

    def _connect(self) -> AsyncScript:
        if self._script is not None:
            return self._script
        import redis.asyncio
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        self._errors = (redis.RedisError, OSError, TimeoutError)
        options: dict[str, Any] = {
            "socket_timeout": self.socket_timeout,
            "socket_connect_timeout": self.socket_timeout,
            # One immediate retry replaces a pooled connection that a Redis restart
            # closed; redis-py's default (3 retries, backoff up to 10 s) would blow
            # the socket_timeout bound.
            "retry": Retry(NoBackoff(), 1),
            **self._options,  # the URL's own options win, as with redis.from_url
        }
        if self._credentials is not None:
            options["credential_provider"] = self._credentials
        self._pool = pool = redis.asyncio.ConnectionPool(**options)
        self._redis = client = redis.asyncio.Redis(connection_pool=pool)
        self._script = client.register_script(_SCRIPT)
        return self._script

    async def _run_acquire(self) -> int:
        """Reserve a slot in Redis, with any seeds; return it in µs of Redis's clock."""
        seeded, version = self._unseeded, self._schedule.version
        _, slot_us = await self._run("acquire", seeded=seeded)
        if seeded and self._schedule.version == version:
            self._unseeded = False  # no local grant since the seeds were taken
        return slot_us

    async def _run(
        self, mode: Literal["acquire", "sync"], *, seeded: bool = False
    ) -> tuple[int, int]:
        """Run the script once and learn Redis's clock (and pause) from its answer.

        Returns:
            Redis's clock and the reserved slot ("acquire") or the pause's end
            ("sync"), in µs of Redis's clock.

        Raises:
            RateLimiterUnavailableError: Any Redis or network error, or no answer
                within socket_timeout; Redis is then marked unreachable. Never
                chained: redis-py's frames hold the password (AUTH's arguments).
        """
        loop = asyncio.get_running_loop()
        pause_us, deadline = self._pending_pause_us()
        seeds = self._schedule.recent(loop.time()) if seeded else []
        proposal = self._proposal() if mode == "acquire" else [0, "none", 0, ""]
        sent_at = 0.0
        was_down = self._breaker.down
        failure: str | None = None
        answer: Any = None
        timeout = asyncio.timeout(self.socket_timeout)
        try:
            async with timeout:
                self._inflight.add(timeout)
                try:
                    script = self._connect()
                    if not self._loaded:
                        # Connect and load the script before the timed call, whose
                        # round trip bounds how well this process knows Redis's clock.
                        assert self._redis is not None
                        await cast("Awaitable[str]", self._redis.script_load(_SCRIPT))
                        self._loaded = True
                    sent_at = loop.time()
                    args: list[Any] = [*self._args, pause_us, mode, *proposal]
                    # A member name per slot, the same in every call that carries it
                    # (so repeating a seed adds nothing), and one per copy of a slot
                    # granted twice at the same instant (so neither copy is lost).
                    copies: dict[float, int] = {}
                    for seed in seeds:
                        copy = copies[seed] = copies.get(seed, -1) + 1
                        member = f"{self._seed_tag}:{seed!r}:{copy}"
                        args += [round((seed - sent_at) * 1e6), member]
                    answer = await script(keys=self._keys, args=args)
                finally:
                    self._inflight.discard(timeout)
        except self._errors as exc:
            failure = self._describe(exc, ended_by_other=not was_down and self._breaker.down)
        if failure is not None:
            self._failed(failure)
            # Raised here, outside the except clause, so that redis-py's exception
            # is not even the __context__.
            raise RateLimiterUnavailableError(
                f"rate limiter {self.key!r}: Redis at {self._where} is unavailable: {failure}"
            )
        answered_at = loop.time()
        now_us, value_us = answer[0], answer[1]
        if mode == "acquire":
            self._sync(answer, proposal[1] == "cut")
        self._clock.update(sent_at, answered_at, int(now_us))
        if pause_us > 0:
            self._pause_written = max(self._pause_written, deadline)
        if mode == "sync":
            left = (int(value_us) - int(now_us)) / 1e6
            if left > 0:
                self._pause_seen = max(self._pause_seen, time.monotonic() + left)
        if self._breaker.succeeded():
            logger.info("Redis answers again: rate limit %r is shared again", self.key)
        return int(now_us), int(value_us)

    def _describe(self, exc: BaseException, *, ended_by_other: bool) -> str:
        if ended_by_other:
            return self._breaker.error
        if isinstance(exc, TimeoutError) or type(exc).__name__ == "TimeoutError":
            return f"did not answer in time ({self.socket_timeout:g} s)"
        text = f"{type(exc).__name__}: {exc}"
        return self._credentials.scrub(text) if self._credentials is not None else text

    def _failed(self, error: str) -> None:
        self._loaded = False  # a restarted Redis has lost the script and the connection
        self._unseeded = True
        if not self._breaker.failed(error):
            return
        # The exchanges still waiting on Redis would each wait out their own
        # timeout: end them now, they fail with this same error.
        now = asyncio.get_running_loop().time()
        for other in list(self._inflight):
            if not other.expired():
                other.reschedule(now)
        if self.on_redis_error == "local":
            logger.warning(
                "rate limiter %r: Redis at %s is unavailable (%s); limiting this process "
                "on its own until it is back",
                self.key,
                self._where,
                error,
            )
        else:
            logger.warning(
                "rate limiter %r: Redis at %s is unavailable (%s); acquire fails at once "
                "until it answers again",
                self.key,
                self._where,
                error,
            )
