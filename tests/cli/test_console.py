"""What stderr shows: the progress line on a terminal, plain progress lines elsewhere,
the library's logs."""

from __future__ import annotations

import io
import re
import sys
import time
from pathlib import Path

import pytest

import dumgum_async as dg
from dumgum_async import _cli
from dumgum_async._cli._console import Console, Progress, Tally
from dumgum_async.testing import FakeDumGumServer, ScriptedResponse, sample_requests
from tests.helpers.cli import (
    KEY,
    batch_args,
    run_process,
    write_jsonl,
)


async def test_progress_line_redraws_in_place_on_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_jsonl(inp, sample_requests(8, seed=13))
    async with FakeDumGumServer(api_key=KEY, latency=0.03) as fake:
        args = batch_args(fake, inp, out, "--concurrency", "1")
        assert await _cli.run(args) == 0
    text = terminal.getvalue()
    status_lines = re.findall(r"\r(\d+/8 \(\d+%\)  [^\r\x1b]*)\x1b\[K", text)
    assert len(status_lines) >= 3
    assert status_lines[-1].startswith("8/8 (100%)")
    assert "ok 8" in status_lines[-1]
    assert "ETA" in status_lines[-1]
    assert "retries 0" in status_lines[-1]
    # The line is erased before the summary, which starts on a clean line.
    assert "\r\x1b[KSummary\n" in text


_PLAIN = re.compile(
    r"dumgum-async: (\d+)/20 \(\d+%\)  \d+\.\d/s  ETA [^ ]+( s| min [0-9]+ s)?  "
    r"ok \d+  failed (\d+)  retries \d+"
)


@pytest.mark.slow
async def test_piped_stderr_gets_a_plain_progress_line_every_interval(tmp_path: Path) -> None:
    inp = tmp_path / "in.jsonl"
    write_jsonl(inp, sample_requests(20, seed=2))
    async with FakeDumGumServer(api_key=KEY, latency=0.04) as fake:
        args = batch_args(fake, inp, tmp_path / "out.jsonl", "--concurrency", "1")
        started = time.monotonic()
        status, _, err = await run_process(*args, "--progress-interval", "0.15")
        elapsed = time.monotonic() - started
    text = err.decode()
    assert status == 0, text
    # No terminal: no carriage returns or escape codes, only whole lines.
    assert "\r" not in text
    assert "\x1b" not in text
    progress = [m for m in map(_PLAIN.fullmatch, text.splitlines()) if m]
    assert len(progress) >= 3, text
    done = [int(m.group(1)) for m in progress]
    assert done == sorted(done)
    assert done[0] < 20
    # About one line per interval, not one per item.
    assert len(progress) <= elapsed / 0.15 + 1


async def test_no_progress_means_no_progress_lines_off_a_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inp = tmp_path / "in.jsonl"
    write_jsonl(inp, sample_requests(8, seed=3))
    async with FakeDumGumServer(api_key=KEY, latency=0.03) as fake:
        args = batch_args(fake, inp, tmp_path / "out.jsonl", "--concurrency", "1")
        assert await _cli.run([*args, "--progress-interval", "0.02", "--no-progress"]) == 0
        assert len(fake.requests) == 8
    err = capsys.readouterr().err
    assert "/8 (" not in err
    assert "Summary" in err


async def test_library_logs_are_counted_not_shown_without_verbose(
    server: FakeDumGumServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_jsonl(inp, sample_requests(1))
    # A retry is INFO (not counted); giving up after the last attempt is a WARNING.
    server.script(*[ScriptedResponse(status=503, headers={"Retry-After": "0"}, json={})] * 2)
    assert await _cli.run(batch_args(server, inp, out, "--max-attempts", "2")) != 0
    err = capsys.readouterr().err
    assert "retrying" not in err
    assert "giving up" not in err
    assert re.search(r"log +1 warning +not shown", err), err


async def test_verbose_shows_library_logs_on_stderr(
    server: FakeDumGumServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_jsonl(inp, sample_requests(1))
    server.script(ScriptedResponse(status=503, headers={"Retry-After": "0"}, json={}))
    assert await _cli.run(batch_args(server, inp, out, "-v")) == 0
    assert "INFO dumgum_async: attempt 1/4 failed (HTTP 503)" in capsys.readouterr().err


async def test_progress_shows_100_percent_only_when_every_item_is_done() -> None:
    tally = Tally()
    tally.ok = 299
    async with dg.DumGumClient(api_key=KEY, base_url="http://127.0.0.1:9") as client:
        progress = Progress(Console(io.StringIO(), live=False), tally, client, 300, interval=None)
        assert progress.render().startswith("299/300 (99%)")
        tally.ok = 300
        assert progress.render().startswith("300/300 (100%)")
