"""pytest plugin: fixtures that start the DumGum emulator.

Registered through the ``pytest11`` entry point, so it is active wherever
``dumgum-async`` is installed.  The fixtures are async and need ``pytest-asyncio``
(``pip install pytest-asyncio``; the ``dev`` extra has it).  This module imports nothing
heavy: the server is imported when a fixture is first used.

Fixtures:
    dumgum_server: a started :class:`~dumgum_async.testing.FakeDumGumServer` accepting the
        key ``"test-key"``, with no faults, no rate limit and no latency; closed after the
        test.  Point your client at ``dumgum_server.url`` (or ``.endpoint_url``).
    dumgum_server_factory: an async callable starting servers with any
        ``FakeDumGumServer`` options, e.g.
        ``server = await dumgum_server_factory(faults=Faults(http_503=0.5), seed=3)``; all
        of them are closed after the test.

Example::

    async def test_suggest(dumgum_server):
        client = MyClient(base_url=dumgum_server.url, api_key="test-key")
        await client.suggest(...)
        assert dumgum_server.stats.by_status == {200: 1}
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from dumgum_async.testing._server import FakeDumGumServer, ServerFactory

__all__ = ["dumgum_server", "dumgum_server_factory"]

try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - only without pytest-asyncio
    pytest_asyncio = None  # type: ignore[assignment]

_NEEDS_PYTEST_ASYNCIO = (
    "the dumgum_server fixtures are async and need pytest-asyncio: pip install pytest-asyncio"
)


async def _started(**options: Any) -> FakeDumGumServer:
    from dumgum_async.testing._server import FakeDumGumServer

    server = FakeDumGumServer(**options)
    await server.start()
    return server


async def _dumgum_server() -> AsyncIterator[FakeDumGumServer]:
    """A started DumGum emulator (api key "test-key", no faults), closed after the test."""
    server = await _started()
    try:
        yield server
    finally:
        await server.close()


async def _dumgum_server_factory() -> AsyncIterator[ServerFactory]:
    """``await factory(**FakeDumGumServer options)`` starts an emulator; all are closed after
    the test."""
    servers: list[FakeDumGumServer] = []

    async def factory(**options: Any) -> FakeDumGumServer:
        server = await _started(**options)
        servers.append(server)
        return server

    try:
        yield factory
    finally:
        for server in reversed(servers):
            await server.close()


def _missing(*_: Any, **__: Any) -> Any:  # pragma: no cover - only without pytest-asyncio
    pytest.fail(_NEEDS_PYTEST_ASYNCIO, pytrace=False)


if pytest_asyncio is not None:
    dumgum_server = pytest_asyncio.fixture(_dumgum_server, name="dumgum_server")
    dumgum_server_factory = pytest_asyncio.fixture(
        _dumgum_server_factory, name="dumgum_server_factory"
    )
else:  # pragma: no cover - only without pytest-asyncio
    dumgum_server = pytest.fixture(_missing, name="dumgum_server")
    dumgum_server_factory = pytest.fixture(_missing, name="dumgum_server_factory")
