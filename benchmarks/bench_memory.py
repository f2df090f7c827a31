"""Memory of a long bulk run: ``suggest_many`` over a generator of N requests.

The server is ``minimal_server.py`` in its own process. Each N runs in a fresh child
process (so that its peak RSS is its own): the generator builds a new
``SuggestionRequest`` per item (``from_dict`` of the full sample request), results are
counted and dropped, and the child samples its RSS (``/proc/self/statm``) every
``--every`` results. Reported per N:

* peak RSS (``resource.getrusage(RUSAGE_SELF).ru_maxrss``);
* RSS at the first sample (after ``--every`` results: pool, caches and code warm);
* growth: the largest sample minus the first one, and the last minus the first.

    python benchmarks/bench_memory.py                 # N = 10,000 and 100,000
    python benchmarks/bench_memory.py --quick

Target: growth under 30 MB, and independent of N.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import _common

import dumgum_async as dg

MB = 1024 * 1024
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_bytes() -> int:
    """Resident set size now (Linux: /proc/self/statm; elsewhere the peak)."""
    try:
        return int(Path("/proc/self/statm").read_text().split()[1]) * _PAGE
    except OSError:
        return peak_rss_bytes()


def peak_rss_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, KiB on Linux


async def child_run(url: str, n: int, every: int, concurrency: int) -> dict[str, Any]:
    data = _common.full_request()
    samples: list[tuple[int, int]] = []
    ok = failed = 0

    def requests() -> Any:
        for _ in range(n):
            yield dg.SuggestionRequest.from_dict(data)

    start_rss = rss_bytes()
    wall, cpu = time.perf_counter(), time.process_time()
    async with dg.DumGumClient(api_key=_common.API_KEY, base_url=url) as client:
        stream = client.suggest_many(requests(), concurrency=concurrency)
        async with contextlib.aclosing(stream):
            async for result in stream:
                if result.ok:
                    ok += 1
                else:
                    failed += 1
                done = ok + failed
                if done % every == 0:
                    samples.append((done, rss_bytes()))
    wall = time.perf_counter() - wall
    cpu = time.process_time() - cpu
    first = samples[0][1]
    return {
        "n": n,
        "ok": ok,
        "failed": failed,
        "rss_before_mb": start_rss / MB,
        "rss_first_sample_mb": first / MB,
        "rss_last_sample_mb": samples[-1][1] / MB,
        "peak_rss_mb": peak_rss_bytes() / MB,
        "growth_max_mb": (max(s for _, s in samples) - first) / MB,
        "growth_last_mb": (samples[-1][1] - first) / MB,
        "wall_s": wall,
        "rps": n / wall,
        "cpu_us_per_req": cpu / n * 1e6,
        "samples_mb": [(i, round(s / MB, 2)) for i, s in samples],
    }


def run_child(url: str, n: int, args: argparse.Namespace) -> dict[str, Any]:
    cmd = [
        sys.executable,
        __file__,
        "--child-url",
        url,
        "--sizes",
        str(n),
        "--every",
        str(args.every),
        "--concurrency",
        str(args.concurrency),
        "--loop",
        args.loop,
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"child failed ({done.returncode}):\n{done.stderr}")
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def bench(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with _common.minimal_server() as server:
        for n in args.sizes:
            got = run_child(server.url, n, args)
            results[str(n)] = got
            if not args.quiet:
                print(
                    f"  N={n}: peak {got['peak_rss_mb']:.1f} MB, growth "
                    f"{got['growth_max_mb']:.2f} MB (last {got['growth_last_mb']:.2f}), "
                    f"{got['rps']:.0f} req/s",
                    file=sys.stderr,
                    flush=True,
                )
    growths = [e["growth_max_mb"] for e in results.values()]
    targets = [
        {
            "figure": f"RSS growth over a bulk run, N={n}",
            "value": e["growth_max_mb"],
            "target": "< 30 MB",
            "met": e["growth_max_mb"] < 30,
        }
        for n, e in results.items()
    ]
    targets.append(
        {
            "figure": "RSS growth spread across N (largest - smallest)",
            "value": max(growths) - min(growths),
            "target": "independent of N (< 5 MB apart)",
            "met": max(growths) - min(growths) < 5,
        }
    )
    return {"results": results, "targets": targets}


def print_table(out: dict[str, Any], args: argparse.Namespace) -> None:
    print(
        f"\nsuggest_many(concurrency={args.concurrency}) over a generator, "
        f"RSS sampled every {args.every} results"
    )
    print(
        f"{'N':>8} {'before MB':>9} {'first MB':>8} {'last MB':>8} {'peak MB':>8} "
        f"{'growth MB':>9} {'req/s':>7} {'us CPU/req':>10}"
    )
    for n, e in out["results"].items():
        print(
            f"{n:>8} {e['rss_before_mb']:9.1f} {e['rss_first_sample_mb']:8.1f} "
            f"{e['rss_last_sample_mb']:8.1f} {e['peak_rss_mb']:8.1f} {e['growth_max_mb']:9.2f} "
            f"{e['rps']:7.0f} {e['cpu_us_per_req']:10.1f}"
        )
    _common.print_targets(out["targets"], digits=2)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--every", type=int, default=1000, help="results between RSS samples")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per child")
    parser.add_argument("--quick", action="store_true", help="tiny run (smoke test)")
    parser.add_argument("--quiet", action="store_true", help="no per-run lines")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--child-url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.every = [200, 400], 50
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child_url:  # one measured run, in this fresh process
        got = _common.run(
            child_run(args.child_url, args.sizes[0], args.every, args.concurrency), args.loop
        )
        print(json.dumps(got))
        return 0
    return _common.publish("memory", args, bench(args), print_table)


if __name__ == "__main__":
    sys.exit(main())
