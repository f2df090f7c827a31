"""The entry points: :func:`main` (a fresh event loop, signals handled) and :func:`run`
(inside a running loop); the parser of every command, and the dispatch to them."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from types import ModuleType

import dumgum_async as dg
from dumgum_async._cli import _api, _batch, _demo, _serve, _suggest, _validate
from dumgum_async._cli._console import Console, library_logs
from dumgum_async._cli._defaults import EXIT_SIGNAL_BASE, EXIT_STATUSES, EXIT_USAGE, PROG
from dumgum_async._cli._run import Interrupt, UsageError, run_with_signals

_COMMANDS: dict[str, Callable[[argparse.Namespace, Interrupt], Awaitable[int]]] = {
    "suggest": _suggest.command,
    "batch": _batch.command,
    "validate": _validate.command,
    "demo": _demo.command,
}


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``dumgum-async`` and its subcommands."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Suggestions from the DumGum API, one conversation or a JSONL file "
        "of them; a local emulator of the API; a demo.",
        epilog=f"The API key and base URL default to ${dg.ENV_API_KEY} and "
        f"${dg.ENV_BASE_URL}; flags win. Start with: {PROG} demo. {EXIT_STATUSES}",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {dg.__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    common = _api.common_flags()
    api = _api.api_flags()

    def add(module: ModuleType, *parents: argparse.ArgumentParser) -> None:
        # Each command's module has its HELP, DESCRIPTION, EPILOG and add_arguments.
        name = module.__name__.rpartition("._")[2]
        command = commands.add_parser(
            name,
            parents=list(parents),
            help=module.HELP,
            description=module.DESCRIPTION,
            epilog=getattr(module, "EPILOG", None),
        )
        module.add_arguments(command)

    add(_suggest, api, common)
    add(_batch, api, common)
    add(_validate, common)
    _serve.add_parser(commands)
    add(_demo, common)
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


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the process exit status.

    Args:
        argv: The arguments after the program name; None reads ``sys.argv``.
    """
    args_list = sys.argv[1:] if argv is None else list(argv)
    if args_list[:1] == ["serve"]:
        return _serve.command(args_list[1:])
    parsed = _parse(args_list)
    if isinstance(parsed, int):
        return parsed
    if parsed.command == "serve":
        return _serve.command(parsed.serve_args)
    try:
        return asyncio.run(run_with_signals(lambda interrupt: _execute(parsed, interrupt)))
    # KeyboardInterrupt: Ctrl-C before the handlers were in place (or where there are
    # none); CancelledError: a signal that came as the command was already returning.
    except (KeyboardInterrupt, asyncio.CancelledError):
        return EXIT_SIGNAL_BASE + signal.SIGINT


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
    return await _execute(parsed, Interrupt())


async def _execute(args: argparse.Namespace, interrupt: Interrupt) -> int:
    args.shows_progress = args.command != "suggest" and not args.no_progress
    # One console for the progress line and the log lines, so they never overwrite
    # each other.
    args.console = Console(sys.stderr, live=args.shows_progress and sys.stderr.isatty())
    try:
        with library_logs(args.console if args.verbose else None) as logs:
            args.logs = logs
            return await _COMMANDS[args.command](args, interrupt)
    except (UsageError, dg.ConfigurationError) as exc:
        message = str(exc)
        if "allow_insecure_http" in message:
            # The library's message names its argument; say what the flag is here.
            message += " (on the command line: --allow-insecure-http)"
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return EXIT_USAGE
