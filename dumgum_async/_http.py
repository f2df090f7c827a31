"""The one module that talks aiohttp: a session, one POST attempt, and its errors.

Everything aiohttp raises is turned into our own exceptions here, so nothing above
this layer imports aiohttp or sees its exception types. The errors built from an
answer (a refused redirect, an oversized body) come from ``_interpret``, like every
other error built from a response. Request headers (which
carry the key) are never attached to anything that leaves this module.
"""

from __future__ import annotations

import asyncio
import logging
import platform
import ssl
import time
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from typing import Final

import aiohttp
from yarl import URL

from dumgum_async._config import Timeout
from dumgum_async._http_proxy import ProxyRoute
from dumgum_async._interpret import (
    Response as Response,  # re-exported: the type post() returns
)
from dumgum_async._interpret import (
    decode_error,
    safe_headers,
    status_error,
)
from dumgum_async._secret import AUTHORIZATION, Secret, SecretHeaders
from dumgum_async._timer import CoarseTimer
from dumgum_async._version import __version__
from dumgum_async.exceptions import (
    APIConnectionError,
    APIError,
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

_MAX_REDIRECTS: Final = 3
# A cap on the cache of aiohttp timeouts, in case calls bring ever new limits.
_MAX_CACHED_TIMEOUTS: Final = 64
# What aiohttp gets for a plain number of seconds: no timer at all. The total is ours
# (a shared CoarseTimer): aiohttp would arm a loop.call_at per request for it.
_NO_AIOHTTP_TIMEOUT: Final = aiohttp.ClientTimeout(total=None)
_CHUNK: Final = 64 * 1024

#: aiohttp's session type, for callers who bring their own.
ClientSession = aiohttp.ClientSession


class Transport:
    """An aiohttp session (ours or the caller's) and the logic of one POST attempt.

    Args:
        session: A session the caller owns and closes; None to create our own
            inside the running loop on :meth:`open`.
        max_connections: Connection pool size of our own session.
        max_response_bytes: Larger bodies are refused without being read whole.
        proxy: Where every request goes through, or None for a direct connection.
        tls: An ``SSLContext`` to verify the server with, True for the default
            (or, with the caller's session, its connector's), False for no
            verification.
        headers: The client's own headers. Our own session sends all but the
            ``Authorization`` one by default, so that a call with these very headers
            passes aiohttp that one header alone and aiohttp copies a ready
            multidict instead of building one from all of ours per request. Any
            other headers given to :meth:`post` must name every one of these (a
            view's are these merged with more), since aiohttp adds the session's
            defaults under a request's own. The key is never among the session's
            defaults: the session is reachable from the frames of our tracebacks.
    """

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession | None,
        max_connections: int,
        max_response_bytes: int,
        proxy: ProxyRoute | None = None,
        tls: ssl.SSLContext | bool = True,
        headers: SecretHeaders | None = None,
    ) -> None:
        self._session = session
        self._headers = headers
        # The headers our session sends by default: None while it does not exist,
        # and always with a caller's session (its defaults are the caller's).
        self._default_headers: SecretHeaders | None = None
        self._owns_session = session is None
        self._max_connections = max_connections
        self._max_bytes = max_response_bytes
        self._timeouts: dict[tuple[float | None, float | None], aiohttp.ClientTimeout] = {}
        self._timer: CoarseTimer | None = None  # of the loop that last posted
        self._proxy = proxy
        self._tls = tls

    @property
    def owns_session(self) -> bool:
        """True when the session is ours to create and close."""
        return self._owns_session

    def forget(self) -> None:
        """Drop our session unclosed: its event loop has ended, so it cannot be closed."""
        self._timer = None
        if self._owns_session:
            self._session = None
            self._default_headers = None

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
                # Proxies come from the environment once, through proxy_from_env().
                # aiohttp's own trust_env would look them up in a thread on every
                # request and send .netrc credentials for the API host, which clash
                # with our Authorization header (aiohttp then raises ValueError).
                trust_env=False,
                headers=None if self._headers is None else self._headers.public(),
            )
            self._default_headers = self._headers

    async def close(self) -> None:
        """Close our session (never the caller's)."""
        session, self._session = self._session, None
        self._timer = None
        self._default_headers = None
        if session is not None and self._owns_session and not session.closed:
            await session.close()

    def _aiohttp_timeout(self, timeout: float | Timeout) -> aiohttp.ClientTimeout:
        """aiohttp's part of ``timeout``: ``connect`` and ``read``, never ``total``.

        With None for both, aiohttp arms no timer (it checks each for None); a
        ``connect`` limit costs one only when a new connection is made, ``read`` one
        per read, as before.
        """
        if not isinstance(timeout, Timeout):
            return _NO_AIOHTTP_TIMEOUT
        key = (timeout.connect, timeout.read)
        cached = self._timeouts.get(key)
        if cached is None:
            cached = aiohttp.ClientTimeout(
                total=None, connect=timeout.connect, sock_read=timeout.read
            )
            if len(self._timeouts) >= _MAX_CACHED_TIMEOUTS:
                self._timeouts.clear()
            self._timeouts[key] = cached
        return cached

    def _timer_of(self, loop: asyncio.AbstractEventLoop) -> CoarseTimer:
        # One timer per loop: a client outlives its loop (asyncio.run after asyncio.run).
        timer = self._timer
        if timer is None or timer.loop is not loop:
            timer = self._timer = CoarseTimer(loop)
        return timer

    async def post(
        self,
        url: str,
        body: bytes,
        headers: Mapping[str, str],
        *,
        timeout: float | Timeout,
        secret: Secret | None = None,
    ) -> Response:
        """POST ``body`` to ``url``; follow same-origin 307/308 redirects only.

        ``secret`` (the call's API key) is redacted from the errors built here of an
        answer (an oversized 2xx body's excerpt, a refused redirect's headers), as
        ``_interpret.interpret`` redacts it from the others.

        Every error is raised here, outside any ``except`` block, with no
        ``__cause__`` or ``__context__``: aiohttp's exceptions and their frames hold
        the request headers (the key), so only their class name and message travel.

        Raises:
            APITimeoutError: The attempt took longer than ``timeout`` (seconds, or the
                limits of a :class:`Timeout`).
            APIConnectionError: No usable response (refused, reset, truncated, TLS,
                undecodable content encoding); ``retryable`` is False for TLS failures
                that another attempt cannot cure.
            APIStatusError: A redirect we refuse to follow (to another origin, with
                credentials, or malformed).
            ResponseDecodeError: A 2xx body larger than the configured cap, decoded.
        """
        session = self._session
        if session is None:
            raise RuntimeError("Transport.post() before open()")  # a bug of ours
        debug = logger.isEnabledFor(logging.DEBUG)
        started = time.perf_counter() if debug else 0.0
        first = url
        loop = asyncio.get_running_loop()
        timer = self._timer_of(loop)
        total = timeout.total if isinstance(timeout, Timeout) else timeout
        # One instant for the attempt, redirects included: a fresh total per hop would
        # let an attempt (and a deadline that cut its timeout) run four totals long.
        when = loop.time() + total
        resp: aiohttp.ClientResponse | None = None
        # Each hop is written out here, not in a coroutine of its own: one frame
        # fewer per request (this is the hot path, ARCHITECTURE.md step 7).
        for _ in range(_MAX_REDIRECTS + 1):
            if session.closed:
                # A caller's session, closed under us: aiohttp would raise a bare
                # RuntimeError. No later attempt can cure it.
                error = APIConnectionError(
                    f"cannot POST {url}: the aiohttp session given to the client is closed",
                    url=url,
                )
                error.retryable = False
                raise error
            # What ends the hop: a Response, a redirect target, or the error to raise.
            # Errors are raised after the try, so that none has the aiohttp exception
            # (whose frames hold the request headers) as its __context__.
            outcome: Response | str | APIError
            try:
                with timer.at(when):
                    async with self._request(session, url, body, headers, timeout) as resp:
                        status = resp.status
                        length = resp.content_length
                        if status in (307, 308):
                            # Parsed only here: a redirect is rare, a request is not.
                            outcome = _redirect_target(url, resp, _origin(first), secret)
                        elif (
                            length is not None
                            and length <= self._max_bytes
                            and not _is_encoded(resp)
                        ):
                            # Content-Length settles the size of an unencoded body.
                            outcome = Response(status, resp.headers, await resp.read())
                        else:
                            outcome = await self._read(
                                resp, url, secret, strict=200 <= status < 300
                            )
            except TIMEOUT_ERRORS:
                outcome = APITimeoutError(
                    f"no response within {_limits(timeout)} from POST {url}", url=url
                )
            except (aiohttp.ClientError, OSError) as exc:
                failure = _Failure(exc)
                outcome = APIConnectionError(f"connection to {url} failed: {failure.text}", url=url)
                outcome.retryable = failure.retryable
            # Its request_info holds the request headers: not for a traceback.
            resp = None
            if isinstance(outcome, str):
                url = outcome
                continue
            if isinstance(outcome, APIError):
                raise outcome
            if debug:
                logger.debug(
                    "POST %s -> %d in %.1f ms",
                    url,
                    outcome.status,
                    (time.perf_counter() - started) * 1000,
                )
            return outcome
        raise APIConnectionError(f"more than {_MAX_REDIRECTS} redirects from {url}", url=url)

    def _request(
        self,
        session: aiohttp.ClientSession,
        url: str,
        body: bytes,
        headers: Mapping[str, str],
        timeout: float | Timeout,
    ) -> AbstractAsyncContextManager[aiohttp.ClientResponse]:
        """aiohttp's POST of one hop, to enter (built here, so that no local of
        ``post`` holds the revealed key in the frames of a traceback)."""
        if headers is self._default_headers:
            # The session sends the rest of the client's own headers (see __init__).
            headers = {AUTHORIZATION: headers[AUTHORIZATION]}
        proxy = self._proxy
        if proxy is None and self._tls is True:
            # Only what differs from aiohttp's defaults: each keyword costs per request.
            return session.post(
                url,
                data=body,
                timeout=self._aiohttp_timeout(timeout),
                allow_redirects=False,
                headers=headers,
            )
        return session.post(
            url,
            data=body,
            timeout=self._aiohttp_timeout(timeout),
            allow_redirects=False,
            ssl=self._tls,
            headers=headers if proxy is None else proxy.request_headers(url, headers),
            proxy=None if proxy is None else proxy.url,
            proxy_headers=None if proxy is None else proxy.connect_headers(url),
        )

    async def _read(
        self, resp: aiohttp.ClientResponse, url: str, secret: Secret | None, *, strict: bool
    ) -> Response | ResponseDecodeError:
        """Read the body, decoded, never past the cap (``post`` reads an unencoded body
        whose Content-Length is within the cap itself).

        aiohttp inflates as data arrives, in bounded steps, so a running count over
        the chunks stops a decompression bomb early. Content-Length counts the
        *encoded* bytes, so it settles the matter only for an unencoded body.
        """
        limit = self._max_bytes
        length = resp.content_length
        if strict and length is not None and length > limit and not _is_encoded(resp):
            return decode_error(
                f"response body of {length} bytes exceeds the {limit}-byte limit",
                resp.status,
                safe_headers(resp.headers, secret),
                url,
            )
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.content.iter_chunked(_CHUNK):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                if strict:
                    read = b"".join(chunks)
                    return decode_error(
                        f"response body exceeds the {limit}-byte limit (decoded)",
                        resp.status,
                        safe_headers(resp.headers, secret),
                        url,
                        # Redacted whole: decode_error's cut could split the key.
                        read if secret is None else secret.redact(read),
                    )
                break  # an error page: its start is all anyone needs
        data = b"".join(chunks)
        if size > limit and secret is not None:
            # Redacted before the cut, which could leave part of the key behind.
            data = secret.redact(data)
        return Response(resp.status, resp.headers, data[:limit])


