"""Reading a batch in a test."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator
from typing import Any

import dumgum_async as dg


async def collect(
    stream: AsyncGenerator[dg.BatchResult[Any], None], into: list[dg.BatchResult[Any]]
) -> None:
    """Append every result of ``stream`` to ``into`` as it comes (``into`` keeps
    those yielded before the stream raised), closing the stream whatever happens."""
    async with contextlib.aclosing(stream) as results:
        async for result in results:
            into.append(result)
