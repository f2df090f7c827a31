"""One worker process of the scale-out test: N requests through a shared RedisRateLimit.

Run as ``python -m tests.helpers.redis_worker REDIS_URL KEY BASE_URL API_KEY COUNT RATE MARGIN``
from the repository root; prints one JSON line: ``{"ok": n, "failed": {"ErrorName": n}}``.
"""

from __future__ import annotations

import asyncio
import collections
import json
import sys
from typing import Any

import dumgum_async as dg
from tests.helpers.bodies import minimal_request


def _request(i: int) -> dict[str, Any]:
    body = minimal_request()
    body["messages"][0]["text"] = f"Message {i}"
    return body


async def _run(
    redis_url: str, key: str, base_url: str, api_key: str, count: int, rate: float, margin: float
) -> None:
    limiter = dg.RedisRateLimit(redis_url, key=key, max_rate=rate, margin=margin)
    failed: collections.Counter[str] = collections.Counter()
    async with (
        limiter,
        dg.DumGumClient(api_key=api_key, base_url=base_url, rate_limit=limiter) as client,
    ):
        results = await client.suggest_all([_request(i) for i in range(count)], concurrency=8)
    for result in results:
        if result.error is not None:
            failed[type(result.error).__name__] += 1
    ok = sum(1 for r in results if r.ok)
    print(json.dumps({"ok": ok, "failed": dict(failed)}), flush=True)


def main(argv: list[str]) -> int:
    """Run one worker; see the module docstring for the arguments."""
    redis_url, key, base_url, api_key, count, rate, margin = argv
    asyncio.run(_run(redis_url, key, base_url, api_key, int(count), float(rate), float(margin)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
