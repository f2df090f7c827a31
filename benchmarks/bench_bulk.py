"""Rate-limited bulk run: N requests at R/s through ``suggest_many``, no 429 allowed.

The emulator runs in its own process and enforces the same limit as an exact sliding
window (``--rate R --period 1``: at most R requests in any second, 429 beyond). The
client has ``rate_limit=RateLimit.per_second(R)`` and runs
``suggest_many(requests, concurrency=32)``. Reported per event loop (asyncio, uvloop):

* wall time from the first call to the last result, against the ideal ``N / R``
  (evenly spaced requests need only ``(N - 1) / R`` plus one round trip);
* 429 answers (the client's ``stats.rate_limited``) and failed items;
* the most requests sent in any 1 s window (send times recorded client-side with an
  aiohttp trace hook, when each request is handed to aiohttp);
* the achieved rate, ``(N - 1) / (last send - first send)``.

    python benchmarks/bench_bulk.py                 # N=1000, R=100/s, 3 rounds per loop
    python benchmarks/bench_bulk.py --quick         # N=50, R=50/s

Target: wall <= 1.03 x N/R, zero 429s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from typing import Any

import _common
import aiohttp
from bench_throttle import max_in_window

import dumgum_async as dg


async def run_once(url: str, n: int, rate: float, concurrency: int) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    sends: list[float] = []

    async def on_start(*_: object) -> None:
        sends.append(loop.time())

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_start)
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64), trace_configs=[trace])
    model = dg.SuggestionRequest.from_dict(_common.full_request())
    ok = failed = 0
    try:
        async with dg.DumGumClient(
            api_key=_common.API_KEY,
            base_url=url,
            rate_limit=dg.RateLimit.per_second(rate),
            session=session,
        ) as client:
            started = loop.time()
            cpu = time.process_time()
            stream = client.suggest_many((model for _ in range(n)), concurrency=concurrency)
            async with contextlib.aclosing(stream):
                async for result in stream:
                    if result.ok:
                        ok += 1
                    else:
                        failed += 1
            wall = loop.time() - started
            cpu = time.process_time() - cpu
            stats = client.stats
    finally:
        await session.close()
    span = sends[-1] - sends[0] if len(sends) > 1 else 0.0
    return {
        "wall_s": wall,
        "ideal_s": n / rate,
        "wall_vs_ideal": wall / (n / rate),
        "wall_vs_evenly_spaced": wall / ((n - 1) / rate),
        "rate_limited_429": stats.rate_limited,
        "failed": failed,
        "ok": ok,
        "attempts": stats.attempts,
        "max_in_1s_window": max_in_window(sends, 1.0),
        "achieved_rate": (len(sends) - 1) / span if span > 0 else float("nan"),
        "client_cpu_s": cpu,
    }


def bench(args: argparse.Namespace) -> dict[str, Any]:
    loops = [lp for lp in args.loops if lp != "uvloop" or _common.have_uvloop()]
    runs: dict[str, list[dict[str, Any]]] = {lp: [] for lp in loops}
    for r in range(args.rounds):
        for lp in loops if r % 2 == 0 else loops[::-1]:
            # A fresh server each run: an empty window, and nothing left from the last run.
            options = ["--rate", f"{args.rate:g}", "--period", "1", "--no-validate"]
            with _common.emulator(*options) as server:
                got = _common.run(run_once(server.url, args.n, args.rate, args.concurrency), lp)
            runs[lp].append(got)
            if not args.quiet:
                print(
                    f"  round {r + 1} {lp:<8} wall {got['wall_s']:.2f} s "
                    f"({got['wall_vs_ideal']:.3f} x N/R), 429s {got['rate_limited_429']}, "
                    f"max {got['max_in_1s_window']} in 1 s, rate {got['achieved_rate']:.1f}/s",
                    file=sys.stderr,
                    flush=True,
                )
    results: dict[str, Any] = {}
    targets = []
    for lp, rounds in runs.items():
        entry: dict[str, Any] = {key: _common.median([x[key] for x in rounds]) for key in rounds[0]}
        for key in ("rate_limited_429", "failed", "max_in_1s_window"):
            entry[key] = max(x[key] for x in rounds)  # worst round
        entry["rounds"] = rounds
        results[lp] = entry
        targets.append(
            {
                "figure": f"bulk wall time vs N/R ({lp})",
                "value": entry["wall_vs_ideal"],
                "target": "<= 1.03",
                "met": entry["wall_vs_ideal"] <= 1.03,
            }
        )
        targets.append(
            {
                "figure": f"bulk 429 answers, worst round ({lp})",
                "value": entry["rate_limited_429"],
                "target": "0",
                "met": entry["rate_limited_429"] == 0,
            }
        )
    return {"results": results, "targets": targets}


def print_table(out: dict[str, Any], args: argparse.Namespace) -> None:
    print(
        f"\nN = {args.n}, R = {args.rate:g}/s, concurrency {args.concurrency}; "
        f"medians of {args.rounds} rounds (429s, failures, window: worst round)"
    )
    print(
        f"{'loop':<8} {'wall s':>7} {'N/R s':>6} {'x N/R':>6} {'x (N-1)/R':>9} "
        f"{'429s':>5} {'failed':>6} {'max/1 s':>7} {'rate/s':>7}"
    )
    for lp, e in out["results"].items():
        print(
            f"{lp:<8} {e['wall_s']:7.2f} {e['ideal_s']:6.2f} {e['wall_vs_ideal']:6.3f} "
            f"{e['wall_vs_evenly_spaced']:9.3f} {e['rate_limited_429']:5d} {e['failed']:6d} "
            f"{e['max_in_1s_window']:7d} {e['achieved_rate']:7.1f}"
        )
    _common.print_targets(out["targets"], digits=3)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--rate", type=int, default=100, help="requests per second")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--loops", nargs="+", default=["asyncio", "uvloop"])
    parser.add_argument("--quick", action="store_true", help="tiny run (smoke test)")
    parser.add_argument("--quiet", action="store_true", help="no per-run lines")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.rate, args.rounds, args.loops = 50, 50, 1, ["asyncio"]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return _common.publish("bulk", args, bench(args), print_table)


if __name__ == "__main__":
    sys.exit(main())
