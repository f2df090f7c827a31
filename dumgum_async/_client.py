"""The client: validation, one call's life, and the session's lifecycle."""

from __future__ import annotations

import asyncio
import datetime as _dt
from collections.abc import AsyncGenerator, AsyncIterable, Iterable, Mapping
from types import TracebackType
from typing import Any, Final, TypeVar

from dumgum_async import _batch, _converter
from dumgum_async._batch import BatchResult, ProgressCallback
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
    TIMEOUT_ERRORS,
    USER_AGENT,
    ClientSession,
    Response,
    Transport,
    parse_retry_after,
    safe_headers,
)
from dumgum_async._models import SuggestionRequest, SuggestionResponse
from dumgum_async._retry import BudgetTracker, is_retryable, reason, retry_after_failure
from dumgum_async._stats import ClientStats, StatsSnapshot
from dumgum_async._throttle import Limiter, LocalLimiter
from dumgum_async.exceptions import (
    APIError,
    APIStatusError,
    APITimeoutError,
    ClientClosedError,
    ConfigurationError,
    DumGumError,
    Problem,
    RequestValidationError,
    ResponseDecodeError,
    status_error_class,
)

_In = TypeVar("_In", SuggestionRequest, Mapping[str, Any])


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


def _slots_for(max_concurrency: int, session: ClientSession | None) -> int:
    # A rate-limit token taken while no connection is free would wait in aiohttp's
    # pool and leave later in a burst: never hold more slots than the caller's
    # session has connections (0 means unlimited in aiohttp).
    connector = session.connector if session is not None else None
    if connector is None:
        return max_concurrency
    return min([max_concurrency, *(n for n in (connector.limit, connector.limit_per_host) if n)])


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
        max_concurrency: Requests in flight at once for this client; never more
            than the connection limit of a ``session`` you pass.
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
        self._slot_count = _slots_for(max_concurrency, session)
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
        # Batch workers queue for a token one at a time, behind interactive calls.
        self._batch_gate: asyncio.Lock | None = None
        self._stats = ClientStats()
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

    @property
    def stats(self) -> StatsSnapshot:
        """Counters of this client's calls so far: attempts, retries by reason, 429s,
        failures by type and latency percentiles."""
        return self._stats.snapshot()

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
            self._batch_gate = asyncio.Lock()
            self._slots = asyncio.Semaphore(self._slot_count)

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
        policy = self._policy(retry)
        attempt_timeout = self._timeout if timeout is None else seconds(timeout, "timeout")
        assert attempt_timeout is not None
        self._stats.calls += 1
        try:
            body = self.prepare(request)
            return await self._call(body, policy, attempt_timeout, batch=False)
        except DumGumError as exc:
            self._stats.failed[type(exc).__name__] += 1
            raise

    def _policy(self, retry: RetryPolicy | _Unset | None) -> RetryPolicy | None:
        if retry is UNSET:
            return self._retry
        if retry is None or isinstance(retry, RetryPolicy):
            return retry
        raise ConfigurationError(f"retry must be a RetryPolicy or None, got {retry!r}")

    async def _call(
        self, body: bytes, policy: RetryPolicy | None, timeout: float, *, batch: bool
    ) -> SuggestionResponse:
        self._open()
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline_at = None
        if policy is not None and policy.deadline is not None:
            deadline_at = started + policy.deadline

        budget = self._budget if policy is not None and policy.budget is not None else None
        if budget is not None:
            budget.record_call()
        try:
            result = await self._attempt(body, timeout, deadline_at, batch=batch)
        except APIError as exc:
            if policy is None or policy.max_attempts < 2 or not is_retryable(exc):
                raise
            first: APIError = exc
        else:
            self._stats.record_success(loop.time() - started)
            return result
        assert self._limiter is not None

        async def attempt() -> SuggestionResponse:
            return await self._attempt(body, timeout, deadline_at, batch=batch)

        result = await retry_after_failure(
            first,
            attempt,
            policy=policy,
            budget=budget,
            limiter=self._limiter,
            deadline_at=deadline_at,
            on_retry=self._count_retry,
        )
        self._stats.record_success(loop.time() - started)
        return result

    def _count_retry(self, exc: BaseException) -> None:
        self._stats.retries[reason(exc)] += 1

    async def _attempt(
        self, body: bytes, timeout: float, deadline_at: float | None, *, batch: bool
    ) -> SuggestionResponse:
        slots, limiter = self._slots, self._limiter
        if slots is None or limiter is None:
            raise ClientClosedError("this DumGumClient is closed; create a new one")
        self._stats.attempts += 1
        acquire = self._acquire_for_batch if batch else limiter.acquire
        if deadline_at is None:
            # The common path: no deadline arithmetic, no extra tasks.
            async with slots:
                await acquire()
                response = await self._transport.post(
                    self._url, body, self._headers, timeout=timeout
                )
            return self._interpret(response)
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(slots.acquire(), self._left(deadline_at, loop))
        except TIMEOUT_ERRORS:
            raise self._deadline_error("waiting for a concurrency slot") from None
        try:
            try:
                await asyncio.wait_for(acquire(), self._left(deadline_at, loop))
            except TIMEOUT_ERRORS:
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

    async def _acquire_for_batch(self) -> None:
        # One batch worker at a time waits in the limiter, so an interactive call
        # arriving meanwhile is at most one batch request behind, not a whole batch.
        gate, limiter = self._batch_gate, self._limiter
        assert gate is not None
        assert limiter is not None
        async with gate:
            await limiter.acquire()

    @staticmethod
    def _left(deadline_at: float, loop: asyncio.AbstractEventLoop) -> float:
        return max(deadline_at - loop.time(), 0.0)

    def _deadline_error(self, during: str) -> APITimeoutError:
        return APITimeoutError(f"the call's deadline passed while {during}", url=self._url)

    # --- batches --------------------------------------------------------------------

    def suggest_many(
        self,
        requests: Iterable[_In] | AsyncIterable[_In],
        *,
        concurrency: int = 32,
        ordered: bool = False,
        stop_on_error: bool = False,
        retry: RetryPolicy | _Unset | None = UNSET,
        timeout: float | _dt.timedelta | None = None,
        progress: ProgressCallback | None = None,
    ) -> AsyncGenerator[BatchResult[_In], None]:
        """Get suggestions for many conversations; yield each result as it is ready.

        ``requests`` is consumed lazily (any iterable or async iterable, a generator
        over millions of items included): memory holds only the items in flight
        and, with ``ordered``, a reorder window of at most ``2 * concurrency``.
        The client's rate limit, retry policy and retry budget apply; the batch
        queues for rate-limit tokens behind interactive :meth:`suggest` calls, and
        should use a ``concurrency`` below the client's ``max_concurrency`` (the
        default 32 leaves half of the default 64 slots to interactive calls).

        Breaking out of the loop, an exception in its body or cancelling the task
        stops the batch: in-flight calls are cancelled, no task is left behind.
        Cleanup runs when the iterator is closed; wrap it in
        ``contextlib.aclosing(...)`` to have it happen at the ``break`` itself.

        Args:
            requests: :class:`SuggestionRequest` objects or mappings in the API's
                JSON shape.
            concurrency: Items in flight at once.
            ordered: Yield results in input order instead of completion order.
            stop_on_error: Raise the first item's error instead of yielding it.
            retry: The batch's retry policy; omitted uses the client's.
            timeout: Per-attempt timeout; omitted uses the client's.
            progress: Called after each result with (results so far, result).

        Yields:
            :class:`BatchResult` objects: ``index``, ``request``, ``response``,
            ``error``, ``ok``.

        Raises:
            DumGumError: The first failure, only with ``stop_on_error``.
            ConfigurationError: A bad ``concurrency`` or ``retry``.
        """
        policy = self._policy(retry)
        attempt_timeout = self._timeout if timeout is None else seconds(timeout, "timeout")
        assert attempt_timeout is not None

        async def call(item: _In) -> SuggestionResponse:
            self._stats.calls += 1
            try:
                body = self._prepare_item(item)
                return await self._call(body, policy, attempt_timeout, batch=True)
            except DumGumError as exc:
                self._stats.failed[type(exc).__name__] += 1
                raise

        return _batch.stream(
            call,
            requests,
            concurrency=concurrency,
            ordered=ordered,
            stop_on_error=stop_on_error,
            progress=progress,
        )

    async def suggest_all(
        self,
        requests: Iterable[_In] | AsyncIterable[_In],
        *,
        concurrency: int = 32,
        stop_on_error: bool = False,
        retry: RetryPolicy | _Unset | None = UNSET,
        timeout: float | _dt.timedelta | None = None,
        progress: ProgressCallback | None = None,
    ) -> list[BatchResult[_In]]:
        """Like :meth:`suggest_many`, but return every result in input order.

        The results are all held in memory; prefer :meth:`suggest_many` for large
        inputs.

        Raises:
            DumGumError: The first failure, only with ``stop_on_error``.
        """
        results: list[BatchResult[_In]] = []
        stream = self.suggest_many(
            requests,
            concurrency=concurrency,
            ordered=True,
            stop_on_error=stop_on_error,
            retry=retry,
            timeout=timeout,
            progress=progress,
        )
        try:
            async for result in stream:
                results.append(result)
        finally:
            await stream.aclose()
        return results

    def _prepare_item(self, item: object) -> bytes:
        # In a batch a wrong item is that item's failure, not a crash of the batch.
        if not isinstance(item, SuggestionRequest | Mapping):
            raise RequestValidationError(
                [
                    Problem(
                        (),
                        f"expected a SuggestionRequest or a JSON object, got {type(item).__name__}",
                    )
                ]
            )
        return self.prepare(item)

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
        if response.status == 429:
            self._stats.rate_limited += 1
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
