"""The ``dumgum-async`` command line: ``suggest``, ``batch``, ``validate``, ``serve``, ``demo``.

It uses the public API only (``dumgum_async`` and ``dumgum_async.testing``), so it
doubles as a worked example of it. :func:`main` runs a command in a fresh event loop
with Ctrl-C handling; :func:`run` runs one inside a loop that is already running
(tests, embedding), without touching signal handlers.

Exit statuses: 0 success; 1 a request (or some item of a batch) failed, or a line
``validate`` checked is invalid; 2 usage or configuration error; 3 the API refused
the key (401 or 403), so a batch stopped; 4 a batch spent its ``--max-requests``;
128 + the signal number (130 for Ctrl-C, 143 for SIGTERM) when interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import hashlib
import json
import logging
import math
import os
import secrets
import shutil
import signal
import stat
import sys
import tempfile
import threading
import time
from array import array
from collections import Counter
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from typing import IO, TYPE_CHECKING, Any, Final

import orjson

import dumgum_async as dg

if TYPE_CHECKING:
    from dumgum_async.testing import Faults

PROG: Final = "dumgum-async"
ENV_API_KEY: Final = "DUMGUM_API_KEY"
ENV_BASE_URL: Final = "DUMGUM_BASE_URL"

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_USAGE: Final = 2
#: The API refused the key (401/403): every further request would fail the same way.
EXIT_FATAL: Final = 3
#: The batch made its --max-requests HTTP attempts and stopped sending.
EXIT_BUDGET: Final = 4
_EXIT_STATUSES: Final = (
    "Exit status: 0 every item answered; 1 some item failed (its error line is in the "
    "output); 2 usage or configuration error; 3 the API refused the key (HTTP 401/403): "
    "the batch stopped, unsent lines have no output line (--resume with the right key "
    "completes them); 4 the batch spent its --max-requests attempts and stopped "
    "(unsent lines have no output line: --resume completes them); 130 interrupted "
    "by Ctrl-C (SIGINT), 143 by SIGTERM (128 + the signal number)."
)

#: ``type`` of the error line written for an input line that is not a request, or
#: whose id an earlier line already has.
INPUT_LINE_ERROR: Final = "InputLineError"
#: Seconds between the plain progress lines written when stderr is not a terminal.
_PLAIN_INTERVAL: Final = 5.0
#: Bad input lines reported one by one on stderr; the rest are only counted.
_MAX_REPORTED_LINES: Final = 20
_LIVE_INTERVAL: Final = 0.1
#: The API refused the key: stop the batch rather than fail every item the same way.
_FATAL_ERRORS: Final = (dg.AuthenticationError, dg.PermissionDeniedError)
_DEMO_FAULTS: Final = (
    "http_429",
    "http_500",
    "http_502",
    "http_503",
    "http_504",
    "reset",
    "truncated",
)
_DEMO_FAULT_LABELS: Final = "429, 500, 502, 503, 504, reset, truncated"
_DEMO_SHOWN: Final = 5
_BOM: Final = b"\xef\xbb\xbf"
#: Integers of 19 digits or more may be beyond 64 bits, which orjson reads as floats.
#: Found by mapping every digit to 0 and looking for 19 zeros: ten times faster
#: than a regular expression on a typical line.
_DIGITS_AS_ZEROS: Final = bytes(0x30 if 0x30 <= b <= 0x39 else 0x78 for b in range(256))
_LONG_NUMBER: Final = b"0" * 19
#: Input lines counted per yield to the event loop by validate (so Ctrl-C is heard).
_VALIDATE_YIELD_EVERY: Final = 2000


class UsageError(Exception):
    """A bad command line, a missing key or an unusable file: exit status 2."""


class _Interrupt:
    """Set by the signal handler of :func:`main`: which signal stopped the command."""

    def __init__(self) -> None:
        self.signum: int | None = None


def _uncancel() -> None:
    # The cancellation was ours (a signal) and has been handled: clear it, so that
    # the cleanup awaits that follow behave normally (Python 3.11+ counts them).
    task = asyncio.current_task()
    uncancel = getattr(task, "uncancel", None)
    if uncancel is not None:
        uncancel()


# --- argument parsing -----------------------------------------------------------------


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def _fixed_rate(text: str) -> dg.RateLimit:
    try:
        return dg.RateLimit.parse(text)
    except dg.ConfigurationError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _rate(text: str) -> dg.RateLimit | dg.AdaptiveRateLimit:
    """A fixed rate (``20/s``), or ``auto`` / ``auto:MIN-MAX/UNIT`` (``auto:5-200/s``):
    an adaptive rate within those bounds, starting at the library's default start
    (brought within them)."""
    head, colon, bounds = text.strip().partition(":")
    if head.lower() != "auto":
        return _fixed_rate(text)
    if not colon:
        return dg.RateLimit.adaptive()
    low, dash, high = bounds.partition("-")
    try:
        if not dash:
            raise dg.ConfigurationError("no '-'")
        top = dg.RateLimit.parse(high)
        bottom = float(low)
        start = min(max(dg.RateLimit.adaptive().start, bottom), top.max_rate)
        return dg.RateLimit.adaptive(
            min_rate=bottom, max_rate=top.max_rate, start=start, time_period=top.time_period
        )
    except (ValueError, dg.ConfigurationError) as exc:
        raise argparse.ArgumentTypeError(
            f"--rate auto takes bounds like auto:5-200/s or auto:60-6000/min, got {text!r} ({exc})"
        ) from None


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``dumgum-async`` and its subcommands."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Suggestions from the DumGum API, one conversation or a JSONL file "
        "of them; a local emulator of the API; a demo.",
        epilog=f"The API key and base URL default to ${ENV_API_KEY} and ${ENV_BASE_URL}; "
        f"flags win. Start with: {PROG} demo. {_EXIT_STATUSES}",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {dg.__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="show the library's log messages (retries, ...) on stderr",
    )
    api = argparse.ArgumentParser(add_help=False)
    group = api.add_argument_group("API")
    group.add_argument(
        "--api-key",
        metavar="KEY",
        help=f"the API key (default: ${ENV_API_KEY}; prefer the variable, "
        "command lines are visible to other users)",
    )
    group.add_argument(
        "--base-url",
        metavar="URL",
        help=f"the API's base URL (default: ${ENV_BASE_URL}, else {dg.DEFAULT_BASE_URL})",
    )
    group.add_argument(
        "--timeout",
        type=_positive_float,
        default=dg.DEFAULT_TIMEOUT,
        metavar="S",
        help="seconds one HTTP attempt may take (default: %(default)s)",
    )
    group.add_argument(
        "--max-attempts",
        type=_positive_int,
        default=dg.DEFAULT_MAX_ATTEMPTS,
        metavar="N",
        help="attempts per request, the first included; 1 disables retries (default: %(default)s)",
    )
    group.add_argument(
        "--allow-insecure-http",
        action="store_true",
        help="allow a plain http:// base URL to a host other than loopback "
        "(the key then travels in clear)",
    )

    suggest = commands.add_parser(
        "suggest",
        parents=[api, common],
        help="print the suggestions for one conversation",
        description="Print the three suggestions for one request body (the API's JSON).",
    )
    suggest.add_argument(
        "request", metavar="REQUEST.json", help="a request body; - reads it from stdin"
    )
    suggest.add_argument("--json", action="store_true", help="print a JSON array instead")

    batch = commands.add_parser(
        "batch",
        parents=[api, common],
        help="turn a JSONL file of conversations into a JSONL file of suggestions",
        description="Each input line is a request body, or "
        '{"id": ..., "request": {...}} (a bare body\'s id is its line number). Each '
        'output line is {"id": ..., "suggestions": [...]} or {"id": ..., "error": '
        '{"type": ..., "message": ..., "status": ...}}, written whole as soon as the '
        "item is done, in completion order. Progress and the summary go to stderr: "
        "a line redrawn in place on a terminal, else a plain line every few seconds.",
        epilog=_EXIT_STATUSES,
    )
    batch.add_argument("input", metavar="CONVERSATIONS.jsonl", help="the input; - reads stdin")
    batch.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="SUGGESTIONS.jsonl",
        help="the output file; - writes the lines to stdout (not with --resume)",
    )
    batch.add_argument(
        "--concurrency",
        type=_positive_int,
        default=dg.DEFAULT_BATCH_CONCURRENCY,
        metavar="N",
        help="requests in flight at once (default: %(default)s)",
    )
    batch.add_argument(
        "--rate",
        type=_rate,
        metavar="RATE",
        help="client-side rate limit: 20/s, 600/min, 36000/h; or auto (find the "
        "server's limit, from 10/s) or auto:MIN-MAX/UNIT, e.g. auto:5-200/s (default: none)",
    )
    batch.add_argument(
        "--redis-url",
        metavar="URL",
        help="share the --rate limit with every worker using this Redis "
        "(redis://host:6379/0; needs the redis extra)",
    )
    batch.add_argument(
        "--redis-key",
        default="dumgum-async:rate",
        metavar="KEY",
        help="the Redis key naming the shared limit (default: %(default)s)",
    )
    mode = batch.add_mutually_exclusive_group()
    mode.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run: skip ids the output already answers, "
        "retry the ones that failed",
    )
    mode.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    batch.add_argument(
        "--max-requests",
        type=_positive_int,
        metavar="N",
        help="stop sending after N HTTP attempts, retries included, and say how far "
        "the batch got (exit status 4); --resume continues it (default: no limit)",
    )
    batch.add_argument("--no-progress", action="store_true", help="no progress line on stderr")
    batch.add_argument(
        "--progress-interval",
        type=_positive_float,
        default=_PLAIN_INTERVAL,
        metavar="S",
        help="seconds between progress lines when stderr is not a terminal "
        "(logs of CI, Kubernetes...; default: %(default)s)",
    )

    validate = commands.add_parser(
        "validate",
        parents=[common],
        help="check a JSONL file of conversations without sending anything (no key needed)",
        description="Read the input exactly as batch does and check every line against "
        "the API's spec: nothing is sent, no API key is needed. Every problem of every "
        "line is printed on stdout (FILE:LINE: id ID: PATH: MESSAGE), then a summary on "
        "stderr: lines, valid, invalid, problems by kind, duplicate ids. A problem's PATH "
        "is inside the request body; its kind is the path without list indices and a "
        "category (required, wrong type, unknown value, unencodable, invalid), or "
        "line: ... for a line that is not a request at all.",
        epilog="Exit status: 0 every line is valid; 1 some line is invalid; 2 usage error "
        "(a missing file, a bad option).",
    )
    validate.add_argument("input", metavar="CONVERSATIONS.jsonl", help="the input; - reads stdin")
    validate.add_argument(
        "--json",
        action="store_true",
        help="print the problems as JSON lines for tools, one object per problem: "
        "line, id, path, message, kind",
    )
    validate.set_defaults(no_progress=True)

    serve = commands.add_parser(
        "serve",
        add_help=False,
        help="run the local API emulator (see: dumgum-async serve --help)",
    )
    serve.add_argument("serve_args", nargs=argparse.REMAINDER)

    demo = commands.add_parser(
        "demo",
        parents=[common],
        help="run sample conversations through a local emulator (no key needed)",
        description="Start the emulator on 127.0.0.1 with a rate limit and random faults, "
        "send it sample conversations under the same rate limit with retries, and show "
        "what came back.",
    )
    demo.add_argument(
        "--n", type=_positive_int, default=300, help="conversations (default: %(default)s)"
    )
    demo.add_argument(
        "--rate",
        type=_fixed_rate,
        default="50/s",
        metavar="RATE",
        help="rate limit of the client and the emulator (default: 50/s)",
    )
    demo.add_argument(
        "--faults",
        type=_probability,
        default=0.1,
        metavar="P",
        help="share of requests the emulator fails, spread over "
        f"{_DEMO_FAULT_LABELS} (default: %(default)s)",
    )
    demo.add_argument(
        "--seed", type=int, default=7, help="conversations and faults (default: %(default)s)"
    )
    demo.add_argument("--no-progress", action="store_true", help="no progress line on stderr")
    return parser


def _parse(argv: Sequence[str]) -> argparse.Namespace | int:
    """The parsed arguments, or the exit status when argparse has already answered."""
    parser = build_parser()
    if not argv:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return parser.parse_args(list(argv))
    except SystemExit as exc:  # --help, --version or a usage error, already printed
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE


def _serve(argv: Sequence[str]) -> int:
    # The emulator pulls in aiohttp.web and jsonschema: only for this command.
    from dumgum_async.testing import _serve

    return _serve.main(argv)


# --- entry points ---------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the process exit status.

    Args:
        argv: The arguments after the program name; None reads ``sys.argv``.
    """
    args_list = sys.argv[1:] if argv is None else list(argv)
    if args_list[:1] == ["serve"]:
        return _serve(args_list[1:])
    parsed = _parse(args_list)
    if isinstance(parsed, int):
        return parsed
    if parsed.command == "serve":
        return _serve(parsed.serve_args)
    try:
        return asyncio.run(_run_with_signals(parsed))
    # KeyboardInterrupt: Ctrl-C before the handlers were in place (or where there are
    # none); CancelledError: a signal that came as the command was already returning.
    except (KeyboardInterrupt, asyncio.CancelledError):
        return 128 + signal.SIGINT


