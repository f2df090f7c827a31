"""The flags every command shares (``-v``; the API's key, URL, timeout and attempts) and
the client built from them."""

from __future__ import annotations

import argparse
import os
from typing import Final

import dumgum_async as dg
from dumgum_async._cli._run import UsageError
from dumgum_async._cli._types import flags_of, positive_float, positive_int

#: The API refused the key: stop the batch rather than fail every item the same way.
FATAL_ERRORS: Final = (dg.AuthenticationError, dg.PermissionDeniedError)


def common_flags() -> argparse.ArgumentParser:
    """The parent parser of every command's own flags (``-v``)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="show the library's log messages (retries, ...) on stderr",
    )
    return common


def api_flags() -> argparse.ArgumentParser:
    """The parent parser of the commands that call the API."""
    api = argparse.ArgumentParser(add_help=False)
    group = api.add_argument_group("API")
    group.add_argument(
        "--api-key",
        metavar="KEY",
        help=f"the API key (default: ${dg.ENV_API_KEY}; prefer the variable, "
        "command lines are visible to other users)",
    )
    group.add_argument(
        "--base-url",
        metavar="URL",
        help=f"the API's base URL (default: ${dg.ENV_BASE_URL}, else {dg.DEFAULT_BASE_URL})",
    )
    flags_of(group, positive_float, "S")(
        "--timeout",
        default=dg.DEFAULT_TIMEOUT,
        help="seconds one HTTP attempt may take (default: %(default)s)",
    )
    flags_of(group, positive_int, "N")(
        "--max-attempts",
        default=dg.DEFAULT_MAX_ATTEMPTS,
        help="attempts per request, the first included; 1 disables retries (default: %(default)s)",
    )
    group.add_argument(
        "--allow-insecure-http",
        action="store_true",
        help="allow a plain http:// base URL to a host other than loopback "
        "(the key then travels in clear)",
    )
    return api


def api_key(args: argparse.Namespace) -> str:
    """The key of ``--api-key``, else of the environment.

    Raises:
        UsageError: Neither gives one.
    """
    key: str | None = args.api_key or os.environ.get(dg.ENV_API_KEY)
    if not key:
        raise UsageError(f"no API key: set {dg.ENV_API_KEY} or pass --api-key")
    return key


def client(
    args: argparse.Namespace,
    key: str,
    *,
    rate: dg.RateLimit | dg.AdaptiveRateLimit | dg.Limiter | None = None,
    concurrency: int = 1,
) -> dg.DumGumClient:
    """The client the API flags describe."""
    return dg.DumGumClient(
        api_key=key,
        base_url=args.base_url,
        timeout=args.timeout,
        retry=dg.RetryPolicy(max_attempts=args.max_attempts),
        rate_limit=rate,
        max_concurrency=max(dg.DEFAULT_MAX_CONCURRENCY, concurrency),
        allow_insecure_http=args.allow_insecure_http,
    )
