"""The shared coarse timer (``_timer``): its sweep on a fake clock, then end to end.

The unit tests run a real event loop whose clock is the test's (``FakeClockLoop``):
time moves only when a test moves it, so every instant is exact and nothing waits.
The end-to-end tests time real requests out against a stalling server on 127.0.0.1,
in the same loop, so server and client read one clock.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import dumgum_async as dg
from dumgum_async._timer import TICK, CoarseTimer, TimerScope, _slot
from dumgum_async.testing import FakeDumGumServer
from tests.helpers.bodies import minimal_request
from tests.helpers.constants import API_KEY as KEY
from tests.helpers.hostile_server import HostileServer, hostile_server

#: Wall-clock slack for the end-to-end tests: a busy 2-core machine.
MARGIN = 1.0


# --- a loop on the test's clock -------------------------------------------------------


class FakeClockLoop(asyncio.SelectorEventLoop):
    """An event loop whose ``time()`` is :attr:`now`, and which records its timers."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 1000.0
        self.timers: list[tuple[float, asyncio.TimerHandle]] = []

    def time(self) -> float:
        return self.now

    def call_at(  # type: ignore[override]  # the stubs' TypeVarTuple form, loosened
        self, when: float, callback: Any, *args: Any, context: Any = None
    ) -> asyncio.TimerHandle:
        handle = super().call_at(when, callback, *args, context=context)
        if getattr(callback, "__func__", None) is CoarseTimer._tick:
            self.timers.append((when, handle))
        return handle

    def live_timers(self) -> list[float]:
        """When the timer's handles still to run are due."""
        return [when for when, handle in self.timers if not handle.cancelled() and when > self.now]


def on_fake_clock(test: Callable[[FakeClockLoop], Coroutine[Any, Any, None]]) -> None:
    loop = FakeClockLoop()
    try:
        loop.run_until_complete(test(loop))
        assert not asyncio.all_tasks(loop)
    finally:
        left = asyncio.all_tasks(loop)  # after a failure: end them, then the loop
        for task in left:
            task.cancel()
        if left:
            loop.run_until_complete(asyncio.wait(left))
        loop.close()


async def settle() -> None:
    """Let every callback and task that is ready run (the clock stands still)."""
    for _ in range(10):
        await asyncio.sleep(0)


class Blocked:
    """A task waiting forever inside ``with deadline:``; what left the block, once done."""

    def __init__(self, deadline: TimerScope) -> None:
        self.deadline = deadline
        self.task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        with self.deadline:
            await asyncio.get_running_loop().create_future()

    def outcome(self) -> type[BaseException] | None:
        assert self.task.done()
        if self.task.cancelled():
            return asyncio.CancelledError
        error = self.task.exception()
        return None if error is None else type(error)


async def blocked(timer: CoarseTimer, when: float) -> Blocked:
    """A :class:`Blocked` task, entered into its block."""
    held = Blocked(timer.at(when))
    await settle()
    return held


# --- when a deadline fires ------------------------------------------------------------


def test_a_deadline_does_not_fire_before_its_time() -> None:
    async def scenario(loop: FakeClockLoop) -> None:
        timer = CoarseTimer(loop)
        held = await blocked(timer, loop.now + 0.5)
        loop.now += 0.5 - 1e-6
        await settle()
        assert not held.task.done()
        held.task.cancel()
        await settle()

    on_fake_clock(scenario)


def test_a_deadline_fires_within_one_tick_of_its_time() -> None:
    async def scenario(loop: FakeClockLoop) -> None:
        timer = CoarseTimer(loop)
        held = await blocked(timer, loop.now + 0.5)
        loop.now += 0.5 + TICK
        await settle()
        assert held.outcome() is TimeoutError
        assert held.deadline.expired()

    on_fake_clock(scenario)


def test_a_sweep_that_runs_early_fires_nothing_before_its_time() -> None:
    async def scenario(loop: FakeClockLoop) -> None:
        timer = CoarseTimer(loop)
        held = await blocked(timer, 1000.505)
        [(due, handle)] = loop.timers
        # A loop may run a handle before its time (asyncio: by its clock resolution).
        handle.cancel()
        loop.now = 1000.504
        timer._tick()
        await settle()
        assert not held.task.done()
        loop.now = due
        await settle()
        assert held.outcome() is TimeoutError

    on_fake_clock(scenario)


@given(st.floats(min_value=0.0, max_value=1e9))
def test_every_deadline_is_filed_in_a_slot_ending_within_a_tick_after_it(when: float) -> None:
    end = _slot(when) * TICK
    assert when <= end <= when + TICK * (1 + 1e-9)


def test_a_deadline_already_past_fires_at_the_first_await() -> None:
    async def scenario(loop: FakeClockLoop) -> None:
        timer = CoarseTimer(loop)
        held = await blocked(timer, loop.now - 1.0)
        await settle()
        assert held.outcome() is TimeoutError

    on_fake_clock(scenario)


