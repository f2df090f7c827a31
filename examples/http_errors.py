"""How a web backend answers its own callers when a DumGum call fails.

Shared by :mod:`examples.fastapi_app` and :mod:`examples.aiohttp_app`, so both map
errors the same way:

=================================  ======================================================
``RequestValidationError``          422, with every problem (path and message)
``RateLimitError``                  429, with ``Retry-After`` (the upstream's, rounded up)
``APITimeoutError``                 504
``APIConnectionError`` (others)     503 (an open circuit breaker included)
any other ``APIError``              502
=================================  ======================================================

Anything else (``ConfigurationError``, ``ClientClosedError``) is a bug in the backend,
not the upstream's fault: it is left to the framework's 500.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Final

import attrs

import dumgum_async as dg

__all__ = ["DEFAULT_RETRY_AFTER", "ErrorAnswer", "answer_for", "stats_body"]

#: Seconds to tell callers after a 429 that did not say how long to wait.
DEFAULT_RETRY_AFTER: Final = 1


@dataclass(frozen=True)
class ErrorAnswer:
    """The HTTP answer for one failed call: status, JSON body and extra headers."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def answer_for(exc: dg.RequestValidationError | dg.APIError) -> ErrorAnswer:
    """The answer a backend gives its caller when ``exc`` ended a DumGum call.

    Args:
        exc: What ``client.suggest()`` raised.

    Returns:
        The status, body and headers to send (see the module's table).
    """
    if isinstance(exc, dg.RequestValidationError):
        problems = [{"path": p.path, "message": p.message} for p in exc.problems]
        return ErrorAnswer(422, {"error": "invalid request", "problems": problems})
    if isinstance(exc, dg.RateLimitError):
        wait = DEFAULT_RETRY_AFTER if exc.retry_after is None else math.ceil(exc.retry_after)
        return ErrorAnswer(
            429, {"error": "rate limited", "retry_after": wait}, {"Retry-After": str(wait)}
        )
    # The exception's message is for logs: the caller gets its kind, not upstream details.
    kind = type(exc).__name__
    if isinstance(exc, dg.APITimeoutError):
        return ErrorAnswer(504, {"error": "upstream timed out", "type": kind})
    if isinstance(exc, dg.APIConnectionError):
        return ErrorAnswer(503, {"error": "upstream unavailable", "type": kind})
    return ErrorAnswer(502, {"error": "upstream error", "type": kind})


def stats_body(client: dg.DumGumClient) -> dict[str, Any]:
    """``client.stats`` as a JSON object."""
    return attrs.asdict(client.stats)
