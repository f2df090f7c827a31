"""JSON lines in and out: ``-o -``, stdin (a pipe, an in-memory stream), lines read as
``json`` reads them, the ids seen."""

from __future__ import annotations

import asyncio
import io
import json
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import SupportsIndex

import pytest

from dumgum_async import _cli
from dumgum_async._cli._jsonl import SeenIds, read_line, split_lines
from dumgum_async.testing import FakeDumGumServer, sample_requests
from tests.helpers.cli import (
    KEY,
    SUBPROCESS_TIMEOUT,
    parse_jsonl,
    read_jsonl,
    reap,
    run_process,
    spawn,
    write_jsonl,
)

# Long enough for a process start on a busy machine; a stalled loop waits forever.
_ANSWER_TIMEOUT = 10.0


@pytest.mark.slow
async def test_dash_output_writes_the_jsonl_to_stdout_and_the_summary_to_stderr(
    server: FakeDumGumServer, tmp_path: Path
) -> None:
    inp = tmp_path / "in.jsonl"
    write_jsonl(inp, sample_requests(6, seed=1))
    status, out, err = await run_process(
        "batch", str(inp), "-o", "-", "--base-url", server.url, "--concurrency", "2"
    )
    assert status == 0, err
    lines = parse_jsonl(out)
    assert sorted(line["id"] for line in lines) == [1, 2, 3, 4, 5, 6]
    assert all(len(line["suggestions"]) == 3 for line in lines)
    assert b"Summary" in err
    assert b"Summary" not in out
    assert not (tmp_path / "-").exists()
    assert "-" not in os.listdir()  # the old behaviour: a file named -
    assert len(server.requests) == 6


@pytest.mark.slow
async def test_a_slow_producer_on_stdin_does_not_hold_back_the_answers_in_flight(
    server: FakeDumGumServer,
) -> None:
    first, second = sample_requests(2, seed=12)
    args = ("batch", "-", "-o", "-", "--base-url", server.url, "--no-progress")
    proc = await spawn(*args, stdin=asyncio.subprocess.PIPE)
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
        rest, _ = await asyncio.wait_for(proc.communicate(), SUBPROCESS_TIMEOUT)
    finally:
        await reap(proc)
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
    assert sorted(line["id"] for line in read_jsonl(out)) == [1, 2, 3]
    assert len(server.requests) == 3


@pytest.mark.parametrize(
    "raw",
    [
        b'{"id": 12345678901234567890123, "request": {}}',  # beyond 64 bits: json's road
        b'{"id": -9999999999999999999, "request": {}}',
        b'{"id": "x", "request": {"language": NaN}}',
    ],
)
@pytest.mark.usefixtures("no_network")
def test_lines_orjson_reads_differently_are_read_as_json_reads_them(raw: bytes) -> None:
    item_id, body, bad = read_line(2, raw) or (None, None, None)
    expected = json.loads(raw)
    assert bad is None
    assert item_id == expected["id"]
    assert type(item_id) is type(expected["id"])
    assert repr(body) == repr(expected["request"])


@pytest.mark.usefixtures("no_network")
def test_seen_ids_gives_the_first_line_of_each_id() -> None:
    seen = SeenIds()
    assert seen.first('"a"', 1) == 1
    assert seen.first("3", 2) == 2
    assert seen.first('"3"', 3) == 3  # 3 and "3" are distinct ids
    assert seen.first('"a"', 4) == 1
    assert seen.first('"\ud800"', 5) == 5  # a lone surrogate in an id is hashed too


def test_seen_ids_keep_every_first_line_across_the_table_growing() -> None:
    seen = SeenIds()
    n = 5000  # several doublings of the 1024-slot table
    assert [seen.first(str(i), i + 1) for i in range(n)] == list(range(1, n + 1))
    assert [seen.first(str(i), n + 1 + i) for i in range(n)] == list(range(1, n + 1))


def _chunks(parts: Iterable[bytes]) -> Callable[[], bytes]:
    """A ``read`` returning ``parts`` one by one, then ``b""`` for ever (the end)."""
    it = iter(parts)
    return lambda: next(it, b"")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\n",
        b"a\nbb\n\nccc",
        b"\xef\xbb\xbf{}\r\n{}\r\n",
        b"x" * 10 + b"\n" + b"y" * 7,
        b"\n\n\nz\n",
    ],
)
@pytest.mark.parametrize("size", [1, 2, 3, 64])
def test_split_lines_gives_every_line_with_its_newline_whatever_the_chunks(
    data: bytes, size: int
) -> None:
    parts = [data[i : i + size] for i in range(0, len(data), size)]
    assert list(split_lines(_chunks(parts))) == data.splitlines(keepends=True)


class _Scanned(bytes):
    """A chunk counting the bytes searched for a newline in it, or in anything
    concatenated from it: a join's copy is searched through the same methods."""

    scanned = 0

    def __add__(self, other: bytes) -> _Scanned:  # type: ignore[override]
        return _Scanned(bytes(self) + bytes(other))

    def __radd__(self, other: bytes) -> _Scanned:
        return _Scanned(bytes(other) + bytes(self))

    def split(  # type: ignore[override]
        self, sep: bytes | None = None, maxsplit: SupportsIndex = -1
    ) -> list[bytes]:
        _Scanned.scanned += len(self)
        return bytes(self).split(sep, maxsplit)

    def find(  # type: ignore[override]
        self, sub: bytes | int, start: SupportsIndex | None = None, end: SupportsIndex | None = None
    ) -> int:
        _Scanned.scanned += len(self)
        return bytes(self).find(sub, start, end)

    def partition(self, sep: bytes) -> tuple[bytes, bytes, bytes]:  # type: ignore[override]
        _Scanned.scanned += len(self)
        return bytes(self).partition(sep)


def test_a_long_line_from_a_pipe_is_read_in_linear_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Bytes searched rather than seconds: a timing would be flaky on a busy machine,
    # and re-searching the pending part of the line on every read is what was slow.
    monkeypatch.setattr(_Scanned, "scanned", 0)
    size, count = 1024, 500
    parts = [_Scanned(b"x" * size) for _ in range(count)] + [_Scanned(b"y\n")]
    lines = list(split_lines(_chunks(parts)))
    assert lines == [b"x" * (size * count) + b"y\n"]
    assert _Scanned.scanned <= 2 * size * count