async def run(argv: Sequence[str]) -> int:
    """Run a command (not ``serve``) inside the running event loop; returns its exit status.

    Unlike :func:`main` it installs no signal handlers: cancelling the calling task
    stops the command.
    """
    parsed = _parse(argv)
    if isinstance(parsed, int):
        return parsed
    if parsed.command == "serve":
        raise UsageError("serve runs its own event loop: use main()")
    return await _execute(parsed, _Interrupt())


async def _run_with_signals(args: argparse.Namespace) -> int:
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    interrupt = _Interrupt()

    def on_signal(signum: int) -> None:
        if interrupt.signum is None:
            interrupt.signum = signum
        # Cancelling stops in-flight calls at once; the command catches it, writes its
        # summary and returns. A second signal cancels that cleanup too.
        task.cancel()

    installed: list[signal.Signals] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, on_signal, signum)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - Windows
            continue
        installed.append(signum)
    try:
        return await _execute(args, interrupt)
    except asyncio.CancelledError:
        if interrupt.signum is None:
            raise
        _uncancel()
        return 128 + interrupt.signum
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)


async def _execute(args: argparse.Namespace, interrupt: _Interrupt) -> int:
    commands: dict[str, Callable[[argparse.Namespace, _Interrupt], Any]] = {
        "suggest": _suggest,
        "batch": _batch,
        "validate": _validate,
        "demo": _demo,
    }
    args.shows_progress = args.command != "suggest" and not args.no_progress
    # One console for the progress line and the log lines, so they never overwrite
    # each other.
    args.console = _Console(sys.stderr, live=args.shows_progress and sys.stderr.isatty())
    try:
        with _library_logs(args.console if args.verbose else None) as logs:
            args.logs = logs
            status: int = await commands[args.command](args, interrupt)
            return status
    except (UsageError, dg.ConfigurationError) as exc:
        message = str(exc)
        if "allow_insecure_http" in message:
            # The library's message names its argument; say what the flag is here.
            message += " (on the command line: --allow-insecure-http)"
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return EXIT_USAGE


