"""The emulator's answers as values: :class:`Reply`, :class:`Action`, and the canned
replies of the faults that do not depend on the request (:func:`canned_reply`).

:class:`~dumgum_async.testing._engine.Emulator` decides which reply a request gets;
``_server.py`` performs it.
"""

from __future__ import annotations

import enum
import functools
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from dumgum_async.testing._faults import FaultKind

__all__ = ["JSON", "Action", "Reply", "canned_reply", "error_reply", "json_reply"]

#: The media type of every JSON answer.
JSON: Final = "application/json"
_HTML = "text/html; charset=utf-8"

_HTML_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)
_HTML_504 = (
    b"<html>\r\n<head><title>504 Gateway Time-out</title></head>\r\n<body>\r\n"
    b"<center><h1>504 Gateway Time-out</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)
_HTML_200 = (
    b'<!DOCTYPE html>\n<html lang="en">\n<head><meta charset="utf-8">'
    b"<title>DumGum - Scheduled maintenance</title></head>\n<body>\n"
    b"<h1>We'll be back soon!</h1>\n"
    b"<p>DumGum is undergoing scheduled maintenance. Please try again in a few minutes.</p>\n"
    b"</body>\n</html>\n"
)
_NON_JSON_200 = b"Suggestions temporarily unavailable - please try again later.\n"
_BOMB_SIZE = 64 * 1024 * 1024
_GIANT_HEADER_SIZE = 64 * 1024
_HOSTILE_LOCATION = "http://user:password@evil.example/steal"


@functools.cache
def _bomb() -> bytes:
    """``_BOMB_SIZE`` zero bytes, gzipped (made once, on first use: about 64 KiB).

    One gzip member per MiB, all alike: a gzip body may hold several members, and
    compressing one MiB takes milliseconds where 64 MiB would take most of a second.
    """
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    member = z.compress(bytes(1024 * 1024)) + z.flush()
    return member * (_BOMB_SIZE // (1024 * 1024))


class Action(enum.Enum):
    """What the server does with a :class:`Reply`."""

    SEND = "send"
    """Send status, headers and body."""
    RESET = "reset"
    """Close the connection without sending anything."""
    TRUNCATE = "truncate"
    """Send the headers with the full ``Content-Length``, half the body, then close."""
    CUT = "cut"
    """Send the headers and half the body in chunked encoding, then drop the connection."""
    TRICKLE = "trickle"
    """Send the headers, then one byte every ``Reply.interval`` seconds, forever."""


@dataclass(slots=True)
class Reply:
    """A decided answer: what to send, after how long, and how."""

    status: int | None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    delay: float = 0.0
    action: Action = Action.SEND
    interval: float = 0.0


def json_reply(status: int, payload: Any, headers: dict[str, str] | None = None) -> Reply:
    out = {"Content-Type": JSON}
    if headers:
        out.update(headers)
    return Reply(status, out, orjson.dumps(payload))


def error_reply(status: int, error: str, message: str, **extra: Any) -> Reply:
    headers = extra.pop("headers", None)
    return json_reply(status, {"error": error, "message": message, **extra}, headers)


# Faults answered with the vendor's JSON error and a Retry-After.
_RETRY_AFTER_ERRORS: Final = {
    FaultKind.HTTP_429: (429, "rate_limited", "too many requests; retry later"),
    FaultKind.HTTP_503: (503, "service_unavailable", "the service is temporarily unavailable"),
}


def canned_reply(fault: FaultKind, retry_after: Callable[[], str]) -> Reply | None:
    """The reply of ``fault`` if it does not depend on the request, else None.

    Args:
        fault: The fault drawn or scripted.
        retry_after: Makes the ``Retry-After`` value; called only for the faults
            that send one (it may draw from the emulator's seeded generator).
    """
    if fault in _RETRY_AFTER_ERRORS:
        status, error, message = _RETRY_AFTER_ERRORS[fault]
        return error_reply(status, error, message, headers={"Retry-After": retry_after()})
    if fault is FaultKind.HTTP_500:
        return error_reply(500, "internal_error", "an unexpected error occurred")
    if fault is FaultKind.HTTP_502:
        return Reply(502, {"Content-Type": _HTML}, _HTML_502)
    if fault is FaultKind.HTTP_504:
        return Reply(504, {"Content-Type": _HTML}, _HTML_504)
    if fault is FaultKind.RESET:
        return Reply(None, action=Action.RESET)
    if fault is FaultKind.NON_JSON:
        return Reply(200, {"Content-Type": JSON}, _NON_JSON_200)
    if fault is FaultKind.BOMB:
        return Reply(200, {"Content-Type": JSON, "Content-Encoding": "gzip"}, _bomb())
    if fault is FaultKind.REDIRECT:
        return Reply(307, {"Location": _HOSTILE_LOCATION})
    if fault is FaultKind.HTML:
        return Reply(200, {"Content-Type": _HTML}, _HTML_200)
    return None
