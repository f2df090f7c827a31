"""Rate limiter under contention: CPU per acquire, and the most releases in any window.

200 tasks loop on ``acquire()`` until N acquisitions are made, at R = 500/s, on the
default asyncio loop and on uvloop. Contenders:

* ``dumgum``: ``LocalLimiter(RateLimit.per_second(500))`` (what the client uses);
* ``aiolimiter``: a plain ``aiolimiter.AsyncLimiter(500, 1)``;
* ``floor``: one ticker task putting a token in an ``asyncio.Queue`` every 1/R s,
  for scale: about the least a limiter can cost at this rate.

CPU per acquire is the process's CPU time over the run divided by N (the loop's idle
polling included). The window figure is the most acquisitions in any half-open window
of 1 s, ``(t - 1, t]``, as a sliding-window server counts them.

    python benchmarks/bench_throttle.py
    python benchmarks/bench_throttle.py --profile   # cProfile of ours, top functions
    python benchmarks/bench_throttle.py --quick

Targets (ours): <= 10 us CPU per acquire; never more than R in any 1 s window.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import io
import pstats
import sys
import time
from collections.abc import Sequence
from typing import Any

import _common
from aiolimiter import AsyncLimiter

from dumgum_async import RateLimit

# No public equivalent: the client builds its ``LocalLimiter`` from ``rate_limit=``
# and never hands it out, and this benchmark measures that limiter on its own.
from dumgum_async._throttle import LocalLimiter  # private, see above

LIMITERS = ("dumgum", "aiolimiter", "floor")


class Floor:
    """A ticker releasing one token per interval into a queue."""

    def __init__(self, rate: float) -> None:
        self._queue: asyncio.Queue[None] = asyncio.Queue()
        self._interval = 1.0 / rate
        self._ticker = asyncio.ensure_future(self._tick())

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            self._queue.put_nowait(None)
            next_at += self._interval
            await asyncio.sleep(max(0.0, next_at - loop.time()))

    async def acquire(self) -> None:
        await self._queue.get()

    async def aclose(self) -> None:
        self._ticker.cancel()
        await asyncio.gather(self._ticker, return_exceptions=True)


def max_in_window(times: Sequence[float], period: float) -> int:
    """Most entries of sorted ``times`` in any window ``(t - period, t]``."""
    best = i = 0
    for j, t in enumerate(times):
        while t - times[i] >= period:
            i += 1
        best = max(best, j - i + 1)
    return best


async def run_one(name: str, rate: float, n: int, tasks: int) -> dict[str, float]:
    loop = asyncio.get_running_loop()
    limiter: Any
    if name == "dumgum":
        limiter = LocalLimiter(RateLimit.per_second(rate))
    elif name == "aiolimiter":
        limiter = AsyncLimiter(rate, 1)
    else:
        limiter = Floor(rate)
    acquire = limiter.acquire
    times: list[float] = []
    remaining = n

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await acquire()
            times.append(loop.time())

    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(tasks)))
    cpu = time.process_time() - cpu
    wall = time.perf_counter() - wall
    if isinstance(limiter, Floor):
        await limiter.aclose()
    start = times[0]
    return {
        "cpu_us_per_acquire": cpu / n * 1e6,
        "max_in_1s_window": max_in_window(times, 1.0),
        "in_first_second": sum(1 for t in times if t - start < 1.0),
        "achieved_rate": (n - 1) / (times[-1] - start) if times[-1] > start else float("inf"),
        "wall_s": wall,
    }


async def sleep_cost(rate: float, n: int) -> float:
    """CPU per ``await asyncio.sleep(1 / rate)``: what one timer wake-up of the loop costs."""
    cpu = time.process_time()
    for _ in range(n):
        await asyncio.sleep(1.0 / rate)
    return (time.process_time() - cpu) / n * 1e6


async def uncontended(name: str, n: int) -> float:
    """CPU per acquire when a token is always there: the limiter's bookkeeping alone."""
    limiter: Any
    if name == "dumgum":
        limiter = LocalLimiter(RateLimit.per_second(1e9))
    elif name == "aiolimiter":
        limiter = AsyncLimiter(1e9, 1)
    else:
        return float("nan")
    acquire = limiter.acquire
    cpu = time.process_time()
    for _ in range(n):
        await acquire()
    return (time.process_time() - cpu) / n * 1e6


def profile_ours(loop: str, rate: float, n: int, tasks: int, top: int = 18) -> str:
    # CPU time, not wall time: waiting in epoll is not what we are after.
    prof = cProfile.Profile(time.process_time)
    prof.enable()
    _common.run(run_one("dumgum", rate, n, tasks), loop)
    prof.disable()
    buf = io.StringIO()
    stats = pstats.Stats(prof, stream=buf).strip_dirs().sort_stats("tottime")
    stats.print_stats(top)
    return buf.getvalue()


