"""``dumgum-async demo``."""

from __future__ import annotations

import re
import time

import pytest

from dumgum_async import _cli


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
