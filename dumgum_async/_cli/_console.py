"""What a person sees on stderr: the console (a status line redrawn in place on a
terminal), the library's log lines, the progress of a run and its summary."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import IO, Final

import attrs

import dumgum_async as dg
from dumgum_async._cli._defaults import PROG

#: Seconds between redraws of the status line on a terminal.
_LIVE_INTERVAL: Final = 0.1


class Console:
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


class LogCounter(logging.Handler):
    """Counts the library's log records; shows them on the console when verbose."""

    def __init__(self, console: Console | None) -> None:
        super().__init__(logging.INFO if console is not None else logging.WARNING)
        self.console = console
        self.count = 0
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1
        if self.console is not None:
            self.console.say(self.format(record))


@contextlib.contextmanager
def library_logs(console: Console | None) -> Iterator[LogCounter]:
    """Route the library's and aiohttp's log records to a counter for the duration.

    Without a handler, Python would print every retry warning on stderr (its "last
    resort" handler), over the progress line; the CLI counts them in the summary
    instead, and prints them on ``console`` only with ``--verbose``.
    """
    counter = LogCounter(console)
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


def duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def one_line(text: str, limit: int = 300) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def by_count(counts: Mapping[str, int]) -> str:
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return ", ".join(f"{name} {n}" for name, n in ordered)


@attrs.define(eq=False)
class Tally:
    """What happened to the items of one run."""

    #: Items answered.
    ok: int = 0
    #: Items failed, by error type; with the first message of each type.
    failed: Counter[str] = attrs.Factory(Counter[str])
    examples: dict[str, str] = attrs.Factory(dict[str, str])
    #: Items skipped: already answered in the output (--resume).
    skipped: int = 0
    #: Input lines that are not requests (written as error lines, never sent).
    bad_lines: int = 0
    #: Items refused with the key (401/403): no line written, --resume sends them.
    refused: int = 0
    #: Items not sent (--max-requests ran out, or the batch stopped on a refused
    #: key while they queued): no line, --resume sends them.
    unsent: int = 0

    @property
    def done(self) -> int:
        """Items finished in this run, successfully or not."""
        return self.ok + sum(self.failed.values())

    def failure(self, kind: str, message: str) -> None:
        """Count a failure; remember the first message of each kind for the summary."""
        self.failed[kind] += 1
        self.examples.setdefault(kind, one_line(message, 160))


@attrs.define(eq=False)
class Progress:
    """The status line of a run: done/total, rate, ETA, ok/failed, retries; with
    ``--rate auto``, the rate the limiter allows now (``limit 36.4/s``).

    On a live console it is redrawn in place; elsewhere (a log file, a CI job, a
    container's stderr) it is printed as a plain line every ``interval`` seconds, or
    not at all when ``interval`` is None.
    """

    console: Console
    tally: Tally
    client: dg.DumGumClient
    total: int | None
    interval: float | None = attrs.field(kw_only=True)
    adaptive: bool = attrs.field(default=False, kw_only=True)
    started: float = attrs.field(init=False, factory=time.monotonic)

    def render(self) -> str:
        """The status line's text."""
        tally = self.tally
        done = tally.done
        elapsed = time.monotonic() - self.started
        rate = done / elapsed if elapsed > 0 else 0.0
        parts = [f"{done}/{self.total}" if self.total is not None else f"{done} done"]
        if self.total:
            # Floored, so 299/300 is 99%: 100% only once every item is done.
            parts[0] += f" ({min(100, 100 * done // self.total)}%)"
        parts.append(f"{rate:.1f}/s")
        if self.adaptive:
            allowed = self.client.stats.rate_limit_current
            if allowed is not None:
                parts.append(f"limit {allowed:.1f}/s")
        if self.total is not None:
            left = max(self.total - done, 0)
            parts.append(f"ETA {duration(left / rate)}" if rate > 0 else "ETA --")
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


def summary(
    tally: Tally,
    stats: dg.StatsSnapshot,
    wall: float,
    *,
    logs: LogCounter,
    resumed: bool,
    adaptive: bool = False,
) -> list[str]:
    failed = sum(tally.failed.values())
    rows = [("ok", str(tally.ok), "")]
    rows.append(("failed", str(failed), by_count(tally.failed)))
    if tally.refused:
        rows.append(("refused", str(tally.refused), "the API refused the key; no line written"))
    if tally.unsent:
        rows.append(("unsent", str(tally.unsent), "not sent: the batch stopped first; no line"))
    if resumed:
        rows.append(("skipped", str(tally.skipped), "already answered in the output"))
    rows.append(("retries", str(stats.total_retries), by_count(stats.retries)))
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
    rows.append(("wall time", duration(wall), ""))
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
