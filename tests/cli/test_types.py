"""The types of the arguments: a bad value is a usage error saying what is expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from dumgum_async import _cli
from dumgum_async.testing import sample_requests
from tests.helpers.cli import (
    KEY,
    write_jsonl,
)


async def test_a_bad_rate_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inp = tmp_path / "in.jsonl"
    write_jsonl(inp, sample_requests(1))
    args = ["batch", str(inp), "-o", str(tmp_path / "o"), "--api-key", KEY, "--rate", "fast"]
    assert await _cli.run(args) == 2
    assert "20/s" in capsys.readouterr().err
