"""One rate limit shared by many processes and machines, kept in Redis.

:class:`RedisRateLimit` satisfies the :class:`~dumgum_async._throttle.Limiter`
protocol, so any number of clients, in any number of processes on any number of
machines, pass it as ``rate_limit=`` and share one budget and one pause::

    limiter = RedisRateLimit("redis://cache:6379/0", key="dumgum:prod", max_rate=20)
    async with limiter, DumGumClient(rate_limit=limiter) as client:
        ...

Only the ``_redis*`` modules import ``redis`` (``pip install 'dumgum-async[redis]'``),
and only when a limiter is created: ``import dumgum_async`` never needs it. This one
is the limiter's policy (reserve, sleep, give a slot up, pause, fall back); the
others are its parts: ``_redis_link`` (the connection, the script's exchanges,
Redis's clock, whether Redis is down, the shared pause), ``_redis_local`` (the
schedule this process keeps, its fallback), ``_redis_adaptive`` (the adaptive
shared rate), ``_redis_url`` (the URL and its password), and the Lua script itself,
``data/redis_limiter.lua``.

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

The algorithm, per acquire: ``slot = max(now + lead, tat - (burst - 1) * interval,
pause_until, oldest of the last max_rate slots + window)``, then ``tat = max(tat,
slot) + interval`` (``lead``: the answer's way back); the slot is returned in Redis
time and the caller sleeps until it, mapped onto its own loop clock
(``_redis_link.RedisClock``).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from typing import Any, Final, Literal, Unpack

from dumgum_async._config import (
    DEFAULT_ADAPTIVE_MAX_RATE,
    DEFAULT_ADAPTIVE_MIN_RATE,
    DEFAULT_ADAPTIVE_START,
    DEFAULT_REDIS_MARGIN,
    DEFAULT_REDIS_RECHECK_INTERVAL,
    DEFAULT_REDIS_SOCKET_TIMEOUT,
    AdaptiveRateLimit,
    RateLimit,
)
from dumgum_async._redis_adaptive import NO_PROPOSAL, SharedRate
from dumgum_async._redis_link import RedisLink
from dumgum_async._redis_local import Schedule
from dumgum_async._redis_url import (
    Credentials,
    SecretURL,
    SharingOptions,
    check_limiter_options,
    refuse_unknown_sharing_options,
)
from dumgum_async.exceptions import (
    ClientClosedError,
    ConfigurationError,
    RateLimiterUnavailableError,
)

__all__ = ["RedisRateLimit"]

logger: Final = logging.getLogger("dumgum_async")

#: Slots one acquire may give up for being woken too late, before it goes anyway.
_MAX_FORFEITS: Final = 3
#: Seconds before its slot that a caller that slept asks Redis whether another
#: process paused meanwhile: ahead of the slot, so that the round trip does not
#: make it late; a pause set in this last sliver is missed.
_CHECK_LEAD: Final = 0.02


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
    event loop was busy) gives the slot up and queues again, at most 3 times
    (then it goes, late: a slow machine still makes progress). No slot comes sooner
    than Redis's answer can reach the caller, so a distant Redis does not make a
    grant late; but lateness counts the clock's error (half the quickest round
    trip): raise ``margin`` above a longer round trip to Redis.
    What comes after its return is not measured: the client's way to the socket, a
    stalled process, the network and the API's own stamp. Unlike the in-process
    limiter, which re-stamps each release when its request is written, a slot
    reserved in Redis has already been counted by the other processes and cannot be
    moved; so a request held up there by more than ``margin / 2`` can be the
    ``max_rate + 1``-th in the API's window (one 429, then the retry). Raise
    ``margin`` when the API is far away or the workers' machines are loaded (their
    delays are larger).

    A caller cancelled while it waits (a deadline, say) loses its slot: slots are
    never handed back, so the limit errs on the safe side. If Redis's clock is
    stepped back, slots already reserved come that much later.

    Create it anywhere; it connects on first use, inside the running loop. Like the
    client, it may be used from one loop after another (``asyncio.run()`` per task):
    the connections of a loop are closed when ``asyncio.run`` ends it, and the next
    loop connects anew, with the same schedule; two loops running at once may not
    share it (a ``DumGumError``). Close it with :meth:`aclose` (or ``async with``);
    the clients using it do not close it.

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
            default (0.02) costs 2% of the throughput of a one-second window.
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
        margin: float = DEFAULT_REDIS_MARGIN,
        on_redis_error: Literal["raise", "local"] = "raise",
        socket_timeout: float = DEFAULT_REDIS_SOCKET_TIMEOUT,
        recheck_interval: float = DEFAULT_REDIS_RECHECK_INTERVAL,
    ) -> None:
        # From here on the URL lives only in the wrapper: a traceback of any error
        # raised below, frame locals included, cannot show the password.
        secret = SecretURL(url)
        del url
        credentials: Credentials | None = None
        try:
            where = secret.shown()
            self._where = where
            try:
                import redis  # noqa: F401 - only to fail here, early, with the fix in the message
            except ImportError as exc:
                raise ImportError(
                    "RedisRateLimit needs the redis package: pip install 'dumgum-async[redis]'"
                ) from exc
            options, credentials, problem = secret.parse()
            if problem is not None:
                raise ConfigurationError(problem)
            self.rate: RateLimit = RateLimit(
                max_rate, time_period, burst=burst
            )  # validates all three
            check_limiter_options(
                key, margin, time_period, on_redis_error, socket_timeout, recheck_interval
            )
            self.key = key
            self.margin: float = float(margin)
            self.on_redis_error = on_redis_error
            self.socket_timeout: float = float(socket_timeout)
            # Half the margin absorbs a late wake-up, half the network's jitter.
            self._late_limit = self.margin / 2 if self.margin > 0 else math.inf
            self._schedule = Schedule.for_rate(max_rate, time_period, burst, self.margin)
            self._link = RedisLink(
                key=key,
                where=where,
                keys=[
                    f"{{{key}}}:tat",
                    f"{{{key}}}:pause_until",
                    f"{{{key}}}:log",
                    f"{{{key}}}:rate",
                ],
                grid=self._schedule.script_args(),
                options=options,
                credentials=credentials,
                socket_timeout=self.socket_timeout,
                recheck_interval=float(recheck_interval),
                on_redis_error=on_redis_error,
            )
            self._breaker = self._link.breaker
            # Resolved by pause() to wake this process's sleepers, whose slot may now
            # fall inside the pause: they give it up and reserve a new one.
            self._pause_signal: asyncio.Future[None] | None = None
            self._closed = False
            #: The adaptive rate's bounds, or None for a fixed rate (see :meth:`adaptive`).
            self.adaptive_config: AdaptiveRateLimit | None = None
            # This process's share of the adaptive rate, or None for a fixed rate.
            self._shared: SharedRate | None = None
        except BaseException:
            # An error tracker walks the frames of an error, and this one's locals
            # hold the password (in the wrapper and the credentials): let them go.
            del secret, credentials
            raise

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
        **options: Unpack[SharingOptions],
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
            **options: ``margin``, ``on_redis_error``, ``socket_timeout`` and
                ``recheck_interval``, with the defaults and meaning they have for
                :class:`RedisRateLimit`.

        Raises:
            ConfigurationError: A value out of range, or not ``min_rate <= start <=
                max_rate``, or a bad URL.
            ImportError: The ``redis`` package is not installed.
        """
        # As in __init__: no local of this frame may hold the URL once an error
        # leaves it (error trackers capture frame locals; the password is in it).
        try:
            refuse_unknown_sharing_options(options)
            config = AdaptiveRateLimit(
                min_rate=min_rate, max_rate=max_rate, start=start, time_period=time_period
            )
            self = cls(
                url, key=key, max_rate=config.start, time_period=config.time_period, **options
            )
        finally:
            del url
        self.adaptive_config = config
        self._shared = shared = SharedRate(config)
        self._set_rate(shared.controller.rate)
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

    async def __aexit__(self, *exc_info: object) -> None:
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
        ceiling = None if self._shared is None else self._shared.controller.ceiling
        return None if ceiling is None else ceiling / self.rate.time_period

    def observe(self, status: int, retry_after: float | None) -> None:
        """An HTTP attempt got ``status`` (with the ``Retry-After`` of a 429).

        Adaptive only (a no-op for a fixed rate): the controller's cut or rise is
        proposed to Redis with the next acquire; while Redis is unreachable a cut
        applies to this process's fallback at once.
        """
        shared = self._shared
        if shared is None or not shared.observe(status, retry_after):
            return
        if self._breaker.down and shared.controller.rate < self.rate.max_rate:
            self._set_rate(shared.controller.rate)

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
            signal = self._pause_signal
            # A new one in a new loop too: the last loop's (asyncio.run() per task)
            # cannot be awaited here.
            if signal is None or signal.done() or signal.get_loop() is not loop:
                signal = self._pause_signal = loop.create_future()
            slot_us: int | None = None
            if self._breaker.down:
                self._link.start_check(loop)
                if self.on_redis_error == "raise":
                    raise self._link.unavailable()
                release_at = self._schedule.reserve(loop.time(), self._link.pause_until(loop))
            else:
                try:
                    slot_us = await self._run_acquire()
                except RateLimiterUnavailableError:
                    if self.on_redis_error == "raise":
                        raise
                    continue  # Redis is marked down: the local schedule takes over
                release_at = self._link.clock.local(slot_us)
                self._schedule.note(release_at)
            if not await self._sleep_until(loop, release_at, signal, slot_us):
                continue  # a pause came: queue again behind it
            late = loop.time() - release_at
            if slot_us is not None:
                late += self._link.clock.error(loop.time())
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
        if deadline <= self._link.pause_deadline:
            return
        self._link.pause_deadline = deadline
        signal = self._pause_signal
        if signal is not None and not signal.done() and not signal.get_loop().is_closed():
            signal.set_result(None)  # (a closed loop's has no sleeper left to wake)
        if self._breaker.down:
            return  # the next check carries it to Redis
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # called outside the loop: the next acquire writes it
            return
        self._link.write_pause(loop)

    async def aclose(self) -> None:
        """Deliver a pending pause, then close the connections; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        await self._link.aclose()

    # --- internals ----------------------------------------------------------------------

    def _set_rate(self, rate: float) -> None:
        """Make ``rate`` (per window) this process's rate: for ``repr`` and stats, and
        for the local schedule, which Redis's loss hands the last shared rate to."""
        self.rate = RateLimit(rate, self.rate.time_period)
        self._schedule.set_rate(rate)

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
                question = self._link.ask_pause(loop)
                left = max(release_at - loop.time(), 0.0)
                either: set[asyncio.Future[Any]] = {signal, question}
                await asyncio.wait(either, timeout=left)
                if signal.done():
                    return False
                if question.done() and not question.cancelled() and not question.exception():
                    pause_until_us = question.result()
                    if pause_until_us > slot_us:
                        return False  # another process paused everyone meanwhile
            wait = release_at - loop.time()
            if wait <= 0:
                return True
        done, _ = await asyncio.wait({signal}, timeout=wait)
        return not done

    async def _run_acquire(self) -> int:
        """Reserve a slot in Redis, with any seeds; return it in us of Redis's clock."""
        link, shared = self._link, self._shared
        seeded, version = link.unseeded, self._schedule.version
        seeds = self._schedule.recent(asyncio.get_running_loop().time()) if seeded else []
        proposal = NO_PROPOSAL if shared is None else shared.proposal()
        answer = await link.run("acquire", proposal, seeds)
        if shared is not None:
            rate = shared.adopt(answer, sent_cut=proposal[1] == "cut")
            if rate is not None and rate != self.rate.max_rate:
                self._set_rate(rate)
        if seeded and self._schedule.version == version:
            link.unseeded = False  # no local grant since the seeds were taken
        return int(answer[1])
