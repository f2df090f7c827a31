"""Adaptive rate against a server whose limit the client is not told.

The emulator (in a child process) enforces a token bucket of R = 37 requests/s
(``--burst`` tokens, default 10) and answers 429 with ``Retry-After: 1``. A batch of
N = 1,500 requests is sent with ``RateLimit.adaptive()`` (defaults: start 10/s,
bounds 1 to 1000/s), then, for comparison, with fixed limits of 0.5R and 2R. The
ideal is N/R seconds.

    python benchmarks/bench_adaptive.py
    python benchmarks/bench_adaptive.py --quick        # N = 400
    python benchmarks/bench_adaptive.py --burst 37     # a bucket of one second

Target (adaptive): within 1.15x of N/R, with 429s under 2% of requests.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Sequence
from typing import Any

import _common

import dumgum_async as dg

LIMIT = 37.0


async def _batch(url: str, rate: dg.RateLimit | dg.AdaptiveRateLimit, n: int) -> dict[str, Any]:
    request = _common.full_request()
    ok = 0
    started = time.monotonic()
    async with dg.DumGumClient(
        api_key=_common.API_KEY,
        base_url=url,
        rate_limit=rate,
        circuit_breaker=None,
        retry=dg.RetryPolicy(max_attempts=20, budget=None),
    ) as client:
        async for result in client.suggest_many([request] * n, concurrency=32):
            ok += isinstance(result, dg.BatchSuccess)
        elapsed = time.monotonic() - started
        stats = client.stats
    return {
        "elapsed": elapsed,
        "ok": ok,
        "attempts": stats.attempts,
        "rate_limited": stats.rate_limited,
        "settled": stats.rate_limit_current,
        "ceiling": stats.rate_limit_ceiling,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="400 requests, not 1,500")
    parser.add_argument("--burst", type=int, default=10, help="the server's bucket (default 10)")
    parser.add_argument("--only-adaptive", action="store_true")
    args = parser.parse_args(argv)
    n = 400 if args.quick else 1500
    ideal = n / LIMIT
    cases: list[tuple[str, dg.RateLimit | dg.AdaptiveRateLimit]] = [
        ("adaptive", dg.RateLimit.adaptive())
    ]
    if not args.only_adaptive:
        cases += [
            ("fixed 0.5R", dg.RateLimit.per_second(LIMIT / 2)),
            ("fixed 2R", dg.RateLimit.per_second(LIMIT * 2)),
        ]
    print(f"server: token bucket {LIMIT:g}/s, burst {args.burst}; N = {n}; ideal {ideal:.1f} s")
    print(f"{'client':<12} {'time':>8} {'x ideal':>8} {'429s':>6} {'429 %':>6} {'settled':>9}")
    for name, rate in cases:
        # A fresh server per case: each starts with a full bucket.
        with _common.emulator("--rate", f"{LIMIT:g}", "--burst", str(args.burst)) as server:
            row = asyncio.run(_batch(server.url, rate, n))
        share = row["rate_limited"] / row["attempts"]
        settled = "" if row["ceiling"] is None else f"{row['settled']:.1f}/s"
        print(
            f"{name:<12} {row['elapsed']:7.1f}s {row['elapsed'] / ideal:8.3f} "
            f"{row['rate_limited']:6d} {share:6.1%} {settled:>9}"
            + ("" if row["ceiling"] is None else f"  (429s began near {row['ceiling']:.1f}/s)")
        )
        assert row["ok"] == n, row
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
