"""Signals: Ctrl-C and SIGTERM stop a batch after its summary, keeping finished lines."""

from __future__ import annotations

import re
import signal
from pathlib import Path

import pytest

from dumgum_async.testing import FakeDumGumServer, sample_requests
from tests.helpers.cli import (
    KEY,
    interrupted_batch,
    read_jsonl,
    write_jsonl,
)


@pytest.mark.slow
async def test_ctrl_c_exits_130_after_the_summary_keeping_finished_lines(tmp_path: Path) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_jsonl(inp, sample_requests(200, seed=15))
    async with FakeDumGumServer(api_key=KEY, latency=0.05) as fake:
        status, err = await interrupted_batch(fake, inp, out, signal.SIGINT, after=5)
    assert status == 130, err
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
        more = ("--concurrency", "2")
        status, text = await interrupted_batch(fake, inp, out, signal.SIGTERM, after=3, more=more)
    assert status == 128 + signal.SIGTERM, text
    assert "Traceback" not in text
    assert "interrupted by SIGTERM" in text
    assert "--resume" in text.splitlines()[-1]
