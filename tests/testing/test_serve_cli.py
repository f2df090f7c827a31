"""``dumgum-async serve``: the emulator from the command line."""

from __future__ import annotations

import asyncio
import re
import signal
import sys

import aiohttp
import pytest

from dumgum_async.testing._serve import main
from tests.helpers.bodies import minimal_request

_RUN_MAIN = "import sys; from dumgum_async.testing._serve import main; sys.exit(main(sys.argv[1:]))"


@pytest.mark.slow
async def test_serve_answers_requests_and_exits_0_on_sigterm() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _RUN_MAIN,
        "--port",
        "0",
        "--api-key",
        "cli-key",
        "--seed",
        "3",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), timeout=20)).decode()
        match = re.fullmatch(
            r"DumGum emulator listening on (http://127\.0\.0\.1:\d+) \(api key: cli-key\)\n",
            line,
        )
        assert match, line
        url = match.group(1) + "/cs/v1/content_creation/suggestion"
        async with aiohttp.ClientSession() as http:
            headers = {"Authorization": "Bearer cli-key"}
            async with http.post(url, json=minimal_request(), headers=headers) as resp:
                assert resp.status == 200
                assert len((await resp.json())["suggestions"]) == 3

        proc.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(proc.communicate(), timeout=20)
        assert proc.returncode == 0, stderr.decode()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.communicate()


def test_serve_refuses_a_non_loopback_host(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--host", "0.0.0.0"]) == 2
    assert "loopback" in capsys.readouterr().err


def test_serve_rejects_fault_probabilities_above_one(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--fault-500", "0.7", "--fault-reset", "0.7"]) == 2
    assert "add up" in capsys.readouterr().err


def test_serve_rejects_a_probability_out_of_range(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--fault-429", "2"]) == 2
    assert "0..1" in capsys.readouterr().err


def test_serve_help_lists_the_fault_flags(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for flag in ("--fault-429", "--fault-reset", "--fault-non-json", "--rate", "--burst"):
        assert flag in out