def test_a_block_past_its_deadline_that_awaits_nothing_leaves_no_cancel_behind() -> None:
    async def scenario(loop: FakeClockLoop) -> None:
        timer = CoarseTimer(loop)
        with timer.at(loop.now - 1.0) as deadline:
            pass
        await asyncio.sleep(0)  # would raise CancelledError if a cancel were left
        assert not deadline.expired()
        assert loop.live_timers() == []

    on_fake_clock(scenario)


# --- one handle for all ---------------------------------------------------------------


def test_deadlines_in_flight_share_one_handle() -> None:
    async def scenario(loop: FakeClockLoop) -> None:
        timer = CoarseTimer(loop)
        held = [await blocked(timer, loop.now + 1.0 + i * 0.003) for i in range(100)]
        assert len(loop.timers) == 1
        for each in held:
            each.task.cancel()
        await settle()

    on_fake_clock(scenario)


def test_a_sweep_schedules_the_next_deadline_skipping_emptied_slots() -> None:
    async def scenario(loop: FakeClockLoop) -> None:
        timer = CoarseTimer(loop)
        first = await blocked(timer, 1001.0)
        second = await blocked(timer, 1002.0)
        third = await blocked(timer, 1003.0)
        second.task.cancel()
        await settle()
        loop.now = 1001.0 + TICK
        await settle()
        assert first.outcome() is TimeoutError
        [due] = loop.live_timers()
        assert 1003.0 <= due <= 1003.0 + TICK
        third.task.cancel()
        await settle()

    on_fake_clock(scenario)


def test_an_earlier_deadline_moves_the_handle_forward() -> None:
    async def scenario(loop: FakeClockLoop) -> None:
        timer = CoarseTimer(loop)
        late = await blocked(timer, 1005.0)
        early = await blocked(timer, 1001.0)
        [due] = loop.live_timers()
        assert 1001.0 <= due <= 1001.0 + TICK
        loop.now = due
        await settle()
        assert early.outcome() is TimeoutError
        assert not late.task.done()
        late.task.cancel()
        await settle()

    on_fake_clock(scenario)


def test_no_handle_is_scheduled_once_nothing_is_armed() -> None:
    async def scenario(loop: FakeClockLoop) -> None:
        timer = CoarseTimer(loop)
        held = [await blocked(timer, loop.now + 1.0) for _ in range(3)]
        with timer.at(loop.now + 0.5):
            await asyncio.sleep(0)
        for each in held:
            each.task.cancel()
        await settle()
        assert (timer.armed, timer.scheduled, loop.live_timers()) == (0, False, [])

    on_fake_clock(scenario)


def test_no_handle_is_scheduled_after_the_last_deadline_fired() -> None:
    async def scenario(loop: FakeClockLoop) -> None:
        timer = CoarseTimer(loop)
        await blocked(timer, loop.now + 1.0)
        loop.now += 1.0 + TICK
        await settle()
        assert (timer.armed, timer.scheduled, loop.live_timers()) == (0, False, [])

    on_fake_clock(scenario)


# --- whose cancellation it is ---------------------------------------------------------


def test_a_callers_cancel_inside_the_block_propagates() -> None:
    async def scenario(loop: FakeClockLoop) -> None:
        timer = CoarseTimer(loop)
        held = await blocked(timer, loop.now + 1.0)
        held.task.cancel()
        await settle()
        assert held.outcome() is asyncio.CancelledError
        assert not held.deadline.expired()

    on_fake_clock(scenario)


@pytest.mark.parametrize("caller_first", [True, False])
def test_a_callers_cancel_racing_the_sweep_is_never_swallowed(caller_first: bool) -> None:
    async def scenario(loop: FakeClockLoop) -> None:
        timer = CoarseTimer(loop)
        held = await blocked(timer, loop.now + 1.0)
        [due] = loop.live_timers()
        loop.now = due
        # Both cancels land in one iteration of the loop, before the task runs again.
        if caller_first:
            loop.call_soon(held.task.cancel)
        else:
            loop.call_at(due, held.task.cancel)  # queued after the sweep's handle
        await settle()
        assert held.deadline.expired()  # both cancelled it
        assert held.outcome() is asyncio.CancelledError

    on_fake_clock(scenario)


def test_an_inner_deadline_that_fires_leaves_the_outer_asyncio_timeout_unexpired() -> None:
    async def scenario(loop: FakeClockLoop) -> None:
        timer = CoarseTimer(loop)
        outer = asyncio.timeout_at(loop.now + 5.0)

        async def attempt() -> None:
            async with outer:
                with timer.at(loop.now + 1.0):
                    await loop.create_future()

        task = asyncio.ensure_future(attempt())
        await settle()
        loop.now += 1.0 + TICK
        await settle()
        assert isinstance(task.exception(), TimeoutError)
        assert not outer.expired()
        assert task.cancelling() == 0

    on_fake_clock(scenario)


