"""The client: validation, one call's life, and the session's lifecycle."""

from __future__ import annotations

import asyncio
import datetime as _dt
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Final

from dumgum_async import _converter
from dumgum_async._config import (
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_TIMEOUT,
    SUGGESTION_PATH,
    RateLimit,
    RetryPolicy,
    resolve_api_key,
    resolve_base_url,
    seconds,
)
from dumgum_async._http import (
    USER_AGENT,
    ClientSession,
    Response,
    Transport,
    parse_retry_after,
    safe_headers,
)
from dumgum_async._models import SuggestionRequest, SuggestionResponse
from dumgum_async._retry import BudgetTracker, is_retryable, retry_after_failure
from dumgum_async._throttle import Limiter, LocalLimiter
from dumgum_async.exceptions import (
    APIError,
    APIStatusError,
    APITimeoutError,
    ClientClosedError,
    ConfigurationError,
    ResponseDecodeError,
    status_error_class,
)


class _Unset:
    def __repr__(self) -> str:
        return "<client default>"


#: Marks "use the client's setting" in per-call arguments, where None means "none".
UNSET: Final = _Unset()


class _Headers(dict[str, str]):
    """Request headers whose repr never shows the Authorization value."""

    def __repr__(self) -> str:
        return repr({k: ("<redacted>" if k == "Authorization" else v) for k, v in self.items()})

    __str__ = __repr__


