"""Rate limiter under contention: CPU per acquire against one bare timer wake-up.

200 tasks loop on ``acquire()`` until N acquisitions are made, at R = 5,000/s and
500/s, on the default asyncio loop and on uvloop. Contenders:

* ``dumgum``: ``LocalLimiter(RateLimit.per_second(R))`` (what the client uses);
* ``before``: the same from another source file (``--before FILE``, e.g. the module
  at an older commit), to measure a change side by side in one run;
* ``aiolimiter``: a plain ``aiolimiter.AsyncLimiter(R, 1)``;
* ``floor``: one ticker task putting a token in an ``asyncio.Queue`` every 1/R s;
* ``sleepers``: no limiter, each acquire only sleeps (``await asyncio.sleep``) to the
  next point of the grid of 1/R s: the floor of the 200 tasks themselves, each woken
  by a timer of its own (a bare-sleep baseline with the benchmark's tasks, no window).

The baseline is one bare timer wake-up: one task doing ``await asyncio.sleep`` to
each point of the same grid of 1/R s (at 5,000/s the loop's 1 ms timer resolution
lets it catch up with zero-delay sleeps). Rounds are paired: every contender's block
runs between two baseline blocks, and its ratio is its CPU per acquire over the mean
of those two; the figure is the median of those per-block ratios. The ``control`` row
is a baseline block in a contender's place: its ratios show the noise; the
``+iteration`` row is the baseline plus one more loop iteration per wake-up (a
``call_soon``), the floor of a limiter that looks again when the request is written.

CPU per acquire is the process's CPU time over the block divided by N (the loop's
idle polling included); with ``--steady``, the CPU time from the (N/2)-th to the
(9N/10)-th acquisition over those 0.4N, leaving out the start (200 tasks created;
with the default 2 s, aiolimiter's first second, its full bucket) and the end (the
tasks finishing). The window figure is
the most acquisitions in any half-open window of 1 s, ``(t - 1, t]``, as a
sliding-window server counts them.

    python benchmarks/bench_throttle.py
    git show a21a7a8:dumgum_async/_throttle.py > /tmp/throttle_before.py
    python benchmarks/bench_throttle.py --before /tmp/throttle_before.py
    python benchmarks/bench_throttle.py --profile   # cProfile of ours, top functions
    python benchmarks/bench_throttle.py --steady --rounds 3
    python benchmarks/bench_throttle.py --quick

Targets (ours): <= 10 us CPU per acquire at 5,000/s; <= 1.1x one bare timer wake-up
at 500/s; never more than R in any 1 s window.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import importlib.util
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

LIMITERS = ("dumgum", "aiolimiter", "floor", "sleepers")
CONTROL = "control"
ITERATION = "+iteration"


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


class Sleepers:
    """No limiter: each acquire sleeps to the next point of a grid of 1/R s."""

    def __init__(self, rate: float) -> None:
        self._interval = 1.0 / rate
        self._next = -1.0

    async def acquire(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        if self._next < now:  # the first acquire, or the grid fell behind
            self._next = now
        at = self._next
        self._next = at + self._interval
        await asyncio.sleep(at - now)


def load_before(path: str | None) -> Any:
    """The ``LocalLimiter`` class of another copy of ``_throttle.py``, or None."""
    if path is None:
        return None
    spec = importlib.util.spec_from_file_location("_throttle_before", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.LocalLimiter


def max_in_window(times: Sequence[float], period: float) -> int:
    """Most entries of sorted ``times`` in any window ``(t - period, t]``."""
    best = i = 0
    for j, t in enumerate(times):
        while t - times[i] >= period:
            i += 1
        best = max(best, j - i + 1)
    return best


def make_limiter(name: str, rate: float, before: Any) -> Any:
    if name == "dumgum":
        return LocalLimiter(RateLimit.per_second(rate))
    if name == "before":
        return before(RateLimit.per_second(rate))
    if name == "aiolimiter":
        return AsyncLimiter(rate, 1)
    if name == "sleepers":
        return Sleepers(rate)
    return Floor(rate)


async def run_one(
    name: str, rate: float, n: int, tasks: int, before: Any, steady: bool = False
) -> dict[str, float]:
    loop = asyncio.get_running_loop()
    limiter = make_limiter(name, rate, before)
    acquire = limiter.acquire
    times: list[float] = []
    remaining = n
    # --steady: the CPU clock read at the (n/2)-th and (9n/10)-th acquisition.
    marks = {n // 2: 0.0, n - n // 10: 0.0} if steady else {}

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await acquire()
            times.append(loop.time())
            if len(times) in marks:
                marks[len(times)] = time.process_time()

    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(tasks)))
    await asyncio.sleep(0)  # a limiter's callbacks of the last iteration
    cpu = time.process_time() - cpu
    wall = time.perf_counter() - wall
    if marks:
        first, last = sorted(marks)
        cpu = (marks[last] - marks[first]) / (last - first) * n
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


async def bare_wakeups(rate: float, n: int) -> float:
    """CPU per ``await asyncio.sleep`` to the next point of a grid of ``1 / rate``."""
    loop = asyncio.get_running_loop()
    interval = 1.0 / rate
    gc.collect()
    cpu = time.process_time()
    next_at = loop.time()
    for _ in range(n):
        next_at += interval
        await asyncio.sleep(next_at - loop.time())
    return (time.process_time() - cpu) / n * 1e6


async def wakeups_and_an_iteration(rate: float, n: int) -> float:
    """CPU per wake-up of :func:`bare_wakeups` followed by one more loop iteration
    (a ``call_soon``): the floor of a limiter that looks again once the request is
    written, as ours does (the restamp)."""
    loop = asyncio.get_running_loop()
    interval = 1.0 / rate
    gc.collect()
    cpu = time.process_time()
    next_at = loop.time()
    for _ in range(n):
        next_at += interval
        await asyncio.sleep(next_at - loop.time())
        loop.call_soon(_nothing)
    return (time.process_time() - cpu) / n * 1e6


def _nothing() -> None:
    pass


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
    _common.run(run_one("dumgum", rate, n, tasks, None), loop)
    prof.disable()
    buf = io.StringIO()
    stats = pstats.Stats(prof, stream=buf).strip_dirs().sort_stats("tottime")
    stats.print_stats(top)
    return buf.getvalue()


def paired_rounds(
    args: argparse.Namespace, lp: str, rate: float, names: list[str], before: Any
) -> dict[str, list[dict[str, float]]]:
    """Per contender, one record per round: its figures and its ratio to the baseline."""
    n = max(200, round(args.seconds * rate))
    n_base = max(100, round(args.base_seconds * rate))
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    for r in range(args.rounds):
        shift = r % len(names)
        order = names[shift:] + names[:shift]
        base = [_common.run(bare_wakeups(rate, n_base), lp)]
        for name in order:
            if name == CONTROL:
                got = {"cpu_us_per_acquire": _common.run(bare_wakeups(rate, n_base), lp)}
            elif name == ITERATION:
                cost = _common.run(wakeups_and_an_iteration(rate, n_base), lp)
                got = {"cpu_us_per_acquire": cost}
            else:
                got = _common.run(run_one(name, rate, n, args.tasks, before, args.steady), lp)
            base.append(_common.run(bare_wakeups(rate, n_base), lp))
            got["wakeup_cpu_us"] = (base[-2] + base[-1]) / 2
            got["ratio_to_wakeup"] = got["cpu_us_per_acquire"] / got["wakeup_cpu_us"]
            runs[name].append(got)
            if not args.quiet:
                window = got.get("max_in_1s_window")
                print(
                    f"  round {r + 1} {lp:<8} {rate:>6g}/s {name:<10} "
                    f"{got['cpu_us_per_acquire']:7.1f} us/acquire "
                    f"({got['ratio_to_wakeup']:.2f}x the wake-up)"
                    + ("" if window is None else f", max {window:.0f} in 1 s"),
                    file=sys.stderr,
                    flush=True,
                )
    return runs


def summary(rounds: list[dict[str, float]]) -> dict[str, Any]:
    entry: dict[str, Any] = {
        key: _common.median([x[key] for x in rounds]) for key in rounds[0] if key != "rounds"
    }
    if "max_in_1s_window" in rounds[0]:
        entry["max_in_1s_window"] = max(int(x["max_in_1s_window"]) for x in rounds)
    entry["ratio_min"] = min(x["ratio_to_wakeup"] for x in rounds)
    entry["ratio_max"] = max(x["ratio_to_wakeup"] for x in rounds)
    entry["rounds"] = rounds
    return entry


def bench(args: argparse.Namespace) -> dict[str, Any]:
    loops = [lp for lp in args.loops if lp != "uvloop" or _common.have_uvloop()]
    before = load_before(args.before)
    extra = [CONTROL, ITERATION]
    names = [*extra, *args.limiters] + (["before"] if before is not None else [])
    results: dict[str, Any] = {}
    control: dict[str, Any] = {}
    targets = []
    high, low = max(args.rates), min(args.rates)
    for lp in loops:
        by_rate = {rate: paired_rounds(args, lp, rate, names, before) for rate in args.rates}
        results[lp] = {}
        control[lp] = {
            name: {f"{rate:g}": summary(runs[name]) for rate, runs in by_rate.items()}
            for name in extra
        }
        for name in names[len(extra) :]:
            rates = {f"{rate:g}": summary(runs[name]) for rate, runs in by_rate.items()}
            results[lp][name] = {
                "cpu_us_per_acquire": rates[f"{high:g}"]["cpu_us_per_acquire"],
                "max_in_1s_window": max(e["max_in_1s_window"] for e in rates.values()),
                "rates": rates,
            }
        if "dumgum" in results[lp]:
            ours = results[lp]["dumgum"]["rates"]
            targets.append(
                {
                    "figure": f"limiter CPU per acquire at {high:g}/s ({lp})",
                    "value": ours[f"{high:g}"]["cpu_us_per_acquire"],
                    "target": "<= 10 us",
                    "met": ours[f"{high:g}"]["cpu_us_per_acquire"] <= 10.0,
                }
            )
            targets.append(
                {
                    "figure": f"limiter CPU per acquire at {low:g}/s over one wake-up ({lp})",
                    "value": ours[f"{low:g}"]["ratio_to_wakeup"],
                    "target": "<= 1.1x",
                    "met": ours[f"{low:g}"]["ratio_to_wakeup"] <= 1.1,
                }
            )
            for rate in args.rates:
                worst = ours[f"{rate:g}"]["max_in_1s_window"]
                targets.append(
                    {
                        "figure": f"limiter max acquisitions in any 1 s at {rate:g}/s ({lp})",
                        "value": worst,
                        "target": f"<= {rate:g}",
                        "met": worst <= rate,
                    }
                )
    out: dict[str, Any] = {"results": results, "control": control, "targets": targets}
    acquires = 200 if args.quick else 2000
    out["context"] = {
        lp: {
            "sleep_wakeup_cpu_us": control[lp][CONTROL][f"{low:g}"]["wakeup_cpu_us"],
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
            lp: profile_ours(lp, high, round(high * args.seconds), args.tasks) for lp in loops
        }
    return out


def print_table(out: dict[str, Any], args: argparse.Namespace) -> None:
    print(
        f"\n{args.tasks} tasks, {args.seconds:g} s of acquisitions per block "
        + ("(CPU from the 50% to the 90% acquisition) " if args.steady else "")
        + f"({args.base_seconds:g} s per baseline block), medians of "
        f"{args.rounds} paired rounds (ratio: over the mean of the two baseline blocks "
        "around it; window: max over rounds)"
    )
    print(
        f"{'loop':<8} {'rate/s':>6} {'limiter':<10} {'us CPU/acquire':>14} "
        f"{'x wake-up':>9} {'(min-max)':>11} {'max in 1 s':>10} {'achieved/s':>10}"
    )
    for lp, by_name in out["results"].items():
        for rate in args.rates:
            key = f"{rate:g}"
            rows = [(name, e[key]) for name, e in out["control"][lp].items()]
            rows += [(name, e["rates"][key]) for name, e in by_name.items()]
            for name, e in rows:
                window = f"{e['max_in_1s_window']:10d}" if "max_in_1s_window" in e else " " * 10
                achieved = f"{e['achieved_rate']:10.1f}" if "achieved_rate" in e else " " * 10
                print(
                    f"{lp:<8} {rate:>6g} {name:<10} {e['cpu_us_per_acquire']:14.1f} "
                    f"{e['ratio_to_wakeup']:9.2f} "
                    f"({e['ratio_min']:.2f}-{e['ratio_max']:.2f}) {window} {achieved}"
                )
    for lp, ctx in out["context"].items():
        print(
            f"{lp}: one bare wake-up at {min(args.rates):g}/s costs "
            f"{ctx['sleep_wakeup_cpu_us']:.1f} us CPU; an acquire that never waits: "
            f"dumgum {ctx['uncontended_dumgum_cpu_us']:.2f} us, "
            f"aiolimiter {ctx['uncontended_aiolimiter_cpu_us']:.2f} us"
        )
    _common.print_targets(out["targets"], digits=2)
    for lp, text in out.get("profile", {}).items():
        print(f"\ncProfile of dumgum's LocalLimiter on {lp} (by own time):\n{text}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", type=float, nargs="+", default=[5000.0, 500.0])
    # Two seconds: aiolimiter's bucket starts full, so its first second costs nothing.
    parser.add_argument("--seconds", type=float, default=2.0, help="of acquisitions per block")
    parser.add_argument("--base-seconds", type=float, default=0.5, help="per baseline block")
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--loops", nargs="+", default=["asyncio", "uvloop"])
    parser.add_argument("--limiters", nargs="+", choices=LIMITERS, default=list(LIMITERS))
    parser.add_argument("--before", help="another _throttle.py, measured as `before`")
    parser.add_argument("--profile", action="store_true", help="cProfile ours afterwards")
    parser.add_argument(
        "--steady", action="store_true", help="CPU from the 50%%-th to the 90%%-th acquisition"
    )
    parser.add_argument("--quick", action="store_true", help="tiny run (smoke test)")
    parser.add_argument("--quiet", action="store_true", help="no per-run lines")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.base_seconds, args.rounds = 0.05, 0.02, 1
    args.n = max(200, round(args.seconds * max(args.rates)))  # the most per block
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return _common.publish("throttle", args, bench(args), print_table)


if __name__ == "__main__":
    sys.exit(main())
