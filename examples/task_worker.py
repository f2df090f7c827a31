"""DumGum suggestions from a synchronous task worker: one ``asyncio.run()`` per task.

Celery (prefork pool), RQ and Dramatiq call plain functions; the usual bridge to
async code is ``asyncio.run()`` in each task, which makes a new event loop every
time.  Creating a client per task would throw away, every time, its connection pool,
its rate limit (two tasks in a row could then exceed it), its retry budget and its
``stats``.  So the client here lives at module level, one per worker process, created
on first use and reused by every task's ``asyncio.run()``; it is closed when the
process stops.

With Celery::

    from celery import Celery
    from celery.signals import worker_process_shutdown

    from examples import task_worker

    app = Celery("suggestions", broker="redis://127.0.0.1:6379/0")

    @app.task
    def suggest(request: dict) -> list[str]:
        return task_worker.suggest_task(request)

    @worker_process_shutdown.connect
    def close_dumgum(**_: object) -> None:
        task_worker.close_client()

The module-level client serves one task at a time, as the prefork pool (Celery's
default) runs them; a threaded pool needs one client per thread.  For an asyncio
native queue, see ``examples/saq_worker.py``.

Try it without a queue, against the local emulator::

    dumgum-async serve --port 8080 --api-key demo-key &
    export DUMGUM_BASE_URL=http://127.0.0.1:8080 DUMGUM_API_KEY=demo-key
    python -m examples.task_worker 5     # five tasks, each in its own asyncio.run()

Environment:
    DUMGUM_API_KEY, DUMGUM_BASE_URL: As for :class:`DumGumClient`.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import dumgum_async as dg
from dumgum_async.testing import sample_requests

__all__ = ["close_client", "get_client", "main", "suggest_task"]

_client: dg.DumGumClient | None = None


def get_client() -> dg.DumGumClient:
    """This process's client, created (from the environment) on first use."""
    global _client
    if _client is None:
        _client = dg.DumGumClient()
    return _client


async def _suggest(request: Mapping[str, Any]) -> list[str]:
    response = await get_client().suggest(request)
    return list(response.suggestions)


def suggest_task(request: Mapping[str, Any]) -> list[str]:
    """The task: suggestions for one conversation, in a fresh event loop.

    Args:
        request: A request in the API's JSON shape.

    Returns:
        The suggested replies.

    Raises:
        dumgum_async.DumGumError: The call failed after the client's retries (the
            task queue records the failure and may retry the task).
    """
    return asyncio.run(_suggest(request))


def close_client() -> None:
    """Close this process's client, if one was created (at worker shutdown)."""
    global _client
    client, _client = _client, None
    if client is not None:
        asyncio.run(client.aclose())


def main(argv: Sequence[str] | None = None) -> int:
    """Run N sample conversations as N tasks, one ``asyncio.run()`` each."""
    args = sys.argv[1:] if argv is None else argv
    count = int(args[0]) if args else 3
    try:
        for i, request in enumerate(sample_requests(count, seed=1)):
            print(f"task {i}: {suggest_task(request)[0]}")
    finally:
        close_client()
    return 0


if __name__ == "__main__":
    sys.exit(main())
