"""Reading and writing JSON lines: the input lines of ``batch`` and ``validate`` (a
file, or a pipe read by a thread), their ids, and the output written line by line."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import json
import os
import stat
import sys
import threading
from array import array
from collections.abc import AsyncGenerator, Callable, Iterator, Mapping
from typing import IO, Any, Final

import orjson

from dumgum_async._cli._console import Console
from dumgum_async._cli._defaults import PROG
from dumgum_async._cli._run import UsageError

_BOM: Final = b"\xef\xbb\xbf"
#: Integers of 19 digits or more may be beyond 64 bits, which orjson reads as floats.
#: Found by mapping every digit to 0 and looking for 19 zeros: ten times faster
#: than a regular expression on a typical line.
_DIGITS_AS_ZEROS: Final = bytes(0x30 if 0x30 <= b <= 0x39 else 0x78 for b in range(256))
_LONG_NUMBER: Final = b"0" * 19


class BadLine(ValueError):
    """An input line that is not a request; ``item_id`` is the id it still gets,
    ``kind`` the sort of trouble (for validate's summary), ``path`` where."""

    def __init__(self, message: str, item_id: Any, *, kind: str, path: str = "") -> None:
        super().__init__(message)
        self.item_id = item_id
        self.kind = kind
        self.path = path


def _loads(raw: bytes) -> Any:
    """The JSON value of a line, exactly as ``json.loads`` reads it.

    Raises:
        ValueError: Not JSON.
        RecursionError: Nested too deeply.
    """
    # orjson is several times faster; where it would differ from json (integers
    # beyond 64 bits become floats; NaN, lone surrogate escapes and UTF-16 refused)
    # the line takes json's road.
    if raw.translate(_DIGITS_AS_ZEROS).find(_LONG_NUMBER) == -1:
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
    return json.loads(raw)


def read_line(number: int, raw: bytes) -> tuple[Any, dict[str, Any], BadLine | None] | None:
    """(id, request body, what is wrong with the line) of input line ``number``;
    None for a blank line. The first line may start with a UTF-8 BOM."""
    if number == 1:
        raw = raw.removeprefix(_BOM)
    if not raw.strip():
        return None
    try:
        item_id, body = _parse_line(raw, number)
    except BadLine as exc:
        return exc.item_id, {}, exc
    return item_id, body, None


class SeenIds:
    """The line each id was first seen on, in compact form: an 8-byte digest of the
    id's JSON text and its line number per id, in an open-addressing table of two
    ``array('Q')`` kept at most half full: 32 to 64 bytes an id, under 50 MB at the
    peak of a growth for a million ids, where a dict took about 150 bytes an id.

    Two ids share a digest with odds of about n**2 / 2**65 (3e-8 for a million):
    the second would be reported as a duplicate of the first.
    """

    def __init__(self) -> None:
        self._digests = array("Q", bytes(8 * 1024))
        self._lines = array("Q", bytes(8 * 1024))
        self._mask = 1023
        self._count = 0

    def first(self, key: str, number: int) -> int:
        """The line number of the first line with id ``key`` (``number`` if new)."""
        hashed = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8)
        digest = int.from_bytes(hashed.digest(), "little") or 1  # 0 marks a free slot
        slot = self._slot(self._digests, self._mask, digest)
        if self._digests[slot] == digest:
            return self._lines[slot]
        self._digests[slot] = digest
        self._lines[slot] = number
        self._count += 1
        if 2 * self._count > self._mask:
            self._grow()
        return number

    @staticmethod
    def _slot(digests: array[int], mask: int, digest: int) -> int:
        """Where ``digest`` is, or the free slot where it belongs (linear probing)."""
        slot = digest & mask
        while True:
            found = digests[slot]
            if found == 0 or found == digest:
                return slot
            slot = (slot + 1) & mask

    def _grow(self) -> None:
        size = 2 * (self._mask + 1)
        digests, lines = array("Q", bytes(8 * size)), array("Q", bytes(8 * size))
        mask = size - 1
        for digest, line in zip(self._digests, self._lines, strict=True):
            if digest:
                slot = self._slot(digests, mask, digest)
                digests[slot] = digest
                lines[slot] = line
        self._digests, self._lines, self._mask = digests, lines, mask


