"""The emulator the command line's tests talk to, and a guard against any other network."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest

from dumgum_async.testing import FakeDumGumServer

#: The key the ``server`` fixture accepts (``tests.helpers.cli`` passes it by default).
KEY = "cli-key"


@pytest.fixture
async def server() -> AsyncIterator[FakeDumGumServer]:
    """An emulator accepting KEY, no faults."""
    async with FakeDumGumServer(api_key=KEY, seed=1) as fake:
        yield fake


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a connection fails the test loudly."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("validate tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(asyncio.BaseEventLoop, "create_connection", refuse)
    monkeypatch.setattr(asyncio.BaseEventLoop, "sock_connect", refuse)
    assert "DUMGUM_API_KEY" not in os.environ  # conftest removes it: no key at all
