"""How a command runs: Ctrl-C and SIGTERM handling, and the one loop that sends items
through ``suggest_many`` with a progress line (``batch`` and ``demo`` both use it).

A signal cancels the command's task; the command catches that cancellation where it
can still report (:meth:`Interrupt.caught`), writes its summary and returns
128 + the signal number. A second signal cancels that cleanup too.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Iterator, Mapping
from typing import Any, TypeVar

import dumgum_async as dg
from dumgum_async._cli._console import Progress
from dumgum_async._cli._defaults import EXIT_SIGNAL_BASE

_In = TypeVar("_In", dg.SuggestionRequest, Mapping[str, Any])


class UsageError(Exception):
    """A bad command line, a missing key or an unusable file: exit status 2."""


class Stop:
    """How a block run under :meth:`Interrupt.caught` ended."""

    def __init__(self) -> None:
        #: 128 + the signal number if a signal cut the block short, else None.
        self.status: int | None = None
        #: The signal's name (``SIGINT``), or "" if none.
        self.signal = ""


class Interrupt:
    """Set by the signal handler of :func:`run_with_signals`: which signal stopped the
    command (None in an embedding loop, where a cancellation is the caller's)."""

    def __init__(self) -> None:
        self.signum: int | None = None

    @contextlib.contextmanager
    def caught(self) -> Iterator[Stop]:
        """Run a block that a signal may cut short: the cancellation the signal caused
        ends the block and is recorded in the :class:`Stop` yielded; any other
        cancellation propagates."""
        stop = Stop()
        try:
            yield stop
        except asyncio.CancelledError:
            if self.signum is None:
                raise
            _uncancel()
            stop.status = EXIT_SIGNAL_BASE + self.signum
            stop.signal = signal.Signals(self.signum).name


def _uncancel() -> None:
    # The cancellation was ours (a signal) and has been handled: clear it, so that
    # the cleanup awaits that follow behave normally (Python 3.11+ counts them).
    task = asyncio.current_task()
    uncancel = getattr(task, "uncancel", None)
    if uncancel is not None:
        uncancel()


async def run_with_signals(command: Callable[[Interrupt], Awaitable[int]]) -> int:
    """Await ``command`` with SIGINT and SIGTERM handled; returns its exit status."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    interrupt = Interrupt()

    def on_signal(signum: int) -> None:
        if interrupt.signum is None:
            interrupt.signum = signum
        # Cancelling stops in-flight calls at once; the command catches it, writes its
        # summary and returns.
        task.cancel()

    installed: list[signal.Signals] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, on_signal, signum)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - Windows
            continue
        installed.append(signum)
    try:
        with interrupt.caught() as stop:
            return await command(interrupt)
        assert stop.status is not None
        return stop.status
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)


async def run_items(
    client: dg.DumGumClient,
    requests: Iterable[_In] | AsyncIterable[_In],
    record: Callable[[dg.BatchResult[_In]], None],
    *,
    progress: Progress,
    interrupt: Interrupt,
    concurrency: int,
    max_requests: int | None = None,
) -> Stop:
    """Send ``requests`` through ``client.suggest_many``, showing ``progress``, and
    hand each result to ``record`` as it comes; the client is closed at the end.

    Returns:
        How it ended: ``status`` is set when a signal stopped it.

    Raises:
        Whatever ``suggest_many`` or ``record`` raise (the batch's fatal errors, an
        exhausted ``max_requests``, an ``OSError`` writing a line).
    """
    with interrupt.caught() as stop:
        async with client, progress.shown():
            results = client.suggest_many(
                requests, concurrency=concurrency, max_requests=max_requests
            )
            async with contextlib.aclosing(results):
                async for result in results:
                    record(result)
    return stop
