"""Where the client's extra CPU per request goes: cProfile of ``dumgum`` and of ``raw``.

Run through ``python benchmarks/bench_client.py --profile [--loop uvloop]
[--scenarios cold]``: the ``warm`` scenario (or the one scenario ``--scenarios`` names)
at concurrency 16 against ``minimal_server.py``, each contender warmed up, then ``N``
requests under ``cProfile``. Printed: the CPU per request of each
without the profiler (for scale: cProfile's own cost inflates every profiled figure,
most for small functions called often), own time per request grouped by package, and
the functions ranked by (dumgum's own time - raw's own time) per request; "~us"
rescales that extra so that it adds up to the unprofiled extra CPU per request.
"""

from __future__ import annotations

import cProfile
import gc
import pstats
import time
from collections import defaultdict
from typing import Any

from bench_client import contender, drive_items
from scenarios import Scenario

N = 4000
CONCURRENCY = 16
TOP = 30


def _package(filename: str) -> str:
    if filename.startswith("<cattrs generated"):
        return "cattrs (generated)"
    if filename.startswith("<dumgum generated"):  # our encoders and checks: ours
        return "dumgum_async (generated)"
    markers = ("dumgum_async", "opentelemetry", "aiohttp", "multidict", "yarl", "asyncio")
    for marker in (*markers, "cattrs", "attr"):
        if f"/{marker}/" in filename:
            return marker
    if filename == "~":
        return "builtins"
    return "other"


async def _run(
    name: str, url: str, n: int, scenario: str
) -> tuple[float, dict[tuple[str, int, str], float]]:
    stream = Scenario(scenario)
    async with contender(name, url) as send:
        await drive_items(send, stream.take(max(n // 4, CONCURRENCY)), CONCURRENCY)
        items = stream.take(n) if name == "dumgum" else [None] * n
        gc.collect()
        cpu = time.process_time()
        await drive_items(send, items, CONCURRENCY)
        plain = (time.process_time() - cpu) / n * 1e6
        items = stream.take(n) if name == "dumgum" else [None] * n
        gc.collect()
        profiler = cProfile.Profile(time.process_time)
        profiler.enable()
        await drive_items(send, items, CONCURRENCY)
        profiler.disable()
    stats: Any = pstats.Stats(profiler).stats
    own = {key: value[2] / n * 1e6 for key, value in stats.items()}  # tottime
    return plain, own


def _label(key: tuple[str, int, str]) -> str:
    filename, line, func = key
    if filename == "~":
        return func
    tail = "/".join(filename.split("/")[-2:])
    return f"{tail}:{line}({func})"


async def profile(url: str, n: int = N, scenario: str = "warm") -> int:
    """Print the profile of ``n`` requests (see the module docstring)."""
    plain: dict[str, float] = {}
    own: dict[str, dict[tuple[str, int, str], float]] = {}
    for name in ("raw", "dumgum", "raw"):  # raw twice: the mean brackets dumgum
        cpu, stats = await _run(name, url, n, scenario)
        plain[name] = plain.get(name, 0.0) + cpu / (2 if name == "raw" else 1)
        if name not in own:
            own[name] = stats
    print(f"{scenario}, C={CONCURRENCY}, {n} requests; CPU us/request without the profiler:")
    extra = plain["dumgum"] - plain["raw"]
    print(f"  raw {plain['raw']:.1f}  dumgum {plain['dumgum']:.1f}  extra {extra:+.1f}")
    profiled = {name: sum(stats.values()) for name, stats in own.items()}
    # cProfile multiplies every figure (most those of small functions called often):
    # "~us" rescales the extra own time so that it sums to the unprofiled extra.
    scale = extra / (profiled["dumgum"] - profiled["raw"])
    print(
        f"  profiled: raw {profiled['raw']:.1f}  dumgum {profiled['dumgum']:.1f}; "
        f"~us = x{scale:.3f}"
    )
    print("\nprofiled own time, us/request, by package:")
    by_package: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for name, stats in own.items():
        for key, us in stats.items():
            by_package[_package(key[0])][name] += us
    for package, per in sorted(by_package.items(), key=lambda kv: -kv[1]["dumgum"]):
        extra = per["dumgum"] - per["raw"]
        print(
            f"  {package:<18} dumgum {per['dumgum']:7.1f}  raw {per['raw']:7.1f}  "
            f"extra {extra:+7.1f}  ~us {extra * scale:+6.1f}"
        )
    print(f"\ntop {TOP} functions by extra own time (dumgum - raw), profiled us/request:")
    keys = set(own["dumgum"]) | set(own["raw"])
    diff = {k: own["dumgum"].get(k, 0.0) - own["raw"].get(k, 0.0) for k in keys}
    for key in sorted(keys, key=lambda k: -diff[k])[:TOP]:
        ours, theirs = own["dumgum"].get(key, 0.0), own["raw"].get(key, 0.0)
        print(
            f"  {diff[key]:+6.2f} ~us {diff[key] * scale:+5.1f} "
            f"(dumgum {ours:6.2f}, raw {theirs:6.2f})  {_label(key)}"
        )
    return 0
