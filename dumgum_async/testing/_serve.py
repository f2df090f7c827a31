"""``dumgum-async serve``: run the DumGum emulator from the command line.

Prints one line, ``DumGum emulator listening on http://127.0.0.1:PORT (api key: KEY)``,
then serves until SIGINT or SIGTERM and exits with status 0.  Invalid options exit with
status 2, a port that cannot be bound (or missing optional dependencies) with 1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Sequence

from dumgum_async.testing._constants import DEFAULT_API_KEY, loopback_host
from dumgum_async.testing._faults import Faults, Latency, LatencySpec
from dumgum_async.testing._rate_limit import ServerRateLimit

__all__ = ["build_parser", "main"]

_PROG = "dumgum-async serve"
_FAULT_FLAGS = (
    ("429", "http_429", "429 Too Many Requests with Retry-After"),
    ("500", "http_500", "500 Internal Server Error"),
    ("502", "http_502", "502 Bad Gateway with an HTML page"),
    ("503", "http_503", "503 Service Unavailable with Retry-After"),
    ("504", "http_504", "504 Gateway Timeout with an HTML page"),
    ("reset", "reset", "connection closed without a response"),
    ("stall", "stall", "no response for --stall-seconds"),
    ("truncated", "truncated", "200 whose JSON body is cut in the middle"),
    ("non-json", "non_json", "200 application/json whose body is not JSON"),
    ("html", "html", "200 text/html page"),
    ("bomb", "bomb", "200 gzip body that inflates to 64 MiB (a decompression bomb)"),
    ("trickle", "trickle", "200 body that trickles forever, a byte per --trickle-interval"),
    ("cut", "cut", "200 chunked body cut in the middle"),
    ("giant-header", "giant_header", "200 with a 64 KiB response header"),
    ("redirect", "redirect", "307 to another host with credentials in the URL"),
)


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"a probability must be in 0..1, got {text}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"seconds must be >= 0, got {text}")
    return value


def _latency(text: str) -> LatencySpec:
    low, sep, high = text.partition(":")
    if not sep:
        return _seconds(text)
    try:
        return Latency.uniform(_seconds(low), _seconds(high))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``dumgum-async serve``."""
    parser = argparse.ArgumentParser(
        prog=_PROG,
        description=(
            "Run a local DumGum API emulator (POST /cs/v1/content_creation/suggestion) "
            "for demos, tests and fault injection. Stops on SIGINT/SIGTERM."
        ),
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="loopback address to bind (default: %(default)s)"
    )
    parser.add_argument(
        "--port", type=int, default=0, help="TCP port; 0 picks a free one (default: 0)"
    )
    auth = parser.add_mutually_exclusive_group()
    auth.add_argument(
        "--api-key",
        default=DEFAULT_API_KEY,
        help="key expected in 'Authorization: Bearer <key>' (default: %(default)s)",
    )
    auth.add_argument("--no-auth", action="store_true", help="accept requests without a key")

    limits = parser.add_argument_group("rate limit (429 with Retry-After)")
    limits.add_argument(
        "--rate",
        type=float,
        help="with --burst: token bucket refilled with RATE tokens per --period; "
        "without: at most RATE requests in any window of --period seconds",
    )
    limits.add_argument("--burst", type=int, help="token bucket capacity")
    limits.add_argument("--period", type=float, default=1.0, help="seconds (default: %(default)s)")

    faults = parser.add_argument_group("random faults (probabilities, together at most 1)")
    for flag, dest, text in _FAULT_FLAGS:
        faults.add_argument(
            f"--fault-{flag}", dest=dest, type=_probability, default=0.0, metavar="P", help=text
        )
    faults.add_argument(
        "--retry-after",
        type=_seconds,
        default=1.0,
        help="seconds announced in Retry-After by 429/503 faults (default: %(default)s)",
    )
    faults.add_argument(
        "--retry-after-http-date",
        type=_probability,
        default=0.0,
        metavar="P",
        help="probability that Retry-After is an HTTP date instead of seconds",
    )
    faults.add_argument(
        "--stall-seconds",
        type=_seconds,
        default=30.0,
        help="length of a stall (default: %(default)s)",
    )

    faults.add_argument(
        "--trickle-interval",
        type=_seconds,
        default=0.5,
        help="seconds between the bytes of a trickling body (default: %(default)s)",
    )

    parser.add_argument(
        "--latency",
        type=_latency,
        default=None,
        metavar="S|MIN:MAX",
        help="added response time in seconds, fixed (0.05) or uniform (0.02:0.2)",
    )
    parser.add_argument("--seed", type=int, help="seed for faults and latency")
    parser.add_argument(
        "--string-list",
        action="store_true",
        help="send suggestions as one Python-style list string (the vendor's old form)",
    )
    parser.add_argument(
        "--no-validate", action="store_true", help="skip request validation (benchmarks)"
    )
    return parser


async def _serve(args: argparse.Namespace, faults: Faults, limit: ServerRateLimit | None) -> int:
    from dumgum_async.testing._server import FakeDumGumServer

    api_key = None if args.no_auth else args.api_key
    server = FakeDumGumServer(
        api_key=api_key,
        host=args.host,
        port=args.port,
        validate=not args.no_validate,
        faults=faults,
        rate_limit=limit,
        latency=args.latency,
        seed=args.seed,
        string_list=args.string_list,
        max_recorded=1_000,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, stop.set)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - Windows
            continue
        installed.append(signum)
    try:
        await server.start()
        shown = api_key if api_key is not None else "none, authentication disabled"
        print(f"DumGum emulator listening on {server.url} (api key: {shown})", flush=True)
        await stop.wait()
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)
        await server.close()
    return 0


def main(argv: Sequence[str]) -> int:
    """Run ``dumgum-async serve`` with ``argv`` (the arguments after ``serve``).

    Returns:
        The exit status: 0 after SIGINT/SIGTERM, 1 if the server cannot start, 2 for
        invalid options.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(list(argv))
    except SystemExit as exc:  # --help or a usage error
        return exc.code if isinstance(exc.code, int) else 2
    try:
        if (args.burst is not None) and args.rate is None:
            raise ValueError("--burst needs --rate")
        limit = (
            ServerRateLimit(max_rate=args.rate, burst=args.burst, time_period=args.period)
            if args.rate is not None
            else None
        )
        faults = Faults(
            **{dest: getattr(args, dest) for _, dest, _ in _FAULT_FLAGS},
            retry_after=args.retry_after,
            retry_after_http_date=args.retry_after_http_date,
            stall_seconds=args.stall_seconds,
            trickle_interval=args.trickle_interval,
        )
        loopback_host(args.host)
    except ValueError as exc:
        print(f"{_PROG}: error: {exc}", file=sys.stderr)
        return 2
    try:
        with contextlib.suppress(KeyboardInterrupt):
            return asyncio.run(_serve(args, faults, limit))
        return 0  # pragma: no cover - KeyboardInterrupt where signal handlers are missing
    except (OSError, ImportError) as exc:
        print(f"{_PROG}: error: {exc}", file=sys.stderr)
        return 1
