"""Answers to results or errors: every exception built from an HTTP response.

One place decides what a response becomes: the suggestions of a 2xx body
(:func:`interpret`), or an error: :func:`status_error` for a status we do not accept
(an error status, a redirect ``_http`` refuses to follow) and :func:`decode_error`
for a 2xx body we cannot use (unreadable, or over the size cap while ``_http``
reads it). Here too are the rules those errors keep: ``safe_headers`` (credential
headers dropped, the key masked) and the server's hints (``request_id_of``,
``parse_retry_after``). No aiohttp: ``_http`` hands over plain values.
"""

from __future__ import annotations

import datetime as _dt
import email.utils
import math
import time
from collections.abc import Mapping
from typing import Final

from multidict import CIMultiDict, CIMultiDictProxy

from dumgum_async._converter import BodyError, decode_response
from dumgum_async._models import SuggestionResponse
from dumgum_async._secret import Secret
from dumgum_async.exceptions import (
    APIStatusError,
    ResponseDecodeError,
    SafeHeaders,
    status_error_class,
)

# Never copied into an exception: they carry credentials or session state.
_SECRET_HEADERS: Final = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})
#: Where servers put the id of a response, by custom; the first present wins. The
#: vendor documents none of them yet.
REQUEST_ID_HEADERS: Final = ("X-Request-Id", "Request-Id", "X-Correlation-Id")


class Response:
    """What one attempt got back: status, headers and body, as received.

    The headers still hold what the server sent (``Set-Cookie`` included):
    :func:`interpret` replaces them with :func:`safe_headers` on this object before
    it builds an error, and a raw-response call's ``Capture`` keeps them only until
    ``RawResponses`` makes them safe.
    """

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body


def safe_headers(headers: Mapping[str, str], secret: Secret | None = None) -> SafeHeaders:
    """A read-only, case-insensitive copy of ``headers`` without credential headers,
    and with ``secret`` masked wherever a server echoed it into another header."""
    kept = ((k, v) for k, v in headers.items() if k.lower() not in _SECRET_HEADERS)
    if secret is not None:
        kept = ((k, secret.redact_text(v)) for k, v in kept)
    return SafeHeaders(CIMultiDict(kept))


def request_id_of(headers: Mapping[str, str]) -> str | None:
    """The server's id of a response: the first of :data:`REQUEST_ID_HEADERS` present
    (names compared case-insensitively when ``headers`` is a multidict); None if none."""
    for name in REQUEST_ID_HEADERS:
        value = headers.get(name)
        if value:
            return value
    return None


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (seconds or HTTP date); None if unusable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        if when.tzinfo is None:
            # "-0000" or no zone: email.utils leaves it naive, and timestamp() would
            # read it as local time. An HTTP date is GMT (RFC 9110).
            when = when.replace(tzinfo=_dt.UTC)
        now = time.time() if now is None else now
        seconds = when.timestamp() - now
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def interpret(response: Response, api_key: Secret, url: str) -> SuggestionResponse:
    """The suggestions of a 2xx answer; for any other status, its error.

    The body is redacted of ``api_key`` and the headers made safe on ``response``
    itself, before any error is built: the frames of its traceback hold it.

    Raises:
        ResponseDecodeError: A 2xx body that is not a suggestion response.
        APIStatusError: Any other status (the class of ``status_error_class``).
    """
    # A server or proxy may echo the request's Authorization header in its body.
    response.body = body = api_key.redact(response.body)
    status = response.status
    if 200 <= status < 300:
        try:
            return decode_response(body)
        except BodyError as exc:
            problem = str(exc)
        response.headers = headers = safe_headers(response.headers, api_key)
        raise decode_error(
            f"could not read the response from POST {url}: {problem}", status, headers, url, body
        )
    response.headers = headers = safe_headers(response.headers, api_key)
    raise status_error(status, headers, body, url)


def status_error(
    status: int,
    headers: CIMultiDictProxy[str],
    body: bytes,
    url: str,
    message: str | None = None,
) -> APIStatusError:
    """The error of an answer with a status we do not accept (``headers`` made safe,
    ``body`` redacted by the caller); ``message`` defaults to the status and the
    start of the body."""
    text = body.decode("utf-8", "replace")
    if message is None:
        detail = " ".join(text[:200].split())
        message = f"HTTP {status} from POST {url}" + (f": {detail}" if detail else "")
    return status_error_class(status)(
        message,
        status_code=status,
        body=text,
        headers=headers,
        retry_after=parse_retry_after(headers.get("Retry-After")),
        url=url,
        request_id=request_id_of(headers),
    )


def decode_error(
    message: str, status: int, headers: CIMultiDictProxy[str], url: str, body: bytes = b""
) -> ResponseDecodeError:
    """The error of a 2xx answer we cannot use (``headers`` made safe and ``body``
    redacted by the caller, as for :func:`status_error`); the excerpt is the body's
    start."""
    excerpt = body[:200].decode("utf-8", "replace") + ("..." if len(body) > 200 else "")
    return ResponseDecodeError(
        message,
        body_excerpt=excerpt,
        status_code=status,
        url=url,
        request_id=request_id_of(headers),
    )
