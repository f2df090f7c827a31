"""RedisRateLimit.adaptive against a real redis-server: one adaptive rate for all workers."""

from __future__ import annotations

import asyncio
import inspect
import json
import typing
from collections.abc import Awaitable
from pathlib import Path
from typing import TYPE_CHECKING, cast

import pytest

import dumgum_async as dg
from dumgum_async._redis import RedisRateLimit
from dumgum_async.exceptions import ConfigurationError
from dumgum_async.testing import FakeDumGumServer, ServerRateLimit
from tests.helpers.bodies import minimal_request
from tests.helpers.redis_server import RedisServer
from tests.helpers.redis_server import new_key as _key
from tests.helpers.windows import max_in_window as _max_in_window

if TYPE_CHECKING:
    from redis.asyncio import Redis

KEY = "redis-adaptive-test-key"


class _FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _stored_rate(client: Redis, key: str) -> float:
    raw = await cast("Awaitable[bytes | None]", client.hget(f"{{{key}}}:rate", "rate"))
    assert raw is not None
    return float(raw)


async def test_workers_on_one_key_settle_on_one_rate_under_a_hidden_limit(
    redis_server: RedisServer,
) -> None:
    key, limit = _key(), 30
    workers = 3
    policy = dg.RetryPolicy(initial_backoff=0.01, budget=None)
    async with FakeDumGumServer(api_key=KEY, rate_limit=ServerRateLimit(max_rate=limit)) as fake:
        limiters = [
            RedisRateLimit.adaptive(redis_server.url, key=key, min_rate=1, max_rate=200, start=10)
            for _ in range(workers)
        ]
        clients = [
            dg.DumGumClient(api_key=KEY, base_url=fake.url, rate_limit=lim, retry=policy)
            for lim in limiters
        ]
        try:
            loop = asyncio.get_running_loop()
            stop = loop.time() + 7.0

            async def work(client: dg.DumGumClient) -> None:
                while loop.time() < stop:
                    await client.suggest(minimal_request())

            async def worker(client: dg.DumGumClient) -> None:
                await asyncio.gather(*(work(client) for _ in range(4)))

            await asyncio.gather(*(worker(c) for c in clients))
            # One more answer each, to read the shared rate; again if a raise that one
            # of them still proposed landed in between (a busy machine makes these
            # acquires slow enough for a window to pass), a separate rate never agrees.
            rates: list[float] = []
            for _ in range(3):
                for lim in limiters:
                    await lim.acquire()
                rates = [lim.current_rate for lim in limiters]
                if max(rates) <= min(rates) * 1.01:
                    break
            ceilings = [lim.rate_ceiling for lim in limiters]
        finally:
            for client in clients:
                await client.aclose()
            for lim in limiters:
                await lim.aclose()
        arrivals = sorted(r.received_at for r in fake.requests)
        rejected = fake.stats.rate_limited
        total = fake.stats.total
    assert max(rates) <= min(rates) * 1.01, rates
    assert all(c is not None for c in ceilings), ceilings
    # The discovery was shared: every worker holds under the ceiling one of them found.
    assert rates[0] < cast("float", ceilings[0])
    # One discovery for all, not one per worker: few 429s, and no window ever
    # carried much more than the limit (three separate controllers each climbing
    # to it would send up to three times as much).
    assert total >= 60
    assert rejected <= 0.05 * total, (rejected, total)
    assert _max_in_window(arrivals, 1.0) <= limit + 5


async def test_a_429_seen_by_one_limiter_lowers_the_rate_another_gets(
    redis_server: RedisServer,
) -> None:
    key = _key()
    loop = asyncio.get_running_loop()
    async with (
        RedisRateLimit.adaptive(redis_server.url, key=key, max_rate=100, start=20) as one,
        RedisRateLimit.adaptive(redis_server.url, key=key, max_rate=100, start=20) as other,
    ):
        await one.acquire()
        await other.acquire()
        assert other.current_rate == pytest.approx(20)
        one.observe(429, None)
        await one.acquire()  # carries the cut to Redis
        await other.acquire()  # and the other limiter gets it
        assert other.current_rate == pytest.approx(one.current_rate)
        assert other.current_rate < 20 * 0.75
        assert other.rate_ceiling == pytest.approx(20)
        stamps = []
        for _ in range(4):
            await other.acquire()
            stamps.append(loop.time())
    # Its slots are spaced at the lower rate (a late wake-up may shorten one gap,
    # not the span).
    assert (stamps[-1] - stamps[0]) / 3 >= 0.95 * 1.01 / (20 * 0.7)


async def test_two_limiters_raise_the_shared_rate_once_per_window(
    redis_server: RedisServer, redis_client: Redis
) -> None:
    key, period = _key(), 0.5
    clock_a, clock_b = _FakeClock(), _FakeClock()
    async with (
        RedisRateLimit.adaptive(
            redis_server.url, key=key, max_rate=1000, start=10, time_period=period
        ) as a,
        RedisRateLimit.adaptive(
            redis_server.url, key=key, max_rate=1000, start=10, time_period=period
        ) as b,
    ):
        assert a._shared is not None
        assert b._shared is not None
        a._shared.now, b._shared.now = clock_a, clock_b
        await a.acquire()
        await b.acquire()
        for clock, limiter, windows in ((clock_a, a, 1), (clock_b, b, 2)):
            limiter.observe(200, None)
            clock.now += windows * period
            limiter.observe(200, None)  # clean windows: the controller grows
        assert a._shared.controller.rate == pytest.approx(15)
        assert b._shared.controller.rate == pytest.approx(22.5)
        await a.acquire()  # a's step is taken
        await b.acquire()  # b's, in the same window, is not: b adopts a's rate
        assert await _stored_rate(redis_client, key) == pytest.approx(15)
        assert a.current_rate == b.current_rate == pytest.approx(15 / period)
        await asyncio.sleep(period + 0.05)  # a window later, one more step
        clock_b.now += period
        b.observe(200, None)
        clock_a.now += 3 * period
        a.observe(200, None)
        step = b._shared.controller.rate
        assert a._shared.controller.rate > step > 22.5
        await b.acquire()  # b's step is taken
        await a.acquire()  # a's larger one, in the same window, is not
        assert await _stored_rate(redis_client, key) == pytest.approx(step)
        assert a.current_rate == b.current_rate == pytest.approx(step / period)