# --- terminal output ------------------------------------------------------------------


class _Console:
    """stderr, with an optional status line that redraws itself in place.

    Messages go above the status line: it is erased, the message printed, and the
    line drawn again, so the two never mix.
    """

    def __init__(self, stream: IO[str], *, live: bool) -> None:
        self.stream = stream
        self.live = live
        self._status = ""

    def status(self, text: str) -> None:
        """Draw ``text`` as the status line (only on a live console)."""
        if not self.live:
            return
        # A line that wraps cannot be rewritten with \r: keep it within the terminal.
        width = max(20, shutil.get_terminal_size((80, 24)).columns - 1)
        self._status = text[:width]
        self.stream.write("\r" + self._status + "\x1b[K")
        self.stream.flush()

    def say(self, text: str) -> None:
        """Print a line of text above the status line."""
        if self._status:
            self.stream.write("\r\x1b[K")
        self.stream.write(text + "\n")
        if self._status:
            self.stream.write(self._status)
        self.stream.flush()

    @contextlib.contextmanager
    def cleared(self) -> Iterator[None]:
        """Erase the status line for the duration (to write to the same terminal)."""
        if self._status:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
        try:
            yield
        finally:
            if self._status:
                self.stream.write(self._status)
                self.stream.flush()

    def clear(self) -> None:
        """Erase the status line for good."""
        if self._status:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._status = ""


class _LogCounter(logging.Handler):
    """Counts the library's log records; shows them on the console when verbose."""

    def __init__(self, console: _Console | None) -> None:
        super().__init__(logging.INFO if console is not None else logging.WARNING)
        self.console = console
        self.count = 0
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1
        if self.console is not None:
            self.console.say(self.format(record))


@contextlib.contextmanager
def _library_logs(console: _Console | None) -> Iterator[_LogCounter]:
    """Route the library's and aiohttp's log records to a counter for the duration.

    Without a handler, Python would print every retry warning on stderr (its "last
    resort" handler), over the progress line; the CLI counts them in the summary
    instead, and prints them on ``console`` only with ``--verbose``.
    """
    counter = _LogCounter(console)
    loggers = [logging.getLogger(name) for name in ("dumgum_async", "aiohttp")]
    saved = [(logger.level, logger.propagate) for logger in loggers]
    for logger in loggers:
        logger.addHandler(counter)
        logger.propagate = False
        logger.setLevel(counter.level)
    try:
        yield counter
    finally:
        for logger, (level, propagate) in zip(loggers, saved, strict=True):
            logger.removeHandler(counter)
            logger.setLevel(level)
            logger.propagate = propagate


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _one_line(text: str, limit: int = 300) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _by_count(counts: Mapping[str, int]) -> str:
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return ", ".join(f"{name} {n}" for name, n in ordered)


class _Tally:
    """What happened to the items of one run."""

    def __init__(self) -> None:
        self.ok = 0
        self.failed: Counter[str] = Counter()
        self.examples: dict[str, str] = {}
        self.skipped = 0
        self.bad_lines = 0

    @property
    def done(self) -> int:
        """Items finished in this run, successfully or not."""
        return self.ok + sum(self.failed.values())

    def failure(self, kind: str, message: str) -> None:
        """Count a failure; remember the first message of each kind for the summary."""
        self.failed[kind] += 1
        self.examples.setdefault(kind, _one_line(message, 160))


