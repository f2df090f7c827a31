"""``batch --resume``: answered ids skipped, failed ones retried, torn lines dropped,
after a kill too."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from dumgum_async import _cli
from dumgum_async.testing import FakeDumGumServer, ScriptedResponse, sample_requests
from tests.helpers.cli import (
    KEY,
    batch_args,
    first_message_id,
    read_jsonl,
    reap,
    requests_per_conversation,
    start_batch,
    wait_for_lines,
    write_jsonl,
)


async def test_resume_retries_failed_ids_and_skips_answered_ones(
    server: FakeDumGumServer, tmp_path: Path
) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    bodies = list(sample_requests(6, seed=10))
    write_jsonl(inp, bodies)
    server.script(*[ScriptedResponse(status=400, json={"error": "no"})] * 2)
    assert await _cli.run(batch_args(server, inp, out, "--concurrency", "1")) == 1
    failed = {line["id"] for line in read_jsonl(out) if "error" in line}
    assert failed == {1, 2}
    server.clear()

    assert await _cli.run(batch_args(server, inp, out, "--resume")) == 0
    lines = read_jsonl(out)
    assert sorted(line["id"] for line in lines) == list(range(1, 7))
    assert all("suggestions" in line for line in lines)
    assert requests_per_conversation(server) == Counter(
        first_message_id(bodies[i - 1]) for i in failed
    )


async def test_resume_says_what_it_found_like_every_other_cli_message(
    server: FakeDumGumServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_jsonl(inp, sample_requests(2, seed=10))
    out.write_text('{"id": 1, "suggestions": ["a", "b", "c"]}\n')
    assert await _cli.run(batch_args(server, inp, out, "--resume")) == 0
    err = capsys.readouterr().err
    assert f"dumgum-async: resuming {out}: 1 answered, 0 failed to retry\n" in err


@pytest.mark.parametrize(
    "torn",
    [b'{"id": 2, "suggestions": ["d", "e"', b'{"id": 2, "suggestions": ["d", "e", "f"]}'],
    ids=["cut-json", "no-newline"],
)
async def test_resume_drops_a_torn_last_line_and_redoes_its_item(
    server: FakeDumGumServer, tmp_path: Path, torn: bytes
) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_jsonl(inp, sample_requests(3, seed=12))
    out.write_bytes(b'{"id": 1, "suggestions": ["a", "b", "c"]}\n' + torn)
    assert await _cli.run(batch_args(server, inp, out, "--resume")) == 0
    lines = read_jsonl(out)
    assert lines[0] == {"id": 1, "suggestions": ["a", "b", "c"]}
    assert sorted(line["id"] for line in lines) == [1, 2, 3]
    assert len(server.requests) == 2


@pytest.mark.slow
async def test_resume_after_a_kill_completes_every_id_once_without_repeating_answered_ones(
    tmp_path: Path,
) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    bodies = list(sample_requests(120, seed=14))
    write_jsonl(inp, bodies)
    async with FakeDumGumServer(api_key=KEY, latency=0.05) as fake:
        proc = await start_batch(fake, inp, out)
        try:
            await wait_for_lines(out, 10, proc)
            proc.kill()
        finally:
            await reap(proc)
        answered_before = {line["id"] for line in read_jsonl(out)}
        assert 10 <= len(answered_before) < 120
        # As if the machine had died in the middle of a write.
        with out.open("ab") as f:
            f.write(b'{"id": 120, "suggestions": ["cut he')

        args = batch_args(fake, inp, out, "--resume", "--concurrency", "32", "--no-progress")
        assert await _cli.run(args) == 0
        requests = requests_per_conversation(fake)

    lines = read_jsonl(out)
    ids = [line["id"] for line in lines]
    assert sorted(ids) == list(range(1, 121))
    assert all(len(line["suggestions"]) == 3 for line in lines)
    for item_id in answered_before:
        assert requests[first_message_id(bodies[item_id - 1])] == 1


async def test_resume_with_dash_output_is_a_usage_error_saying_why(
    server: FakeDumGumServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inp = tmp_path / "in.jsonl"
    write_jsonl(inp, sample_requests(2))
    assert await _cli.run(batch_args(server, inp, "-", "--resume")) == _cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert "--resume" in err
    assert "-o -" in err
    assert "stdout" in err
    assert server.requests == []


async def test_resume_of_an_input_with_duplicates_sends_nothing_and_keeps_every_answer(
    server: FakeDumGumServer, tmp_path: Path
) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    bodies = list(sample_requests(4, seed=5))
    write_jsonl(inp, [{"id": i, "request": b} for i, b in zip("abab", bodies, strict=True)])
    assert await _cli.run(batch_args(server, inp, out)) == _cli.EXIT_FAILED
    first = read_jsonl(out)
    server.clear()

    assert await _cli.run(batch_args(server, inp, out, "--resume")) == _cli.EXIT_FAILED
    again = read_jsonl(out)
    assert server.requests == []
    key = json.dumps
    assert sorted(map(key, again)) == sorted(map(key, first))


async def test_resume_never_drops_an_answered_line_for_an_id_answered_twice(
    server: FakeDumGumServer, tmp_path: Path
) -> None:
    # An output written by an older version, which sent both lines of a duplicate id.
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    bodies = list(sample_requests(4, seed=6))
    write_jsonl(inp, [{"id": i, "request": b} for i, b in zip("aabb", bodies, strict=True)])
    answered = [{"id": i, "suggestions": [f"{i}{n}", "x", "y"]} for n, i in enumerate("aabb")]
    write_jsonl(out, answered)
    await _cli.run(batch_args(server, inp, out, "--resume"))
    lines = read_jsonl(out)
    assert [line for line in lines if "suggestions" in line] == answered
    assert server.requests == []