def id_key(item_id: Any) -> str:
    # JSON text as the key: 3 and "3" stay distinct, as they are in the files.
    if type(item_id) is int:
        return str(item_id)  # what json.dumps writes, a few times faster
    return json.dumps(item_id, sort_keys=True, ensure_ascii=False)


def _parse_line(raw: bytes, number: int) -> tuple[Any, dict[str, Any]]:
    """(id, request body) of one input line.

    Raises:
        BadLine: Not JSON, not an object, or a wrapper with a bad id or request.
    """
    try:
        value = _loads(raw)
    except (ValueError, RecursionError) as exc:
        raise BadLine(f"not valid JSON ({exc})", number, kind="line: not valid JSON") from None
    if not isinstance(value, dict):
        raise BadLine(
            f"expected a JSON object, got {json_type(value)}", number, kind="line: not an object"
        )
    if "request" not in value:
        return number, value
    item_id = value.get("id", number)
    if isinstance(item_id, bool) or not isinstance(item_id, str | int):
        raise BadLine(
            f'"id" must be a string or an integer, got {json_type(item_id)}',
            number,
            kind="line: bad id",
            path="id",
        )
    request = value["request"]
    if not isinstance(request, dict):
        raise BadLine(
            f'"request" must be a JSON object, got {json_type(request)}',
            item_id,
            kind="line: bad request",
            path="request",
        )
    return item_id, request


