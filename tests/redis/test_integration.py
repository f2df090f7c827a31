"""RedisRateLimit behind the job-queue example and the CLI.

Every test that needs it starts its own ``redis-server`` (``tests/redis_server.py``).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from dumgum_async.testing import FakeDumGumServer, ServerRateLimit
from tests.redis_server import (
    RedisServer,
)
from tests.redis_server import new_key as _key
from tests.redis_server import require as _require
from tests.samples import minimal_request

if TYPE_CHECKING:
    pass
from tests.redis._support import (
    KEY,
)


async def test_the_saq_example_answers_queued_conversations(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    _require("saq")
    import redis.asyncio
    from saq import Queue, Worker

    from examples import saq_worker

    async with FakeDumGumServer(
        api_key=KEY, rate_limit=ServerRateLimit(max_rate=10, time_period=1.0)
    ) as fake:
        monkeypatch.setenv("REDIS_URL", redis_server.url)
        monkeypatch.setenv("DUMGUM_API_KEY", KEY)
        monkeypatch.setenv("DUMGUM_BASE_URL", fake.url)
        monkeypatch.setenv("DUMGUM_RATE", "10/s")
        producer = Queue.from_url(redis_server.url, name=saq_worker.QUEUE_NAME)
        results = redis.asyncio.from_url(redis_server.url)
        settings = saq_worker.make_settings(redis_server.url, concurrency=4)
        worker = Worker(
            settings["queue"],  # pyright: ignore[reportTypedDictNotRequiredAccess]
            settings["functions"],
            startup=settings.get("startup"),
            shutdown=settings.get("shutdown"),
            concurrency=4,
            burst=True,  # stop once the queue is empty
            dequeue_timeout=0.5,
        )
        try:
            await producer.connect()
            ids = await saq_worker.enqueue_conversations(producer, 6)
            await asyncio.wait_for(worker.start(), timeout=30)
            found = await saq_worker.wait_for_results(results, ids, timeout=5)
        finally:
            await worker.queue.disconnect()
            await producer.disconnect()
            await results.aclose()
        stats = fake.stats
    assert sorted(found) == sorted(ids)
    assert all(len(suggestions) == 3 for suggestions in found.values())
    assert stats.total == 6
    assert stats.rate_limited == 0


async def test_cli_batch_shares_its_rate_through_redis(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    from dumgum_async import _cli

    requests = tmp_path / "in.jsonl"
    requests.write_text(
        "".join(json.dumps({"id": i, "request": minimal_request()}) + "\n" for i in range(12))
    )
    output = tmp_path / "out.jsonl"
    async with FakeDumGumServer(api_key=KEY, rate_limit=ServerRateLimit(max_rate=10)) as fake:
        argv = ["batch", str(requests), "-o", str(output), "--api-key", KEY]
        argv += ["--base-url", fake.url, "--rate", "10/s", "--no-progress"]
        argv += ["--redis-url", redis_server.url, "--redis-key", _key()]
        status = await _cli.run(argv)
    assert status == 0
    lines = [json.loads(line) for line in output.read_text().splitlines()]
    assert sorted(line["id"] for line in lines) == list(range(12))
    assert fake.stats.rate_limited == 0


async def test_cli_redis_url_without_a_rate_is_a_usage_error(tmp_path: Path) -> None:
    from dumgum_async import _cli

    requests = tmp_path / "in.jsonl"
    requests.write_text(json.dumps(minimal_request()) + "\n")
    argv = ["batch", str(requests), "-o", str(tmp_path / "out.jsonl"), "--api-key", KEY]
    argv += ["--redis-url", "redis://127.0.0.1:1/0"]
    status = await _cli.run(argv)
    assert status == 2
