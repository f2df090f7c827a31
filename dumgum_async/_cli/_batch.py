"""``dumgum-async batch``: a JSONL file of conversations in, a JSONL file of suggestions
out, each line written as soon as its item is done; ``--resume`` completes a run that
stopped."""

from __future__ import annotations

import argparse
import contextlib
import os
import stat
import sys
import time
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from typing import Final

import dumgum_async as dg
from dumgum_async._cli import _api, _types
from dumgum_async._cli._batch_run import BatchRun
from dumgum_async._cli._console import Console, Progress, duration, one_line, summary
from dumgum_async._cli._defaults import (
    DEFAULT_PROGRESS_INTERVAL,
    DEFAULT_REDIS_KEY,
    EXIT_BUDGET,
    EXIT_FAILED,
    EXIT_FATAL,
    EXIT_OK,
    EXIT_STATUSES,
    PROG,
)
from dumgum_async._cli._jsonl import LineWriter, PipeReader, may_block, open_input
from dumgum_async._cli._resume import Resumed, compact_output
from dumgum_async._cli._run import Interrupt, UsageError, run_items
from dumgum_async._cli._types import flags_of, positive_float, positive_int

HELP: Final = "turn a JSONL file of conversations into a JSONL file of suggestions"
DESCRIPTION: Final = (
    "Each input line is a request body, or "
    '{"id": ..., "request": {...}} (a bare body\'s id is its line number). Each '
    'output line is {"id": ..., "suggestions": [...]} or {"id": ..., "error": '
    '{"type": ..., "message": ..., "status": ...}}, written whole as soon as the '
    "item is done, in completion order. Progress and the summary go to stderr: "
    "a line redrawn in place on a terminal, else a plain line every few seconds."
)
EPILOG: Final = EXIT_STATUSES


