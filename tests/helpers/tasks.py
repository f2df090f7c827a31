"""What a test checks about the tasks a client leaves behind."""

from __future__ import annotations

import asyncio
from typing import Any


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
