"""What the command line shows and returns by default: its name, exit statuses, and the
defaults of its own flags.

The library's defaults (timeouts, attempts, concurrency, environment names) come from
``dumgum_async``; what is here belongs to the command line only (the demo's shape, the
Redis key naming a shared limit, how often a plain progress line is written).
"""

from __future__ import annotations

from typing import Final

PROG: Final = "dumgum-async"

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_USAGE: Final = 2
#: The API refused the key (401/403): every further request would fail the same way.
EXIT_FATAL: Final = 3
#: The batch made its --max-requests HTTP attempts and stopped sending.
EXIT_BUDGET: Final = 4
#: 128 + the signal number is the status of a command stopped by a signal.
EXIT_SIGNAL_BASE: Final = 128
EXIT_STATUSES: Final = (
    "Exit status: 0 every item answered; 1 some item failed (its error line is in the "
    "output); 2 usage or configuration error; 3 the API refused the key (HTTP 401/403): "
    "the batch stopped, unsent lines have no output line (--resume with the right key "
    "completes them); 4 the batch spent its --max-requests attempts and stopped "
    "(unsent lines have no output line: --resume completes them); 130 interrupted "
    "by Ctrl-C (SIGINT), 143 by SIGTERM (128 + the signal number)."
)

#: The Redis key naming the limit ``batch --redis-url`` shares.
DEFAULT_REDIS_KEY: Final = "dumgum-async:rate"
#: Seconds between the plain progress lines written when stderr is not a terminal.
DEFAULT_PROGRESS_INTERVAL: Final = 5.0

#: ``demo``: how many sample conversations, at what rate, with what share of faults.
DEFAULT_DEMO_CONVERSATIONS: Final = 300
DEFAULT_DEMO_RATE: Final = "50/s"
DEFAULT_DEMO_FAULT_RATE: Final = 0.1
#: ``demo``: the seed of its conversations and faults, so two runs show the same.
DEFAULT_DEMO_SEED: Final = 7
