"""``batch --max-requests`` and the estimate printed before a batch, against the emulator."""

from __future__ import annotations

import io
import json
import sys
from collections import Counter
from pathlib import Path

import pytest

import dumgum_async as dg
from dumgum_async import _cli
from dumgum_async._cli._batch import count_items, estimate
from dumgum_async.testing import FakeDumGumServer, Faults, sample_requests
from tests.helpers.cli import (
    KEY,
    batch_args,
    read_jsonl,
    requests_per_conversation,
)


def _write(path: Path, n: int) -> None:
    path.write_text("".join(json.dumps({"id": f"c{i}", "request": r}) + "\n"
                            for i, r in enumerate(sample_requests(n, seed=4))))  # fmt: skip


def _args(server: FakeDumGumServer, inp: Path, out: Path, *more: str) -> list[str]:
    return batch_args(server, inp, out, "--no-progress", "--max-attempts", "4", *more)


async def test_max_requests_stops_after_n_attempts_and_resume_finishes_every_id_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write(inp, 30)
    # Faults answer at once and the retries wait ~0.5 s: the budget is spent early.
    faults = Faults(http_500=0.25, http_503=0.15, retry_after=0.0)
    async with FakeDumGumServer(api_key=KEY, seed=5, faults=faults) as server:
        status = await _cli.run(_args(server, inp, out, "--max-requests", "12"))
        err = capsys.readouterr().err
        assert status == _cli.EXIT_BUDGET, err
        assert len(server.requests) == 12
        assert Counter(r.status for r in server.requests)[200] < 12  # retries were counted
        first = read_jsonl(out)
        assert len(first) < 30
        assert "--max-requests 12 spent (12 HTTP attempts" in err
        assert f"{len(first)} line(s) written" in err
        assert "--resume" in err

    async with FakeDumGumServer(api_key=KEY, seed=5) as clean:
        status = await _cli.run(_args(clean, inp, out, "--resume"))
        err = capsys.readouterr().err
        assert status == _cli.EXIT_OK, err
        # Only what the first run did not answer was sent again.
        assert sum(requests_per_conversation(clean).values()) == 30 - sum(
            "suggestions" in r for r in first
        )
    records = read_jsonl(out)
    ids = Counter(r["id"] for r in records)
    assert ids == Counter(f"c{i}" for i in range(30))  # every id once
    # Answered in the first run: never sent again.
    answered_first = {r["id"] for r in first if "suggestions" in r}
    assert answered_first <= {r["id"] for r in records if "suggestions" in r}


async def test_without_max_requests_nothing_stops(tmp_path: Path) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write(inp, 8)
    async with FakeDumGumServer(api_key=KEY, seed=5) as server:
        assert await _cli.run(_args(server, inp, out)) == _cli.EXIT_OK
        assert len(server.requests) == 8


async def test_the_estimate_names_lines_rate_and_time_before_sending(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write(inp, 1000)
    async with FakeDumGumServer(api_key=KEY, seed=5) as server:
        more = ("--rate", "10/s", "--max-requests", "2")
        assert await _cli.run(_args(server, inp, out, *more)) == _cli.EXIT_BUDGET
        err = capsys.readouterr().err
        assert "about to send ~1000 lines at 10/s: ~1 min 40 s" in err
        answered = len(read_jsonl(out))
        assert answered == 2
        # --resume: the ids already answered are not counted.
        assert await _cli.run(_args(server, inp, out, *more, "--resume")) == _cli.EXIT_BUDGET
        err = capsys.readouterr().err
        assert f"about to send ~{1000 - answered} lines at 10/s" in err


async def test_no_estimate_for_stdin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write(inp, 3)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(inp.read_bytes())))
    async with FakeDumGumServer(api_key=KEY, seed=5) as server:
        args = _args(server, inp, out)
        args[1] = "-"
        assert await _cli.run(args) == _cli.EXIT_OK
        assert len(server.requests) == 3
    assert "about to send" not in capsys.readouterr().err


def test_the_estimate_of_a_million_lines_at_125_per_second() -> None:
    text = estimate(1_000_000, dg.RateLimit.per_second(125))
    assert text.endswith("about to send ~1000000 lines at 125/s: ~2 h 13 min")


def test_the_estimate_with_an_adaptive_rate_starts_from_its_starting_rate() -> None:
    text = estimate(36_000, dg.RateLimit.adaptive(start=10.0))
    assert "--rate auto, starting at 10/s: ~1 h 00 min at that rate" in text


def test_the_estimate_says_when_there_is_no_rate() -> None:
    assert "no --rate" in estimate(5, None)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", 0),
        (b"a\n", 1),
        (b"a\nb", 2),  # no newline at the end
        (b"a\n\nb\n", 3),  # blank lines are counted: an estimate
        (b"x" * (3 << 20) + b"\n" + b"y\n" * 5, 6),  # lines across chunk boundaries
    ],
)
def test_count_items_counts_newlines_in_chunks(tmp_path: Path, data: bytes, expected: int) -> None:
    path = tmp_path / "in.jsonl"
    path.write_bytes(data)
    assert count_items(str(path)) == expected


def test_count_items_skips_stdin_and_what_is_not_a_regular_file(tmp_path: Path) -> None:
    assert count_items("-") is None
    assert count_items(str(tmp_path)) is None
    assert count_items(str(tmp_path / "missing")) is None


async def test_help_documents_max_requests_and_exit_status_4(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert await _cli.run(["batch", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "--max-requests N" in out
    assert "4 the batch spent its --max-requests" in out