def bench(args: argparse.Namespace) -> dict[str, Any]:
    loops = [lp for lp in args.loops if lp != "uvloop" or _common.have_uvloop()]
    runs: dict[str, dict[str, list[dict[str, float]]]] = {
        lp: {name: [] for name in args.limiters} for lp in loops
    }
    for r in range(args.rounds):
        for lp in loops:
            shift = r % len(args.limiters)
            for name in args.limiters[shift:] + args.limiters[:shift]:
                got = _common.run(run_one(name, args.rate, args.n, args.tasks), lp)
                runs[lp][name].append(got)
                if not args.quiet:
                    print(
                        f"  round {r + 1} {lp:<8} {name:<11} "
                        f"{got['cpu_us_per_acquire']:7.1f} us/acquire, "
                        f"max {got['max_in_1s_window']} in 1 s, "
                        f"{got['in_first_second']} in the first second",
                        file=sys.stderr,
                        flush=True,
                    )
    results: dict[str, Any] = {}
    targets = []
    for lp, by_name in runs.items():
        results[lp] = {}
        for name, rounds in by_name.items():
            entry: dict[str, Any] = {
                key: _common.median([x[key] for x in rounds]) for key in rounds[0]
            }
            entry["max_in_1s_window"] = max(x["max_in_1s_window"] for x in rounds)
            entry["rounds"] = rounds
            results[lp][name] = entry
        if "dumgum" in by_name:
            ours = results[lp]["dumgum"]
            targets.append(
                {
                    "figure": f"limiter CPU per acquire ({lp})",
                    "value": ours["cpu_us_per_acquire"],
                    "target": "<= 10 us",
                    "met": ours["cpu_us_per_acquire"] <= 10.0,
                }
            )
            targets.append(
                {
                    "figure": f"limiter max acquisitions in any 1 s window ({lp})",
                    "value": ours["max_in_1s_window"],
                    "target": f"<= {args.rate:g}",
                    "met": ours["max_in_1s_window"] <= args.rate,
                }
            )
    out: dict[str, Any] = {"results": results, "targets": targets}
    # For scale: the cost of one timer wake-up of the loop (every evenly spaced release
    # needs one), and of an acquire that never waits.
    sleeps, acquires = (50, 200) if args.quick else (500, 2000)
    out["context"] = {
        lp: {
            "sleep_wakeup_cpu_us": _common.median(
                [_common.run(sleep_cost(args.rate, sleeps), lp) for _ in range(args.rounds)]
            ),
            **{
                f"uncontended_{name}_cpu_us": _common.median(
                    [_common.run(uncontended(name, acquires), lp) for _ in range(args.rounds)]
                )
                for name in ("dumgum", "aiolimiter")
            },
        }
        for lp in loops
    }
    if args.profile:
        out["profile"] = {
            lp: profile_ours(lp, args.rate, min(args.n, 1500), args.tasks) for lp in loops
        }
    return out


def print_table(out: dict[str, Any], args: argparse.Namespace) -> None:
    print(
        f"\n{args.tasks} tasks, R = {args.rate:g}/s, N = {args.n} acquisitions, "
        f"medians of {args.rounds} rounds (window: max over rounds)"
    )
    print(
        f"{'loop':<8} {'limiter':<11} {'us CPU/acquire':>14} {'max in 1 s':>10} "
        f"{'1st second':>10} {'rate/s':>8}"
    )
    for lp, by_name in out["results"].items():
        for name, e in by_name.items():
            print(
                f"{lp:<8} {name:<11} {e['cpu_us_per_acquire']:14.1f} "
                f"{e['max_in_1s_window']:10d} {e['in_first_second']:10.0f} "
                f"{e['achieved_rate']:8.1f}"
            )
    for lp, ctx in out["context"].items():
        print(
            f"{lp}: one `await asyncio.sleep(1/R)` costs {ctx['sleep_wakeup_cpu_us']:.1f} us CPU; "
            f"an acquire that never waits: dumgum {ctx['uncontended_dumgum_cpu_us']:.2f} us, "
            f"aiolimiter {ctx['uncontended_aiolimiter_cpu_us']:.2f} us"
        )
    _common.print_targets(out["targets"], digits=1)
    for lp, text in out.get("profile", {}).items():
        print(f"\ncProfile of dumgum's LocalLimiter on {lp} (by own time):\n{text}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--n", type=int, default=2500, help="acquisitions per run")
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--loops", nargs="+", default=["asyncio", "uvloop"])
    parser.add_argument("--limiters", nargs="+", choices=LIMITERS, default=list(LIMITERS))
    parser.add_argument("--profile", action="store_true", help="cProfile ours afterwards")
    parser.add_argument("--quick", action="store_true", help="tiny run (smoke test)")
    parser.add_argument("--quiet", action="store_true", help="no per-run lines")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.rounds = 150, 1
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return _common.publish("throttle", args, bench(args), print_table)


if __name__ == "__main__":
    sys.exit(main())
