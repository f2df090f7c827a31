"""Many workers, one rate limit: DumGum suggestions from a Redis job queue.

Each queued job is one conversation. Any number of worker processes, on any number
of machines, take jobs from the queue; each has its own :class:`DumGumClient`, and
all of them share one :class:`RedisRateLimit` budget (and one pause after a 429)
through the same Redis, so together they never send more than the limit. Each
result is stored in the Redis hash ``dumgum:results`` under the conversation id.

The queue is `saq <https://pypi.org/project/saq/>`_ (Simple Async Queue), not arq:
arq is "in maintenance only mode" (its README, issue #510) and pins ``redis<6``,
which would hold every redis-py in the environment three majors back. saq is
maintained, asyncio native, stores its jobs in the same Redis and accepts redis-py
up to 7.x.

Run it from the repository root (``pip install -e '.[dev]'``, or
``pip install 'dumgum-async[redis]' 'saq[redis]'``), here against the local emulator
with a limit of 20 requests per second::

    redis-server --port 6379 --save "" --appendonly no &
    dumgum-async serve --port 8080 --rate 20 --api-key demo-key &
    export REDIS_URL=redis://127.0.0.1:6379/0 DUMGUM_RATE=20/s
    export DUMGUM_BASE_URL=http://127.0.0.1:8080 DUMGUM_API_KEY=demo-key
    python -m examples.saq_worker work &     # start as many as you like, anywhere
    python -m examples.saq_worker work &
    python -m examples.saq_worker enqueue 100  # queue 100 conversations, wait, summarise

Against the real API, leave ``DUMGUM_BASE_URL`` unset and use your key and your
contract's rate. ``saq examples.saq_worker.settings --workers 4`` runs the workers
with saq's own command line instead. Stop a worker with Ctrl-C or SIGTERM (with
saq's ``--workers N``, Ctrl-C or a SIGTERM to each process): it cancels its current
jobs, which saq queues again, and closes the client and the limiter.

Environment:
    REDIS_URL: The queue's and the limiter's Redis (default ``redis://127.0.0.1:6379/0``).
    DUMGUM_RATE: The API's limit shared by all workers, e.g. ``20/s`` or ``600/min``.
    DUMGUM_API_KEY, DUMGUM_BASE_URL: As for :class:`DumGumClient`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Awaitable, Sequence
from typing import TYPE_CHECKING, Any, Final, cast

from saq import Queue, Worker
from saq.types import Context, SettingsDict

import dumgum_async as dg

if TYPE_CHECKING:
    from redis.asyncio import Redis

DEFAULT_REDIS_URL: Final = "redis://127.0.0.1:6379/0"
QUEUE_NAME: Final = "dumgum-suggestions"
#: The hash holding each conversation's suggestions, as JSON, by conversation id.
RESULTS_KEY: Final = "dumgum:results"
#: The RedisRateLimit key: every worker using it shares one budget.
LIMIT_KEY: Final = "dumgum:rate-limit"


class WorkerContext(Context, total=False):
    """What every job of one worker process shares: opened at startup, closed at shutdown."""

    dumgum: dg.DumGumClient
    limiter: dg.RedisRateLimit
    results: Redis


def redis_url() -> str:
    """The Redis URL from ``REDIS_URL``, or the local default."""
    return os.environ.get("REDIS_URL", DEFAULT_REDIS_URL)


async def startup(ctx: WorkerContext) -> None:
    """Open the shared limiter, this worker's client and a Redis client for results."""
    import redis.asyncio

    url = redis_url()
    rate = dg.RateLimit.parse(os.environ.get("DUMGUM_RATE", "20/s"))
    ctx["limiter"] = dg.RedisRateLimit(
        url,
        key=LIMIT_KEY,
        max_rate=rate.max_rate,
        time_period=rate.time_period,
    )
    ctx["dumgum"] = dg.DumGumClient(rate_limit=ctx["limiter"])
    ctx["results"] = redis.asyncio.from_url(url)


async def shutdown(ctx: WorkerContext) -> None:
    """Close what :func:`startup` opened."""
    if "dumgum" in ctx:
        await ctx["dumgum"].aclose()
    if "limiter" in ctx:
        await ctx["limiter"].aclose()
    if "results" in ctx:
        await ctx["results"].aclose()


async def suggest(ctx: WorkerContext, *, conversation_id: str, request: dict[str, Any]) -> int:
    """The job: suggestions for one conversation, stored under its id.

    Returns:
        The number of suggestions stored.

    Raises:
        dumgum_async.DumGumError: The call failed after the client's retries; saq
            records the job as failed (and retries it if the job allows).
    """
    # startup() set both before saq runs any job (the TypedDict cannot say so).
    client, results = ctx["dumgum"], ctx["results"]  # pyright: ignore[reportTypedDictNotRequiredAccess]
    response = await client.suggest(request)
    body = json.dumps(response.to_dict())
    # redis-py types its asyncio commands as "awaitable or value"; they are awaitable.
    await cast("Awaitable[int]", results.hset(RESULTS_KEY, conversation_id, body))
    return len(response.suggestions)


