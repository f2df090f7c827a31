"""The ``dumgum-async`` command line: ``suggest``, ``batch``, ``validate``, ``serve``, ``demo``.

It uses the public API only (``dumgum_async`` and ``dumgum_async.testing``), so it
doubles as a worked example of it. :func:`main` runs a command in a fresh event loop
with Ctrl-C handling; :func:`run` runs one inside a loop that is already running
(tests, embedding), without touching signal handlers.

One module per command (``_suggest``, ``_batch``, ``_validate``, ``_serve``, ``_demo``),
on shared pieces: ``_types`` (argument types), ``_api`` (the API flags and client),
``_console`` (stderr, progress, summary), ``_jsonl`` and ``_resume`` (JSON lines in and
out), ``_run`` (signals, and the one loop through ``suggest_many``), ``_defaults``
(exit statuses, the command line's own defaults); ``_main`` parses and dispatches.

Exit statuses: 0 success; 1 a request (or some item of a batch) failed, or a line
``validate`` checked is invalid; 2 usage or configuration error; 3 the API refused
the key (401 or 403), so a batch stopped; 4 a batch spent its ``--max-requests``;
128 + the signal number (130 for Ctrl-C, 143 for SIGTERM) when interrupted.
"""

from dumgum_async._cli._batch_run import INPUT_LINE_ERROR
from dumgum_async._cli._defaults import (
    EXIT_BUDGET,
    EXIT_FAILED,
    EXIT_FATAL,
    EXIT_OK,
    EXIT_USAGE,
    PROG,
)
from dumgum_async._cli._main import build_parser, main, run
from dumgum_async._cli._run import UsageError

# tests/test_adaptive.py reads the --rate type by its old name.
from dumgum_async._cli._types import rate as _rate

__all__ = [
    "EXIT_BUDGET",
    "EXIT_FAILED",
    "EXIT_FATAL",
    "EXIT_OK",
    "EXIT_USAGE",
    "INPUT_LINE_ERROR",
    "PROG",
    "UsageError",
    "_rate",
    "build_parser",
    "main",
    "run",
]