class _Failure:
    """What may leave an ``except`` clause of an aiohttp error: text, no references."""

    __slots__ = ("retryable", "text")

    def __init__(self, exc: BaseException) -> None:
        self.retryable = not _cannot_heal(exc)
        name = type(exc).__name__
        # A ClientResponseError's repr holds the request's headers; its message does not.
        detail = exc.message if isinstance(exc, aiohttp.ClientResponseError) else str(exc)
        text = f"{name}: {detail}" if detail else name
        if not self.retryable:
            text += " (TLS failure; not retried)"
        self.text = text


def _cannot_heal(exc: BaseException) -> bool:
    """A TLS failure another attempt will meet again: a certificate, or the protocol.

    An EOF or a reset during the handshake may be a passing overload, so it is retried.
    """
    if isinstance(exc, aiohttp.ClientConnectorCertificateError | aiohttp.ServerFingerprintMismatch):
        return True
    cause = exc.os_error if isinstance(exc, aiohttp.ClientConnectorError) else exc
    return isinstance(cause, ssl.SSLError) and not isinstance(
        cause, ssl.SSLEOFError | ssl.SSLZeroReturnError | ssl.SSLSyscallError
    )


def _limits(timeout: float | Timeout) -> str:
    if not isinstance(timeout, Timeout):
        return f"{timeout:g} s"
    parts = [f"{timeout.total:g} s"]
    if timeout.connect is not None:
        parts.append(f"connect {timeout.connect:g} s")
    if timeout.read is not None:
        parts.append(f"read {timeout.read:g} s")
    return ", ".join(parts)


