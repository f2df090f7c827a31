"""A call's answer with the HTTP details around it (``client.with_raw_response``)."""

from __future__ import annotations

import asyncio
import datetime as _dt
from collections.abc import Awaitable, Mapping
from typing import Any, Protocol

from dumgum_async._config import NOT_GIVEN, NotGiven, RetryPolicy, Timeout
from dumgum_async._interpret import request_id_of, safe_headers
from dumgum_async._models import SuggestionRequest, SuggestionResponse
from dumgum_async._options import CallOptions, Capture


class RawResponse:
    """The last HTTP response of a successful call, and the parsed suggestions.

    Returned by ``await client.with_raw_response.suggest(request)``, the shape
    openai-python users know (``status_code``, ``headers``, ``parse()``), without
    its lazy parsing: the body was read and checked during the call, so a body
    that cannot be read failed the call (and was retried) as it does without
    ``with_raw_response``. Errors are raised exactly as :meth:`DumGumClient.suggest`
    raises them; their ``request_id`` and ``headers`` say the same for a failure.

    Attributes:
        status_code: The HTTP status of the last attempt (a 2xx).
        headers: Its response headers, case-insensitive, credential headers
            (``Set-Cookie`` and the like) removed.
        request_id: The server's id of the response: the first of the
            ``X-Request-Id``, ``Request-Id`` and ``X-Correlation-Id`` headers (the
            vendor documents none yet), or None.
        attempts: HTTP attempts the call made, this one included.
        elapsed: Seconds the whole call took: every attempt, the waits between them
            and for slots and rate-limit tokens.
    """

    __slots__ = ("_parsed", "attempts", "elapsed", "headers", "request_id", "status_code")

    def __init__(
        self,
        *,
        status_code: int,
        headers: Mapping[str, str],
        request_id: str | None,
        attempts: int,
        elapsed: float,
        parsed: SuggestionResponse,
    ) -> None:
        self.status_code: int = status_code
        self.headers: Mapping[str, str] = headers
        self.request_id: str | None = request_id
        self.attempts: int = attempts
        self.elapsed: float = elapsed
        self._parsed = parsed

    def parse(self) -> SuggestionResponse:
        """The suggestions, as :meth:`DumGumClient.suggest` returns them."""
        return self._parsed

    def __repr__(self) -> str:
        return (
            f"<RawResponse status_code={self.status_code} request_id={self.request_id!r} "
            f"attempts={self.attempts} elapsed={self.elapsed:.3f}>"
        )


class _Suggests(Protocol):
    def suggest(
        self, request: SuggestionRequest | Mapping[str, Any]
    ) -> Awaitable[SuggestionResponse]:
        """As ``DumGumClient.suggest``."""
        ...


class _Client(Protocol):
    """What ``RawResponses`` needs of a ``DumGumClient``."""

    @property
    def _opts(self) -> CallOptions: ...

    def _view(self, opts: CallOptions, *, batch: bool) -> _Suggests: ...


class RawResponses:
    """``client.with_raw_response``: the client's calls, answering :class:`RawResponse`."""

    __slots__ = ("_client",)

    def __init__(self, client: _Client) -> None:
        self._client = client

    async def suggest(
        self,
        request: SuggestionRequest | Mapping[str, Any],
        *,
        retry: RetryPolicy | NotGiven | None = NOT_GIVEN,
        timeout: float | _dt.timedelta | Timeout | NotGiven | None = NOT_GIVEN,
        extra_headers: Mapping[str, str] | NotGiven | None = NOT_GIVEN,
    ) -> RawResponse:
        """As :meth:`DumGumClient.suggest`, with the HTTP details of the answer.

        Raises:
            DumGumError: As :meth:`DumGumClient.suggest` (an error status included).
        """
        client = self._client
        capture = Capture()
        opts = client._opts.for_call(retry, timeout, extra_headers, stacklevel=2)
        opts = opts.capturing(capture)
        loop = asyncio.get_running_loop()
        started = loop.time()
        # Made through a view whose options record the attempts: suggest's own path.
        parsed = await client._view(opts, batch=False).suggest(request)
        headers = safe_headers(capture.headers, opts.api_key)
        return RawResponse(
            status_code=capture.status,
            headers=headers,
            request_id=request_id_of(headers),
            attempts=capture.attempts,
            elapsed=loop.time() - started,
            parsed=parsed,
        )