def test_an_outer_asyncio_timeout_that_fires_is_the_outers_not_the_inner_deadlines() -> None:
    async def scenario(loop: FakeClockLoop) -> None:
        timer = CoarseTimer(loop)
        outer = asyncio.timeout_at(loop.now + 1.0)
        inner = timer.at(loop.now + 5.0)

        async def attempt() -> None:
            with contextlib.suppress(TimeoutError):
                async with outer:
                    with inner:
                        await loop.create_future()

        task = asyncio.ensure_future(attempt())
        await settle()
        loop.now += 1.0
        await settle()
        assert task.done()
        assert task.exception() is None
        assert outer.expired()
        assert not inner.expired()
        assert (timer.armed, timer.scheduled) == (0, False)

    on_fake_clock(scenario)


def test_an_outer_deadline_fires_through_an_unexpired_inner_one() -> None:
    async def scenario(loop: FakeClockLoop) -> None:
        timer = CoarseTimer(loop)
        outer, inner = timer.at(loop.now + 1.0), timer.at(loop.now + 5.0)

        async def attempt() -> str:
            try:
                with outer, inner:
                    await loop.create_future()
            except TimeoutError:
                return "outer timed out"
            return "no timeout"

        task = asyncio.ensure_future(attempt())
        await settle()
        loop.now += 1.0 + TICK
        await settle()
        assert task.result() == "outer timed out"
        assert outer.expired()
        assert not inner.expired()

    on_fake_clock(scenario)


# --- misuse ---------------------------------------------------------------------------


def test_a_deadline_cannot_be_entered_twice() -> None:
    async def scenario(loop: FakeClockLoop) -> None:
        deadline = CoarseTimer(loop).at(loop.now + 1.0)
        with deadline:
            pass
        with pytest.raises(RuntimeError, match="only once"):
            deadline.__enter__()

    on_fake_clock(scenario)


def test_a_deadline_must_be_entered_in_a_task_of_its_loop() -> None:
    loop = FakeClockLoop()
    try:
        with pytest.raises(RuntimeError, match="inside a task"):
            CoarseTimer(loop).at(0.0).__enter__()
    finally:
        loop.close()


# --- end to end: a client against a server that never answers -------------------------


