"""Throughput and success rate through a 30% fault mix, against the same run without.

Two emulator processes run side by side (``--no-validate``, fixed ``--seed``): one
clean, one answering 30% of requests with a fault (by default 5% each of 429, 500,
503, 4% each of 502, 504 and connection resets, 3% truncated bodies), with a short
``Retry-After`` (``--retry-after``, 0 s by default) on the 429s and 503s. Each round
runs ``suggest_many(N requests, concurrency=32)``:

* ``clean``: the clean server, default ``RetryPolicy()``;
* ``faults``: the faulty server, default ``RetryPolicy()`` (4 attempts, backoff from
  0.5 s, retry budget of 20% extra traffic over 10 s); ``--quick`` uses a 0.01 s
  initial backoff so that the smoke test is short;
* ``faults_no_budget``: the faulty server, ``RetryPolicy(budget=None)``.

Reported: requests/s (successful items per second of wall time), success rate,
attempts per item, retries by reason, failures by type.

    python benchmarks/bench_faults.py
    python benchmarks/bench_faults.py --quick
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import time
from typing import Any

import _common

import dumgum_async as dg

MIX = {
    "429": 0.05,
    "500": 0.05,
    "502": 0.04,
    "503": 0.05,
    "504": 0.04,
    "reset": 0.04,
    "truncated": 0.03,
}
CONFIGS = ("clean", "faults", "faults_no_budget")


async def run_once(url: str, n: int, concurrency: int, policy: dg.RetryPolicy) -> dict[str, Any]:
    model = dg.SuggestionRequest.from_dict(_common.full_request())
    ok = failed = 0
    wall, cpu = time.perf_counter(), time.process_time()
    async with dg.DumGumClient(api_key=_common.API_KEY, base_url=url, retry=policy) as client:
        stream = client.suggest_many((model for _ in range(n)), concurrency=concurrency)
        async with contextlib.aclosing(stream):
            async for result in stream:
                if result.ok:
                    ok += 1
                else:
                    failed += 1
        stats = client.stats
    wall = time.perf_counter() - wall
    cpu = time.process_time() - cpu
    return {
        "ok_per_s": ok / wall,
        "success_rate": ok / n,
        "attempts_per_item": stats.attempts / n,
        "wall_s": wall,
        "cpu_us_per_item": cpu / n * 1e6,
        "ok": ok,
        "failed": failed,
        "retries": dict(stats.retries),
        "failures": dict(stats.failed),
        "rate_limited_429": stats.rate_limited,
    }


def bench(args: argparse.Namespace) -> dict[str, Any]:
    mix = [
        arg
        for kind, p in MIX.items()
        for arg in (f"--fault-{kind}", f"{p * args.scale:g}")
        if p * args.scale > 0
    ]
    common = ["--no-validate", "--seed", "7"]
    backoff = {} if args.backoff is None else {"initial_backoff": args.backoff}
    policies = {
        "clean": dg.RetryPolicy(**backoff),
        "faults": dg.RetryPolicy(**backoff),
        "faults_no_budget": dg.RetryPolicy(budget=None, **backoff),
    }
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in CONFIGS}
    with (
        _common.emulator(*common) as clean,
        _common.emulator(*common, *mix, "--retry-after", f"{args.retry_after:g}") as faulty,
    ):
        for r in range(args.rounds):
            shift = r % len(CONFIGS)
            for name in CONFIGS[shift:] + CONFIGS[:shift]:
                url = clean.url if name == "clean" else faulty.url
                got = _common.run(
                    run_once(url, args.n, args.concurrency, policies[name]), args.loop
                )
                runs[name].append(got)
                if not args.quiet:
                    print(
                        f"  round {r + 1} {name:<17} {got['ok_per_s']:7.0f} ok/s, "
                        f"success {got['success_rate']:.3f}, "
                        f"{got['attempts_per_item']:.2f} attempts/item",
                        file=sys.stderr,
                        flush=True,
                    )
    results: dict[str, Any] = {}
    numeric = ("ok_per_s", "success_rate", "attempts_per_item", "wall_s", "cpu_us_per_item")
    for name, rounds in runs.items():
        entry: dict[str, Any] = {key: _common.median([x[key] for x in rounds]) for key in numeric}
        if name != "clean":
            entry["throughput_vs_clean"] = _common.median(
                [x["ok_per_s"] / c["ok_per_s"] for x, c in zip(rounds, runs["clean"], strict=True)]
            )
        entry["rounds"] = rounds
        results[name] = entry
    return {"results": results, "fault_mix": {k: v * args.scale for k, v in MIX.items()}}


def print_table(out: dict[str, Any], args: argparse.Namespace) -> None:
    total = sum(out["fault_mix"].values())
    print(
        f"\nN = {args.n}, concurrency {args.concurrency}, fault mix {total:.0%} "
        f"({', '.join(f'{k} {v:.0%}' for k, v in out['fault_mix'].items())}), "
        f"Retry-After {args.retry_after:g} s; medians of {args.rounds} rounds"
    )
    print(
        f"{'config':<17} {'ok/s':>7} {'x clean':>7} {'success':>7} {'attempts/item':>13} "
        f"{'us CPU/item':>11}"
    )
    for name, e in out["results"].items():
        print(
            f"{name:<17} {e['ok_per_s']:7.0f} {e.get('throughput_vs_clean', 1.0):7.2f} "
            f"{e['success_rate']:7.3f} {e['attempts_per_item']:13.2f} {e['cpu_us_per_item']:11.1f}"
        )
    for name, e in out["results"].items():
        last = e["rounds"][-1]
        print(f"{name}: retries {last['retries']}, failures {last['failures']} (last round)")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--retry-after", type=float, default=0.0, help="seconds (429/503)")
    parser.add_argument(
        "--backoff", type=float, help="initial backoff in seconds (default: the library's)"
    )
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the fault mix")
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    parser.add_argument("--quick", action="store_true", help="tiny run (smoke test)")
    parser.add_argument("--quiet", action="store_true", help="no per-run lines")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.rounds, args.backoff = 60, 1, 0.01
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.getLogger("dumgum_async").setLevel(logging.ERROR)  # one WARNING per retry
    return _common.publish("faults", args, bench(args), print_table)


if __name__ == "__main__":
    sys.exit(main())
