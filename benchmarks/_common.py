"""Shared helpers of the benchmark scripts: servers in subprocesses, stats, output.

Not a benchmark itself. Every script imports it as ``_common``: the scripts are run
as ``python benchmarks/bench_x.py``, so their own directory comes first on the
import path.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import re
import selectors
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# tests.helpers.bodies.full_request() written out (the smoke test checks they agree): the
# benchmarks use the installed package only, never the tests.
FULL_REQUEST = HERE / "data" / "full_request.json"

__all__ = [
    "API_KEY",
    "ROOT",
    "Server",
    "emulator",
    "full_request",
    "have_uvloop",
    "machine_info",
    "median",
    "minimal_server",
    "run",
    "write_json",
]

_T = TypeVar("_T")

API_KEY = "bench-key"

_URL_RE = re.compile(r"(http://127\.0\.0\.1:\d+)")


class Server:
    """A server running in a child process; ``url`` is read from its first line."""

    def __init__(self, proc: subprocess.Popen[str], url: str) -> None:
        self.proc = proc
        self.url = url

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process so far (Linux; else 0)."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime


@contextlib.contextmanager
def _spawn(cmd: Sequence[str], *, timeout: float = 20.0) -> Iterator[Server]:
    proc = subprocess.Popen(
        list(cmd),
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + timeout
        url = None
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            while url is None:
                left = deadline - time.monotonic()
                if left <= 0 or proc.poll() is not None:
                    raise RuntimeError(f"server did not start: {' '.join(cmd)}")
                if sel.select(left):
                    line = proc.stdout.readline()
                    if match := _URL_RE.search(line):
                        url = match.group(1)
        yield Server(proc, url)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        if proc.stdout is not None:
            proc.stdout.close()


def full_request() -> dict[str, Any]:
    """A request with every profile field set and 20 messages, in the API's JSON shape.

    A fresh copy on every call, so a caller may change it.
    """
    data: dict[str, Any] = json.loads(FULL_REQUEST.read_text(encoding="utf-8"))
    return data


def minimal_server(*, loop: str = "auto") -> contextlib.AbstractContextManager[Server]:
    """The no-validation server of ``minimal_server.py``, in a child process."""
    return _spawn([sys.executable, str(HERE / "minimal_server.py"), "--port", "0", "--loop", loop])


def emulator(*options: str) -> contextlib.AbstractContextManager[Server]:
    """The library's emulator (``dumgum-async serve``) in a child process."""
    return _spawn(
        [
            sys.executable,
            "-m",
            "dumgum_async",
            "serve",
            "--port",
            "0",
            "--api-key",
            API_KEY,
            *options,
        ]
    )


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def machine_info() -> dict[str, Any]:
    """What the figures were measured on, including how busy the machine was."""
    model = platform.processor() or "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    versions: dict[str, str] = {}
    from importlib import metadata

    for dist in ("aiohttp", "attrs", "cattrs", "orjson", "aiolimiter", "pydantic", "httpx"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[dist] = metadata.version(dist)
    with contextlib.suppress(metadata.PackageNotFoundError):
        versions["uvloop"] = metadata.version("uvloop")
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": model,
        "cpus": os.cpu_count(),
        "loadavg": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "versions": versions,
    }


def write_json(path: str | None, payload: dict[str, Any]) -> None:
    """Write the results as JSON (for the smoke test and for the record)."""
    if path:
        Path(path).write_text(json.dumps(payload, indent=2, default=str))


def have_uvloop() -> bool:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True


def run(coro: Coroutine[Any, Any, _T], loop: str = "asyncio") -> _T:
    """Run ``coro`` on a fresh loop: ``"asyncio"`` (the default loop) or ``"uvloop"``."""
    if loop == "uvloop":
        import uvloop

        return uvloop.run(coro)
    if loop != "asyncio":
        raise ValueError(f"unknown loop {loop!r}")
    return asyncio.run(coro)


def print_targets(targets: Sequence[dict[str, Any]], digits: int = 2) -> None:
    """One line per target: the figure, its value, the target, met or MISSED."""
    for t in targets:
        met = "met" if t["met"] else "MISSED"
        print(f"target {t['figure']}: {t['value']:.{digits}f} (target {t['target']}) {met}")


def publish(
    benchmark: str,
    args: Any,
    results: dict[str, Any],
    print_table: Callable[[dict[str, Any], Any], None],
) -> int:
    """Print a run's table and write its JSON (``--json``); the scripts' common ending."""
    out = {"benchmark": benchmark, "params": vars(args), "machine": machine_info(), **results}
    print_table(out, args)
    write_json(args.json, out)
    return 0
