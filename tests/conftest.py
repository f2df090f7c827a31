"""Shared fixtures: the API mock (aioresponses) and environment hygiene."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from aioresponses import aioresponses

from dumgum_async.testing import mock_api as _mock_api
from tests.helpers.redis_server import RedisServer, redis_server_path, require

if TYPE_CHECKING:
    from redis.asyncio import Redis


@pytest.fixture
def mock_api() -> Iterator[aioresponses]:
    """aioresponses, patched to work with the installed aiohttp (the shipped helper)."""
    with _mock_api() as mocked:
        yield mocked


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's real key or base URL."""
    monkeypatch.delenv("DUMGUM_API_KEY", raising=False)
    monkeypatch.delenv("DUMGUM_BASE_URL", raising=False)


# --- a real redis-server, for the Redis test modules ------------------------------------


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A fresh redis-server for one test, stopped afterwards."""
    require("redis")
    server = RedisServer(redis_server_path(), tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def redis_client(redis_server: RedisServer) -> AsyncIterator[Redis]:
    """A plain redis-py client on the test's server, to look at the limiter's keys."""
    import redis.asyncio

    client = redis.asyncio.from_url(redis_server.url)
    try:
        yield client
    finally:
        # aclose() arrived in redis-py 5.0.1; the [redis] extra allows 5.0.0.
        await (getattr(client, "aclose", None) or client.close)()
