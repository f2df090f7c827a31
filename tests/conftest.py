"""Shared fixtures: the API mock (aioresponses) and environment hygiene."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Iterator
from typing import Any
from unittest import mock

import aiohttp
import aioresponses.core
import pytest
from aioresponses import aioresponses as _aioresponses

API_KEY = "sk-test-0123456789abcdef"
BASE_URL = "https://api.dumgum.com"
ENDPOINT = BASE_URL + "/cs/v1/content_creation/suggestion"


class _CompatResponse(aiohttp.ClientResponse):
    """aiohttp 3.14 made ``stream_writer`` required; aioresponses 0.7.9 does not pass it.

    Upstream: pnuckowski/aioresponses issue #289 (fix proposed in PR #288, the same
    approach: aiohttp only reads ``stream_writer.output_size``).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", mock.Mock(output_size=0))
        super().__init__(*args, **kwargs)


@pytest.fixture
def mock_api() -> Iterator[_aioresponses]:
    """aioresponses, patched to work with the installed aiohttp."""
    needs_writer = "stream_writer" in inspect.signature(aiohttp.ClientResponse).parameters
    with (
        mock.patch.object(
            aioresponses.core,
            "ClientResponse",
            _CompatResponse if needs_writer else aiohttp.ClientResponse,
        ),
        _aioresponses() as m,
    ):
        yield m


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's real key or base URL."""
    monkeypatch.delenv("DUMGUM_API_KEY", raising=False)
    monkeypatch.delenv("DUMGUM_BASE_URL", raising=False)


def no_client_tasks_left() -> bool:
    """No task of the client's is left (the emulator's handlers may still be finishing)."""

    def server_side(task: asyncio.Task[Any]) -> bool:
        code = getattr(task.get_coro(), "cr_code", None)
        filename = code.co_filename if code is not None else ""
        return "aiohttp/web" in filename or "dumgum_async/testing" in filename

    mine = [
        t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not server_side(t)
    ]
    return mine == []
