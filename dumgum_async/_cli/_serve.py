"""``dumgum-async serve``: the emulator's own command line, run as a subcommand.

``serve`` parses its own arguments (``dumgum_async.testing``'s ``_serve.main``, the
one private name the command line may use) and runs its own event loop, so it is
dispatched before the rest of the command line is parsed.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from dumgum_async._cli._defaults import PROG


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``serve`` to ``commands``: a name in the help, its arguments left to it."""
    serve = commands.add_parser(
        "serve",
        add_help=False,
        help=f"run the local API emulator (see: {PROG} serve --help)",
    )
    serve.add_argument("serve_args", nargs=argparse.REMAINDER)


def command(argv: Sequence[str]) -> int:
    """Run ``serve`` with ``argv`` (the arguments after it); returns its exit status."""
    # The emulator pulls in aiohttp.web and jsonschema: only for this command.
    from dumgum_async.testing import _serve

    return _serve.main(argv)
