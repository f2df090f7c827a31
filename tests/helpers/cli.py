"""What the tests of the command line share: JSONL files, the arguments of a batch
against an emulator, what the emulator saw, and ``python -m dumgum_async`` as a
subprocess.

Most tests run commands in-process with ``_cli.run`` (``main`` would call
``asyncio.run``, which cannot nest in the test's loop); those about processes, kills
and signals start ``python -m dumgum_async`` with :func:`spawn`.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from dumgum_async.testing import FakeDumGumServer
from tests.cli.conftest import KEY

__all__ = [
    "KEY",
    "SUBPROCESS_TIMEOUT",
    "batch_args",
    "first_message_id",
    "interrupted_batch",
    "parse_jsonl",
    "read_jsonl",
    "reap",
    "requests_per_conversation",
    "run_process",
    "spawn",
    "start_batch",
    "wait_for_lines",
    "write_jsonl",
]

#: Long enough for a process start and a run on a busy machine; a stalled one fails.
SUBPROCESS_TIMEOUT = 20.0


def write_jsonl(path: Path, items: Iterable[Any]) -> None:
    """Write ``items`` one a line: a string as it is, anything else as JSON."""
    with path.open("w", encoding="utf-8") as f:
        for item in items:
            f.write((item if isinstance(item, str) else json.dumps(item)) + "\n")


def parse_jsonl(raw: bytes) -> list[dict[str, Any]]:
    """The records of JSONL output, which must end with a whole line."""
    assert raw == b"" or raw.endswith(b"\n"), "the last line is torn"
    return [json.loads(line) for line in raw.decode().splitlines()]


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The records of a JSONL file, which must end with a whole line."""
    return parse_jsonl(path.read_bytes())


def first_message_id(body: Any) -> str:
    """What tells the sample conversations apart: the id of their first message."""
    return str(body["messages"][0]["id"])


def requests_per_conversation(fake: FakeDumGumServer) -> Counter[str]:
    """How many requests the emulator got for each conversation (by first message id)."""
    return Counter(first_message_id(r.json) for r in fake.requests if r.json is not None)


def batch_args(fake: FakeDumGumServer, inp: Path, out: Path | str, *more: str) -> list[str]:
    """``batch INP -o OUT`` against ``fake`` with KEY, then ``more``."""
    return ["batch", str(inp), "-o", str(out), "--api-key", KEY, "--base-url", fake.url, *more]


async def spawn(
    *args: str,
    key: str | None = KEY,
    stdin: int = asyncio.subprocess.DEVNULL,
    stdout: int = asyncio.subprocess.PIPE,
) -> asyncio.subprocess.Process:
    """``python -m dumgum_async ARGS`` with ``key`` in the environment (None: no key);
    stderr is a pipe."""
    env = {k: v for k, v in os.environ.items() if k != "DUMGUM_API_KEY"}
    if key is not None:
        env["DUMGUM_API_KEY"] = key
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "dumgum_async",
        *args,
        env=env,
        stdin=stdin,
        stdout=stdout,
        stderr=asyncio.subprocess.PIPE,
    )


async def reap(proc: asyncio.subprocess.Process) -> None:
    """Kill the process if it still runs, and wait for it."""
    if proc.returncode is None:
        proc.kill()
    await asyncio.wait_for(proc.communicate(), SUBPROCESS_TIMEOUT)


async def run_process(
    *args: str, key: str = KEY, timeout: float = SUBPROCESS_TIMEOUT
) -> tuple[int, bytes, bytes]:
    """(exit status, stdout, stderr) of ``python -m dumgum_async ARGS``, stdin empty."""
    proc = await spawn(*args, key=key)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    finally:
        await reap(proc)
    assert proc.returncode is not None
    return proc.returncode, out, err


async def start_batch(
    fake: FakeDumGumServer, inp: Path, out: Path, *more: str
) -> asyncio.subprocess.Process:
    """A ``batch`` subprocess against ``fake`` (4 at once unless ``more`` says otherwise),
    its stdout discarded."""
    args = ["batch", str(inp), "-o", str(out), "--base-url", fake.url]
    return await spawn(*args, *(more or ("--concurrency", "4")), stdout=asyncio.subprocess.DEVNULL)


def _lines_in(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


async def wait_for_lines(out: Path, n: int, proc: asyncio.subprocess.Process) -> None:
    """Wait until ``out`` has ``n`` lines, while ``proc`` still runs."""
    deadline = time.monotonic() + SUBPROCESS_TIMEOUT
    while _lines_in(out) < n:
        assert proc.returncode is None, "the batch ended before it could be interrupted"
        assert time.monotonic() < deadline, "no output from the batch"
        await asyncio.sleep(0.01)


async def interrupted_batch(
    fake: FakeDumGumServer,
    inp: Path,
    out: Path,
    signum: int,
    *,
    after: int,
    more: Sequence[str] = (),
) -> tuple[int, str]:
    """(exit status, stderr) of a ``batch`` subprocess sent ``signum`` once ``out`` has
    ``after`` lines."""
    proc = await start_batch(fake, inp, out, *more)
    try:
        await wait_for_lines(out, after, proc)
        proc.send_signal(signum)
        _, err = await asyncio.wait_for(proc.communicate(), SUBPROCESS_TIMEOUT)
    finally:
        await reap(proc)
    assert proc.returncode is not None
    return proc.returncode, err.decode()
