"""``suggest_many`` and ``suggest_all``: the batch methods of ``DumGumClient``.

Each item of a batch is one call of a view of the client (``_view(opts,
batch=True)``), so it takes ``suggest``'s own path and queues for rate-limit tokens
as a batch; the engine that pulls items, bounds what is in flight and orders the
results is ``_batch.stream``.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import AsyncGenerator, AsyncIterable, Awaitable, Iterable, Mapping
from typing import Any, Final, Protocol, TypedDict, TypeVar, Unpack

from dumgum_async._batch import BatchResult, ProgressCallback, stream
from dumgum_async._config import (
    DEFAULT_BATCH_CONCURRENCY,
    NOT_GIVEN,
    NotGiven,
    RetryPolicy,
    Timeout,
)
from dumgum_async._gate import AttemptBudget
from dumgum_async._models import SuggestionRequest, SuggestionResponse
from dumgum_async._options import CallOptions
from dumgum_async.exceptions import (
    AuthenticationError,
    ClientClosedError,
    PermissionDeniedError,
)

#: What ``DumGumClient``'s batches take: models or mappings in the API's JSON shape.
_Item = TypeVar("_Item", SuggestionRequest, Mapping[str, Any])


class _Caller(Protocol):
    def suggest(
        self, request: SuggestionRequest | Mapping[str, Any]
    ) -> Awaitable[SuggestionResponse]:
        """As ``DumGumClient.suggest``."""
        ...


class _AllOptions(TypedDict, total=False):
    """``suggest_all``'s keywords: ``suggest_many``'s but ``ordered``.

    Only names and types: the defaults live once, in ``suggest_many``'s signature,
    and the type checkers hold this list to it where ``suggest_all`` forwards it.
    """

    concurrency: int
    stop_on_error: bool
    retry: RetryPolicy | NotGiven | None
    timeout: float | _dt.timedelta | Timeout | NotGiven | None
    extra_headers: Mapping[str, str] | NotGiven | None
    progress: ProgressCallback | None
    max_requests: int | None


#: The keywords ``suggest_all`` forwards; any other is refused there.
_ALL_KEYS: Final = frozenset(_AllOptions.__annotations__)


#: Errors after which every further call of a batch would fail the same way.
_FATAL: Final = (AuthenticationError, PermissionDeniedError, ClientClosedError)


class BatchCalls:
    """The batch methods of ``DumGumClient``: each item is one call of a view of the
    client (``_view``) that queues for rate-limit tokens as a batch."""

    _opts: CallOptions

    def _view(self, opts: CallOptions, *, batch: bool) -> _Caller:
        raise NotImplementedError  # DumGumClient's

    def suggest_many(
        self,
        requests: Iterable[_Item] | AsyncIterable[_Item],
        *,
        concurrency: int = DEFAULT_BATCH_CONCURRENCY,
        ordered: bool = False,
        stop_on_error: bool = False,
        retry: RetryPolicy | NotGiven | None = NOT_GIVEN,
        timeout: float | _dt.timedelta | Timeout | NotGiven | None = NOT_GIVEN,
        extra_headers: Mapping[str, str] | NotGiven | None = NOT_GIVEN,
        progress: ProgressCallback | None = None,
        max_requests: int | None = None,
    ) -> AsyncGenerator[BatchResult[_Item], None]:
        """Get suggestions for many conversations; yield each result as it is ready.

        ``requests`` is consumed lazily (any iterable or async iterable, a generator
        over millions of items included): memory holds only the items in flight
        and, with ``ordered``, a reorder window of at most ``2 * concurrency``.
        The client's rate limit, retry policy and retry budget apply; the batch
        queues for rate-limit tokens behind interactive :meth:`suggest` calls, and
        should use a ``concurrency`` below the client's ``max_concurrency`` (the
        default 32 leaves half of the default 64 slots to interactive calls).

        A rejected key (:class:`AuthenticationError`, 401), a forbidden endpoint
        (:class:`PermissionDeniedError`, 403) or a closed client
        (:class:`ClientClosedError`) would fail every further item, so after the
        first of them no new item is started: the items already in flight finish
        and are yielded as usual (the fatal one included, as a failed result), then
        the iterator raises that error. Items never started are never yielded.

        While the client's circuit breaker is open, items wait for the API to come
        back instead of failing, within their retry policy's ``deadline`` if it has
        one (without one they wait as long as the outage lasts); that wait spends
        neither their attempts nor the retry budget. With ``retry=None`` an item
        still waits for the breaker, but a failure is final.

        ``max_requests`` bounds the HTTP attempts of the batch, retries included, so
        a misconfigured job cannot spend without bound: once they are spent no
        further attempt starts, items in flight fail with
        :class:`BudgetExhaustedError` (or finish, if already answered), items not
        started are not yielded, and the iterator raises that error
        (``.max_requests``, ``.attempts``).

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
            timeout: Per-attempt timeout (seconds, a ``timedelta`` or a
                :class:`Timeout`); omitted uses the client's (``None`` too, deprecated).
            extra_headers: Headers merged over the client's for every item, as for
                :meth:`suggest`.
            progress: Called after each result with (results so far, result).
            max_requests: The batch's budget of HTTP attempts; None: unbounded.

        Yields:
            :class:`BatchResult` objects: ``index``, ``request``, ``response``,
            ``error``, ``ok``.

        Raises:
            AuthenticationError: The API rejected the key; after the items in flight.
            PermissionDeniedError: The key may not use the endpoint; likewise.
            ClientClosedError: The client was closed during the batch; likewise.
            BudgetExhaustedError: ``max_requests`` attempts were made; after the
                items in flight.
            DumGumError: The first failure, only with ``stop_on_error``.
            ConfigurationError: A bad ``concurrency``, ``retry``, ``timeout``,
                ``max_requests`` or header; raised here, before the batch starts.
        """
        opts = self._opts.for_call(retry, timeout, extra_headers, stacklevel=2)
        budget = None if max_requests is None else AttemptBudget(max_requests)
        # A batch's items are the calls of a view that queues for tokens as a batch.
        call = self._view(opts, batch=True).suggest
        return stream(
            call,
            requests,
            concurrency=concurrency,
            ordered=ordered,
            stop_on_error=stop_on_error,
            progress=progress,
            fatal=_FATAL,
            budget=budget,
        )

    async def suggest_all(
        self,
        requests: Iterable[_Item] | AsyncIterable[_Item],
        **options: Unpack[_AllOptions],
    ) -> list[BatchResult[_Item]]:
        """Like :meth:`suggest_many`, but return every result in input order.

        The results are all held in memory; prefer :meth:`suggest_many` for large
        inputs.

        Args:
            requests: As for :meth:`suggest_many`.
            **options: Any keyword of :meth:`suggest_many` but ``ordered``
                (``concurrency``, ``stop_on_error``, ``retry``, ``timeout``,
                ``extra_headers``, ``progress``, ``max_requests``), with the same
                defaults and meaning.

        Raises:
            AuthenticationError: As for :meth:`suggest_many`; the results are lost.
            PermissionDeniedError: Likewise.
            ClientClosedError: Likewise.
            BudgetExhaustedError: ``max_requests`` attempts were made; likewise.
            DumGumError: The first failure, only with ``stop_on_error``.
            ConfigurationError: As for :meth:`suggest_many`.
        """
        unexpected = sorted(options.keys() - _ALL_KEYS)
        if unexpected:
            # Refused here, in suggest_all's name: suggest_many would blame itself
            # ("multiple values for 'ordered'", "unexpected ... 'concurency'"),
            # which the caller did not call.
            raise TypeError(f"suggest_all() got an unexpected keyword argument {unexpected[0]!r}")
        if "timeout" in options and options["timeout"] is None:
            # Warned here, where the caller's line is one frame up.
            self._opts.for_call(NOT_GIVEN, None, NOT_GIVEN, stacklevel=2)
            options["timeout"] = NOT_GIVEN
        results: list[BatchResult[_Item]] = []
        results_of = self.suggest_many(requests, ordered=True, **options)
        try:
            async for result in results_of:
                results.append(result)
        finally:
            await results_of.aclose()
        return results
