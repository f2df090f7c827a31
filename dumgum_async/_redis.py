"""One rate limit shared by many processes and machines, kept in Redis.

:class:`RedisRateLimit` satisfies the :class:`~dumgum_async._throttle.Limiter`
protocol, so any number of clients, in any number of processes on any number of
machines, pass it as ``rate_limit=`` and share one budget and one pause::

    limiter = RedisRateLimit("redis://cache:6379/0", key="dumgum:prod", max_rate=20)
    async with limiter, DumGumClient(rate_limit=limiter) as client:
        ...

This is the only module that imports ``redis`` (``pip install 'dumgum-async[redis]'``),
and only when a limiter first talks to Redis: ``import dumgum_async`` never needs it.

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
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Literal, cast
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from dumgum_async._config import RateLimit
from dumgum_async._throttle import LocalLimiter
from dumgum_async.exceptions import (
    ClientClosedError,
    ConfigurationError,
    RateLimiterUnavailableError,
)

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.commands.core import AsyncScript

__all__ = ["RedisRateLimit"]

logger: Final = logging.getLogger("dumgum_async")

#: Seconds between two attempts to go back to Redis while running on the local fallback.
RECHECK_INTERVAL: Final = 5.0
#: Slots one acquire may give up for being woken too late, before it goes anyway.
_MAX_FORFEITS: Final = 3

# KEYS[1] tat: the GCRA "theoretical arrival time" (µs, Redis clock) of the next slot.
# KEYS[2] pause_until: no slot before this time (µs, Redis clock).
# KEYS[3] log: sorted set of the last `window_n` reserved slots (only when window_n > 0).
# ARGV: interval, tolerance, window_n, window (µs except window_n), pause_for (µs, 0 for
# none), mode ("acquire" or "pause").  Returns {now, slot}, both µs of Redis's clock.
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
if ARGV[6] == 'pause' then
    return {now, now}
end

raw = redis.call('GET', KEYS[1])
local tat = raw and tonumber(raw) or now
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
return {now, math.ceil(slot)}
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


class RedisRateLimit:
    """A rate limit and a pause shared through Redis by every process using ``key``.

    No window of ``time_period`` seconds holds more than ``max_rate`` requests,
    across all processes, and by default they are evenly spaced (one every
    ``time_period / max_rate``). ``acquire`` reserves the next free slot in one
    atomic script and sleeps until it: callers wait their turn, they are never
    refused, and they do not poll. ``pause`` (called by the client on a 429 or 503
    with ``Retry-After``) holds back every process sharing the key.

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

    When Redis cannot be reached, ``on_redis_error`` decides:

    * ``"raise"`` (default): every ``acquire`` raises
      :class:`RateLimiterUnavailableError` within ``socket_timeout``. The budget is
      shared, so sending without it could overrun the API for everyone; failing
      loudly is the safe default.
    * ``"local"``: log one WARNING and carry on with an in-process
      :class:`~dumgum_async._throttle.LocalLimiter` of the same rate, trying Redis
      again at most every few seconds and going back to it once it answers. Each
      process then keeps to the full rate on its own, so N processes may send up to
      N times the limit until Redis returns (the API's 429s then pause each process
      separately); choose it when availability matters more than exactness. The
      caller that tries Redis again may wait up to ``socket_timeout`` for it.

    Args:
        url: ``redis://[user:password@]host:port/db``, ``rediss://...`` or
            ``unix:///path``; the password never appears in ``repr``.
        key: Name of the shared budget; every process using the same key and Redis
            shares one limit. The Redis keys are ``{key}:tat``, ``{key}:pause_until``
            and ``{key}:log`` (braces included: one Redis Cluster slot).
        max_rate: Requests allowed in any window of ``time_period`` seconds.
        time_period: Window length in seconds.
        burst: Requests that may leave back to back after a quiet spell (1 = evenly
            spaced); never more than ``max_rate`` in a window either way.
        margin: Seconds added to each window against jitter (0 for none); the
            default costs 1% of the throughput of a one-second window.
        on_redis_error: ``"raise"`` or ``"local"``, see above.
        socket_timeout: Seconds one exchange with Redis may take, connection
            included.

    Raises:
        ConfigurationError: A value out of range, or a URL that is not Redis's.
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
    ) -> None:
        try:
            import redis  # noqa: F401 - only to fail here, early, with the fix in the message
        except ImportError as exc:
            raise ImportError(
                "RedisRateLimit needs the redis package: pip install 'dumgum-async[redis]'"
            ) from exc
        try:
            if urlsplit(url).scheme not in ("redis", "rediss", "unix"):
                raise ValueError("not a Redis URL")
            urlsplit(url).port  # noqa: B018 - raises ValueError for a port that is not one
        except (ValueError, TypeError, AttributeError):
            raise ConfigurationError(
                "url must be a redis://, rediss:// or unix:// URL with a valid port"
            ) from None
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
        if isinstance(socket_timeout, bool) or not (
            isinstance(socket_timeout, int | float) and 0 < socket_timeout < math.inf
        ):
            raise ConfigurationError(f"socket_timeout must be positive, got {socket_timeout!r}")
        self.key = key
        self.margin: float = float(margin)
        self.on_redis_error = on_redis_error
        self.socket_timeout: float = float(socket_timeout)
        self._url = url
        self._keys = [f"{{{key}}}:tat", f"{{{key}}}:pause_until", f"{{{key}}}:log"]
        # Half the margin absorbs a late wake-up, half the network's jitter.
        self._late_limit = self.margin / 2 if self.margin > 0 else math.inf
        window = time_period + self.margin
        interval = window / max_rate
        # A window log is needed when a burst, or a fractional rate, could fit more
        # than max_rate slots in one window; whole rates evenly spaced never can.
        window_n = math.floor(max_rate)
        needs_log = burst > 1 or window_n != max_rate
        self._args: list[float | int] = [
            interval * 1e6,
            (burst - 1) * interval * 1e6,
            max(window_n, 1) if needs_log else 0,
            window * 1e6,
        ]
        self._redis: Redis | None = None
        self._script: AsyncScript | None = None
        self._loaded = False
        self._clock = _RedisClock()
        self._errors: tuple[type[BaseException], ...] = ()
        # The pause, in time.monotonic() seconds: what was asked, and what Redis has.
        self._pause_deadline = 0.0
        self._pause_written = 0.0
        self._pause_task: asyncio.Task[None] | None = None
        # Resolved by pause() to wake this process's sleepers, whose slot may now
        # fall inside the pause: they give it up and reserve a new one.
        self._pause_signal: asyncio.Future[None] | None = None
        self._fallback: LocalLimiter | None = None
        self._retry_redis_at = 0.0
        self._probing = False
        self._closed = False

    def __repr__(self) -> str:
        mode = "closed" if self._closed else "local fallback" if self._fallback else "redis"
        return (
            f"<RedisRateLimit {_redact(self._url)} key={self.key!r} "
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
    def using_fallback(self) -> bool:
        """True while Redis is unreachable and the local limiter is in use."""
        return self._fallback is not None

    # --- the Limiter protocol ---------------------------------------------------------

    async def acquire(self) -> None:
        """Wait until one request may be sent, by this and every process sharing the key.

        Reserves the next free slot (after any pause) and sleeps until it. The
        first call connects to Redis.

        Raises:
            RateLimiterUnavailableError: Redis did not answer within ``socket_timeout``
                (only with ``on_redis_error="raise"``).
            ClientClosedError: The limiter was closed.
        """
        loop = asyncio.get_running_loop()
        forfeited = 0
        while True:
            if self._closed:
                raise ClientClosedError("this RedisRateLimit is closed; create a new one")
            fallback = self._fallback
            if fallback is not None:
                if self._probing or time.monotonic() < self._retry_redis_at:
                    await fallback.acquire()
                    return
                # This caller checks whether Redis is back; the others stay local meanwhile.
                self._probing = probing = True
            else:
                probing = False
            if self._pause_signal is None or self._pause_signal.done():
                self._pause_signal = loop.create_future()
            signal = self._pause_signal
            try:
                slot_us = await self._run("acquire")
            except RateLimiterUnavailableError as exc:
                if self.on_redis_error == "raise":
                    raise
                self._use_fallback(exc)
                continue
            finally:
                if probing:
                    self._probing = False
            if fallback is not None:
                logger.info("Redis answers again: rate limit %r is shared again", self.key)
                self._fallback = None
            clock = self._clock
            release_at = clock.local(slot_us)
            wait = release_at - loop.time()
            if wait > 0:
                # Sleep until the reserved slot; a pause() meanwhile forfeits the slot.
                done, _ = await asyncio.wait({signal}, timeout=wait)
                if done:
                    continue
            late = loop.time() - release_at + clock.error(loop.time())
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
        if self._fallback is not None:
            self._fallback.pause(seconds)
        signal = self._pause_signal
        if signal is not None and not signal.done():
            signal.set_result(None)
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
        task, self._pause_task = self._pause_task, None
        if task is not None:
            # Bounded: each write gives up after socket_timeout, and no new pause is
            # taken once closed.
            await task
        client, self._redis, self._script = self._redis, None, None
        if client is not None:
            # aclose() arrived in redis-py 5.0.1; 5.0.0 only has close().
            close = getattr(client, "aclose", None) or client.close
            await close()

    # --- internals ----------------------------------------------------------------------

    def _pending_pause_us(self) -> tuple[int, float]:
        """µs of pause that Redis has not been told of yet, and its deadline."""
        deadline = self._pause_deadline
        if deadline <= self._pause_written:
            return 0, deadline
        return max(math.ceil((deadline - time.monotonic()) * 1e6), 0), deadline

    async def _write_pause(self) -> None:
        # Loops because pause() may extend the deadline while a write is in flight.
        while True:
            pause_us, _ = self._pending_pause_us()
            if pause_us <= 0:
                return
            try:
                await self._run("pause")
            except RateLimiterUnavailableError as exc:
                # Not lost: the next acquire carries it, and the fallback has it.
                logger.debug("could not share the pause through Redis: %s", exc)
                return

    def _connect(self) -> AsyncScript:
        if self._script is not None:
            return self._script
        import redis.asyncio
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        self._redis = client = redis.asyncio.from_url(
            self._url,
            socket_timeout=self.socket_timeout,
            socket_connect_timeout=self.socket_timeout,
            # One immediate retry replaces a pooled connection that a Redis restart
            # closed; redis-py's default (3 retries, backoff up to 10 s) would blow
            # the socket_timeout bound.
            retry=Retry(NoBackoff(), 1),
        )
        self._errors = (redis.RedisError, OSError, asyncio.TimeoutError)
        self._script = client.register_script(_SCRIPT)
        return self._script

    async def _run(self, mode: Literal["acquire", "pause"]) -> int:
        """Run the script once and learn Redis's clock from its answer.

        Returns:
            The reserved slot, in µs of Redis's clock.

        Raises:
            RateLimiterUnavailableError: Any Redis or network error, or no answer
                within socket_timeout.
        """
        loop = asyncio.get_running_loop()
        pause_us, deadline = self._pending_pause_us()
        sent_at = 0.0

        async def call() -> Any:
            nonlocal sent_at
            script = self._connect()
            if not self._loaded:
                # Connect and load the script before the timed call, whose round trip
                # bounds how well this process knows Redis's clock.
                assert self._redis is not None
                await cast("Awaitable[str]", self._redis.script_load(_SCRIPT))
                self._loaded = True
            sent_at = loop.time()
            return await script(keys=self._keys, args=[*self._args, pause_us, mode])

        try:
            now_us, slot_us = await asyncio.wait_for(call(), self.socket_timeout)
        except self._errors as exc:
            self._loaded = False  # a restarted Redis has lost the script and the connection
            what = "did not answer in time" if isinstance(exc, asyncio.TimeoutError) else exc
            raise RateLimiterUnavailableError(
                f"rate limiter {self.key!r}: Redis at {_redact(self._url)} is unavailable: {what}"
            ) from exc
        self._clock.update(sent_at, loop.time(), int(now_us))
        if pause_us > 0:
            self._pause_written = max(self._pause_written, deadline)
        return int(slot_us)

    def _use_fallback(self, exc: RateLimiterUnavailableError) -> None:
        self._retry_redis_at = time.monotonic() + RECHECK_INTERVAL
        if self._fallback is not None:
            return
        logger.warning("%s; limiting this process on its own until it is back", exc)
        fallback = LocalLimiter(self.rate)
        left = self._pause_deadline - time.monotonic()
        if left > 0:
            fallback.pause(left)
        self._fallback = fallback