class DumGumClient:
    """An asyncio client for the DumGum suggestion API.

    Use it as an async context manager, or call :meth:`aclose` when done. It opens
    its aiohttp session inside the running loop on first use; once closed it
    cannot be reopened.

    Args:
        api_key: The API key; defaults to ``DUMGUM_API_KEY`` from the environment.
        base_url: Defaults to ``DUMGUM_BASE_URL``, else ``https://api.dumgum.com``.
            Plain http is refused for hosts other than loopback unless
            ``allow_insecure_http`` is set.
        timeout: Seconds (or a ``timedelta``) one HTTP attempt may take. Waiting for
            a concurrency slot or a rate-limit token is not part of it.
        retry: How calls retry; None disables retries (see :class:`RetryPolicy`).
        rate_limit: Client-side throttle shared by all calls: a :class:`RateLimit`,
            or any object with ``async acquire()`` and ``pause(seconds)`` (a
            limiter shared with other processes, for instance).
        max_concurrency: Requests in flight at once for this client.
        session: An ``aiohttp.ClientSession`` you own; the client uses it and never
            closes it.
        strict_enums: Reject enum values this release does not know, in requests
            given as mappings; False passes them through untouched.
        max_response_bytes: Larger response bodies are an error, never read whole.
        allow_insecure_http: Allow plain http to a non-loopback host.

    Raises:
        ConfigurationError: No API key, a bad URL, or a setting out of range.
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float | _dt.timedelta = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = RetryPolicy(),  # noqa: B008 - frozen, shared safely
        rate_limit: RateLimit | Limiter | None = None,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        session: ClientSession | None = None,
        strict_enums: bool = True,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        allow_insecure_http: bool = False,
    ) -> None:
        key = resolve_api_key(api_key)
        self._base_url = resolve_base_url(base_url, allow_insecure_http=allow_insecure_http)
        self._url = self._base_url + SUGGESTION_PATH
        self._timeout = seconds(timeout, "timeout") or DEFAULT_TIMEOUT
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise ConfigurationError(f"retry must be a RetryPolicy or None, got {retry!r}")
        if rate_limit is not None and not isinstance(rate_limit, RateLimit | Limiter):
            raise ConfigurationError(
                f"rate_limit must be a RateLimit, a limiter or None, got {rate_limit!r}"
            )
        if isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int):
            raise ConfigurationError(f"max_concurrency must be an integer, got {max_concurrency!r}")
        if max_concurrency < 1:
            raise ConfigurationError(f"max_concurrency must be >= 1, got {max_concurrency}")
        if max_response_bytes < 1024:
            raise ConfigurationError("max_response_bytes must be at least 1024")
        self._retry = retry
        self._rate_limit = rate_limit
        self._max_concurrency = max_concurrency
        self._strict_enums = strict_enums
        self._headers = _Headers(
            {
                "Authorization": f"Bearer {key}",
                "Content-Type": "application/json",
                "Accept": "application/json",
                "User-Agent": USER_AGENT,
            }
        )
        self._transport = Transport(
            session=session,
            max_connections=max_concurrency,
            max_response_bytes=max_response_bytes,
        )
        self._budget = (
            BudgetTracker(retry.budget) if retry is not None and retry.budget is not None else None
        )
        self._slots: asyncio.Semaphore | None = None
        self._limiter: Limiter | None = None
        self._closed = False

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open" if self._transport.is_open else "new"
        return f"<DumGumClient base_url={self._base_url!r} {state}>"

    @property
    def base_url(self) -> str:
        """The API's base URL in use."""
        return self._base_url

    @property
    def closed(self) -> bool:
        """True once :meth:`aclose` was called."""
        return self._closed

    # --- lifecycle ------------------------------------------------------------------

    async def __aenter__(self) -> DumGumClient:
        self._open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def _open(self) -> None:
        if self._closed:
            raise ClientClosedError("this DumGumClient is closed; create a new one")
        if self._slots is None:
            self._transport.open()
            rate = self._rate_limit
            self._limiter = rate if isinstance(rate, Limiter) else LocalLimiter(rate)
            self._slots = asyncio.Semaphore(self._max_concurrency)

    async def aclose(self) -> None:
        """Close the client and its own session; safe to call more than once."""
        self._closed = True
        await self._transport.close()

    # --- calls ----------------------------------------------------------------------

    def prepare(self, request: SuggestionRequest | Mapping[str, Any]) -> bytes:
        """Validate ``request`` and return the exact body that would be sent.

        Raises:
            RequestValidationError: The request breaks the API's rules.
            TypeError: ``request`` is neither a model nor a mapping.
        """
        if isinstance(request, SuggestionRequest):
            return _converter.encode_request(request)
        if isinstance(request, Mapping):
            model = SuggestionRequest.from_dict(request, strict_enums=self._strict_enums)
            return _converter.encode_request(model)
        raise TypeError(
            "request must be a SuggestionRequest or a mapping in the API's JSON shape, "
            f"got {type(request).__name__}"
        )

    async def suggest(
        self,
        request: SuggestionRequest | Mapping[str, Any],
        *,
        retry: RetryPolicy | _Unset | None = UNSET,
        timeout: float | _dt.timedelta | None = None,
    ) -> SuggestionResponse:
        """Ask for reply suggestions for one conversation.

        Args:
            request: A :class:`SuggestionRequest`, or a mapping shaped like the
                API's JSON (validated first, every problem reported at once).
            retry: This call's retry policy; None disables retries; omitted uses the
                client's.
            timeout: This call's per-attempt timeout; omitted uses the client's.

        Returns:
            The suggestions.

        Raises:
            RequestValidationError: The request is invalid; nothing was sent.
            APIStatusError: The API answered with an error status (a subclass per
                status; see :mod:`dumgum_async.exceptions`).
            APITimeoutError: An attempt timed out.
            APIConnectionError: The API could not be reached.
            ResponseDecodeError: The API answered 2xx with a body we cannot read.
            ClientClosedError: The client was closed.
        """
        body = self.prepare(request)
        if retry is UNSET:
            policy = self._retry
        elif retry is None or isinstance(retry, RetryPolicy):
            policy = retry
        else:
            raise ConfigurationError(f"retry must be a RetryPolicy or None, got {retry!r}")
        attempt_timeout = self._timeout if timeout is None else seconds(timeout, "timeout")
        assert attempt_timeout is not None
        self._open()
        deadline_at = None
        if policy is not None and policy.deadline is not None:
            deadline_at = asyncio.get_running_loop().time() + policy.deadline

        async def attempt() -> SuggestionResponse:
            return await self._attempt(body, attempt_timeout, deadline_at)

        budget = self._budget if policy is not None and policy.budget is not None else None
        if budget is not None:
            budget.record_call()
        try:
            return await attempt()
        except APIError as exc:
            if policy is None or policy.max_attempts < 2 or not is_retryable(exc):
                raise
            first: APIError = exc
        assert self._limiter is not None
        return await retry_after_failure(
            first,
            attempt,
            policy=policy,
            budget=budget,
            limiter=self._limiter,
            deadline_at=deadline_at,
        )

    async def _attempt(
        self, body: bytes, timeout: float, deadline_at: float | None
    ) -> SuggestionResponse:
        slots, limiter = self._slots, self._limiter
        if slots is None or limiter is None:
            raise ClientClosedError("this DumGumClient is closed; create a new one")
        if deadline_at is None:
            # The common path: no deadline arithmetic, no extra tasks.
            async with slots:
                await limiter.acquire()
                response = await self._transport.post(
                    self._url, body, self._headers, timeout=timeout
                )
            return self._interpret(response)
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(slots.acquire(), self._left(deadline_at, loop))
        except TimeoutError:
            raise self._deadline_error("waiting for a concurrency slot") from None
        try:
            try:
                await asyncio.wait_for(limiter.acquire(), self._left(deadline_at, loop))
            except TimeoutError:
                raise self._deadline_error("waiting for a rate-limit token") from None
            left = self._left(deadline_at, loop)
            try:
                response = await self._transport.post(
                    self._url, body, self._headers, timeout=min(timeout, left)
                )
            except APITimeoutError:
                if left < timeout:
                    raise self._deadline_error("waiting for the response") from None
                raise
        finally:
            slots.release()
        return self._interpret(response)

    @staticmethod
    def _left(deadline_at: float, loop: asyncio.AbstractEventLoop) -> float:
        return max(deadline_at - loop.time(), 0.0)

    def _deadline_error(self, during: str) -> APITimeoutError:
        return APITimeoutError(f"the call's deadline passed while {during}", url=self._url)

    def _interpret(self, response: Response) -> SuggestionResponse:
        status = response.status
        if 200 <= status < 300:
            try:
                return _converter.decode_response(response.body)
            except _converter.BodyError as exc:
                raise ResponseDecodeError(
                    f"could not read the response from POST {self._url}: {exc}",
                    body_excerpt=_excerpt(response.body),
                    status_code=status,
                    url=self._url,
                ) from None
        raise self._status_error(response)

    def _status_error(self, response: Response) -> APIStatusError:
        headers = safe_headers(response.headers)
        text = response.body.decode("utf-8", "replace")
        cls = status_error_class(response.status)
        detail = " ".join(text[:200].split())
        return cls(
            f"HTTP {response.status} from POST {self._url}" + (f": {detail}" if detail else ""),
            status_code=response.status,
            body=text,
            headers=headers,
            retry_after=parse_retry_after(headers.get("Retry-After")),
            url=self._url,
        )


def _excerpt(body: bytes, limit: int = 200) -> str:
    text = body[:limit].decode("utf-8", "replace")
    return text + ("..." if len(body) > limit else "")