class _Progress:
    """The status line of a run: done/total, rate, ETA, ok/failed, retries; with
    ``--rate auto``, the rate the limiter allows now (``limit 36.4/s``).

    On a live console it is redrawn in place; elsewhere (a log file, a CI job, a
    container's stderr) it is printed as a plain line every ``interval`` seconds, or
    not at all when ``interval`` is None.
    """

    def __init__(
        self,
        console: _Console,
        tally: _Tally,
        client: dg.DumGumClient,
        total: int | None,
        *,
        interval: float | None,
        adaptive: bool = False,
    ) -> None:
        self.adaptive = adaptive
        self.console = console
        self.tally = tally
        self.client = client
        self.total = total
        self.interval = interval
        self.started = time.monotonic()

    def render(self) -> str:
        """The status line's text."""
        tally = self.tally
        done = tally.done
        elapsed = time.monotonic() - self.started
        rate = done / elapsed if elapsed > 0 else 0.0
        parts = [f"{done}/{self.total}" if self.total is not None else f"{done} done"]
        if self.total:
            parts[0] += f" ({min(100.0, 100.0 * done / self.total):.0f}%)"
        parts.append(f"{rate:.1f}/s")
        if self.adaptive:
            allowed = self.client.stats.rate_limit_current
            if allowed is not None:
                parts.append(f"limit {allowed:.1f}/s")
        if self.total is not None:
            left = max(self.total - done, 0)
            parts.append(f"ETA {_duration(left / rate)}" if rate > 0 else "ETA --")
        parts.append(f"ok {tally.ok}")
        parts.append(f"failed {sum(tally.failed.values())}")
        parts.append(f"retries {self.client.stats.total_retries}")
        if tally.skipped:
            parts.append(f"skipped {tally.skipped}")
        return "  ".join(parts)

    @contextlib.asynccontextmanager
    async def shown(self) -> AsyncIterator[None]:
        """Show the progress for the duration: redrawn every 100 ms on a live console,
        else a plain line every ``interval`` seconds (the first after one interval)."""
        live = self.console.live
        if not live and self.interval is None:
            yield
            return
        period = _LIVE_INTERVAL if live else self.interval
        assert period is not None

        async def tick() -> None:
            if not live:
                await asyncio.sleep(period)
            while True:
                if live:
                    self.console.status(self.render())
                else:
                    self.console.say(f"{PROG}: {self.render()}")
                await asyncio.sleep(period)

        ticker = asyncio.create_task(tick())
        try:
            yield
        finally:
            ticker.cancel()
            # wait() rather than awaiting the task: a cancellation of ours (a second
            # Ctrl-C) must propagate, not be mistaken for the ticker's own.
            await asyncio.wait([ticker])
            if live:
                self.console.status(self.render())
                self.console.clear()


def _percentiles(p50: float | None, p95: float | None, p99: float | None) -> str:
    if p50 is None or p95 is None or p99 is None:
        return ""
    return f"p50 {1000 * p50:.0f} ms   p95 {1000 * p95:.0f} ms   p99 {1000 * p99:.0f} ms"


def _summary(
    tally: _Tally,
    stats: dg.StatsSnapshot,
    wall: float,
    *,
    logs: _LogCounter,
    resumed: bool,
    refused: int = 0,
    unsent: int = 0,
    adaptive: bool = False,
) -> list[str]:
    failed = sum(tally.failed.values())
    rows = [("ok", str(tally.ok), "")]
    rows.append(("failed", str(failed), _by_count(tally.failed)))
    if refused:
        rows.append(("refused", str(refused), "the API refused the key; no line written"))
    if unsent:
        rows.append(("unsent", str(unsent), "in flight when --max-requests ran out; no line"))
    if resumed:
        rows.append(("skipped", str(tally.skipped), "already answered in the output"))
    rows.append(("retries", str(stats.total_retries), _by_count(stats.retries)))
    rows.append(("429s", str(stats.rate_limited), ""))
    if adaptive and stats.rate_limit_current is not None:
        ceiling = stats.rate_limit_ceiling
        rows.append(
            (
                "rate",
                f"settled at ~{stats.rate_limit_current:.1f}/s",
                "(no 429 seen: the limit may be higher)"
                if ceiling is None
                else f"(429s began near {ceiling:.1f}/s)",
            )
        )
    # The API's own latency, per attempt; queueing for a slot or a token is shown
    # apart, or a client-side --rate would read as a slow API.
    latency = _percentiles(
        stats.attempt_latency_p50, stats.attempt_latency_p95, stats.attempt_latency_p99
    )
    rows.append(
        ("latency", latency or "n/a", "per attempt, on the wire" if latency else "no answer")
    )
    waited = _percentiles(stats.wait_p50, stats.wait_p95, stats.wait_p99)
    if waited:
        rows.append(("waiting", waited, "per attempt, for a slot and a rate-limit token"))
    rows.append(("wall time", _duration(wall), ""))
    if logs.count and logs.console is None:
        plural = "s" if logs.count != 1 else ""
        rows.append(("log", f"{logs.count} warning{plural}", "not shown; -v shows them"))
    lines = ["Summary"]
    for name, value, detail in rows:
        lines.append(f"  {name:<10} {value:<6}  {detail}".rstrip())
    if tally.examples:
        lines.append("  first error of each type:")
        for kind, message in tally.examples.items():
            lines.append(f"    {kind}: {message}")
    return lines


# --- suggest --------------------------------------------------------------------------


def _api_key(args: argparse.Namespace) -> str:
    key: str | None = args.api_key or os.environ.get(ENV_API_KEY)
    if not key:
        raise UsageError(f"no API key: set {ENV_API_KEY} or pass --api-key")
    return key


def _client(
    args: argparse.Namespace,
    key: str,
    *,
    rate: dg.RateLimit | dg.AdaptiveRateLimit | dg.Limiter | None = None,
    concurrency: int = 1,
) -> dg.DumGumClient:
    return dg.DumGumClient(
        api_key=key,
        base_url=args.base_url,
        timeout=args.timeout,
        retry=dg.RetryPolicy(max_attempts=args.max_attempts),
        rate_limit=rate,
        max_concurrency=max(dg.DEFAULT_MAX_CONCURRENCY, concurrency),
        allow_insecure_http=args.allow_insecure_http,
    )


def _describe(exc: dg.DumGumError) -> str:
    """One paragraph about a failed call, for a person."""
    if isinstance(exc, dg.RequestValidationError):
        n = len(exc.problems)
        lines = [f"{PROG}: the request is invalid ({n} problem{'s' if n != 1 else ''}):"]
        lines += [f"  {p.path or '(request)'}: {p.message}" for p in exc.problems]
        return "\n".join(lines)
    text = f"{PROG}: {type(exc).__name__}: {_one_line(str(exc), 500)}"
    if isinstance(exc, dg.AuthenticationError | dg.PermissionDeniedError):
        text += f" (check --api-key or {ENV_API_KEY})"
    return text


def _read_request(path: str) -> Any:
    """The JSON document in ``path`` (``-``: stdin).

    Raises:
        UsageError: The file cannot be read.
        ValueError: It is not JSON.
    """
    try:
        if path == "-":
            text = sys.stdin.read()
        else:
            with open(path, encoding="utf-8-sig") as f:
                text = f.read()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    return json.loads(text)


