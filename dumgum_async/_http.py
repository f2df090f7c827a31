"""The one module that talks aiohttp: a session, one POST attempt, and its errors.

Everything aiohttp raises is turned into our own exceptions here, so nothing above
this layer imports aiohttp or sees its exception types. Request headers (which
carry the key) are never attached to anything that leaves this module.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import math
import platform
import time
from collections.abc import Mapping
from typing import Final

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from dumgum_async._version import __version__
from dumgum_async.exceptions import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    ResponseDecodeError,
)

# Python 3.10's asyncio.TimeoutError is not the builtin TimeoutError (3.11 merged them).
TIMEOUT_ERRORS = (TimeoutError, asyncio.TimeoutError)

logger: Final = logging.getLogger("dumgum_async")

USER_AGENT: Final = (
    f"dumgum-async/{__version__} aiohttp/{aiohttp.__version__} python/{platform.python_version()}"
)

# Never copied into an exception: they carry credentials or session state.
_SECRET_HEADERS: Final = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})
_MAX_REDIRECTS: Final = 3

#: aiohttp's session type, for callers who bring their own.
ClientSession = aiohttp.ClientSession


class Response:
    """What one attempt got back: status, headers (credentials removed) and body."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body


def safe_headers(headers: Mapping[str, str]) -> CIMultiDictProxy[str]:
    """A read-only, case-insensitive copy of ``headers`` without credential headers."""
    return CIMultiDictProxy(
        CIMultiDict((k, v) for k, v in headers.items() if k.lower() not in _SECRET_HEADERS)
    )


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
        now = time.time() if now is None else now
        seconds = when.timestamp() - now
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


class Transport:
    """An aiohttp session (ours or the caller's) and the logic of one POST attempt.

    Args:
        session: A session the caller owns and closes; None to create our own
            inside the running loop on :meth:`open`.
        max_connections: Connection pool size of our own session.
        max_response_bytes: Larger bodies are refused without being read whole.
    """

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession | None,
        max_connections: int,
        max_response_bytes: int,
    ) -> None:
        self._session = session
        self._owns_session = session is None
        self._max_connections = max_connections
        self._max_bytes = max_response_bytes
        self._timeouts: dict[float, aiohttp.ClientTimeout] = {}

    @property
    def owns_session(self) -> bool:
        """True when the session is ours to create and close."""
        return self._owns_session

    def forget(self) -> None:
        """Drop our session unclosed: its event loop has ended, so it cannot be closed."""
        if self._owns_session:
            self._session = None

    @property
    def is_open(self) -> bool:
        """True once a session exists and is not closed."""
        return self._session is not None and not self._session.closed

    def open(self) -> None:
        """Create our session; must run inside the event loop that will use it."""
        if self._session is None:
            asyncio.get_running_loop()  # fail loudly outside a loop, not later
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._max_connections, ttl_dns_cache=300),
                timeout=aiohttp.ClientTimeout(total=None),
                auto_decompress=True,
            )

    async def close(self) -> None:
        """Close our session (never the caller's)."""
        session, self._session = self._session, None
        if session is not None and self._owns_session and not session.closed:
            await session.close()

    def _timeout(self, seconds: float) -> aiohttp.ClientTimeout:
        t = self._timeouts.get(seconds)
        if t is None:
            t = self._timeouts[seconds] = aiohttp.ClientTimeout(total=seconds)
        return t

    async def post(
        self, url: str, body: bytes, headers: Mapping[str, str], *, timeout: float
    ) -> Response:
        """POST ``body`` to ``url``; follow same-origin 307/308 redirects only.

        Raises:
            APITimeoutError: The attempt took longer than ``timeout``.
            APIConnectionError: No usable response (refused, reset, truncated).
            APIStatusError: A redirect we refuse to follow.
            ResponseDecodeError: A 2xx body larger than the configured cap.
        """
        session = self._session
        if session is None:
            raise RuntimeError("Transport.post() before open()")  # a bug of ours
        debug = logger.isEnabledFor(logging.DEBUG)
        started = time.perf_counter() if debug else 0.0
        for _ in range(_MAX_REDIRECTS + 1):
            try:
                async with session.post(
                    url,
                    data=body,
                    headers=headers,
                    timeout=self._timeout(timeout),
                    allow_redirects=False,
                ) as resp:
                    status = resp.status
                    if status in (307, 308):
                        url = _redirect_target(url, resp)
                        continue
                    raw = await self._read(resp, url, strict=200 <= status < 300)
                    result = Response(status, resp.headers, raw)
            except TIMEOUT_ERRORS:
                raise APITimeoutError(
                    f"no response within {timeout:g} s from POST {url}", url=url
                ) from None
            except aiohttp.ClientError as exc:
                # ClientResponseError carries the request's headers (the key): drop it.
                cause = None if isinstance(exc, aiohttp.ClientResponseError) else exc
                raise APIConnectionError(
                    f"connection to {url} failed: {type(exc).__name__}: {exc}", url=url
                ) from cause
            if debug:
                logger.debug(
                    "POST %s -> %d in %.1f ms",
                    url,
                    result.status,
                    (time.perf_counter() - started) * 1000,
                )
            return result
        raise APIConnectionError(f"more than {_MAX_REDIRECTS} redirects from {url}", url=url)

    async def _read(self, resp: aiohttp.ClientResponse, url: str, *, strict: bool) -> bytes:
        limit = self._max_bytes
        length = resp.content_length
        if length is not None and length <= limit:
            return await resp.read()
        if length is not None and strict:
            raise ResponseDecodeError(
                f"response body of {length} bytes exceeds the {limit}-byte limit",
                status_code=resp.status,
                url=url,
            )
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.content.iter_chunked(64 * 1024):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                if strict:
                    raise ResponseDecodeError(
                        f"response body exceeds the {limit}-byte limit",
                        body_excerpt=b"".join(chunks)[:200].decode("utf-8", "replace"),
                        status_code=resp.status,
                        url=url,
                    )
                break  # an error page: its start is all anyone needs
        return b"".join(chunks)[:limit]


def _redirect_target(url: str, resp: aiohttp.ClientResponse) -> str:
    location = resp.headers.get("Location")
    if not location:
        raise APIStatusError(
            f"HTTP {resp.status} redirect without a Location from POST {url}",
            status_code=resp.status,
            headers=safe_headers(resp.headers),
            url=url,
        )
    target = resp.url.join(URL(location))
    if target.origin() != resp.url.origin():
        raise APIStatusError(
            f"refusing to follow a redirect from {resp.url.origin()} to {target.origin()}: "
            "the API key must not be sent to another host",
            status_code=resp.status,
            headers=safe_headers(resp.headers),
            url=url,
        )
    return str(target)
