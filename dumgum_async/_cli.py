"""The ``dumgum-async`` command line."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the process exit status."""
    print("usage: dumgum-async {suggest,batch,serve,demo} ...", file=sys.stderr)
    return 2