async def _suggest(args: argparse.Namespace, interrupt: _Interrupt) -> int:
    key = _api_key(args)
    name = "stdin" if args.request == "-" else args.request
    try:
        body = _read_request(args.request)
    except ValueError as exc:
        print(f"{PROG}: {name} is not valid JSON: {exc}", file=sys.stderr)
        return EXIT_FAILED
    # A line copied from a batch input works too.
    if isinstance(body, dict) and isinstance(body.get("request"), dict):
        body = body["request"]
    if not isinstance(body, dict):
        kind = _json_type(body)
        print(
            f"{PROG}: {name} must hold a JSON object (a request body), not {kind}", file=sys.stderr
        )
        return EXIT_FAILED
    async with _client(args, key) as client:
        try:
            response = await client.suggest(body)
        except dg.DumGumError as exc:
            print(_describe(exc), file=sys.stderr)
            return EXIT_FATAL if isinstance(exc, _FATAL_ERRORS) else EXIT_FAILED
    if args.json:
        print(json.dumps(list(response.suggestions), ensure_ascii=False))
    else:
        for number, text in enumerate(response.suggestions, 1):
            print(f"{number}. {_one_line(text, 10_000)}")
    return EXIT_OK


# --- batch ----------------------------------------------------------------------------


class _BadLine(ValueError):
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


def _read_line(number: int, raw: bytes) -> tuple[Any, dict[str, Any], _BadLine | None] | None:
    """(id, request body, what is wrong with the line) of input line ``number``;
    None for a blank line. The first line may start with a UTF-8 BOM."""
    if number == 1:
        raw = raw.removeprefix(_BOM)
    if not raw.strip():
        return None
    try:
        item_id, body = _parse_line(raw, number)
    except _BadLine as exc:
        return exc.item_id, {}, exc
    return item_id, body, None


class _SeenIds:
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


def _id_key(item_id: Any) -> str:
    # JSON text as the key: 3 and "3" stay distinct, as they are in the files.
    if type(item_id) is int:
        return str(item_id)  # what json.dumps writes, a few times faster
    return json.dumps(item_id, sort_keys=True, ensure_ascii=False)


def _parse_line(raw: bytes, number: int) -> tuple[Any, dict[str, Any]]:
    """(id, request body) of one input line.

    Raises:
        _BadLine: Not JSON, not an object, or a wrapper with a bad id or request.
    """
    try:
        value = _loads(raw)
    except (ValueError, RecursionError) as exc:
        raise _BadLine(f"not valid JSON ({exc})", number, kind="line: not valid JSON") from None
    if not isinstance(value, dict):
        raise _BadLine(
            f"expected a JSON object, got {_json_type(value)}", number, kind="line: not an object"
        )
    if "request" not in value:
        return number, value
    item_id = value.get("id", number)
    if isinstance(item_id, bool) or not isinstance(item_id, str | int):
        raise _BadLine(
            f'"id" must be a string or an integer, got {_json_type(item_id)}',
            number,
            kind="line: bad id",
            path="id",
        )
    request = value["request"]
    if not isinstance(request, dict):
        raise _BadLine(
            f'"request" must be a JSON object, got {_json_type(request)}',
            item_id,
            kind="line: bad request",
            path="request",
        )
    return item_id, request


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "a number"
    return names.get(type(value), type(value).__name__)


class _LineWriter:
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
    def open(cls, path: str, *, truncate: bool) -> _LineWriter:
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
    def stdout(cls, console: _Console) -> _LineWriter:
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


class _Resumed:
    """What the previous output held: the answered ids, and what was dropped."""

    def __init__(self) -> None:
        self.answered: set[str] = set()
        self.failed: set[str] = set()
        self.dropped = 0
        self.torn = 0

    @property
    def to_retry(self) -> int:
        """Ids with an error line and no answer: this run tries them again."""
        return len(self.failed - self.answered)


def _compact_output(path: str) -> _Resumed:
    """Keep only the answered lines of ``path``, rewriting it atomically if needed.

    Error lines are dropped because those ids are about to be retried (their new
    line would otherwise duplicate the id), and so is anything that is not a whole
    JSON line (a torn last line, a stray fragment). An answered line is never
    dropped, not even a second one for the same id.
    """
    found = _Resumed()
    if not os.path.exists(path):
        return found
    directory = os.path.dirname(os.path.abspath(path))
    fd, temp = tempfile.mkstemp(dir=directory, prefix=".dumgum-resume-", suffix=".tmp")
    try:
        with open(path, "rb") as source, os.fdopen(fd, "wb") as target:
            for raw in source:
                try:
                    record = json.loads(raw) if raw.endswith(b"\n") else None
                except ValueError:
                    record = None
                if not isinstance(record, dict) or "id" not in record:
                    found.torn += 1
                    continue
                key = _id_key(record["id"])
                if not isinstance(record.get("suggestions"), list):
                    found.failed.add(key)
                    found.dropped += 1
                    continue
                found.answered.add(key)
                target.write(raw)
            target.flush()
            os.fsync(target.fileno())
        if found.dropped or found.torn:
            os.chmod(temp, stat.S_IMODE(os.stat(path).st_mode))
            os.replace(temp, path)
        else:
            os.unlink(temp)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    return found


def _count_items(path: str) -> int | None:
    """Lines of a regular file (blank ones included: an estimate); None for stdin,
    pipes and devices, which cannot be read twice."""
    if path == "-":
        return None
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return None
        count = 0
        last = b"\n"
        with open(path, "rb") as f:
            # Newlines in binary chunks: about a second for a few GB, no line objects.
            while chunk := f.read(1 << 20):
                count += chunk.count(b"\n")
                last = chunk[-1:]
        return count + (last != b"\n")
    except OSError:
        return None


def _estimate(total: int, rate: object) -> str:
    """What the batch is about to do: lines, rate and the time that implies."""
    head = f"{PROG}: about to send ~{total} line{'s' if total != 1 else ''}"
    if isinstance(rate, dg.RateLimit):
        per_second = rate.max_rate / rate.time_period
        shown = f"{per_second:.3g}/s"
        return f"{head} at {shown}: ~{_duration(total / per_second)}"
    if isinstance(rate, dg.AdaptiveRateLimit):
        start = rate.start / rate.time_period
        return (
            f"{head} at --rate auto, starting at {start:.3g}/s: "
            f"~{_duration(total / start)} at that rate, less as it climbs"
        )
    if rate is None:
        return f"{head}, with no --rate (as fast as the API and --concurrency allow)"
    return f"{head} at --rate {rate}"


