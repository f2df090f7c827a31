"""A call's answer with the HTTP details around it (``client.with_raw_response``)."""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Concatenate, Generic, ParamSpec, Protocol, Self, overload

from dumgum_async._interpret import request_id_of, safe_headers
from dumgum_async._models import SuggestionResponse
from dumgum_async._options import CallOptions, Capture

_P = ParamSpec("_P")


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


class _Client(Protocol):
    """What a raw-response call needs of a ``DumGumClient``."""

    @property
    def _opts(self) -> CallOptions: ...

    def _view(self, opts: CallOptions, *, batch: bool) -> object: ...


class _HasClient(Protocol):
    """What a :class:`RawCall` is an attribute of: ``client.with_raw_response``."""

    @property
    def _client(self) -> _Client: ...


class RawCall(Generic[_P]):
    """A call method of ``client.with_raw_response``: the client's method, answering
    a :class:`RawResponse`.

    The method's signature exists once, on the client: its raw form takes the same
    parameters (for type checkers, ``help()`` and IDEs alike) and calls the method
    on a view of the client whose options record the attempts, so the call takes
    that method's own path.
    """

    __slots__ = ("_doc", "_method", "_signature")

    def __init__(
        self, method: Callable[Concatenate[Any, _P], Awaitable[SuggestionResponse]]
    ) -> None:
        self._method = method
        # Worked out once, when the client's class is made, not per call.
        signature = inspect.signature(method)
        self._signature = signature.replace(
            parameters=tuple(signature.parameters.values())[1:],  # not self
            return_annotation="RawResponse",
        )
        own = inspect.cleandoc(method.__doc__ or "")
        self._doc = (
            f"As :meth:`DumGumClient.{method.__name__}`, answering a :class:`RawResponse` "
            f"(the HTTP details of the answer, and ``parse()``).\n\n{own}"
        )

    @overload
    def __get__(self, owner: None, kind: type) -> Self: ...

    @overload
    def __get__(
        self, owner: _HasClient, kind: type | None = None
    ) -> Callable[_P, Awaitable[RawResponse]]: ...

    def __get__(
        self, owner: _HasClient | None, kind: type | None = None
    ) -> Self | Callable[_P, Awaitable[RawResponse]]:
        if owner is None:
            return self
        method = self._method
        client = owner._client

        @functools.wraps(method)
        async def raw(*args: _P.args, **kwargs: _P.kwargs) -> RawResponse:
            capture = Capture()
            view = client._view(client._opts.capturing(capture), batch=False)
            # Not the loop's clock: uvloop's counts whole milliseconds.
            started = time.monotonic()
            parsed = await method(view, *args, **kwargs)
            headers = safe_headers(capture.headers, client._opts.api_key)
            return RawResponse(
                status_code=capture.status,
                headers=headers,
                request_id=request_id_of(headers),
                attempts=capture.attempts,
                elapsed=time.monotonic() - started,
                parsed=parsed,
            )

        raw.__doc__ = self._doc
        raw.__signature__ = self._signature  # type: ignore[attr-defined]
        return raw