def json_type(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "a number"
    return names.get(type(value), type(value).__name__)


class LineWriter:
    """Appends JSON lines to a file descriptor, each in one ``write`` call of the whole line.

    Nothing is buffered in the process: a crash or a kill loses no finished item, and
    a file opened with ``O_APPEND`` cannot be left with half a line mid-file.
    """

    def __init__(
        self,
        sink: Callable[[bytes], None],
        *,
        close: Callable[[], None] | None = None,
        around: Callable[[], contextlib.AbstractContextManager[None]] | None = None,
    ) -> None:
        self._sink = sink
        self._close = close
        self._around = around

    @classmethod
    def open(cls, path: str, *, truncate: bool) -> LineWriter:
        """A writer appending to the file ``path`` (created if missing).

        Raises:
            UsageError: The file cannot be opened.
        """
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_BINARY", 0)
        if truncate:
            flags |= os.O_TRUNC
        try:
            fd = os.open(path, flags, 0o644)
        except OSError as exc:
            raise UsageError(f"cannot open {path} for writing: {exc.strerror or exc}") from None
        return cls(functools.partial(_write_all, fd), close=functools.partial(os.close, fd))

    @classmethod
    def stdout(cls, console: Console) -> LineWriter:
        """A writer to standard output (``-o -``), never closing it.

        When stdout and the progress line share a terminal, the line is erased
        while a record is written, so the two never mix.
        """
        stream = sys.stdout
        stream.flush()
        around = console.cleared if console.live and stream.isatty() else None
        try:
            fd = stream.fileno()
        except (AttributeError, OSError, ValueError):
            # Not a real file (a test's capture, an embedding application): text it is.
            def sink(data: bytes) -> None:
                stream.write(data.decode())
                stream.flush()

            return cls(sink, around=around)
        return cls(functools.partial(_write_all, fd), around=around)

    def write(self, record: Mapping[str, Any]) -> None:
        """Append ``record`` as one line.

        Raises:
            OSError: The line could not be written (a full disk, a closed pipe).
        """
        try:
            data = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode()
        except UnicodeEncodeError:
            # A lone surrogate (from a "\ud800" escape in the input) has no UTF-8 form;
            # the escaped form keeps the line valid JSON.
            data = json.dumps(record, separators=(",", ":")).encode()
        if self._around is None:
            self._sink(data + b"\n")
            return
        with self._around():
            self._sink(data + b"\n")

    def text(self, line: str) -> None:
        """Append ``line`` (plain text) as one line; a character with no UTF-8 form
        (a lone surrogate) is written as its escape.

        Raises:
            OSError: The line could not be written.
        """
        data = line.encode("utf-8", "backslashreplace") + b"\n"
        if self._around is None:
            self._sink(data)
            return
        with self._around():
            self._sink(data)

    def close(self) -> None:
        """Close the file (standard output stays open)."""
        if self._close is not None:
            self._close()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    # Regular files take the whole buffer at once; the loop is for pipes and odd short writes.
    while view:
        written = os.write(fd, view)
        view = view[written:]


def split_lines(read: Callable[[], bytes]) -> Iterator[bytes]:
    """The lines of the chunks ``read`` returns until it returns ``b""``, each
    with its ``b"\\n"``; the last one lacks it if the input does not end with one.

    Raises:
        OSError: ``read`` failed.
    """
    # Only the new chunk is searched, and a line's chunks are joined once: re-joining
    # and re-searching the partial line on every read made a long line quadratic.
    pending: list[bytes] = []
    while chunk := read():
        lines = chunk.split(b"\n")
        if len(lines) == 1:
            pending.append(chunk)
            continue
        if pending:
            pending.append(lines[0])
            lines[0] = b"".join(pending)
        tail = lines.pop()
        pending = [tail] if tail else []
        for line in lines:
            yield line + b"\n"
    if pending:
        yield b"".join(pending)


class PipeReader:
    """The lines of a pipe or terminal, read by a daemon thread.

    Reading them in the event loop would stall every request in flight (and the
    progress line) until the producer writes its next line. The thread reads at
    most ``ahead`` lines ahead; being a daemon, it never holds up the exit after a
    Ctrl-C while the producer is silent.
    """

    def __init__(self, source: IO[bytes], *, ahead: int = 64) -> None:
        self._source = source
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[bytes | BaseException | None] = asyncio.Queue()
        self._room = threading.Semaphore(ahead)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._read, name=f"{PROG} input", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        # os.read on the descriptor, not the file object: a daemon thread blocked
        # inside a buffered reader holds its lock, and the interpreter's exit would
        # then abort trying to close stdin.
        read = functools.partial(os.read, self._source.fileno(), 1 << 16)
        item: bytes | BaseException | None = None
        try:
            for line in split_lines(read):
                if not self._hand_over(line):
                    return
        except Exception as exc:  # handed to the event loop, raised there
            item = exc
        with contextlib.suppress(RuntimeError):  # the loop is already closed
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)

    def _hand_over(self, line: bytes) -> bool:
        self._room.acquire()
        if self._stopped.is_set():
            return False
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, line)
        except RuntimeError:  # the loop is already closed
            return False
        return True

    async def lines(self) -> AsyncGenerator[bytes]:
        """The lines, as they arrive.

        Raises:
            OSError: Reading failed.
        """
        while True:
            item = await self._queue.get()
            self._room.release()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def stop(self) -> None:
        """Let the thread end after the read it is blocked in, if any."""
        self._stopped.set()
        self._room.release()

    @property
    def reading(self) -> bool:
        """True while the thread is still blocked reading."""
        return self._thread.is_alive()


def may_block(source: IO[bytes]) -> bool:
    """True for a pipe, a FIFO or a terminal: reading may wait for a producer."""
    try:
        return not stat.S_ISREG(os.fstat(source.fileno()).st_mode)
    except (AttributeError, OSError, ValueError):
        return False  # not a file at all (an in-memory stream): never waits


def open_input(path: str) -> IO[bytes]:
    if path == "-":
        return sys.stdin.buffer
    try:
        return open(path, "rb")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
