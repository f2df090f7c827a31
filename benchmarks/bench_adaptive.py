"""Adaptive rate against a server whose limit the client is not told.

The emulator (in a child process, ``--no-validate``) enforces a token bucket of
R = 37 requests/s (``--burst`` tokens, default 10) and answers 429 with
``Retry-After: 1``. A batch of N = 1,500 requests (concurrency 32, retries without a
budget) is sent with ``RateLimit.adaptive()`` (defaults: start 10/s, bounds 1 to
1000/s), then, for comparison, with fixed limits of 0.5R and 2R. A fresh server per
run, so each starts with a full bucket. The ideal is N/R seconds.

    python benchmarks/bench_adaptive.py
    python benchmarks/bench_adaptive.py --burst 1      # a server with no burst
    python benchmarks/bench_adaptive.py --quick        # smoke test: N = 40, R = 60

Target (adaptive): within 1.15x of N/R, with 429s under 2% of requests.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any

import _common

import dumgum_async as dg


async def _batch(
    url: str, rate: dg.RateLimit | dg.AdaptiveRateLimit, n: int, concurrency: int
) -> dict[str, Any]:
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
        async for result in client.suggest_many([request] * n, concurrency=concurrency):
            ok += isinstance(result, dg.BatchSuccess)
        wall = time.monotonic() - started
        stats = client.stats
    return {
        "wall_s": wall,
        "ok": ok,
        "attempts": stats.attempts,
        "rate_limited_429": stats.rate_limited,
        "settled_per_s": stats.rate_limit_current,
        "ceiling_per_s": stats.rate_limit_ceiling,
    }


def bench(args: argparse.Namespace) -> dict[str, Any]:
    r = args.rate
    ideal = args.n / r
    cases: dict[str, dg.RateLimit | dg.AdaptiveRateLimit] = {
        "adaptive": dg.RateLimit.adaptive(),
        "fixed 0.5R": dg.RateLimit.per_second(r / 2),
        "fixed 2R": dg.RateLimit.per_second(r * 2),
    }
    results: dict[str, Any] = {}
    for name, rate in cases.items():
        options = ["--rate", f"{r:g}", "--burst", str(args.burst), "--no-validate"]
        with _common.emulator(*options) as server:
            row = asyncio.run(_batch(server.url, rate, args.n, args.concurrency))
        row["ideal_s"] = ideal
        row["wall_vs_ideal"] = row["wall_s"] / ideal
        row["share_429"] = row["rate_limited_429"] / row["attempts"]
        results[name] = row
        if not args.quiet:
            print(f"{name}: {row['wall_s']:.1f} s", file=sys.stderr, flush=True)
    adaptive = results["adaptive"]
    targets = [
        {
            "figure": "adaptive wall time vs N/R",
            "value": adaptive["wall_vs_ideal"],
            "target": "<= 1.15",
            "met": adaptive["wall_vs_ideal"] <= 1.15,
        },
        {
            "figure": "adaptive share of 429 answers",
            "value": adaptive["share_429"],
            "target": "< 0.02",
            "met": adaptive["share_429"] < 0.02,
        },
    ]
    return {"results": results, "targets": targets}


def print_table(out: dict[str, Any], args: argparse.Namespace) -> None:
    print(
        f"\nserver: token bucket {args.rate:g}/s, burst {args.burst}, Retry-After 1; "
        f"N = {args.n}, concurrency {args.concurrency}; ideal {args.n / args.rate:.1f} s"
    )
    print(f"{'client':<11} {'wall s':>7} {'x N/R':>6} {'429s':>5} {'429 %':>6}  settled")
    for name, e in out["results"].items():
        settled = ""
        if e["ceiling_per_s"] is not None:
            settled = f"{e['settled_per_s']:.1f}/s (429s began near {e['ceiling_per_s']:.1f}/s)"
        print(
            f"{name:<11} {e['wall_s']:7.1f} {e['wall_vs_ideal']:6.3f} "
            f"{e['rate_limited_429']:5d} {e['share_429']:6.1%}  {settled}"
        )
    _common.print_targets(out["targets"], digits=3)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1500)
    parser.add_argument("--rate", type=float, default=37.0, help="the server's hidden limit")
    parser.add_argument("--burst", type=int, default=10, help="the server's bucket size")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--quick", action="store_true", help="tiny run (smoke test)")
    parser.add_argument("--quiet", action="store_true", help="no per-run lines")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.rate = 40, 60.0
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return _common.publish("adaptive", args, bench(args), print_table)


if __name__ == "__main__":
    sys.exit(main())