class _BatchRun:
    """Feeds input lines to ``suggest_many`` and writes each result as it comes.

    Lines that cannot become a request (not JSON, invalid, a duplicate id, strings
    with no UTF-8 form) get their error line here and are never sent. Once the API
    refuses the key (401/403) no new line is read: ``fatal`` holds that error.
    """

    def __init__(
        self,
        *,
        name: str,
        writer: _LineWriter,
        console: _Console,
        tally: _Tally,
        answered: set[str],
        client: dg.DumGumClient,
    ) -> None:
        self.name = name
        self.writer = writer
        self.console = console
        self.tally = tally
        self.answered = answered
        self.client = client
        # Only items in flight are here: the batch keeps at most `concurrency` of them.
        self.pending: dict[int, Any] = {}
        self._next = 0
        # The line number of the first line with each id.
        self._seen = _SeenIds()
        self.fatal: dg.DumGumError | None = None
        #: Items refused with the key (401/403): no line written, --resume sends them.
        self.refused = 0
        #: Items in flight when --max-requests ran out: no line, --resume sends them.
        self.unsent = 0

    def requests(self, lines: Iterable[bytes]) -> Iterator[dg.SuggestionRequest]:
        """Requests of the input, lazily; lines that are not requests are written here."""
        for number, raw in enumerate(lines, 1):
            if self.fatal is not None:
                return
            request = self._line(number, raw)
            if request is not None:
                yield request

    async def arequests(self, lines: AsyncGenerator[bytes]) -> AsyncGenerator[dg.SuggestionRequest]:
        """Like :meth:`requests`, for lines that arrive asynchronously (a pipe)."""
        async with contextlib.aclosing(lines):
            number = 0
            async for raw in lines:
                number += 1
                if self.fatal is not None:
                    return
                request = self._line(number, raw)
                if request is not None:
                    yield request

    def _line(self, number: int, raw: bytes) -> dg.SuggestionRequest | None:
        """The request of one input line, to send; None if there is nothing to send."""
        read = _read_line(number, raw)
        if read is None:
            return None
        item_id, body, problem = read
        key = _id_key(item_id)
        first = self._seen.first(key, number)
        if first != number:
            # Sending it would answer one id twice, and --resume could not tell
            # the two apart; the first line's answer stands.
            self._bad_line(number, item_id, f"duplicate id {key}, first on line {first}")
            return None
        if key in self.answered:
            if problem is None:
                self.tally.skipped += 1
            return None
        if problem is not None:
            self._bad_line(number, item_id, str(problem))
            return None
        request = self._request(number, item_id, body)
        if request is not None:
            # suggest_many numbers the items it pulls 0, 1, 2...: that index finds the id.
            self.pending[self._next] = item_id
            self._next += 1
        return request

    def _request(
        self, number: int, item_id: Any, body: dict[str, Any]
    ) -> dg.SuggestionRequest | None:
        """The validated request of a line, or None once its error line is written."""
        try:
            request = dg.SuggestionRequest.from_dict(body)
            # The exact bytes are built again when it is sent (a few microseconds):
            # a line that cannot be encoded must fail here, as that line's error.
            self.client.prepare(request)
        except dg.RequestValidationError as exc:
            self._write_error(item_id, type(exc).__name__, str(exc), None)
            return None
        except (ValueError, TypeError, OverflowError, RecursionError) as exc:
            # Bad data the data layer did not turn into a RequestValidationError: still
            # this line's failure, never the whole batch's (nor every --resume's).
            self._bad_line(number, item_id, f"cannot be sent: {type(exc).__name__}: {exc}")
            return None
        return request

    def _bad_line(self, number: int, item_id: Any, problem: str) -> None:
        tally = self.tally
        tally.bad_lines += 1
        self._write_error(item_id, INPUT_LINE_ERROR, f"line {number}: {problem}", None)
        if tally.bad_lines <= _MAX_REPORTED_LINES:
            self.console.say(f"{self.name}:{number}: {problem}; written as an error line")
        elif tally.bad_lines == _MAX_REPORTED_LINES + 1:
            self.console.say(f"{self.name}: more bad lines; they are counted, not shown")

    def _write_error(self, item_id: Any, kind: str, message: str, status: int | None) -> None:
        self.writer.write(
            {"id": item_id, "error": {"type": kind, "message": message, "status": status}}
        )
        self.tally.failure(kind, message)

    def record(self, result: dg.BatchResult[dg.SuggestionRequest]) -> None:
        """Write the line of one finished item (none for an item refused with the key)."""
        item_id = self.pending.pop(result.index)
        error = result.error
        if error is None:
            self.writer.write({"id": item_id, "suggestions": list(result.suggestions)})
            self.tally.ok += 1
            return
        if isinstance(error, dg.BudgetExhaustedError):
            # Not the item's failure: the job's budget. No line, --resume sends it.
            self.unsent += 1
            return
        if isinstance(error, _FATAL_ERRORS):
            # The key was refused, not the item: an error line would make --resume
            # think it answered. No line, so --resume with the right key sends it.
            self.refused += 1
            if self.fatal is None:
                self.fatal = error
            return
        status = getattr(error, "status_code", None)
        self._write_error(
            item_id, type(error).__name__, str(error), status if isinstance(status, int) else None
        )


class _PipeReader:
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
        fd = self._source.fileno()
        item: bytes | BaseException | None = None
        pending = b""
        try:
            while True:
                chunk = os.read(fd, 1 << 16)
                lines = (pending + chunk).split(b"\n")
                pending = lines.pop()
                if not chunk:
                    lines = [pending] if pending else []
                for line in lines:
                    if not self._hand_over(line if not chunk else line + b"\n"):
                        return
                if not chunk:
                    break
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


def _may_block(source: IO[bytes]) -> bool:
    """True for a pipe, a FIFO or a terminal: reading may wait for a producer."""
    try:
        return not stat.S_ISREG(os.fstat(source.fileno()).st_mode)
    except (AttributeError, OSError, ValueError):
        return False  # not a file at all (an in-memory stream): never waits


def _open_input(path: str) -> IO[bytes]:
    if path == "-":
        return sys.stdin.buffer
    try:
        return open(path, "rb")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None


def _check_paths(args: argparse.Namespace) -> None:
    output = args.output
    if output == "-":
        if args.resume:
            raise UsageError(
                "--resume reads back the output file to skip answered ids, and -o - "
                "writes to stdout, which cannot be read back: write to a file "
                "(-o SUGGESTIONS.jsonl) to be able to resume"
            )
        return
    if os.path.isdir(output):
        raise UsageError(f"{output} is a directory")
    if args.input != "-" and os.path.exists(output):
        with contextlib.suppress(OSError):
            if os.path.samefile(args.input, output):
                raise UsageError("the output file must not be the input file")
    if args.resume or args.overwrite:
        return
    with contextlib.suppress(OSError):
        if os.path.getsize(output) > 0:
            raise UsageError(
                f"{output} already exists and is not empty: pass --resume to continue it "
                "(answered ids are skipped, failed ones retried) or --overwrite to replace it"
            )


