"""``dumgum-async validate``: the batch's reader, every problem, no key, no network."""

from __future__ import annotations

import asyncio
import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from dumgum_async import _cli
from dumgum_async.testing import FakeDumGumServer, sample_requests
from tests.helpers.cli import (
    SUBPROCESS_TIMEOUT,
    reap,
    spawn,
)
from tests.samples import minimal_request


def _line(item_id: Any, body: Any) -> str:
    return json.dumps({"id": item_id, "request": body})


def _bad_file(path: Path) -> None:
    """Seven non-blank lines, of which five are invalid, behind a BOM, with blank lines."""
    wrong_type = minimal_request()
    wrong_type["messages"][0]["date"] = 12
    wrong_type["language"] = 3
    lines = [
        _line("a", minimal_request()),  # 1 valid
        "",  # 2 blank
        _line("b", wrong_type),  # 3 two problems
        "{not json",  # 4
        "   ",  # 5 blank
        _line("a", minimal_request()),  # 6 duplicate of line 1
        # 7: a lone surrogate escape: valid JSON, no UTF-8 form
        _line("c", minimal_request()).replace("Hello!", "bad \\ud83d text"),
        '["an", "array"]',  # 8
        json.dumps(minimal_request()),  # 9 bare body, valid, id 9
    ]
    path.write_bytes(b"\xef\xbb\xbf" + "\n".join(lines).encode() + b"\n")


def _json_lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines()]


@pytest.mark.usefixtures("no_network")
async def test_a_valid_file_exits_0_with_nothing_on_stdout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text("".join(_line(i, r) + "\n" for i, r in enumerate(sample_requests(50))))
    assert await _cli.run(["validate", str(path)]) == _cli.EXIT_OK
    out, err = capsys.readouterr()
    assert out == ""
    assert "lines      50" in err
    assert "valid      50" in err
    assert "invalid    0" in err


@pytest.mark.usefixtures("no_network")
async def test_every_problem_of_every_line_is_reported_as_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "in.jsonl"
    _bad_file(path)
    assert await _cli.run(["validate", str(path), "--json"]) == _cli.EXIT_FAILED
    out, err = capsys.readouterr()
    problems = _json_lines(out)
    assert all(set(p) == {"line", "id", "path", "message", "kind"} for p in problems)
    found = {(p["line"], p["id"], p["path"], p["kind"]) for p in problems}
    assert found == {
        (3, "b", "messages[0].date", "messages[].date: wrong type"),
        (3, "b", "language", "language: wrong type"),
        (4, 4, "", "line: not valid JSON"),
        (6, "a", "", "line: duplicate id"),
        (7, "c", "messages[0].text", "messages[].text: unencodable"),
        (8, 8, "", "line: not an object"),
    }
    assert len(problems) == 6
    duplicate = next(p for p in problems if p["kind"] == "line: duplicate id")
    assert duplicate["message"] == 'duplicate id "a", first on line 1'
    assert "lines      7" in err
    assert "valid      2" in err
    assert "invalid    5" in err
    assert "problems   6" in err
    assert "duplicates 1" in err
    assert "1  line: duplicate id" in err


@pytest.mark.usefixtures("no_network")
async def test_the_plain_report_names_file_line_id_and_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "in.jsonl"
    _bad_file(path)
    assert await _cli.run(["validate", str(path)]) == _cli.EXIT_FAILED
    out = capsys.readouterr().out.splitlines()
    assert (
        f'{path}:3: id "b": messages[0].date: expected an ISO 8601 date-time string, got a number'
        in out
    )
    assert any(line.startswith(f"{path}:4: id 4: (line): not valid JSON") for line in out)
    # The lone surrogate is written as its escape: the report stays valid UTF-8.
    assert any(line.startswith(f'{path}:7: id "c": messages[0].text: ') for line in out)
    assert len(out) == 6


@pytest.mark.usefixtures("no_network")
async def test_stdin_is_read_like_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "in.jsonl"
    _bad_file(path)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(path.read_bytes())))
    assert await _cli.run(["validate", "-", "--json"]) == _cli.EXIT_FAILED
    out, err = capsys.readouterr()
    assert len(_json_lines(out)) == 6
    assert "invalid    5" in err


@pytest.mark.usefixtures("no_network")
async def test_a_pipe_on_stdin_in_a_process_without_a_key(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    _bad_file(path)
    proc = await spawn("validate", "-", "--json", key=None, stdin=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(path.read_bytes()), SUBPROCESS_TIMEOUT)
    finally:
        await reap(proc)
    assert proc.returncode == _cli.EXIT_FAILED, err
    assert len(_json_lines(out.decode())) == 6
    assert b"invalid    5" in err


@pytest.mark.usefixtures("no_network")
async def test_a_missing_file_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await _cli.run(["validate", str(tmp_path / "nope.jsonl")]) == _cli.EXIT_USAGE
    assert "cannot read" in capsys.readouterr().err


@pytest.mark.usefixtures("no_network")
async def test_help_documents_the_exit_statuses(capsys: pytest.CaptureFixture[str]) -> None:
    assert await _cli.run(["validate", "--help"]) == 0
    out = capsys.readouterr().out
    assert "Exit status: 0" in out
    assert "1 some line is invalid" in out
    assert "--json" in out


@pytest.mark.slow
async def test_validate_flags_exactly_the_lines_batch_refuses_to_send(tmp_path: Path) -> None:
    """Same reader, same checks: what validate reports is what batch would not send."""
    path = tmp_path / "in.jsonl"
    _bad_file(path)
    out_path = tmp_path / "out.jsonl"
    env_key = "validate-key"
    async with FakeDumGumServer(api_key=env_key, seed=1) as server:
        status = await _cli.run(
            [
                "batch",
                str(path),
                "-o",
                str(out_path),
                "--api-key",
                env_key,
                "--base-url",
                server.url,
                "--no-progress",
            ]
        )
        sent = len(server.requests)
    assert status == _cli.EXIT_FAILED
    records = [json.loads(line) for line in out_path.read_text().splitlines()]
    refused = {json.dumps(r["id"]) for r in records if "error" in r}
    assert sent == 2
    assert refused == {'"b"', "4", '"a"', '"c"', "8"}
