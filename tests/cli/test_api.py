"""The flags of the commands that call the API: the key, the base URL, plain http."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aioresponses import aioresponses

from dumgum_async import _cli
from dumgum_async.testing import FakeDumGumServer, sample_requests
from tests.helpers.cli import (
    KEY,
)


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
