"""``dumgum-async serve`` is the emulator's own command."""

from __future__ import annotations

import asyncio
import re

import pytest

from tests.helpers.cli import (
    SUBPROCESS_TIMEOUT,
    reap,
    spawn,
)


@pytest.mark.slow
async def test_serve_delegates_to_the_emulator_command() -> None:
    proc = await spawn("serve", "--port", "0", "--api-key", "serve-key", key=None)
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), SUBPROCESS_TIMEOUT)
        assert re.fullmatch(
            rb"DumGum emulator listening on http://127\.0\.0\.1:\d+ \(api key: serve-key\)\n",
            line,
        ), line
        proc.terminate()
        await asyncio.wait_for(proc.communicate(), SUBPROCESS_TIMEOUT)
        assert proc.returncode == 0
    finally:
        await reap(proc)
