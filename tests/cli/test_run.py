"""Signals: Ctrl-C and SIGTERM stop a batch after its summary, keeping finished lines."""

from __future__ import annotations

import asyncio
import re
import signal
from pathlib import Path

import pytest

from dumgum_async.testing import FakeDumGumServer, sample_requests
from tests.helpers.cli import (
    KEY,
    SUBPROCESS_TIMEOUT,
    read_jsonl,
    reap,
    start_batch,
    wait_for_lines,
    write_jsonl,
)


@pytest.mark.slow
async def test_ctrl_c_exits_130_after_the_summary_keeping_finished_lines(tmp_path: Path) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_jsonl(inp, sample_requests(200, seed=15))
    async with FakeDumGumServer(api_key=KEY, latency=0.05) as fake:
        proc = await start_batch(fake, inp, out)
        try:
            await wait_for_lines(out, 5, proc)
            proc.send_signal(signal.SIGINT)
            _, stderr = await asyncio.wait_for(proc.communicate(), SUBPROCESS_TIMEOUT)
        finally:
            await reap(proc)
    err = stderr.decode()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    lines = read_jsonl(out)
    ok = re.search(r"ok +(\d+)", err)
    assert ok is not None, err
    assert int(ok.group(1)) == len(lines) < 200


@pytest.mark.slow
async def test_sigterm_exits_143_and_says_to_rerun_with_resume(tmp_path: Path) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_jsonl(inp, sample_requests(200, seed=11))
    async with FakeDumGumServer(api_key=KEY, latency=0.05) as fake:
        proc = await start_batch(fake, inp, out, "--concurrency", "2")
        try:
            await wait_for_lines(out, 3, proc)
            proc.send_signal(signal.SIGTERM)
            _, err = await asyncio.wait_for(proc.communicate(), SUBPROCESS_TIMEOUT)
        finally:
            await reap(proc)
    text = err.decode()
    assert proc.returncode == 128 + signal.SIGTERM, text
    assert "Traceback" not in text
    assert "interrupted by SIGTERM" in text
    assert "--resume" in text.splitlines()[-1]
