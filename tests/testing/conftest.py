"""Shared fixtures for the emulator's tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A raw aiohttp client (no auth header by default)."""
    async with aiohttp.ClientSession() as session:
        yield session
