"""The link of :mod:`dumgum_async._redis` to Redis: connection, script, clock, pause.

:class:`RedisLink` runs the limiter's Lua script (``data/redis_limiter.lua``) once
per exchange, under ``socket_timeout``, and learns from each answer Redis's clock
(:class:`RedisClock`, NTP-like: as good as the quickest round trip) and the shared
pause. :class:`Breaker` remembers that Redis is unreachable, so that a hung Redis
costs one timeout, not one per request. redis-py is imported only when the first
exchange connects.
"""

from __future__ import annotations

import asyncio
import importlib.resources
import logging
import math
import secrets
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final, Literal, cast

from dumgum_async._redis_url import Credentials
from dumgum_async.exceptions import DumGumError, RateLimiterUnavailableError

if TYPE_CHECKING:
    from redis.asyncio import ConnectionPool, Redis
    from redis.commands.core import AsyncScript

__all__ = ["SCRIPT", "Breaker", "RedisClock", "RedisLink"]

logger: Final = logging.getLogger("dumgum_async")
#: The most a slot is put off for the answer's way back (seconds): one answer that
#: came late (a stalled loop) must not push the next grant far out.
MAX_LEAD: Final = 1.0

#: The script, run atomically by Redis: one GCRA reservation (or a pause sync) per call.
SCRIPT: Final = (
    importlib.resources.files("dumgum_async")
    .joinpath("data/redis_limiter.lua")
    .read_text(encoding="utf-8")
)


class RedisClock:
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


class Breaker:
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

    def abandon_check(self) -> None:
        """Forget a running check that will never report (its event loop ended)."""
        self._checking = False

    def seconds_to_check(self) -> float:
        """Seconds until the next check may start (0 if it may now, or one is running)."""
        return max(self._check_at - self._clock(), 0.0)


def _settle_question(task: asyncio.Task[int]) -> None:
    # A question nobody waits for any more: its failure is recorded (the breaker);
    # retrieving it here keeps asyncio from reporting it.
    if not task.cancelled():
        task.exception()