def _shared_limit(args: argparse.Namespace) -> dg.RedisRateLimit | None:
    if not args.redis_url:
        return None
    if args.rate is None:
        raise UsageError("--redis-url shares a rate limit: give it one with --rate")
    try:
        if isinstance(args.rate, dg.AdaptiveRateLimit):
            # One adaptive rate for every worker on the key: they find the limit once.
            return dg.RedisRateLimit.adaptive(
                args.redis_url,
                key=args.redis_key,
                min_rate=args.rate.min_rate,
                max_rate=args.rate.max_rate,
                start=args.rate.start,
                time_period=args.rate.time_period,
            )
        return dg.RedisRateLimit(
            args.redis_url,
            key=args.redis_key,
            max_rate=args.rate.max_rate,
            time_period=args.rate.time_period,
            burst=args.rate.burst,
        )
    except ImportError as exc:
        raise UsageError(str(exc)) from None


async def _batch(args: argparse.Namespace, interrupt: _Interrupt) -> int:
    shared = _shared_limit(args)
    try:
        return await _batch_with(args, interrupt, shared)
    finally:
        if shared is not None:
            await shared.aclose()


async def _batch_with(
    args: argparse.Namespace, interrupt: _Interrupt, shared: dg.RedisRateLimit | None
) -> int:
    key = _api_key(args)
    _check_paths(args)
    console: _Console = args.console
    source = _open_input(args.input)
    reader: _PipeReader | None = None
    piped: AsyncGenerator[dg.SuggestionRequest] | None = None
    try:
        rate: dg.RateLimit | dg.AdaptiveRateLimit | dg.Limiter | None = (
            shared if shared is not None else args.rate
        )
        client = _client(args, key, rate=rate, concurrency=args.concurrency)
        try:
            resumed = _compact_output(args.output) if args.resume else _Resumed()
        except OSError as exc:
            raise UsageError(f"cannot prepare {args.output} for --resume: {exc}") from None
        if args.resume and (resumed.answered or resumed.dropped or resumed.torn):
            note = f"resuming {args.output}: {len(resumed.answered)} answered"
            note += f", {resumed.to_retry} failed to retry"
            if resumed.torn:
                note += f", {resumed.torn} torn or unreadable line(s) dropped"
            console.say(note)
        total = _count_items(args.input)
        if total is not None:
            total = max(total - len(resumed.answered), 0)
            # Before anything is sent, so a wrong --rate shows at once.
            console.say(_estimate(total, args.rate))
        if args.output == "-":
            writer = _LineWriter.stdout(console)
        else:
            writer = _LineWriter.open(args.output, truncate=args.overwrite)
        try:
            tally = _Tally()
            name = "stdin" if args.input == "-" else args.input
            job = _BatchRun(
                name=name,
                writer=writer,
                console=console,
                tally=tally,
                answered=resumed.answered,
                client=client,
            )
            requests: Iterator[dg.SuggestionRequest] | AsyncGenerator[dg.SuggestionRequest]
            if _may_block(source):
                reader = _PipeReader(source)
                requests = piped = job.arequests(reader.lines())
            else:
                requests = job.requests(source)
            started = time.monotonic()
            status, epilogue = await _drive(client, job, requests, args, console, total, interrupt)
            wall = time.monotonic() - started
        finally:
            if reader is not None:
                reader.stop()
            if piped is not None:
                await piped.aclose()
            writer.close()
    finally:
        # A FIFO whose writer is silent: the thread is still in its read(); the fd
        # goes with the process.
        if source is not sys.stdin.buffer and not (reader is not None and reader.reading):
            source.close()
    lines = _summary(
        tally,
        client.stats,
        wall,
        logs=args.logs,
        resumed=args.resume,
        refused=job.refused,
        unsent=job.unsent,
        adaptive=isinstance(args.rate, dg.AdaptiveRateLimit),
    )
    for line in [*lines, *epilogue]:
        console.say(line)
    if status is not None:
        return status
    return EXIT_OK if not tally.failed else EXIT_FAILED


def _rerun_hint(args: argparse.Namespace) -> str:
    if args.output == "-":
        return "the lines not written need a new run (--resume needs -o FILE)"
    return f"run the same command with --resume to complete {args.output}"


async def _drive(
    client: dg.DumGumClient,
    job: _BatchRun,
    requests: Iterator[dg.SuggestionRequest] | AsyncIterator[dg.SuggestionRequest],
    args: argparse.Namespace,
    console: _Console,
    total: int | None,
    interrupt: _Interrupt,
) -> tuple[int | None, list[str]]:
    """Run the batch: (None when it ran to the end, else the exit status to use;
    the lines to print after the summary)."""
    interval = args.progress_interval if args.shows_progress else None
    progress = _Progress(
        console,
        job.tally,
        client,
        total,
        interval=interval,
        adaptive=isinstance(args.rate, dg.AdaptiveRateLimit),
    )
    where = "stdout" if args.output == "-" else args.output
    try:
        async with client, progress.shown():
            results = client.suggest_many(
                requests, concurrency=args.concurrency, max_requests=args.max_requests
            )
            async with contextlib.aclosing(results):
                async for result in results:
                    job.record(result)
    except _FATAL_ERRORS as exc:  # raised by a batch that stops on them itself
        if job.fatal is None:
            job.fatal = exc
    except dg.BudgetExhaustedError as exc:
        tally = job.tally
        return EXIT_BUDGET, [
            f"{PROG}: stopped: --max-requests {exc.max_requests} spent ({exc.attempts} HTTP "
            f"attempts, retries included): {tally.done} line(s) written in this run "
            f"({tally.ok} answered, {sum(tally.failed.values())} failed), the rest have "
            f"no line yet",
            f"{PROG}: to continue, {_rerun_hint(args)}",
        ]
    except asyncio.CancelledError:
        if interrupt.signum is None:
            raise
        _uncancel()
        name = signal.Signals(interrupt.signum).name
        return 128 + interrupt.signum, [
            f"{PROG}: interrupted by {name}; finished items are in {where}; {_rerun_hint(args)}"
        ]
    except OSError as exc:  # reading the input or writing the output
        if isinstance(exc, BrokenPipeError) and args.output == "-":
            return EXIT_FAILED, [f"{PROG}: stopped: stdout was closed (broken pipe)"]
        return EXIT_FAILED, [f"{PROG}: stopped: {exc}"]
    if job.fatal is None:
        return None, []
    error = job.fatal
    return EXIT_FATAL, [
        f"{PROG}: stopped: the API refused the key: {type(error).__name__}: "
        f"{_one_line(str(error), 300)}",
        f"{PROG}: check --api-key or ${ENV_API_KEY}; no line was written for the refused "
        f"and unsent items: with the right key, {_rerun_hint(args)}",
    ]


# --- validate -------------------------------------------------------------------------


