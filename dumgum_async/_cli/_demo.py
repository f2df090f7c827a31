"""``dumgum-async demo``: sample conversations through a local emulator with a rate limit
and random faults, under the same rate limit with retries; no key or network needed."""

from __future__ import annotations

import argparse
import math
import secrets
import sys
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

import dumgum_async as dg
from dumgum_async._cli._console import Console, Progress, Tally, summary
from dumgum_async._cli._defaults import (
    DEFAULT_DEMO_CONVERSATIONS,
    DEFAULT_DEMO_FAULT_RATE,
    DEFAULT_DEMO_RATE,
    DEFAULT_DEMO_SEED,
    DEFAULT_PROGRESS_INTERVAL,
    EXIT_FAILED,
    EXIT_OK,
    PROG,
)
from dumgum_async._cli._run import Interrupt, run_items
from dumgum_async._cli._types import fixed_rate, positive_int, probability

if TYPE_CHECKING:
    from dumgum_async.testing import Faults

#: The emulator's faults the demo spreads its --faults share over.
_DEMO_FAULTS: Final = (
    "http_429",
    "http_500",
    "http_502",
    "http_503",
    "http_504",
    "reset",
    "truncated",
)
_DEMO_FAULT_LABELS: Final = ", ".join(kind.removeprefix("http_") for kind in _DEMO_FAULTS)
#: Conversations shown at the end, one per language.
_DEMO_SHOWN: Final = 5


HELP: Final = "run sample conversations through a local emulator (no key needed)"
DESCRIPTION: Final = (
    "Start the emulator on 127.0.0.1 with a rate limit and random faults, "
    "send it sample conversations under the same rate limit with retries, and show "
    "what came back."
)


def add_arguments(demo: argparse.ArgumentParser) -> None:
    """Add the arguments of ``demo``."""
    demo.add_argument(
        "--n",
        type=positive_int,
        default=DEFAULT_DEMO_CONVERSATIONS,
        help="conversations (default: %(default)s)",
    )
    demo.add_argument(
        "--rate",
        type=fixed_rate,
        default=DEFAULT_DEMO_RATE,
        metavar="RATE",
        help=f"rate limit of the client and the emulator (default: {DEFAULT_DEMO_RATE})",
    )
    demo.add_argument(
        "--faults",
        type=probability,
        default=DEFAULT_DEMO_FAULT_RATE,
        metavar="P",
        help="share of requests the emulator fails, spread over "
        f"{_DEMO_FAULT_LABELS} (default: %(default)s)",
    )
    demo.add_argument(
        "--seed",
        type=int,
        default=DEFAULT_DEMO_SEED,
        help="conversations and faults (default: %(default)s)",
    )
    demo.add_argument("--no-progress", action="store_true", help="no progress line on stderr")


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


class _Record:
    """Counts each result and keeps the first answered conversation of each language."""

    def __init__(self) -> None:
        self.tally = Tally()
        self.shown: dict[str, tuple[int, Mapping[str, Any], tuple[str, ...]]] = {}

    def __call__(self, result: dg.BatchResult[Mapping[str, Any]]) -> None:
        if result.error is not None:
            self.tally.failure(type(result.error).__name__, str(result.error))
            return
        self.tally.ok += 1
        language = str(result.request["language"])
        if language not in self.shown or result.index < self.shown[language][0]:
            self.shown[language] = (result.index, result.request, result.suggestions)

    def samples(self) -> list[str]:
        """The lines showing a few answered conversations."""
        if not self.shown:
            return []
        lines = ["", "Sample conversations (the user's last message, then the suggested replies)"]
        ordered = sorted(self.shown.values(), key=lambda s: s[0])[:_DEMO_SHOWN]
        for _, request, suggestions in ordered:
            lines.append(f"  [{request['language']}] {_last_message(request)}")
            lines += [f"      {number}. {text}" for number, text in enumerate(suggestions, 1)]
        return lines


def _rate_text(rate: dg.RateLimit) -> str:
    return f"{rate.max_rate:g}/{'s' if rate.time_period == 1 else f'{rate.time_period:g} s'}"


async def command(args: argparse.Namespace, interrupt: Interrupt) -> int:
    from dumgum_async.testing import FakeDumGumServer, Latency, ServerRateLimit, sample_requests

    rate: dg.RateLimit = args.rate
    per_second = rate.max_rate / rate.time_period
    # Enough workers to keep the rate busy while some wait out a backoff, not so many
    # that latency is mostly queueing for a rate-limit token.
    concurrency = max(4, min(64, math.ceil(per_second * 0.2)))
    key = "demo-" + secrets.token_urlsafe(12)
    # The emulator enforces the client's limit as an exact sliding window: a 429 from
    # its limiter would mean the client let too much through.
    limit = ServerRateLimit(max_rate=math.ceil(rate.max_rate), time_period=rate.time_period)
    try:
        server = FakeDumGumServer(
            api_key=key,
            rate_limit=limit,
            faults=_demo_faults(args.faults),
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
    console: Console = args.console
    record = _Record()
    try:
        client = dg.DumGumClient(
            api_key=key,
            base_url=server.url,
            rate_limit=rate,
            # Short backoffs: the emulator recovers at once, and the demo should too.
            retry=dg.RetryPolicy(initial_backoff=0.2, max_backoff=1.0),
            max_concurrency=concurrency,
        )
        print(f"{PROG} demo: {args.n} sample conversations, no key or network needed")
        print(
            f"  emulator  {server.url}, at most {_rate_text(rate)}, "
            f"{args.faults:.0%} faults ({_DEMO_FAULT_LABELS})"
        )
        print(
            f"  client    rate limit {_rate_text(rate)}, concurrency {concurrency}, "
            f"up to {dg.DEFAULT_MAX_ATTEMPTS} attempts per conversation"
        )
        print(flush=True)
        interval = DEFAULT_PROGRESS_INTERVAL if args.shows_progress else None
        progress = Progress(console, record.tally, client, args.n, interval=interval)
        started = time.monotonic()
        stop = await run_items(
            client,
            sample_requests(args.n, seed=args.seed),
            record,
            progress=progress,
            interrupt=interrupt,
            concurrency=concurrency,
        )
        wall = time.monotonic() - started
    finally:
        await server.close()
    console.clear()
    tally = record.tally
    if stop.status is not None:
        print(f"Interrupted after {tally.done} of {args.n} conversations.")
    lines = summary(tally, client.stats, wall, logs=args.logs, resumed=False)
    for line in [*lines, *record.samples()]:
        print(line)
    if stop.status is not None:
        return stop.status
    return EXIT_OK if not tally.failed else EXIT_FAILED