class RedisLink:
    """One limiter's connection to Redis, and what it knows of Redis and the pause.

    Args:
        key: The limiter's key, for messages.
        where: The URL with its password shown as ``***``, for messages.
        keys: The script's Redis keys.
        grid: The script's first arguments (``Schedule.script_args``).
        options: redis-py connection options, credentials apart.
        credentials: The URL's username and password, or None.
        socket_timeout: Seconds one exchange may take, connection included.
        recheck_interval: Seconds between checks of an unreachable Redis.
        on_redis_error: ``"raise"`` or ``"local"``, for the warning logged.
    """

    def __init__(
        self,
        *,
        key: str,
        where: str,
        keys: list[str],
        grid: list[float | int],
        options: dict[str, Any],
        credentials: Credentials | None,
        socket_timeout: float,
        recheck_interval: float,
        on_redis_error: str,
    ) -> None:
        self.key = key
        self.where = where
        self.socket_timeout = socket_timeout
        self.on_redis_error = on_redis_error
        self._keys = keys
        self._grid = grid
        self._options = options
        self._credentials = credentials
        self.breaker = Breaker(recheck_interval)
        self.clock = RedisClock()
        # How long Redis's answer takes to reach this process, as the clock maps it
        # (from the last answer): the script grants no slot sooner than that after
        # its "now", because an earlier one could only be reached late.
        self.lead = 0.0
        # Since Redis last failed, it may lack slots this process granted or was
        # granted (a restarted Redis has none): every acquire carries them as seeds
        # until one that did returns.
        self.unseeded = False
        self._seed_tag = secrets.token_hex(4)
        self._redis: Redis | None = None
        self._pool: ConnectionPool | None = None
        self._script: AsyncScript | None = None
        self._loaded = False
        self._errors: tuple[type[BaseException], ...] = ()
        # The event loop the connections and tasks below belong to, and the guard
        # that closes the connections inside it when asyncio.run() ends it.
        self._loop: asyncio.AbstractEventLoop | None = None
        self._guard: AsyncGenerator[None, None] | None = None
        # Exchanges in flight, so that the first to fail can end the others at once.
        self._inflight: set[asyncio.Timeout] = set()
        # The pause, in time.monotonic() seconds: what was asked, what Redis has,
        # and what Redis last said (which another process may have set).
        self.pause_deadline = 0.0
        self._pause_written = 0.0
        self._pause_seen = 0.0
        self._pause_task: asyncio.Task[None] | None = None
        self._check_task: asyncio.Task[None] | None = None
        # Sleepers' questions for the shared pause (ask_pause), still running past
        # their slot.
        self._questions: set[asyncio.Task[int]] = set()

    # --- the pause ----------------------------------------------------------------------

    def pause_until(self, loop: asyncio.AbstractEventLoop) -> float:
        """The end of every pause this process knows of, in loop time."""
        left = max(self.pause_deadline, self._pause_seen) - time.monotonic()
        return loop.time() + left if left > 0 else -math.inf

    def _pending_pause_us(self) -> tuple[int, float]:
        """us of pause that Redis has not been told of yet, and its deadline."""
        deadline = self.pause_deadline
        if deadline <= self._pause_written:
            return 0, deadline
        return max(math.ceil((deadline - time.monotonic()) * 1e6), 0), deadline

    def write_pause(self, loop: asyncio.AbstractEventLoop) -> None:
        """Carry the pause to Redis in the background, unless a write is running."""
        self._follow(loop)
        if self._pause_task is None or self._pause_task.done():
            self._pause_task = loop.create_task(self._write_pause())

    async def _write_pause(self) -> None:
        # Loops because pause() may extend the deadline while a write is in flight.
        while not self.breaker.down:
            pause_us, _ = self._pending_pause_us()
            if pause_us <= 0:
                return
            try:
                await self.sync()
            except RateLimiterUnavailableError:
                # Not lost: the check that finds Redis again carries it, and the
                # local schedule honours it meanwhile.
                return

    # --- checks of an unreachable Redis -------------------------------------------------

    def start_check(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start one check in the background if one is due."""
        self._follow(loop)
        if self.breaker.start_check():
            self._check_task = loop.create_task(self._check())

    async def _check(self) -> None:
        # Failure needs nothing here: run() has recorded it and set the next check.
        try:
            await self.sync()
        except RateLimiterUnavailableError:
            return

    def unavailable(self) -> RateLimiterUnavailableError:
        """The error an acquire raises while Redis is known to be unreachable."""
        wait = self.breaker.seconds_to_check()
        when = f"checking again in {wait:.1f} s" if wait > 0 else "checking again now"
        return RateLimiterUnavailableError(
            f"rate limiter {self.key!r}: Redis at {self.where} is unavailable "
            f"({self.breaker.error}); {when}"
        )

    async def aclose(self) -> None:
        """End the checks, the questions and the pause write, then close the connections."""
        self._follow(asyncio.get_running_loop())  # an ended loop's tasks are not awaited
        check, self._check_task = self._check_task, None
        if check is not None and not check.done():
            check.cancel()
        questions = list(self._questions)
        for question in questions:
            question.cancel()
        task, self._pause_task = self._pause_task, None
        tasks: list[asyncio.Future[Any]] = [t for t in (check, task) if t is not None]
        # Bounded: each exchange gives up after socket_timeout, and no new one
        # starts once closed.
        await asyncio.gather(*tasks, *questions, return_exceptions=True)
        guard, self._guard = self._guard, None
        if guard is not None:
            await guard.aclose()  # closes the connections
        await self._disconnect()

    # --- exchanges ----------------------------------------------------------------------

    def _follow(self, loop: asyncio.AbstractEventLoop) -> None:
        """Make ``loop`` the one the connections and tasks belong to.

        A process that runs each task in an ``asyncio.run()`` of its own keeps one
        client, and its limiter, from loop to loop, as the client follows them:
        what the ended loop held (its connections, closed by the guard when
        ``asyncio.run`` ended it; its checks, questions and pause write, cancelled
        with it or never to run again) is dropped, and the next exchange connects
        in this loop. The schedule, the clock and the breaker's state carry over.

        Raises:
            DumGumError: Another event loop using the limiter is still running.
        """
        old = self._loop
        if old is loop:
            return
        if old is not None:
            if not old.is_closed() and old.is_running():
                raise DumGumError(
                    f"rate limiter {self.key!r} is in use by another running event loop; "
                    "create one RedisRateLimit per loop (per thread)"
                )
            # Left unclosed only if that loop ended without asyncio.run's clean-up:
            # they cannot be closed from here.
            self._redis, self._pool, self._script, self._guard = None, None, None, None
            self._loaded = False
            self._inflight.clear()
            self._questions.clear()
            self._pause_task = None
            if self._check_task is not None:
                self._check_task = None
                self.breaker.abandon_check()  # else no check would ever start again
        self._loop = loop

    async def _connections_guard(
        self, loop: asyncio.AbstractEventLoop
    ) -> AsyncGenerator[None, None]:
        # An async generator, as the client's session guard (_lifecycle): asyncio.run()
        # and asyncio.Runner close every one still suspended in their loop before
        # closing the loop, so the connections made in it are closed in it.
        try:
            yield
        finally:
            if self._loop is loop:
                await self._disconnect()

    async def _disconnect(self) -> None:
        client, self._redis, self._script = self._redis, None, None
        pool, self._pool = self._pool, None
        self._loaded = False
        if client is not None:
            # aclose() arrived in redis-py 5.0.1; 5.0.0 only has close().
            close = getattr(client, "aclose", None) or client.close
            await close()
        if pool is not None:
            await pool.disconnect()

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
        self._script = client.register_script(SCRIPT)
        return self._script

    def ask_pause(self, loop: asyncio.AbstractEventLoop) -> asyncio.Task[int]:
        """:meth:`sync` in a task of its own, which :meth:`aclose` ends: a sleeper waits
        for its answer no later than its slot, and may leave it running."""
        question = loop.create_task(self.sync())
        self._questions.add(question)
        question.add_done_callback(_settle_question)
        question.add_done_callback(self._questions.discard)
        return question

    async def sync(self) -> int:
        """Carry any pending pause to Redis and learn the shared one: its end, in us
        of Redis's clock."""
        return int((await self.run("sync", [0, "none", 0, ""], []))[1])

    async def run(
        self, mode: Literal["acquire", "sync"], proposal: list[str | float], seeds: list[float]
    ) -> Any:
        """Run the script once and learn Redis's clock (and pause) from its answer.

        Args:
            mode: ``"acquire"`` (reserve a slot) or ``"sync"`` (the pause only).
            proposal: The adaptive arguments: start, proposal kind, rate, ceiling.
            seeds: Slots (loop time) granted locally that Redis must learn.

        Returns:
            The script's answer: Redis's clock and the reserved slot ("acquire")
            or the pause's end ("sync"), in us of Redis's clock, then the shared
            rate's fields ("acquire").

        Raises:
            RateLimiterUnavailableError: Any Redis or network error, or no answer
                within socket_timeout; Redis is then marked unreachable. Never
                chained: redis-py's frames hold the password (AUTH's arguments).
        """
        loop = asyncio.get_running_loop()
        self._follow(loop)
        pause_us, deadline = self._pending_pause_us()
        sent_at = 0.0
        was_down = self.breaker.down
        failure: str | None = None
        answer: Any = None
        timeout = asyncio.timeout(self.socket_timeout)
        try:
            async with timeout:
                self._inflight.add(timeout)
                try:
                    script = self._connect()
                    if self._guard is None:
                        self._guard = self._connections_guard(loop)
                        await anext(self._guard)  # run it up to its yield
                    if not self._loaded:
                        # Connect and load the script before the timed call, whose
                        # round trip bounds how well this process knows Redis's clock.
                        assert self._redis is not None
                        loading_at = loop.time()
                        await cast("Awaitable[str]", self._redis.script_load(SCRIPT))
                        self._loaded = True
                        if self.clock.error(loop.time()) == math.inf:
                            # No answer of the script yet: half this round trip is
                            # the first guess at the way back.
                            self.lead = (loop.time() - loading_at) / 2
                    sent_at = loop.time()
                    lead_us = round(min(self.lead, MAX_LEAD) * 1e6) if mode == "acquire" else 0
                    args: list[Any] = [*self._grid, pause_us, mode, *proposal, lead_us]
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
            failure = self._describe(exc, ended_by_other=not was_down and self.breaker.down)
        if failure is not None:
            self._failed(failure)
            # Raised here, outside the except clause, so that redis-py's exception
            # is not even the __context__.
            raise RateLimiterUnavailableError(
                f"rate limiter {self.key!r}: Redis at {self.where} is unavailable: {failure}"
            )
        answered_at = loop.time()
        now_us, value_us = int(answer[0]), int(answer[1])
        self.clock.update(sent_at, answered_at, now_us)
        self.lead = max(answered_at - self.clock.local(now_us), 0.0)
        if pause_us > 0:
            self._pause_written = max(self._pause_written, deadline)
        if mode == "sync":
            left = (value_us - now_us) / 1e6
            if left > 0:
                self._pause_seen = max(self._pause_seen, time.monotonic() + left)
        if self.breaker.succeeded():
            logger.info("Redis answers again: rate limit %r is shared again", self.key)
        return answer

    def _describe(self, exc: BaseException, *, ended_by_other: bool) -> str:
        if ended_by_other:
            return self.breaker.error
        if isinstance(exc, TimeoutError) or type(exc).__name__ == "TimeoutError":
            return f"did not answer in time ({self.socket_timeout:g} s)"
        text = f"{type(exc).__name__}: {exc}"
        return self._credentials.scrub(text) if self._credentials is not None else text

    def _failed(self, error: str) -> None:
        self._loaded = False  # a restarted Redis has lost the script and the connection
        self.unseeded = True
        if not self.breaker.failed(error):
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
                self.where,
                error,
            )
        else:
            logger.warning(
                "rate limiter %r: Redis at %s is unavailable (%s); acquire fails at once "
                "until it answers again",
                self.key,
                self.where,
                error,
            )