def make_settings(url: str, *, concurrency: int = 8) -> SettingsDict[WorkerContext]:
    """saq worker settings for the queue at ``url``.

    Args:
        url: The Redis URL.
        concurrency: Jobs one worker runs at once; the shared limit, not this,
            sets the pace.
    """
    return {
        "queue": Queue.from_url(url, name=QUEUE_NAME),
        "functions": [suggest],
        "startup": startup,
        "shutdown": shutdown,
        "concurrency": concurrency,
    }


def __getattr__(name: str) -> Any:
    # saq's CLI reads `settings` from this module: build it on demand, so that
    # importing the module (tests, enqueuers) opens nothing.
    if name == "settings":
        return make_settings(redis_url())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def sample_conversation(i: int) -> dict[str, Any]:
    """A small valid request, different for each ``i``."""
    return {
        "userProfile": {"id": f"u-{i}", "gender": "MAN", "firstName": f"Marc{i}"},
        "personaProfile": {"id": "p-1", "gender": "WOMAN", "nickname": "jules"},
        "language": ["EN", "FR", "DE"][i % 3],
        "messages": [
            {
                "id": "m1",
                "sender": "USER",
                "date": "2025-04-25T10:00:00Z",
                "text": f"Hello! Conversation {i}: what are you doing tonight?",
            }
        ],
    }


async def enqueue_conversations(queue: Queue, count: int, *, prefix: str = "conv") -> list[str]:
    """Queue ``count`` sample conversations; return their ids.

    The id is also the job key, so queueing the same id twice runs it once.
    """
    ids = [f"{prefix}-{i}" for i in range(count)]
    for i, conversation_id in enumerate(ids):
        await queue.enqueue(
            "suggest",
            key=conversation_id,
            conversation_id=conversation_id,
            request=sample_conversation(i),
            timeout=600,
        )
    return ids


async def wait_for_results(
    results: Redis, ids: Sequence[str], *, timeout: float
) -> dict[str, list[str]]:
    """Poll the results hash until every id has an entry or ``timeout`` passes.

    Returns:
        The suggestions found, by conversation id.
    """
    loop = asyncio.get_running_loop()
    give_up = loop.time() + timeout
    found: dict[str, list[str]] = {}
    while True:
        values = await cast("Awaitable[list[bytes | None]]", results.hmget(RESULTS_KEY, list(ids)))
        found = {
            cid: json.loads(raw)["suggestions"]
            for cid, raw in zip(ids, values, strict=True)
            if raw is not None
        }
        if len(found) == len(ids) or loop.time() >= give_up:
            return found
        await asyncio.sleep(0.5)


async def _work() -> None:
    settings = make_settings(redis_url())
    worker = Worker(
        settings["queue"],  # pyright: ignore[reportTypedDictNotRequiredAccess] - make_settings sets it
        settings["functions"],
        startup=settings.get("startup"),
        shutdown=settings.get("shutdown"),
        concurrency=settings.get("concurrency", 8),
    )
    try:
        await worker.start()  # returns after SIGINT or SIGTERM
    finally:
        await worker.queue.disconnect()


async def _enqueue(count: int, timeout: float) -> int:
    import redis.asyncio

    queue = Queue.from_url(redis_url(), name=QUEUE_NAME)
    results = redis.asyncio.from_url(redis_url())
    try:
        await queue.connect()
        ids = await enqueue_conversations(queue, count)
        print(f"queued {len(ids)} conversations on {QUEUE_NAME!r}; waiting for the workers")
        started = asyncio.get_running_loop().time()
        found = await wait_for_results(results, ids, timeout=timeout)
        elapsed = asyncio.get_running_loop().time() - started
    finally:
        await results.aclose()
        await queue.disconnect()
    print(f"{len(found)}/{len(ids)} conversations answered in {elapsed:.1f} s")
    for cid in ids[:3]:
        if cid in found:
            print(f"  {cid}: {found[cid][0]}")
    return 0 if len(found) == len(ids) else 1


def main(argv: Sequence[str] | None = None) -> int:
    """``work``: run a worker until SIGINT/SIGTERM; ``enqueue N``: queue N and wait."""
    parser = argparse.ArgumentParser(prog="python -m examples.saq_worker")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("work", help="take jobs until SIGINT or SIGTERM")
    enqueue = commands.add_parser("enqueue", help="queue N conversations and wait for them")
    enqueue.add_argument("count", type=int)
    enqueue.add_argument("--timeout", type=float, default=300.0, help="seconds to wait")
    args = parser.parse_args(argv)
    if args.command == "work":
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
        asyncio.run(_work())
        return 0
    return asyncio.run(_enqueue(args.count, args.timeout))


if __name__ == "__main__":
    sys.exit(main())