class Stall:
    """A server that reads each request and never answers; it notes, on the loop's
    clock, when each request arrived and when the client closed its connection."""

    def __init__(self) -> None:
        self.received: list[float] = []
        self.closed: list[float] = []
        self._noted = asyncio.Event()

    async def until(self, condition: Callable[[], object]) -> None:
        """Wait (10 s at most) until ``condition()`` holds of what the server saw."""
        async with asyncio.timeout(10):
            while not condition():
                self._noted.clear()
                await self._noted.wait()

    async def __call__(
        self, server: HostileServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        loop = asyncio.get_running_loop()
        await server.read_request(reader)
        self.received.append(loop.time())
        self._noted.set()
        await reader.read()  # b"" once the client has closed the connection
        self.closed.append(loop.time())
        self._noted.set()


class TickProbe:
    """Counts the handles the running loop is given: the shared timer's, and aiohttp's
    per-request ``TimeoutHandle``\\ s (there must be none)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.ticks: list[asyncio.TimerHandle] = []
        self.ran = 0
        self.aiohttp_timers = 0
        self._call_at = loop.call_at

    def call_at(self, when: float, callback: Any, *args: Any, context: Any = None) -> Any:
        owner = getattr(callback, "__self__", None)
        if type(owner).__name__ == "TimeoutHandle":
            self.aiohttp_timers += 1
        if isinstance(owner, CoarseTimer):

            def tick() -> None:
                self.ran += 1
                callback()

            handle = self._call_at(when, tick, context=context)
            self.ticks.append(handle)
            return handle
        return self._call_at(when, callback, *args, context=context)

    def live(self) -> int:
        """Handles of the timer's neither cancelled nor run: what would wake the loop."""
        return sum(not h.cancelled() for h in self.ticks) - self.ran


@pytest.fixture
async def probe(monkeypatch: pytest.MonkeyPatch) -> TickProbe:
    loop = asyncio.get_running_loop()
    spy = TickProbe(loop)
    monkeypatch.setattr(loop, "call_at", spy.call_at)
    return spy


@contextlib.asynccontextmanager
async def stalled(**options: Any) -> AsyncIterator[tuple[Stall, dg.DumGumClient]]:
    stall = Stall()
    options.setdefault("retry", None)
    async with (
        hostile_server(stall) as server,
        dg.DumGumClient(
            api_key=KEY,
            base_url=f"http://127.0.0.1:{server.port}",
            allow_insecure_http=True,
            **options,
        ) as client,
    ):
        yield stall, client


async def test_a_stalled_request_times_out_not_before_its_timeout_as_the_server_sees_it(
    probe: TickProbe,
) -> None:
    loop = asyncio.get_running_loop()
    async with stalled(timeout=0.3) as (stall, client):
        started = loop.time()
        with pytest.raises(dg.APITimeoutError, match=r"no response within 0\.3 s"):
            await client.suggest(minimal_request())
        ended = loop.time()
        await stall.until(lambda: stall.closed)
    [closed] = stall.closed
    assert closed >= started + 0.3
    assert ended - started < 0.3 + TICK + MARGIN


async def test_concurrent_stalled_requests_each_time_out_in_their_window(probe: TickProbe) -> None:
    loop = asyncio.get_running_loop()
    timeouts = [0.2 + i * 0.01 for i in range(20)]
    async with stalled(timeout=5.0, max_concurrency=20) as (_, client):

        async def one(timeout: float) -> float:
            started = loop.time()
            with pytest.raises(dg.APITimeoutError):
                await client.suggest(minimal_request(), timeout=timeout)
            return loop.time() - started

        took = await asyncio.gather(*(one(t) for t in timeouts))
    for timeout, elapsed in zip(timeouts, took, strict=True):
        assert timeout <= elapsed < timeout + TICK + MARGIN


async def test_many_requests_in_flight_share_one_timer_handle_and_no_aiohttp_timer(
    probe: TickProbe,
) -> None:
    async with stalled(timeout=2.0, max_concurrency=50) as (stall, client):
        calls = [asyncio.ensure_future(client.suggest(minimal_request())) for _ in range(50)]
        await stall.until(lambda: len(stall.received) == 50)
        assert (len(probe.ticks), probe.live(), probe.aiohttp_timers) == (1, 1, 0)
        for call in calls:
            call.cancel()
        await asyncio.gather(*calls, return_exceptions=True)


async def test_a_callers_cancel_during_a_timed_attempt_propagates(probe: TickProbe) -> None:
    async with stalled(timeout=5.0) as (stall, client):
        call = asyncio.ensure_future(client.suggest(minimal_request()))
        await stall.until(lambda: stall.received)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        assert probe.live() == 0


async def test_a_callers_own_shorter_timeout_is_the_callers(probe: TickProbe) -> None:
    async with stalled(timeout=5.0) as (_, client):
        with pytest.raises(TimeoutError) as info:
            async with asyncio.timeout(0.2):
                await client.suggest(minimal_request())
    assert not isinstance(info.value, dg.APITimeoutError)
    assert probe.live() == 0


async def test_the_calls_deadline_cuts_the_attempts_timeout(probe: TickProbe) -> None:
    loop = asyncio.get_running_loop()
    policy = dg.RetryPolicy(deadline=0.3, budget=None)
    async with stalled(timeout=5.0, retry=policy) as (stall, client):
        started = loop.time()
        with pytest.raises(dg.APITimeoutError, match="deadline passed while waiting for the resp"):
            await client.suggest(minimal_request())
        took = loop.time() - started
    assert 0.3 <= took < 0.3 + TICK + MARGIN
    assert len(stall.received) == 1


async def test_no_timer_handle_is_left_once_the_client_is_idle(probe: TickProbe) -> None:
    async with stalled(timeout=0.2) as (_, client):
        for _ in range(2):
            with pytest.raises(dg.APITimeoutError):
                await client.suggest(minimal_request())
            assert probe.live() == 0


async def test_no_timer_handle_is_left_after_an_answered_request(probe: TickProbe) -> None:
    async with (
        FakeDumGumServer(api_key=KEY) as fake,
        dg.DumGumClient(api_key=KEY, base_url=fake.url, timeout=5.0) as client,
    ):
        await client.suggest(minimal_request())
        assert (len(probe.ticks), probe.live()) == (1, 0)


async def test_no_timer_handle_is_left_by_a_call_the_closing_client_cancelled(
    probe: TickProbe,
) -> None:
    async with stalled(timeout=5.0) as (stall, client):
        call = asyncio.ensure_future(client.suggest(minimal_request()))
        await stall.until(lambda: stall.received)
        await client.aclose()
        with pytest.raises(dg.ClientClosedError):
            await call
    assert probe.live() == 0


async def test_a_timeout_of_any_finite_length_is_accepted() -> None:
    # Timeout validates "positive and finite"; the timer's slot number for 1e307 s
    # overflowed (OverflowError, which is no DumGumError).
    async with (
        FakeDumGumServer() as server,
        dg.DumGumClient(api_key=server.api_key, base_url=server.url, timeout=1e307) as client,
    ):
        result = await client.suggest(minimal_request())
    assert result.suggestions
