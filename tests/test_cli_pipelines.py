"""``dumgum-async batch`` in pipelines and on servers, against the emulator over real sockets.

``-o -``, plain progress lines when stderr is not a terminal, duplicate ids, a refused
key stopping the batch (exit 3), lines that cannot be encoded, ``--allow-insecure-http``,
and the messages and exit statuses a person or a job runner sees.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import re
import signal
import sys
import time
from collections import Counter
from collections.abc import AsyncGenerator, AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import pytest
from aioresponses import aioresponses

import dumgum_async as dg
from dumgum_async import _cli
from dumgum_async.testing import FakeDumGumServer, ScriptedResponse, sample_requests

KEY = "pipeline-key"
_TIMEOUT = 20.0
# Long enough for a process start on a busy machine; a stalled loop waits forever.
_ANSWER_TIMEOUT = 10.0


@pytest.fixture
async def server() -> AsyncIterator[FakeDumGumServer]:
    """An emulator accepting KEY, no faults."""
    async with FakeDumGumServer(api_key=KEY, seed=1) as fake:
        yield fake


def _write_jsonl(path: Path, items: Iterable[Any]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for item in items:
            f.write((item if isinstance(item, str) else json.dumps(item)) + "\n")


def _parse_jsonl(raw: bytes) -> list[dict[str, Any]]:
    assert raw == b"" or raw.endswith(b"\n"), "the last line is torn"
    return [json.loads(line) for line in raw.decode().splitlines()]


def _conversation(body: Any) -> str:
    return str(body["messages"][0]["id"])


def _seen_by_server(fake: FakeDumGumServer) -> Counter[str]:
    """Requests the emulator received, per conversation (its first message id)."""
    return Counter(_conversation(r.json) for r in fake.requests if r.json is not None)


def _batch_args(fake: FakeDumGumServer, inp: Path, out: Path | str, *more: str) -> list[str]:
    return ["batch", str(inp), "-o", str(out), "--api-key", KEY, "--base-url", fake.url, *more]


async def _run_process(
    *args: str, key: str = KEY, timeout: float = _TIMEOUT
) -> tuple[int, bytes, bytes]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "dumgum_async",
        *args,
        env={**os.environ, "DUMGUM_API_KEY": key},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return proc.returncode, out, err


# --- -o - -------------------------------------------------------------------------------


@pytest.mark.slow
async def test_dash_output_writes_the_jsonl_to_stdout_and_the_summary_to_stderr(
    server: FakeDumGumServer, tmp_path: Path
) -> None:
    inp = tmp_path / "in.jsonl"
    _write_jsonl(inp, sample_requests(6, seed=1))
    status, out, err = await _run_process(
        "batch", str(inp), "-o", "-", "--base-url", server.url, "--concurrency", "2"
    )
    assert status == 0, err
    lines = _parse_jsonl(out)
    assert sorted(line["id"] for line in lines) == [1, 2, 3, 4, 5, 6]
    assert all(len(line["suggestions"]) == 3 for line in lines)
    assert b"Summary" in err
    assert b"Summary" not in out
    assert not (tmp_path / "-").exists()
    assert "-" not in os.listdir()  # the old behaviour: a file named -
    assert len(server.requests) == 6


async def test_resume_with_dash_output_is_a_usage_error_saying_why(
    server: FakeDumGumServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inp = tmp_path / "in.jsonl"
    _write_jsonl(inp, sample_requests(2))
    assert await _cli.run(_batch_args(server, inp, "-", "--resume")) == _cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert "--resume" in err
    assert "-o -" in err
    assert "stdout" in err
    assert server.requests == []


@pytest.mark.slow
async def test_a_slow_producer_on_stdin_does_not_hold_back_the_answers_in_flight(
    server: FakeDumGumServer,
) -> None:
    first, second = sample_requests(2, seed=12)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "dumgum_async",
        *("batch", "-", "-o", "-", "--base-url", server.url, "--no-progress"),
        env={**os.environ, "DUMGUM_API_KEY": KEY},
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdin is not None
        assert proc.stdout is not None
        proc.stdin.write(json.dumps(first).encode() + b"\n")
        await proc.stdin.drain()
        # The producer has not written its next line: the answer comes anyway.
        line = await asyncio.wait_for(proc.stdout.readline(), _ANSWER_TIMEOUT)
        assert json.loads(line)["id"] == 1
        proc.stdin.write(json.dumps(second).encode() + b"\n")
        proc.stdin.close()
        rest, _ = await asyncio.wait_for(proc.communicate(), _TIMEOUT)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0
    assert [json.loads(x)["id"] for x in rest.splitlines()] == [2]


async def test_batch_reads_an_in_memory_stdin_when_embedded(
    server: FakeDumGumServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = "".join(json.dumps(b) + "\n" for b in sample_requests(3, seed=13)).encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    out = tmp_path / "out.jsonl"
    assert (
        await _cli.run(["batch", "-", "-o", str(out), "--api-key", KEY, "--base-url", server.url])
        == 0
    )
    assert sorted(line["id"] for line in _parse_jsonl(out.read_bytes())) == [1, 2, 3]
    assert len(server.requests) == 3


# --- progress when stderr is not a terminal -------------------------------------------------

_PLAIN = re.compile(
    r"dumgum-async: (\d+)/20 \(\d+%\)  \d+\.\d/s  ETA [^ ]+( s| min [0-9]+ s)?  "
    r"ok \d+  failed (\d+)  retries \d+"
)


@pytest.mark.slow
async def test_piped_stderr_gets_a_plain_progress_line_every_interval(tmp_path: Path) -> None:
    inp = tmp_path / "in.jsonl"
    _write_jsonl(inp, sample_requests(20, seed=2))
    async with FakeDumGumServer(api_key=KEY, latency=0.04) as fake:
        args = _batch_args(fake, inp, tmp_path / "out.jsonl", "--concurrency", "1")
        started = time.monotonic()
        status, _, err = await _run_process(*args, "--progress-interval", "0.15")
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
    _write_jsonl(inp, sample_requests(8, seed=3))
    async with FakeDumGumServer(api_key=KEY, latency=0.03) as fake:
        args = _batch_args(fake, inp, tmp_path / "out.jsonl", "--concurrency", "1")
        assert await _cli.run([*args, "--progress-interval", "0.02", "--no-progress"]) == 0
        assert len(fake.requests) == 8
    err = capsys.readouterr().err
    assert "/8 (" not in err
    assert "Summary" in err


# --- duplicate ids ------------------------------------------------------------------------


async def test_a_duplicate_id_is_not_sent_and_gets_an_error_line_naming_the_first(
    server: FakeDumGumServer, tmp_path: Path
) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    bodies = list(sample_requests(5, seed=4))
    ids = ["a", "b", "a", "c", "b"]
    _write_jsonl(inp, [{"id": i, "request": b} for i, b in zip(ids, bodies, strict=True)])
    assert await _cli.run(_batch_args(server, inp, out)) == _cli.EXIT_FAILED
    assert _seen_by_server(server) == Counter(_conversation(bodies[i]) for i in (0, 1, 3))
    lines = _parse_jsonl(out.read_bytes())
    answered = sorted(line["id"] for line in lines if "suggestions" in line)
    assert answered == ["a", "b", "c"]
    errors = {line["error"]["message"]: line for line in lines if "error" in line}
    assert set(errors) == {
        'line 3: duplicate id "a", first on line 1',
        'line 5: duplicate id "b", first on line 2',
    }
    assert all(e["error"]["type"] == _cli.INPUT_LINE_ERROR for e in errors.values())


async def test_resume_of_an_input_with_duplicates_sends_nothing_and_keeps_every_answer(
    server: FakeDumGumServer, tmp_path: Path
) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    bodies = list(sample_requests(4, seed=5))
    _write_jsonl(inp, [{"id": i, "request": b} for i, b in zip("abab", bodies, strict=True)])
    assert await _cli.run(_batch_args(server, inp, out)) == _cli.EXIT_FAILED
    first = _parse_jsonl(out.read_bytes())
    server.clear()

    assert await _cli.run(_batch_args(server, inp, out, "--resume")) == _cli.EXIT_FAILED
    again = _parse_jsonl(out.read_bytes())
    assert server.requests == []
    key = json.dumps
    assert sorted(map(key, again)) == sorted(map(key, first))


async def test_resume_never_drops_an_answered_line_for_an_id_answered_twice(
    server: FakeDumGumServer, tmp_path: Path
) -> None:
    # An output written by an older version, which sent both lines of a duplicate id.
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    bodies = list(sample_requests(4, seed=6))
    _write_jsonl(inp, [{"id": i, "request": b} for i, b in zip("aabb", bodies, strict=True)])
    answered = [{"id": i, "suggestions": [f"{i}{n}", "x", "y"]} for n, i in enumerate("aabb")]
    _write_jsonl(out, answered)
    await _cli.run(_batch_args(server, inp, out, "--resume"))
    lines = _parse_jsonl(out.read_bytes())
    assert [line for line in lines if "suggestions" in line] == answered
    assert server.requests == []


# --- a refused key stops the batch ---------------------------------------------------------


async def test_a_wrong_key_stops_the_batch_with_exit_3_and_resume_completes_it(
    server: FakeDumGumServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    bodies = list(sample_requests(200, seed=7))
    _write_jsonl(inp, bodies)
    wrong = ["batch", str(inp), "-o", str(out), "--base-url", server.url, "--concurrency", "8"]
    assert await _cli.run([*wrong, "--api-key", "wrong-key"]) == _cli.EXIT_FATAL
    err = capsys.readouterr().err
    assert "refused the key" in err
    assert "--resume" in err
    assert "wrong-key" not in err
    # Only the requests in flight when the first 401 came back reached the server.
    assert 1 <= len(server.requests) <= 8 + 2
    assert all(r.status == 401 for r in server.requests)
    # Nothing for the refused or unsent lines: --resume must send them all.
    assert _parse_jsonl(out.read_bytes()) == []
    server.clear()

    assert await _cli.run([*wrong, "--api-key", KEY, "--resume"]) == _cli.EXIT_OK
    lines = _parse_jsonl(out.read_bytes())
    assert Counter(line["id"] for line in lines) == Counter(range(1, 201))
    assert all(len(line["suggestions"]) == 3 for line in lines)
    assert _seen_by_server(server) == Counter(map(_conversation, bodies))


async def test_a_403_stops_the_batch_but_keeps_the_answers_already_in_flight(
    server: FakeDumGumServer, tmp_path: Path
) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    bodies = list(sample_requests(50, seed=8))
    _write_jsonl(inp, bodies)
    server.script(ScriptedResponse(status=403, json={"error": "forbidden"}))
    args = _batch_args(server, inp, out, "--concurrency", "4")
    assert await _cli.run(args) == _cli.EXIT_FATAL
    sent = len(server.requests)
    assert sent <= 4 + 2
    lines = _parse_jsonl(out.read_bytes())
    # Every request that got an answer has its line; the refused one has none.
    assert len(lines) == sent - 1
    assert all("suggestions" in line for line in lines)
    server.clear()

    assert await _cli.run([*args, "--resume"]) == _cli.EXIT_OK
    assert Counter(line["id"] for line in _parse_jsonl(out.read_bytes())) == Counter(range(1, 51))
    assert len(server.requests) == 50 - len(lines)


async def test_a_batch_that_raises_the_refusal_itself_also_exits_3(
    server: FakeDumGumServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The library is to stop on a 401/403 by itself: drain what is in flight, then
    # raise it. This wraps the real batch so that it raises instead of yielding.
    real = dg.DumGumClient.suggest_many

    async def raising(self: dg.DumGumClient, *args: Any, **kwargs: Any) -> AsyncGenerator[Any]:
        async with contextlib.aclosing(real(self, *args, **kwargs)) as results:
            async for result in results:
                if isinstance(result.error, dg.AuthenticationError):
                    raise result.error
                yield result

    monkeypatch.setattr(dg.DumGumClient, "suggest_many", raising)
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write_jsonl(inp, sample_requests(40, seed=9))
    args = _batch_args(server, inp, out, "--concurrency", "4")
    assert await _cli.run([*args, "--api-key", "wrong"]) == _cli.EXIT_FATAL
    assert _parse_jsonl(out.read_bytes()) == []
    assert len(server.requests) <= 4 + 2


# --- lines that cannot be sent ---------------------------------------------------------------


async def test_a_line_with_a_lone_surrogate_is_its_own_error_and_resume_does_not_crash(
    server: FakeDumGumServer, tmp_path: Path
) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    bodies = list(sample_requests(3, seed=10))
    bodies[1]["messages"][-1]["text"] = "hello \ud83d"
    # json.dumps escapes it as \ud83d: a valid JSON line whose string has no UTF-8 form.
    _write_jsonl(inp, [json.dumps(b) for b in bodies])
    assert "\\ud83d" in inp.read_text()
    for extra in ((), ("--resume",)):
        server.clear()
        assert await _cli.run(_batch_args(server, inp, out, *extra)) == _cli.EXIT_FAILED
        by_id = {line["id"]: line for line in _parse_jsonl(out.read_bytes())}
        assert sorted(by_id) == [1, 2, 3]
        assert "error" in by_id[2]
        assert by_id[2]["error"]["type"] in {"RequestValidationError", _cli.INPUT_LINE_ERROR}
        assert "suggestions" in by_id[1]
        assert "suggestions" in by_id[3]
        assert _conversation(bodies[1]) not in _seen_by_server(server)
    # The resume sent nothing: 1 and 3 were answered, 2 cannot be sent.
    assert server.requests == []


# --- --allow-insecure-http, help, signals ------------------------------------------------

_REMOTE = "http://api.dumgum.example"


async def test_plain_http_to_a_remote_host_names_the_cli_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    request = tmp_path / "request.json"
    request.write_text(json.dumps(next(sample_requests(1))), encoding="utf-8")
    args = ["suggest", str(request), "--api-key", KEY, "--base-url", _REMOTE]
    assert await _cli.run(args) == _cli.EXIT_USAGE
    assert "--allow-insecure-http" in capsys.readouterr().err


async def test_allow_insecure_http_lets_plain_http_to_a_remote_host_through(
    mock_api: aioresponses, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mock_api.post(
        _REMOTE + "/cs/v1/content_creation/suggestion",
        payload={"suggestions": ["one", "two", "three"]},
    )
    request = tmp_path / "request.json"
    request.write_text(json.dumps(next(sample_requests(1))), encoding="utf-8")
    args = ["suggest", str(request), "--api-key", KEY, "--base-url", _REMOTE]
    assert await _cli.run([*args, "--allow-insecure-http"]) == _cli.EXIT_OK
    assert capsys.readouterr().out == "1. one\n2. two\n3. three\n"


@pytest.mark.parametrize("command", [[], ["batch"]], ids=["main", "batch"])
def test_help_documents_every_exit_status(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert _cli.main([*command, "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for status in ("0 every item answered", "1 some item failed", "2 usage", "3 the API"):
        assert status in text
    assert "130" in text
    assert "143" in text


@pytest.mark.slow
async def test_sigterm_exits_143_and_says_to_rerun_with_resume(tmp_path: Path) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write_jsonl(inp, sample_requests(200, seed=11))
    async with FakeDumGumServer(api_key=KEY, latency=0.05) as fake:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "dumgum_async",
            *_batch_args(fake, inp, out, "--concurrency", "2"),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + _TIMEOUT
            while not out.exists() or out.read_bytes().count(b"\n") < 3:
                assert proc.returncode is None
                assert time.monotonic() < deadline, "no output from the batch"
                await asyncio.sleep(0.01)
            proc.send_signal(signal.SIGTERM)
            _, err = await asyncio.wait_for(proc.communicate(), _TIMEOUT)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    text = err.decode()
    assert proc.returncode == 128 + signal.SIGTERM, text
    assert "Traceback" not in text
    assert "interrupted by SIGTERM" in text
    assert "--resume" in text.splitlines()[-1]
