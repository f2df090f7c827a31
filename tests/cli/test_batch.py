"""``dumgum-async batch``, against the emulator over real sockets.

One line per item, bad lines, duplicate ids, a refused key stopping the batch (exit 3),
lines that cannot be encoded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections import Counter
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

import pytest

import dumgum_async as dg
from dumgum_async import _cli
from dumgum_async.testing import FakeDumGumServer, ScriptedResponse, sample_requests
from tests.helpers.cli import (
    KEY,
    batch_args,
    first_message_id,
    read_jsonl,
    requests_per_conversation,
    write_jsonl,
)


async def test_batch_writes_one_line_per_item_keyed_by_line_number_and_exits_0(
    server: FakeDumGumServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_jsonl(inp, sample_requests(12, seed=4))
    assert await _cli.run(batch_args(server, inp, out)) == 0
    lines = read_jsonl(out)
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
    write_jsonl(inp, [{"id": "a", "request": bodies[0]}, "", {"id": 7, "request": bodies[1]}])
    with inp.open("a") as f:
        f.write("   \n" + json.dumps(bodies[2]) + "\n")
    assert await _cli.run(batch_args(server, inp, out)) == 0
    assert sorted(map(str, (line["id"] for line in read_jsonl(out)))) == ["5", "7", "a"]


async def test_batch_reports_bad_input_lines_and_writes_them_as_error_lines(
    server: FakeDumGumServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    bodies = list(sample_requests(3, seed=6))
    write_jsonl(inp, [bodies[0], "{not json", bodies[1], "[1, 2]", bodies[2]])
    assert await _cli.run(batch_args(server, inp, out)) == 1
    err = capsys.readouterr().err
    assert f"{inp}:2: not valid JSON" in err
    assert f"{inp}:4: expected a JSON object" in err
    by_id = {line["id"]: line for line in read_jsonl(out)}
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
    write_jsonl(inp, bodies)
    assert await _cli.run(batch_args(server, inp, out)) == 1
    error = {line["id"]: line for line in read_jsonl(out)}[2]["error"]
    assert error["type"] == "RequestValidationError"
    assert error["status"] is None
    assert "messages" in error["message"]


async def test_batch_writes_api_failures_with_their_type_and_status(
    server: FakeDumGumServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_jsonl(inp, sample_requests(4, seed=8))
    server.script(ScriptedResponse(status=422, json={"error": "unprocessable"}))
    assert await _cli.run(batch_args(server, inp, out, "--concurrency", "1")) == 1
    failed = [line for line in read_jsonl(out) if "error" in line]
    assert len(failed) == 1
    assert failed[0]["error"]["type"] == "UnprocessableEntityError"
    assert failed[0]["error"]["status"] == 422
    assert "UnprocessableEntityError 1" in capsys.readouterr().err


@pytest.mark.parametrize(("rate", "hinted"), [((), True), (("--rate", "1000/s"), False)])
async def test_lines_failed_on_429_without_a_rate_get_a_hint_to_pass_one(
    server: FakeDumGumServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    rate: tuple[str, ...],
    hinted: bool,
) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_jsonl(inp, sample_requests(2, seed=9))
    server.script(ScriptedResponse(status=429, headers={"Retry-After": "0"}, json={}))
    args = batch_args(server, inp, out, "--concurrency", "1", "--max-attempts", "1", *rate)
    assert await _cli.run(args) == 1
    hint = (
        "dumgum-async: 1 line failed on HTTP 429: pass --rate auto (or the API's limit, "
        "e.g. --rate 20/s) to stay under it, and --resume to retry them\n"
    )
    assert (hint in capsys.readouterr().err) is hinted


async def test_batch_summary_counts_retries_and_429s(
    server: FakeDumGumServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_jsonl(inp, sample_requests(3, seed=9))
    server.script(ScriptedResponse(status=429, headers={"Retry-After": "0"}, json={}))
    assert await _cli.run(batch_args(server, inp, out, "--concurrency", "1")) == 0
    err = capsys.readouterr().err
    assert re.search(r"retries +1 +HTTP 429 1", err), err
    assert re.search(r"429s +1", err), err
    assert re.search(r"latency +p50 \d+ ms +p95 \d+ ms +p99 \d+ ms", err), err


async def test_batch_refuses_an_existing_output_without_resume_or_overwrite(
    server: FakeDumGumServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_jsonl(inp, sample_requests(2))
    out.write_text('{"id": 1, "suggestions": ["a", "b", "c"]}\n')
    assert await _cli.run(batch_args(server, inp, out)) == 2
    assert "--resume" in capsys.readouterr().err
    assert out.read_text() == '{"id": 1, "suggestions": ["a", "b", "c"]}\n'
    assert server.requests == []


async def test_batch_overwrite_replaces_the_existing_output(
    server: FakeDumGumServer, tmp_path: Path
) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_jsonl(inp, sample_requests(2))
    out.write_text('{"id": 99, "suggestions": ["old"]}\n')
    assert await _cli.run(batch_args(server, inp, out, "--overwrite")) == 0
    assert sorted(line["id"] for line in read_jsonl(out)) == [1, 2]


async def test_a_duplicate_id_is_not_sent_and_gets_an_error_line_naming_the_first(
    server: FakeDumGumServer, tmp_path: Path
) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    bodies = list(sample_requests(5, seed=4))
    ids = ["a", "b", "a", "c", "b"]
    write_jsonl(inp, [{"id": i, "request": b} for i, b in zip(ids, bodies, strict=True)])
    assert await _cli.run(batch_args(server, inp, out)) == _cli.EXIT_FAILED
    assert requests_per_conversation(server) == Counter(
        first_message_id(bodies[i]) for i in (0, 1, 3)
    )
    lines = read_jsonl(out)
    answered = sorted(line["id"] for line in lines if "suggestions" in line)
    assert answered == ["a", "b", "c"]
    errors = {line["error"]["message"]: line for line in lines if "error" in line}
    assert set(errors) == {
        'line 3: duplicate id "a", first on line 1',
        'line 5: duplicate id "b", first on line 2',
    }
    assert all(e["error"]["type"] == _cli.INPUT_LINE_ERROR for e in errors.values())


async def test_a_wrong_key_stops_the_batch_with_exit_3_and_resume_completes_it(
    server: FakeDumGumServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    bodies = list(sample_requests(200, seed=7))
    write_jsonl(inp, bodies)
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
    assert read_jsonl(out) == []
    server.clear()

    assert await _cli.run([*wrong, "--api-key", KEY, "--resume"]) == _cli.EXIT_OK
    lines = read_jsonl(out)
    assert Counter(line["id"] for line in lines) == Counter(range(1, 201))
    assert all(len(line["suggestions"]) == 3 for line in lines)
    assert requests_per_conversation(server) == Counter(map(first_message_id, bodies))


async def test_a_key_revoked_mid_batch_leaves_the_queued_lines_for_resume(
    server: FakeDumGumServer, tmp_path: Path
) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    bodies = list(sample_requests(40, seed=9))
    write_jsonl(inp, bodies)
    args = batch_args(server, inp, out, "--concurrency", "16")

    async def revoke_after_three() -> None:
        while server.stats.total < 3:  # noqa: ASYNC110 - waiting for the server to see them
            await asyncio.sleep(0.01)
        server.api_key = "revoked"

    revoker = asyncio.create_task(revoke_after_three())
    assert await _cli.run([*args, "--rate", "5/s"]) == _cli.EXIT_FATAL
    await revoker
    statuses = [r.status for r in server.requests]
    assert statuses.count(401) <= 2  # the queued lines were not sent with the refused key
    # Only answers: the refused and the queued lines have no line, not an error line.
    lines = read_jsonl(out)
    assert all("suggestions" in line for line in lines)
    assert len(lines) == statuses.count(200)

    server.api_key = KEY
    server.clear()
    assert await _cli.run([*args, "--resume"]) == _cli.EXIT_OK
    assert Counter(line["id"] for line in read_jsonl(out)) == Counter(range(1, 41))


async def test_a_403_stops_the_batch_but_keeps_the_answers_already_in_flight(
    server: FakeDumGumServer, tmp_path: Path
) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    bodies = list(sample_requests(50, seed=8))
    write_jsonl(inp, bodies)
    server.script(ScriptedResponse(status=403, json={"error": "forbidden"}))
    args = batch_args(server, inp, out, "--concurrency", "4")
    assert await _cli.run(args) == _cli.EXIT_FATAL
    sent = len(server.requests)
    assert sent <= 4 + 2
    lines = read_jsonl(out)
    # Every request that got an answer has its line; the refused one has none.
    assert len(lines) == sent - 1
    assert all("suggestions" in line for line in lines)
    server.clear()

    assert await _cli.run([*args, "--resume"]) == _cli.EXIT_OK
    assert Counter(line["id"] for line in read_jsonl(out)) == Counter(range(1, 51))
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
    write_jsonl(inp, sample_requests(40, seed=9))
    args = batch_args(server, inp, out, "--concurrency", "4")
    assert await _cli.run([*args, "--api-key", "wrong"]) == _cli.EXIT_FATAL
    assert read_jsonl(out) == []
    assert len(server.requests) <= 4 + 2


async def test_a_line_with_a_lone_surrogate_is_its_own_error_and_resume_does_not_crash(
    server: FakeDumGumServer, tmp_path: Path
) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    bodies = list(sample_requests(3, seed=10))
    bodies[1]["messages"][-1]["text"] = "hello \ud83d"
    # json.dumps escapes it as \ud83d: a valid JSON line whose string has no UTF-8 form.
    write_jsonl(inp, [json.dumps(b) for b in bodies])
    assert "\\ud83d" in inp.read_text()
    for extra in ((), ("--resume",)):
        server.clear()
        assert await _cli.run(batch_args(server, inp, out, *extra)) == _cli.EXIT_FAILED
        by_id = {line["id"]: line for line in read_jsonl(out)}
        assert sorted(by_id) == [1, 2, 3]
        assert "error" in by_id[2]
        assert by_id[2]["error"]["type"] in {"RequestValidationError", _cli.INPUT_LINE_ERROR}
        assert "suggestions" in by_id[1]
        assert "suggestions" in by_id[3]
        assert first_message_id(bodies[1]) not in requests_per_conversation(server)
    # The resume sent nothing: 1 and 3 were answered, 2 cannot be sent.
    assert server.requests == []
