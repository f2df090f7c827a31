"""pytest plugin: fixtures that start the DumGum emulator or mock the API.

Registered through the ``pytest11`` entry point, so it is active wherever
``dumgum-async`` is installed.  The server fixtures are async and need ``pytest-asyncio``
(``pip install pytest-asyncio``; the ``dev`` extra has it); they are pytest-asyncio
fixtures, so they work in its ``strict`` mode (mark your tests with
``@pytest.mark.asyncio``) as in ``auto`` mode.  This module imports nothing heavy: the
server is imported when a fixture is first used.

Fixtures:
    dumgum_server: a started :class:`~dumgum_async.testing.FakeDumGumServer` accepting the
        key ``"test-key"``, with no faults, no rate limit and no latency; closed after the
        test.  Point your client at ``dumgum_server.url`` (or ``.endpoint_url``).
    dumgum_server_factory: an async callable starting servers with any
        ``FakeDumGumServer`` options, e.g.
        ``server = await dumgum_server_factory(faults=Faults(http_503=0.5), seed=3)``; all
        of them are closed after the test.
    dumgum_mock_api: the ``aioresponses`` object of
        :func:`~dumgum_async.testing.mock_api` (patched for the installed aiohttp), open
        for the test; needs aioresponses (the ``testing`` extra).

Example::

    @pytest.mark.asyncio
    async def test_suggest(dumgum_server: FakeDumGumServer) -> None:
        client = MyClient(base_url=dumgum_server.url, api_key="test-key")
        await client.suggest(...)
        assert dumgum_server.stats.by_status == {200: 1}
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from dumgum_async.testing._mock import mock_api

if TYPE_CHECKING:
    from aioresponses import aioresponses

    from dumgum_async.testing._server import FakeDumGumServer, ServerFactory

__all__ = ["dumgum_mock_api", "dumgum_server", "dumgum_server_factory"]

_F = TypeVar("_F", bound=Callable[..., Any])

_NEEDS_PYTEST_ASYNCIO = (
    "the dumgum_server fixtures are async and need pytest-asyncio: pip install pytest-asyncio"
)

if TYPE_CHECKING:
    from pytest_asyncio import fixture as _async_fixture
else:
    try:
        from pytest_asyncio import fixture as _async_fixture
    except ImportError:  # pragma: no cover - only without pytest-asyncio

        def _async_fixture(*, name: str) -> Callable[[_F], _F]:
            """A fixture of that name that fails the test, saying what is missing."""

            def register(_: _F) -> _F:
                def missing() -> None:
                    pytest.fail(_NEEDS_PYTEST_ASYNCIO, pytrace=False)

                return pytest.fixture(missing, name=name)

            return register


async def _started(**options: Any) -> FakeDumGumServer:
    from dumgum_async.testing._server import FakeDumGumServer

    server = FakeDumGumServer(**options)
    await server.start()
    return server


@_async_fixture(name="dumgum_server")
async def dumgum_server() -> AsyncIterator[FakeDumGumServer]:
    """A started DumGum emulator (api key "test-key", no faults), closed after the test."""
    server = await _started()
    try:
        yield server
    finally:
        await server.close()


@_async_fixture(name="dumgum_server_factory")
async def dumgum_server_factory() -> AsyncIterator[ServerFactory]:
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


@pytest.fixture(name="dumgum_mock_api")
def dumgum_mock_api() -> Iterator[aioresponses]:
    """:func:`~dumgum_async.testing.mock_api` for the test: every aiohttp request is mocked.

    Raises:
        ImportError: aioresponses is not installed (it comes with the ``testing`` extra).
    """
    with mock_api() as mocked:
        yield mocked
