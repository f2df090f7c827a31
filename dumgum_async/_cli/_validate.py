"""``dumgum-async validate``: every problem of every line of a JSONL input, found as
``batch`` would read it, with nothing sent and no key needed."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections import Counter
from typing import Any, Final

import dumgum_async as dg
from dumgum_async._cli._console import Console
from dumgum_async._cli._defaults import EXIT_FAILED, EXIT_OK, PROG
from dumgum_async._cli._jsonl import (
    LineWriter,
    PipeReader,
    SeenIds,
    id_key,
    may_block,
    open_input,
    read_line,
)
from dumgum_async._cli._run import Interrupt, UsageError

#: Input lines counted per yield to the event loop (so Ctrl-C is heard).
_VALIDATE_YIELD_EVERY: Final = 2000


HELP: Final = "check a JSONL file of conversations without sending anything (no key needed)"
DESCRIPTION: Final = (
    "Read the input exactly as batch does and check every line against "
    "the API's spec: nothing is sent, no API key is needed. Every problem of every "
    "line is printed on stdout (FILE:LINE: id ID: PATH: MESSAGE), then a summary on "
    "stderr: lines, valid, invalid, problems by kind, duplicate ids. A problem's PATH "
    "is inside the request body; its kind is the path without list indices and a "
    "category (required, wrong type, unknown value, unencodable, invalid), or "
    "line: ... for a line that is not a request at all."
)
EPILOG: Final = (
    "Exit status: 0 every line is valid; 1 some line is invalid; 2 usage error "
    "(a missing file, a bad option)."
)


def add_arguments(validate: argparse.ArgumentParser) -> None:
    """Add the arguments of ``validate``."""
    validate.add_argument("input", metavar="CONVERSATIONS.jsonl", help="the input; - reads stdin")
    validate.add_argument(
        "--json",
        action="store_true",
        help="print the problems as JSON lines for tools, one object per problem: "
        "line, id, path, message, kind",
    )
    validate.set_defaults(no_progress=True)


class _Validation:
    """Checks input lines as batch reads them and reports every problem as it goes."""

    def __init__(self, name: str, writer: LineWriter, *, as_json: bool) -> None:
        self.name = name
        self.writer = writer
        self.as_json = as_json
        self.lines = 0
        self.invalid = 0
        self.duplicates = 0
        self.kinds: Counter[str] = Counter()
        self._seen = SeenIds()

    def check(self, number: int, raw: bytes) -> None:
        """Check input line ``number``; report its problems."""
        read = read_line(number, raw)
        if read is None:
            return
        self.lines += 1
        item_id, body, bad = read
        key = id_key(item_id)
        found: list[tuple[str, str, str]] = []  # (path, message, kind)
        first = self._seen.first(key, number)
        if first != number:
            self.duplicates += 1
            found.append(("", f"duplicate id {key}, first on line {first}", "line: duplicate id"))
        if bad is not None:
            found.append((bad.path, str(bad), bad.kind))
        else:
            found.extend((p.path, p.message, p.kind) for p in dg.validate(body))
        if not found:
            return
        self.invalid += 1
        for path, message, kind in found:
            self.kinds[kind] += 1
            self._report(number, item_id, key, path, message, kind)

    def _report(
        self, number: int, item_id: Any, key: str, path: str, message: str, kind: str
    ) -> None:
        if self.as_json:
            self.writer.write(
                {"line": number, "id": item_id, "path": path, "message": message, "kind": kind}
            )
            return
        where = path or ("(line)" if kind.startswith("line:") else "(request)")
        text = f"{self.name}:{number}: id {key}: {where}: {message}"
        self.writer.text(text)

    def summary(self) -> list[str]:
        """The lines of the summary."""
        rows = [
            ("lines", str(self.lines), "not counting blank lines"),
            ("valid", str(self.lines - self.invalid), ""),
            ("invalid", str(self.invalid), ""),
            ("problems", str(sum(self.kinds.values())), ""),
            ("duplicates", str(self.duplicates), "lines whose id an earlier line has"),
        ]
        lines = ["Summary"]
        lines += [f"  {name:<10} {value:<6}  {detail}".rstrip() for name, value, detail in rows]
        if self.kinds:
            lines.append("  by kind:")
            ordered = sorted(self.kinds.items(), key=lambda kv: (-kv[1], kv[0]))
            lines += [f"    {n:>6}  {kind}" for kind, n in ordered]
        return lines


async def command(args: argparse.Namespace, interrupt: Interrupt) -> int:
    # No client and no key: nothing here can reach the network.
    console: Console = args.console
    source = open_input(args.input)
    name = "stdin" if args.input == "-" else args.input
    reader: PipeReader | None = None
    writer = LineWriter.stdout(console)
    job = _Validation(name, writer, as_json=args.json)
    try:
        with interrupt.caught() as stop:
            if may_block(source):
                reader = PipeReader(source)
                number = 0
                async with contextlib.aclosing(reader.lines()) as lines:
                    async for raw in lines:
                        number += 1
                        job.check(number, raw)
            else:
                for number, raw in enumerate(source, 1):
                    job.check(number, raw)
                    if not number % _VALIDATE_YIELD_EVERY:
                        await asyncio.sleep(0)  # let a Ctrl-C in
    except OSError as exc:
        if isinstance(exc, BrokenPipeError):
            return EXIT_FAILED
        raise UsageError(f"cannot read {name}: {exc.strerror or exc}") from None
    finally:
        if reader is not None:
            reader.stop()
        if source is not sys.stdin.buffer and not (reader is not None and reader.reading):
            source.close()
    if stop.status is not None:
        console.say(f"{PROG}: interrupted by {stop.signal}")
        return stop.status
    for line in job.summary():
        console.say(line)
    return EXIT_FAILED if job.invalid else EXIT_OK
