"""``dumgum-async suggest``, against the emulator over real sockets."""

from __future__ import annotations

import io
import json
import re
import sys
from pathlib import Path

import pytest

from dumgum_async import _cli
from dumgum_async.testing import FakeDumGumServer, sample_requests
from tests.helpers.cli import (
    KEY,
)


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
    data = json.dumps(next(sample_requests(1))).encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
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


async def test_a_request_nested_too_deeply_is_reported_as_not_valid_json(
    server: FakeDumGumServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    request = tmp_path / "request.json"
    request.write_bytes(b"[" * 100_000)
    status = await _cli.run(["suggest", str(request), "--api-key", KEY, "--base-url", server.url])
    err = capsys.readouterr().err
    assert status == _cli.EXIT_FAILED
    assert err.startswith(f"dumgum-async: {request} is not valid JSON: ")
    assert "Traceback" not in err
    assert server.requests == []


async def test_a_request_with_a_utf8_bom_is_read_from_stdin_as_from_a_file(
    server: FakeDumGumServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = b"\xef\xbb\xbf" + json.dumps(next(sample_requests(1))).encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    assert await _cli.run(["suggest", "-", "--api-key", KEY, "--base-url", server.url]) == 0
    assert capsys.readouterr().out.count("\n") == 3


async def test_invalid_utf8_on_stdin_is_reported_as_not_valid_json_as_from_a_file(
    server: FakeDumGumServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    body = next(sample_requests(1))
    body["userProfile"]["firstName"] = "Marc"
    data = json.dumps(body).encode().replace(b'"Marc"', b'"Ma\xffrc"')
    request = tmp_path / "request.json"
    request.write_bytes(data)
    args = ["--api-key", KEY, "--base-url", server.url]
    assert await _cli.run(["suggest", str(request), *args]) == _cli.EXIT_FAILED
    from_file = capsys.readouterr().err
    # The text layer of a real stdin under a C or POSIX locale, as in the audit.
    stdin = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", errors="surrogateescape")
    monkeypatch.setattr(sys, "stdin", stdin)
    assert await _cli.run(["suggest", "-", *args]) == _cli.EXIT_FAILED
    from_stdin = capsys.readouterr().err
    assert from_stdin.startswith(
        "dumgum-async: stdin is not valid JSON: 'utf-8' codec can't decode"
    )
    assert from_stdin == from_file.replace(str(request), "stdin")
    assert server.requests == []