class _Validation:
    """Checks input lines as batch reads them and reports every problem as it goes."""

    def __init__(self, name: str, writer: _LineWriter, *, as_json: bool) -> None:
        self.name = name
        self.writer = writer
        self.as_json = as_json
        self.lines = 0
        self.invalid = 0
        self.duplicates = 0
        self.kinds: Counter[str] = Counter()
        self._seen = _SeenIds()

    def check(self, number: int, raw: bytes) -> None:
        """Check input line ``number``; report its problems."""
        read = _read_line(number, raw)
        if read is None:
            return
        self.lines += 1
        item_id, body, bad = read
        key = _id_key(item_id)
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


async def _validate(args: argparse.Namespace, interrupt: _Interrupt) -> int:
    # No client and no key: nothing here can reach the network.
    console: _Console = args.console
    source = _open_input(args.input)
    name = "stdin" if args.input == "-" else args.input
    reader: _PipeReader | None = None
    writer = _LineWriter.stdout(console)
    job = _Validation(name, writer, as_json=args.json)
    try:
        if _may_block(source):
            reader = _PipeReader(source)
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
    except asyncio.CancelledError:
        if interrupt.signum is None:
            raise
        _uncancel()
        console.say(f"{PROG}: interrupted by {signal.Signals(interrupt.signum).name}")
        return 128 + interrupt.signum
    except OSError as exc:
        if isinstance(exc, BrokenPipeError):
            return EXIT_FAILED
        raise UsageError(f"cannot read {name}: {exc.strerror or exc}") from None
    finally:
        if reader is not None:
            reader.stop()
        if source is not sys.stdin.buffer and not (reader is not None and reader.reading):
            source.close()
    for line in job.summary():
        console.say(line)
    return EXIT_FAILED if job.invalid else EXIT_OK


# --- demo -----------------------------------------------------------------------------


def _demo_faults(total: float) -> Faults:
    from dumgum_async.testing import Faults

    share = total / len(_DEMO_FAULTS)
    # Retry-After: 0 keeps the demo at its rate (a 429 with a wait pauses the
    # whole client); a real API would ask for a second or more.
    return Faults(**dict.fromkeys(_DEMO_FAULTS, share), retry_after=0.0)


def _last_message(request: Mapping[str, Any]) -> str:
    messages = request.get("messages") or [{}]
    last = messages[-1]
    user = request.get("userProfile", {})
    who = user.get("firstName") or user.get("nickname") or "user"
    parts = []
    if last.get("text"):
        parts.append(f'"{last["text"]}"')
    for gift in last.get("gifts", ()):
        parts.append(f"[gift: {gift.get('name')}]")
    if last.get("sticker"):
        parts.append(f"[sticker: {last['sticker']}]")
    if last.get("poke"):
        parts.append("[poke]")
    if last.get("pictureUrls"):
        parts.append("[picture]")
    return f"{who}: {' '.join(parts) or '(no text)'}"


async def _demo(args: argparse.Namespace, interrupt: _Interrupt) -> int:
    from dumgum_async.testing import FakeDumGumServer, Latency, ServerRateLimit, sample_requests

    rate: dg.RateLimit = args.rate
    per_second = rate.max_rate / rate.time_period
    # Enough workers to keep the rate busy while some wait out a backoff, not so many
    # that latency is mostly queueing for a rate-limit token.
    concurrency = max(4, min(64, math.ceil(per_second * 0.2)))
    faults = _demo_faults(args.faults)
    key = "demo-" + secrets.token_urlsafe(12)
    # The emulator enforces the client's limit as an exact sliding window: a 429 from
    # its limiter would mean the client let too much through.
    limit = ServerRateLimit(max_rate=math.ceil(rate.max_rate), time_period=rate.time_period)
    try:
        server = FakeDumGumServer(
            api_key=key,
            rate_limit=limit,
            faults=faults,
            latency=Latency.lognormal(0.03, 0.5, cap=0.3),
            seed=args.seed,
        )
        await server.start()
    except ImportError as exc:
        # The emulator's message already says what to install.
        print(f"{PROG}: cannot run the demo: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except OSError as exc:
        print(f"{PROG}: cannot start the emulator: {exc}", file=sys.stderr)
        return EXIT_FAILED
    console: _Console = args.console
    tally = _Tally()
    # The first successful conversation of each language, to show at the end.
    shown: dict[str, tuple[int, Mapping[str, Any], tuple[str, ...]]] = {}
    status: int | None = None
    try:
        client = dg.DumGumClient(
            api_key=key,
            base_url=server.url,
            rate_limit=rate,
            # Short backoffs: the emulator recovers at once, and the demo should too.
            retry=dg.RetryPolicy(initial_backoff=0.2, max_backoff=1.0),
            max_concurrency=concurrency,
        )
        rate_text = (
            f"{rate.max_rate:g}/{'s' if rate.time_period == 1 else f'{rate.time_period:g} s'}"
        )
        print(f"{PROG} demo: {args.n} sample conversations, no key or network needed")
        print(
            f"  emulator  {server.url}, at most {rate_text}, "
            f"{args.faults:.0%} faults ({_DEMO_FAULT_LABELS})"
        )
        print(
            f"  client    rate limit {rate_text}, concurrency {concurrency}, "
            f"up to {dg.DEFAULT_MAX_ATTEMPTS} attempts per conversation"
        )
        print(flush=True)
        interval = _PLAIN_INTERVAL if args.shows_progress else None
        progress = _Progress(console, tally, client, args.n, interval=interval)
        started = time.monotonic()
        try:
            async with client, progress.shown():
                results = client.suggest_many(
                    sample_requests(args.n, seed=args.seed), concurrency=concurrency
                )
                async with contextlib.aclosing(results):
                    async for result in results:
                        if result.error is not None:
                            tally.failure(type(result.error).__name__, str(result.error))
                            continue
                        tally.ok += 1
                        language = str(result.request["language"])
                        if language not in shown or result.index < shown[language][0]:
                            shown[language] = (result.index, result.request, result.suggestions)
        except asyncio.CancelledError:
            if interrupt.signum is None:
                raise
            _uncancel()
            status = 128 + interrupt.signum
        wall = time.monotonic() - started
    finally:
        await server.close()
    console.clear()
    if status is not None:
        print(f"Interrupted after {tally.done} of {args.n} conversations.")
    for line in _summary(tally, client.stats, wall, logs=args.logs, resumed=False):
        print(line)
    if shown:
        print()
        print("Sample conversations (the user's last message, then the suggested replies)")
        for _, request, suggestions in sorted(shown.values(), key=lambda s: s[0])[:_DEMO_SHOWN]:
            print(f"  [{request['language']}] {_last_message(request)}")
            for number, text in enumerate(suggestions, 1):
                print(f"      {number}. {text}")
    if status is not None:
        return status
    return EXIT_OK if not tally.failed else EXIT_FAILED