async def test_adaptive_bounds_are_validated() -> None:
    with pytest.raises(ConfigurationError, match="start"):
        RedisRateLimit.adaptive("redis://127.0.0.1:1/0", key="k", min_rate=5, start=1)


def test_adaptive_takes_every_sharing_option_of_a_fixed_rate() -> None:
    fixed = inspect.signature(RedisRateLimit.__init__).parameters
    hints = typing.get_type_hints(RedisRateLimit.adaptive, include_extras=True)
    (options,) = typing.get_args(hints["options"])  # Unpack[SharingOptions]
    rate = {"self", "url", "key", "max_rate", "time_period", "burst"}
    assert set(options.__annotations__) == set(fixed) - rate


async def test_adaptive_passes_its_sharing_options_on() -> None:
    limiter = RedisRateLimit.adaptive(
        "redis://127.0.0.1:1/0",
        key="k",
        margin=0.05,
        on_redis_error="local",
        socket_timeout=0.7,
        recheck_interval=3.0,
    )
    try:
        assert (limiter.margin, limiter.on_redis_error, limiter.socket_timeout) == (
            0.05,
            "local",
            0.7,
        )
    finally:
        await limiter.aclose()
    with pytest.raises(ConfigurationError, match="recheck_interval"):
        RedisRateLimit.adaptive("redis://127.0.0.1:1/0", key="k", recheck_interval=-1.0)


@pytest.mark.parametrize("name", ["burst", "max_requests"])
def test_adaptive_refuses_a_keyword_that_is_no_sharing_option(name: str) -> None:
    # burst is RedisRateLimit's, not a sharing option: forwarded, the adaptive rate
    # would take it silently (an adaptive rate is evenly spaced; .rate says burst=1).
    with pytest.raises(TypeError, match=rf"^adaptive\(\) got an unexpected .* '{name}'$"):
        RedisRateLimit.adaptive("redis://127.0.0.1:1/0", key="k", **{name: 2})  # type: ignore[arg-type]


async def test_cli_batch_shares_rate_auto_through_redis(
    redis_server: RedisServer, redis_client: Redis, tmp_path: Path
) -> None:
    from dumgum_async import _cli

    key = _key()
    requests = tmp_path / "in.jsonl"
    requests.write_text(
        "".join(json.dumps({"id": i, "request": minimal_request()}) + "\n" for i in range(8))
    )
    output = tmp_path / "out.jsonl"
    async with FakeDumGumServer(api_key=KEY) as fake:
        argv = ["batch", str(requests), "-o", str(output), "--api-key", KEY]
        argv += ["--base-url", fake.url, "--rate", "auto:5-50/s", "--no-progress"]
        argv += ["--redis-url", redis_server.url, "--redis-key", key]
        status = await _cli.run(argv)
    assert status == 0
    lines = [json.loads(line) for line in output.read_text().splitlines()]
    assert sorted(line["id"] for line in lines) == list(range(8))
    assert fake.stats.total == 8
    # The rate the run used is the shared one, kept in Redis for the next worker.
    assert 5 <= await _stored_rate(redis_client, key) <= 50


async def test_a_stored_rate_that_is_not_one_is_replaced_by_the_start_rate(
    redis_server: RedisServer, redis_client: Redis
) -> None:
    key = _key()
    await cast("Awaitable[int]", redis_client.hset(f"{{{key}}}:rate", "rate", "-3"))
    async with RedisRateLimit.adaptive(redis_server.url, key=key, start=20) as limiter:
        await limiter.acquire()
        assert limiter.current_rate == pytest.approx(20)
    assert await _stored_rate(redis_client, key) == pytest.approx(20)


async def test_with_redis_lost_the_fallback_keeps_the_last_shared_rate(
    redis_server: RedisServer,
) -> None:
    key = _key()
    loop = asyncio.get_running_loop()
    async with (
        RedisRateLimit.adaptive(redis_server.url, key=key, start=40) as one,
        RedisRateLimit.adaptive(
            redis_server.url, key=key, start=40, on_redis_error="local", socket_timeout=0.5
        ) as other,
    ):
        await one.acquire()
        one.observe(429, None)
        await one.acquire()  # the shared rate is cut to 28/s
        await other.acquire()
        shared = other.current_rate
        assert shared < 40 * 0.75
        redis_server.stop()
        await other.acquire()  # finds Redis gone, goes on locally
        assert other.using_fallback
        stamps = []
        for _ in range(5):
            await other.acquire()
            stamps.append(loop.time())
        assert other.current_rate == pytest.approx(shared)
    assert (stamps[-1] - stamps[0]) / 4 >= 0.95 * 1.01 / shared  # not at 40/s