def add_arguments(batch: argparse.ArgumentParser) -> None:
    """Add the arguments of ``batch`` (the API flags come from the parent parsers)."""
    batch.add_argument("input", metavar="CONVERSATIONS.jsonl", help="the input; - reads stdin")
    batch.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="SUGGESTIONS.jsonl",
        help="the output file; - writes the lines to stdout (not with --resume)",
    )
    count = flags_of(batch, positive_int, "N")
    count(
        "--concurrency",
        default=dg.DEFAULT_BATCH_CONCURRENCY,
        help="requests in flight at once (default: %(default)s)",
    )
    flags_of(batch, _types.rate, "RATE")(
        "--rate",
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
        default=DEFAULT_REDIS_KEY,
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
    count(
        "--max-requests",
        help="stop sending after N HTTP attempts, retries included, and say how far "
        "the batch got (exit status 4); --resume continues it (default: no limit)",
    )
    batch.add_argument("--no-progress", action="store_true", help="no progress line on stderr")
    flags_of(batch, positive_float, "S")(
        "--progress-interval",
        default=DEFAULT_PROGRESS_INTERVAL,
        help="seconds between progress lines when stderr is not a terminal "
        "(logs of CI, Kubernetes...; default: %(default)s)",
    )


def count_items(path: str) -> int | None:
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


def estimate(total: int, rate: object) -> str:
    """What the batch is about to do: lines, rate and the time that implies."""
    head = f"{PROG}: about to send ~{total} line{'s' if total != 1 else ''}"
    if isinstance(rate, dg.RateLimit):
        per_second = rate.max_rate / rate.time_period
        shown = f"{per_second:.3g}/s"
        return f"{head} at {shown}: ~{duration(total / per_second)}"
    if isinstance(rate, dg.AdaptiveRateLimit):
        start = rate.start / rate.time_period
        return (
            f"{head} at --rate auto, starting at {start:.3g}/s: "
            f"~{duration(total / start)} at that rate, less as it climbs"
        )
    if rate is None:
        return f"{head}, with no --rate (as fast as the API and --concurrency allow)"
    return f"{head} at --rate {rate}"


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


async def command(args: argparse.Namespace, interrupt: Interrupt) -> int:
    shared = _shared_limit(args)
    try:
        return await _batch_with(args, interrupt, shared)
    finally:
        if shared is not None:
            await shared.aclose()


async def _batch_with(
    args: argparse.Namespace, interrupt: Interrupt, shared: dg.RedisRateLimit | None
) -> int:
    key = _api.api_key(args)
    _check_paths(args)
    console: Console = args.console
    source = open_input(args.input)
    reader: PipeReader | None = None
    piped: AsyncGenerator[dg.SuggestionRequest] | None = None
    try:
        rate: dg.RateLimit | dg.AdaptiveRateLimit | dg.Limiter | None = (
            shared if shared is not None else args.rate
        )
        client = _api.client(args, key, rate=rate, concurrency=args.concurrency)
        try:
            resumed = compact_output(args.output) if args.resume else Resumed()
        except OSError as exc:
            raise UsageError(f"cannot prepare {args.output} for --resume: {exc}") from None
        if args.resume and (resumed.answered or resumed.dropped or resumed.torn):
            note = f"{PROG}: resuming {args.output}: {len(resumed.answered)} answered"
            note += f", {resumed.to_retry} failed to retry"
            if resumed.torn:
                note += f", {resumed.torn} torn or unreadable line(s) dropped"
            console.say(note)
        total = count_items(args.input)
        if total is not None:
            total = max(total - len(resumed.answered), 0)
            # Before anything is sent, so a wrong --rate shows at once.
            console.say(estimate(total, args.rate))
        if args.output == "-":
            writer = LineWriter.stdout(console)
        else:
            writer = LineWriter.open(args.output, truncate=args.overwrite)
        try:
            name = "stdin" if args.input == "-" else args.input
            job = BatchRun(
                name=name,
                writer=writer,
                console=console,
                answered=resumed.answered,
                client=client,
            )
            requests: Iterator[dg.SuggestionRequest] | AsyncGenerator[dg.SuggestionRequest]
            if may_block(source):
                reader = PipeReader(source)
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
    tally = job.tally
    lines = summary(
        tally,
        client.stats,
        wall,
        logs=args.logs,
        resumed=args.resume,
        adaptive=isinstance(args.rate, dg.AdaptiveRateLimit),
    )
    for line in [*lines, *epilogue]:
        console.say(line)
    limited = tally.failed.get("RateLimitError", 0)
    if limited and args.rate is None:
        # Without --rate nothing holds the batch under the API's limit, and a first
        # run with the defaults is exactly when a person does not know that limit.
        hint = f"{PROG}: {limited} line{'s' if limited != 1 else ''} failed on HTTP 429"
        hint += ": pass --rate auto (or the API's limit, e.g. --rate 20/s) to stay under it"
        if args.output != "-":
            hint += ", and --resume to retry them"
        console.say(hint)
    if status is not None:
        return status
    return EXIT_OK if not tally.failed else EXIT_FAILED


def _rerun_hint(args: argparse.Namespace) -> str:
    if args.output == "-":
        return "the lines not written need a new run (--resume needs -o FILE)"
    return f"run the same command with --resume to complete {args.output}"


async def _drive(
    client: dg.DumGumClient,
    job: BatchRun,
    requests: Iterator[dg.SuggestionRequest] | AsyncIterator[dg.SuggestionRequest],
    args: argparse.Namespace,
    console: Console,
    total: int | None,
    interrupt: Interrupt,
) -> tuple[int | None, list[str]]:
    """Run the batch: (None when it ran to the end, else the exit status to use;
    the lines to print after the summary)."""
    interval = args.progress_interval if args.shows_progress else None
    progress = Progress(
        console,
        job.tally,
        client,
        total,
        interval=interval,
        adaptive=isinstance(args.rate, dg.AdaptiveRateLimit),
    )
    where = "stdout" if args.output == "-" else args.output
    try:
        stop = await run_items(
            client,
            requests,
            job.record,
            progress=progress,
            interrupt=interrupt,
            concurrency=args.concurrency,
            max_requests=args.max_requests,
        )
    except _api.FATAL_ERRORS as exc:  # raised by a batch that stops on them itself
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
    except OSError as exc:  # reading the input or writing the output
        if isinstance(exc, BrokenPipeError) and args.output == "-":
            return EXIT_FAILED, [f"{PROG}: stopped: stdout was closed (broken pipe)"]
        return EXIT_FAILED, [f"{PROG}: stopped: {exc}"]
    else:
        if stop.status is not None:
            return stop.status, [
                f"{PROG}: interrupted by {stop.signal}; finished items are in {where}; "
                f"{_rerun_hint(args)}"
            ]
    if job.fatal is None:
        return None, []
    error = job.fatal
    return EXIT_FATAL, [
        f"{PROG}: stopped: the API refused the key: {type(error).__name__}: "
        f"{one_line(str(error), 300)}",
        f"{PROG}: check --api-key or ${dg.ENV_API_KEY}; no line was written for the refused "
        f"and unsent items: with the right key, {_rerun_hint(args)}",
    ]
