"""``dumgum-async suggest``: the three suggestions for one request body."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Final

import dumgum_async as dg
from dumgum_async._cli import _api
from dumgum_async._cli._console import one_line
from dumgum_async._cli._defaults import EXIT_FAILED, EXIT_FATAL, EXIT_OK, PROG
from dumgum_async._cli._jsonl import json_type
from dumgum_async._cli._run import Interrupt, UsageError

HELP: Final = "print the suggestions for one conversation"
DESCRIPTION: Final = "Print the three suggestions for one request body (the API's JSON)."


def add_arguments(suggest: argparse.ArgumentParser) -> None:
    """Add the arguments of ``suggest`` (the API flags come from the parent parsers)."""
    suggest.add_argument(
        "request", metavar="REQUEST.json", help="a request body; - reads it from stdin"
    )
    suggest.add_argument("--json", action="store_true", help="print a JSON array instead")


def _describe(exc: dg.DumGumError) -> str:
    """One paragraph about a failed call, for a person."""
    if isinstance(exc, dg.RequestValidationError):
        n = len(exc.problems)
        lines = [f"{PROG}: the request is invalid ({n} problem{'s' if n != 1 else ''}):"]
        lines += [f"  {p.path or '(request)'}: {p.message}" for p in exc.problems]
        return "\n".join(lines)
    text = f"{PROG}: {type(exc).__name__}: {one_line(str(exc), 500)}"
    if isinstance(exc, dg.AuthenticationError | dg.PermissionDeniedError):
        text += f" (check --api-key or {dg.ENV_API_KEY})"
    return text


def _read_request(path: str) -> Any:
    """The JSON document in ``path`` (``-``: stdin).

    Raises:
        UsageError: The file cannot be read.
        ValueError: It is not JSON.
        RecursionError: It is nested too deeply to read.
    """
    # Bytes from both, decoded below in one place: stdin's text layer (the locale's
    # encoding, surrogateescape) read a BOM or bad UTF-8 unlike a file.
    try:
        if path == "-":
            data = sys.stdin.buffer.read()
        else:
            with open(path, "rb") as f:
                data = f.read()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    return json.loads(data.decode("utf-8-sig"))


async def command(args: argparse.Namespace, interrupt: Interrupt) -> int:
    key = _api.api_key(args)
    name = "stdin" if args.request == "-" else args.request
    try:
        body = _read_request(args.request)
    except (ValueError, RecursionError) as exc:
        # Nesting json cannot follow is refused as batch and validate refuse it.
        print(f"{PROG}: {name} is not valid JSON: {exc}", file=sys.stderr)
        return EXIT_FAILED
    # A line copied from a batch input works too.
    if isinstance(body, dict) and isinstance(body.get("request"), dict):
        body = body["request"]
    if not isinstance(body, dict):
        kind = json_type(body)
        print(
            f"{PROG}: {name} must hold a JSON object (a request body), not {kind}", file=sys.stderr
        )
        return EXIT_FAILED
    async with _api.client(args, key) as client:
        try:
            response = await client.suggest(body)
        except dg.DumGumError as exc:
            print(_describe(exc), file=sys.stderr)
            return EXIT_FATAL if isinstance(exc, _api.FATAL_ERRORS) else EXIT_FAILED
    if args.json:
        print(json.dumps(list(response.suggestions), ensure_ascii=False))
    else:
        for number, text in enumerate(response.suggestions, 1):
            print(f"{number}. {one_line(text, 10_000)}")
    return EXIT_OK
