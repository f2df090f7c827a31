"""The ``dumgum-async`` command line, against the emulator over real sockets.

Most tests run commands in-process with ``_cli.run`` (``main`` would call
``asyncio.run``, which cannot nest in the test's loop); those about processes, kills and
signals start ``python -m dumgum_async`` as a subprocess.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import signal
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import pytest

import dumgum_async as dg
from dumgum_async import _cli
from dumgum_async.testing import FakeDumGumServer, ScriptedResponse, sample_requests

KEY = "cli-key"
_SUBPROCESS_TIMEOUT = 20.0


@pytest.fixture
async def server() -> AsyncIterator[FakeDumGumServer]:
    """An emulator accepting KEY, no faults."""
    async with FakeDumGumServer(api_key=KEY, seed=1) as fake:
        yield fake


def _write_jsonl(path: Path, items: Iterable[Any]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for item in items:
            f.write((item if isinstance(item, str) else json.dumps(item)) + "\n")


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    raw = path.read_bytes()
    assert raw == b"" or raw.endswith(b"\n"), "the last line is torn"
    return [json.loads(line) for line in raw.decode().splitlines()]


def _first_message_id(body: Any) -> str:
    return str(body["messages"][0]["id"])


def _requests_per_conversation(fake: FakeDumGumServer) -> Counter[str]:
    """How many requests the emulator got for each conversation (by first message id)."""
    return Counter(_first_message_id(r.json) for r in fake.requests if r.json is not None)


def _batch_args(fake: FakeDumGumServer, inp: Path, out: Path, *more: str) -> list[str]:
    return ["batch", str(inp), "-o", str(out), "--api-key", KEY, "--base-url", fake.url, *more]


# --- suggest ----------------------------------------------------------------------------


async def test_suggest_prints_three_numbered_suggestions(
    server: FakeDumGumServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    request = tmp_path / "request.json"
    request.write_text(json.dumps(next(sample_requests(1, seed=2))), encoding="utf-8")
    status = await _cli.run(["suggest", str(request), "--api-key", KEY, "--base-url", server.url])
    out = capsys.readouterr().out
    assert status == 0
    assert re.fullmatch(r"1\. .+\n2\. .+\n3\. .+\n", out), out


async def test_suggest_json_prints_a_json_array(
    server: FakeDumGumServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    request = tmp_path / "request.json"
    request.write_text(json.dumps(next(sample_requests(1, seed=2))), encoding="utf-8")
    args = ["suggest", str(request), "--json", "--api-key", KEY, "--base-url", server.url]
    assert await _cli.run(args) == 0
    suggestions = json.loads(capsys.readouterr().out)
    assert isinstance(suggestions, list)
    assert len(suggestions) == 3


async def test_suggest_reads_the_request_from_stdin(
    server: FakeDumGumServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(next(sample_requests(1)))))
    assert await _cli.run(["suggest", "-", "--api-key", KEY, "--base-url", server.url]) == 0
    assert capsys.readouterr().out.count("\n") == 3


async def test_suggest_lists_every_problem_of_an_invalid_request_with_its_path(
    server: FakeDumGumServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = next(sample_requests(1, seed=3))
    body["language"] = "KLINGON"
    body["messages"][0]["date"] = "yesterday"
    del body["userProfile"]["gender"]
    request = tmp_path / "request.json"
    request.write_text(json.dumps(body), encoding="utf-8")
    status = await _cli.run(["suggest", str(request), "--api-key", KEY, "--base-url", server.url])
    err = capsys.readouterr().err
    assert status == 1
    lines = err.splitlines()
    assert "3 problems" in lines[0]
    assert any(line.strip().startswith("language:") for line in lines[1:])
    assert any(line.strip().startswith("messages[0].date:") for line in lines[1:])
    assert any(line.strip().startswith("userProfile.gender:") for line in lines[1:])
    assert server.requests == []


async def test_missing_api_key_exits_2_naming_the_variable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    request = tmp_path / "request.json"
    request.write_text(json.dumps(next(sample_requests(1))), encoding="utf-8")
    assert await _cli.run(["suggest", str(request)]) == 2
    assert "DUMGUM_API_KEY" in capsys.readouterr().err


async def test_the_key_flag_wins_over_the_environment(
    server: FakeDumGumServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DUMGUM_API_KEY", "wrong-key")
    monkeypatch.setenv("DUMGUM_BASE_URL", server.url)
    request = tmp_path / "request.json"
    request.write_text(json.dumps(next(sample_requests(1))), encoding="utf-8")
    assert await _cli.run(["suggest", str(request), "--api-key", KEY]) == 0


async def test_a_refused_key_exits_3_and_is_reported_without_printing_it(
    server: FakeDumGumServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    secret = "sk-very-secret-0123456789"
    monkeypatch.setenv("DUMGUM_API_KEY", secret)
    request = tmp_path / "request.json"
    request.write_text(json.dumps(next(sample_requests(1))), encoding="utf-8")
    assert await _cli.run(["suggest", str(request), "--base-url", server.url]) == _cli.EXIT_FATAL
    captured = capsys.readouterr()
    assert "AuthenticationError" in captured.err
    assert secret not in captured.err + captured.out


# --- batch ------------------------------------------------------------------------------


async def test_batch_writes_one_line_per_item_keyed_by_line_number_and_exits_0(
    server: FakeDumGumServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write_jsonl(inp, sample_requests(12, seed=4))
    assert await _cli.run(_batch_args(server, inp, out)) == 0
    lines = _read_jsonl(out)
    assert sorted(line["id"] for line in lines) == list(range(1, 13))
    for line in lines:
        assert set(line) == {"id", "suggestions"}
        assert len(line["suggestions"]) == 3
    assert "ok         12" in capsys.readouterr().err


async def test_batch_keeps_the_ids_of_wrapped_lines_and_skips_blank_lines(
    server: FakeDumGumServer, tmp_path: Path
) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    bodies = list(sample_requests(3, seed=5))
    _write_jsonl(inp, [{"id": "a", "request": bodies[0]}, "", {"id": 7, "request": bodies[1]}])
    with inp.open("a") as f:
        f.write("   \n" + json.dumps(bodies[2]) + "\n")
    assert await _cli.run(_batch_args(server, inp, out)) == 0
    assert sorted(map(str, (line["id"] for line in _read_jsonl(out)))) == ["5", "7", "a"]


async def test_batch_reports_bad_input_lines_and_writes_them_as_error_lines(
    server: FakeDumGumServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    bodies = list(sample_requests(3, seed=6))
    _write_jsonl(inp, [bodies[0], "{not json", bodies[1], "[1, 2]", bodies[2]])
    assert await _cli.run(_batch_args(server, inp, out)) == 1
    err = capsys.readouterr().err
    assert f"{inp}:2: not valid JSON" in err
    assert f"{inp}:4: expected a JSON object" in err
    by_id = {line["id"]: line for line in _read_jsonl(out)}
    assert sorted(by_id) == [1, 2, 3, 4, 5]
    for bad in (2, 4):
        assert by_id[bad]["error"]["type"] == "InputLineError"
        assert by_id[bad]["error"]["status"] is None
        assert f"line {bad}" in by_id[bad]["error"]["message"]
    assert all(len(by_id[good]["suggestions"]) == 3 for good in (1, 3, 5))


async def test_batch_writes_an_invalid_request_as_an_error_line(
    server: FakeDumGumServer, tmp_path: Path
) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    bodies = list(sample_requests(2, seed=7))
    del bodies[1]["messages"]
    _write_jsonl(inp, bodies)
    assert await _cli.run(_batch_args(server, inp, out)) == 1
    error = {line["id"]: line for line in _read_jsonl(out)}[2]["error"]
    assert error["type"] == "RequestValidationError"
    assert error["status"] is None
    assert "messages" in error["message"]


async def test_batch_writes_api_failures_with_their_type_and_status(
    server: FakeDumGumServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write_jsonl(inp, sample_requests(4, seed=8))
    server.script(ScriptedResponse(status=422, json={"error": "unprocessable"}))
    assert await _cli.run(_batch_args(server, inp, out, "--concurrency", "1")) == 1
    failed = [line for line in _read_jsonl(out) if "error" in line]
    assert len(failed) == 1
    assert failed[0]["error"]["type"] == "UnprocessableEntityError"
    assert failed[0]["error"]["status"] == 422
    assert "UnprocessableEntityError 1" in capsys.readouterr().err


async def test_batch_summary_counts_retries_and_429s(
    server: FakeDumGumServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write_jsonl(inp, sample_requests(3, seed=9))
    server.script(ScriptedResponse(status=429, headers={"Retry-After": "0"}, json={}))
    assert await _cli.run(_batch_args(server, inp, out, "--concurrency", "1")) == 0
    err = capsys.readouterr().err
    assert re.search(r"retries +1 +HTTP 429 1", err), err
    assert re.search(r"429s +1", err), err
    assert re.search(r"latency +p50 \d+ ms +p95 \d+ ms +p99 \d+ ms", err), err


async def test_batch_refuses_an_existing_output_without_resume_or_overwrite(
    server: FakeDumGumServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write_jsonl(inp, sample_requests(2))
    out.write_text('{"id": 1, "suggestions": ["a", "b", "c"]}\n')
    assert await _cli.run(_batch_args(server, inp, out)) == 2
    assert "--resume" in capsys.readouterr().err
    assert out.read_text() == '{"id": 1, "suggestions": ["a", "b", "c"]}\n'
    assert server.requests == []


async def test_batch_overwrite_replaces_the_existing_output(
    server: FakeDumGumServer, tmp_path: Path
) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write_jsonl(inp, sample_requests(2))
    out.write_text('{"id": 99, "suggestions": ["old"]}\n')
    assert await _cli.run(_batch_args(server, inp, out, "--overwrite")) == 0
    assert sorted(line["id"] for line in _read_jsonl(out)) == [1, 2]


async def test_resume_retries_failed_ids_and_skips_answered_ones(
    server: FakeDumGumServer, tmp_path: Path
) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    bodies = list(sample_requests(6, seed=10))
    _write_jsonl(inp, bodies)
    server.script(*[ScriptedResponse(status=400, json={"error": "no"})] * 2)
    assert await _cli.run(_batch_args(server, inp, out, "--concurrency", "1")) == 1
    failed = {line["id"] for line in _read_jsonl(out) if "error" in line}
    assert failed == {1, 2}
    server.clear()

    assert await _cli.run(_batch_args(server, inp, out, "--resume")) == 0
    lines = _read_jsonl(out)
    assert sorted(line["id"] for line in lines) == list(range(1, 7))
    assert all("suggestions" in line for line in lines)
    assert _requests_per_conversation(server) == Counter(
        _first_message_id(bodies[i - 1]) for i in failed
    )


@pytest.mark.parametrize(
    "torn",
    [b'{"id": 2, "suggestions": ["d", "e"', b'{"id": 2, "suggestions": ["d", "e", "f"]}'],
    ids=["cut-json", "no-newline"],
)
async def test_resume_drops_a_torn_last_line_and_redoes_its_item(
    server: FakeDumGumServer, tmp_path: Path, torn: bytes
) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write_jsonl(inp, sample_requests(3, seed=12))
    out.write_bytes(b'{"id": 1, "suggestions": ["a", "b", "c"]}\n' + torn)
    assert await _cli.run(_batch_args(server, inp, out, "--resume")) == 0
    lines = _read_jsonl(out)
    assert lines[0] == {"id": 1, "suggestions": ["a", "b", "c"]}
    assert sorted(line["id"] for line in lines) == [1, 2, 3]
    assert len(server.requests) == 2


async def test_progress_line_redraws_in_place_on_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write_jsonl(inp, sample_requests(8, seed=13))
    async with FakeDumGumServer(api_key=KEY, latency=0.03) as fake:
        args = _batch_args(fake, inp, out, "--concurrency", "1")
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


async def test_library_logs_are_counted_not_shown_without_verbose(
    server: FakeDumGumServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write_jsonl(inp, sample_requests(1))
    # A retry is INFO (not counted); giving up after the last attempt is a WARNING.
    server.script(*[ScriptedResponse(status=503, headers={"Retry-After": "0"}, json={})] * 2)
    assert await _cli.run(_batch_args(server, inp, out, "--max-attempts", "2")) != 0
    err = capsys.readouterr().err
    assert "retrying" not in err
    assert "giving up" not in err
    assert re.search(r"log +1 warning +not shown", err), err


async def test_verbose_shows_library_logs_on_stderr(
    server: FakeDumGumServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write_jsonl(inp, sample_requests(1))
    server.script(ScriptedResponse(status=503, headers={"Retry-After": "0"}, json={}))
    assert await _cli.run(_batch_args(server, inp, out, "-v")) == 0
    assert "INFO dumgum_async: attempt 1/4 failed (HTTP 503)" in capsys.readouterr().err


async def test_a_bad_rate_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inp = tmp_path / "in.jsonl"
    _write_jsonl(inp, sample_requests(1))
    args = ["batch", str(inp), "-o", str(tmp_path / "o"), "--api-key", KEY, "--rate", "fast"]
    assert await _cli.run(args) == 2
    assert "20/s" in capsys.readouterr().err


# --- processes: kill, Ctrl-C, python -m ------------------------------------------------


async def _start_batch(fake: FakeDumGumServer, inp: Path, out: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "dumgum_async",
        "batch",
        str(inp),
        "-o",
        str(out),
        "--base-url",
        fake.url,
        "--concurrency",
        "4",
        env={**os.environ, "DUMGUM_API_KEY": KEY},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )


def _lines_in(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


async def _wait_for_lines(out: Path, n: int, proc: asyncio.subprocess.Process) -> None:
    deadline = time.monotonic() + _SUBPROCESS_TIMEOUT
    while _lines_in(out) < n:
        assert proc.returncode is None, "the batch ended before it could be interrupted"
        assert time.monotonic() < deadline, "no output from the batch"
        await asyncio.sleep(0.01)


async def _reap(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.kill()
    await asyncio.wait_for(proc.communicate(), _SUBPROCESS_TIMEOUT)


@pytest.mark.slow
async def test_resume_after_a_kill_completes_every_id_once_without_repeating_answered_ones(
    tmp_path: Path,
) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    bodies = list(sample_requests(120, seed=14))
    _write_jsonl(inp, bodies)
    async with FakeDumGumServer(api_key=KEY, latency=0.05) as fake:
        proc = await _start_batch(fake, inp, out)
        try:
            await _wait_for_lines(out, 10, proc)
            proc.kill()
        finally:
            await _reap(proc)
        answered_before = {line["id"] for line in _read_jsonl(out)}
        assert 10 <= len(answered_before) < 120
        # As if the machine had died in the middle of a write.
        with out.open("ab") as f:
            f.write(b'{"id": 120, "suggestions": ["cut he')

        args = _batch_args(fake, inp, out, "--resume", "--concurrency", "32", "--no-progress")
        assert await _cli.run(args) == 0
        requests = _requests_per_conversation(fake)

    lines = _read_jsonl(out)
    ids = [line["id"] for line in lines]
    assert sorted(ids) == list(range(1, 121))
    assert all(len(line["suggestions"]) == 3 for line in lines)
    for item_id in answered_before:
        assert requests[_first_message_id(bodies[item_id - 1])] == 1


@pytest.mark.slow
async def test_ctrl_c_exits_130_after_the_summary_keeping_finished_lines(tmp_path: Path) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write_jsonl(inp, sample_requests(200, seed=15))
    async with FakeDumGumServer(api_key=KEY, latency=0.05) as fake:
        proc = await _start_batch(fake, inp, out)
        try:
            await _wait_for_lines(out, 5, proc)
            proc.send_signal(signal.SIGINT)
            _, stderr = await asyncio.wait_for(proc.communicate(), _SUBPROCESS_TIMEOUT)
        finally:
            await _reap(proc)
    err = stderr.decode()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    lines = _read_jsonl(out)
    ok = re.search(r"ok +(\d+)", err)
    assert ok is not None, err
    assert int(ok.group(1)) == len(lines) < 200


@pytest.mark.slow
async def test_serve_delegates_to_the_emulator_command() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "dumgum_async",
        "serve",
        "--port",
        "0",
        "--api-key",
        "serve-key",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), _SUBPROCESS_TIMEOUT)
        assert re.fullmatch(
            rb"DumGum emulator listening on http://127\.0\.0\.1:\d+ \(api key: serve-key\)\n",
            line,
        ), line
        proc.terminate()
        await asyncio.wait_for(proc.communicate(), _SUBPROCESS_TIMEOUT)
        assert proc.returncode == 0
    finally:
        await _reap(proc)


# --- demo, help, version ----------------------------------------------------------------


async def test_demo_runs_sample_conversations_and_shows_a_summary_and_some_of_them(
    capsys: pytest.CaptureFixture[str],
) -> None:
    started = time.monotonic()
    assert await _cli.run(["demo", "--n", "40", "--rate", "100/s"]) == 0
    elapsed = time.monotonic() - started
    out = capsys.readouterr().out
    assert re.search(r"^  ok +40$", out, re.MULTILINE), out
    assert re.search(r"^  failed +0$", out, re.MULTILINE), out
    assert "Sample conversations" in out
    assert len(re.findall(r"^  \[[A-Z_]+\] ", out, re.MULTILINE)) == 5
    assert len(re.findall(r"^      [123]\. ", out, re.MULTILINE)) == 15
    assert "Traceback" not in out
    assert elapsed < 40 / 100 + 3


def test_no_arguments_print_help_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli.main([]) == 2
    err = capsys.readouterr().err
    for command in ("suggest", "batch", "serve", "demo"):
        assert command in err


def test_version_prints_the_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli.main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"dumgum-async {dg.__version__}"