def _is_encoded(resp: aiohttp.ClientResponse) -> bool:
    encoding = resp.headers.get("Content-Encoding")
    return encoding is not None and encoding.strip().lower() not in ("", "identity")


def _origin(url: str) -> URL:
    return URL(url).origin()


def _redirect_target(
    url: str, resp: aiohttp.ClientResponse, origin: URL, secret: Secret | None
) -> str | APIStatusError:
    """The URL a 307/308 points to, if it stays on ``origin`` (scheme, host, port) and
    carries no credentials; otherwise the error that refuses it."""
    location = resp.headers.get("Location")
    if not location:
        return _refused(url, resp, secret, "without a Location")
    try:
        target = resp.url.join(URL(location))
        target_origin = target.origin()
    except ValueError:  # yarl: a bad port, an unclosed IPv6 bracket, no host
        return _refused(url, resp, secret, f"to a malformed Location {_shown(location, secret)}")
    if (
        target.user is not None
        or target.password is not None
        # Our key echoed into the URL: followed, it would be in every later message.
        or (secret is not None and secret.redact_text(location) != location)
    ):
        return _refused(url, resp, secret, "to a Location carrying credentials")
    if target_origin != origin:
        return _refused(
            url,
            resp,
            secret,
            # The Location as sent, not yarl's normalised origin: lower-cased, a
            # key in its host would escape the redaction.
            f"from {origin} to {_shown(location, secret)}: "
            "the API key must not be sent to another host or scheme",
        )
    return str(target)


def _refused(
    url: str, resp: aiohttp.ClientResponse, secret: Secret | None, why: str
) -> APIStatusError:
    return status_error(
        resp.status,
        safe_headers(resp.headers, secret),
        b"",
        url,
        f"refusing to follow the HTTP {resp.status} redirect {why} from POST {url}",
    )


def _shown(text: str, secret: Secret | None, limit: int = 100) -> str:
    """A server-sent value, redacted, quoted and shortened, for a message (redacted
    first: the cut could leave part of the key behind)."""
    if secret is not None:
        text = secret.redact_text(text)
    return repr(text if len(text) <= limit else text[:limit] + "...")
