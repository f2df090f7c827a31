"""Speed and memory of ``dumgum-async validate`` on a JSONL file of typical lines.

The input is ``{"id": i, "request": body}`` per line, the bodies from
``dumgum_async.testing.sample_requests`` (1 to 12 messages, ~1.5 KB a line). Each size
runs the real command in a fresh child process (``python -m dumgum_async validate
FILE``), timed from start to exit (interpreter start-up included); its peak RSS comes
from ``os.wait4``. Next to it, the baseline: a child that only reads the file and
``json.loads`` every line (the cost of parsing alone).

    python benchmarks/bench_validate.py                 # N = 20,000 and 200,000
    python benchmarks/bench_validate.py --quick

Targets: at least 20,000 lines/s once started (the extra lines of the largest N over
the smallest, divided by the extra time: start-up is paid once per file); memory flat
but for the set of duplicate ids (8-byte digests): peak RSS growth per extra line
under 200 bytes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _common

from dumgum_async.testing import sample_requests

MB = 1024 * 1024
_BASELINE = (
    "import json, sys\n"
    "with open(sys.argv[1], 'rb') as f:\n"
    "    for line in f:\n"
    "        json.loads(line)\n"
)


def write_input(path: Path, n: int) -> int:
    """Write ``n`` lines; return the file's size in bytes."""
    with path.open("w", encoding="utf-8") as f:
        for i, body in enumerate(sample_requests(n, seed=11)):
            f.write(json.dumps({"id": i, "request": body}, ensure_ascii=False) + "\n")
    return path.stat().st_size


def timed_child(cmd: list[str], timeout: float) -> dict[str, Any]:
    """Run ``cmd``; its wall time, exit status and peak RSS."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    except BaseException:
        proc.kill()
        raise
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    stderr = proc.stderr.read().decode() if proc.stderr is not None else ""
    if proc.stderr is not None:
        proc.stderr.close()
    if wall > timeout:
        raise RuntimeError(f"{cmd[:4]} took {wall:.0f} s, over --timeout")
    return {
        "status": proc.returncode,
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_rss_mb": usage.ru_maxrss * 1024 / MB,  # KiB on Linux
        "stderr_tail": stderr[-400:],
    }


def bench(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-validate-") as tmp:
        for n in args.sizes:
            path = Path(tmp) / f"in-{n}.jsonl"
            size = write_input(path, n)
            ours = timed_child(
                [sys.executable, "-m", "dumgum_async", "validate", str(path)], args.timeout
            )
            if ours["status"] != 0:
                raise RuntimeError(f"validate exited {ours['status']}: {ours['stderr_tail']}")
            base = timed_child([sys.executable, "-c", _BASELINE, str(path)], args.timeout)
            entry = {
                "n": n,
                "bytes_per_line": size / n,
                "validate": ours,
                "json_loads_only": base,
                "lines_per_s": n / ours["wall_s"],
                "baseline_lines_per_s": n / base["wall_s"],
            }
            results[str(n)] = entry
            path.unlink()
            if not args.quiet:
                print(
                    f"  N={n}: {entry['lines_per_s']:.0f} lines/s "
                    f"(json.loads alone {entry['baseline_lines_per_s']:.0f}), "
                    f"peak {ours['peak_rss_mb']:.1f} MB",
                    file=sys.stderr,
                    flush=True,
                )
    small, large = results[str(min(args.sizes))], results[str(max(args.sizes))]
    extra = max(args.sizes) - min(args.sizes)
    growth = large["validate"]["peak_rss_mb"] - small["validate"]["peak_rss_mb"]
    per_line = growth * MB / extra if extra else 0.0
    # The marginal rate: start-up (interpreter, imports) is paid once per file.
    spent = large["validate"]["wall_s"] - small["validate"]["wall_s"]
    steady = extra / spent if extra and spent > 0 else large["lines_per_s"]
    targets = [
        {
            "figure": "validate lines/s, steady (extra lines / extra time, largest vs smallest N)",
            "value": steady,
            "target": ">= 20000",
            "met": steady >= 20_000,
        },
        {
            "figure": "peak RSS growth per extra line (the duplicate-id digests), bytes",
            "value": per_line,
            "target": "< 200",
            "met": per_line < 200,
        },
    ]
    return {
        "results": results,
        "steady_lines_per_s": steady,
        "growth_mb": growth,
        "targets": targets,
    }


def print_table(out: dict[str, Any], args: argparse.Namespace) -> None:
    print("\ndumgum-async validate FILE, typical lines (sample_requests), fresh process per N")
    print(f"{'N':>8} {'B/line':>7} {'lines/s':>8} {'json.loads/s':>12} {'CPU s':>6} {'peak MB':>8}")
    for n, e in out["results"].items():
        v = e["validate"]
        print(
            f"{n:>8} {e['bytes_per_line']:7.0f} {e['lines_per_s']:8.0f} "
            f"{e['baseline_lines_per_s']:12.0f} {v['cpu_s']:6.2f} {v['peak_rss_mb']:8.1f}"
        )
    _common.print_targets(out["targets"], digits=0)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 200_000])
    parser.add_argument("--timeout", type=float, default=900, help="seconds per child")
    parser.add_argument("--quick", action="store_true", help="tiny run (smoke test)")
    parser.add_argument("--quiet", action="store_true", help="no per-run lines")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes = [300, 600]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return _common.publish("validate", args, bench(args), print_table)


if __name__ == "__main__":
    sys.exit(main())
