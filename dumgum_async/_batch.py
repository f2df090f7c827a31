"""The batch engine: many calls at once from a lazy source, with flat memory.

Workers pull items one at a time from the source, so a generator over a million
conversations is never materialised. A window semaphore is taken before an item
is pulled and given back only when its result has been handed to the caller:
at most ``window`` items exist at once (in flight, or finished and waiting),
whatever the input size and however slow the consumer.

A *fatal* error (one that every further item would meet too: a rejected key, a
closed client) stops the batch without burning the rest of the input: no new
item is started, the items in flight finish and are yielded, then the error is
raised.

A *budget* (``max_requests``) bounds the HTTP attempts of the batch's calls,
retries included: the client asks :func:`spend_attempt` as each attempt queues
for a slot and a token (so that once it is spent no item waits for a token only
to fail; an attempt whose deadline passes while it queues counts, unsent), and
the batch's workers carry their :class:`AttemptBudget` in a context variable, so
the client needs no parameter for it and calls outside the batch are not counted.
Once it is spent, the next attempt fails with :class:`BudgetExhaustedError`
instead of starting, no new item is pulled, and the batch stops like on a fatal
error.
"""

from __future__ import annotations

import asyncio
import contextvars
import datetime as _dt
import warnings
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
)
from typing import (
    TYPE_CHECKING,
    Any,
    ClassVar,
    Final,
    Generic,
    Literal,
    Protocol,
    TypeAlias,
    TypeVar,
)

import attrs

from dumgum_async._config import (
    DEFAULT_BATCH_CONCURRENCY,
    NOT_GIVEN,
    NotGiven,
    RetryPolicy,
    Timeout,
)
from dumgum_async._models import SuggestionRequest, SuggestionResponse
from dumgum_async._options import CallOptions
from dumgum_async.exceptions import (
    AuthenticationError,
    BudgetExhaustedError,
    ClientClosedError,
    ConfigurationError,
    DumGumError,
    PermissionDeniedError,
)

_In = TypeVar("_In")
#: What ``DumGumClient``'s batches take: models or mappings in the API's JSON shape.
_Item = TypeVar("_Item", SuggestionRequest, Mapping[str, Any])


@attrs.frozen
class BatchSuccess(Generic[_In]):
    """An item of a batch that got suggestions.

    Attributes:
        index: The item's position in the input, from 0.
        request: The item as it was given.
        response: The suggestions.
        error: Always None.
        ok: Always True.
    """

    index: int
    request: _In
    response: SuggestionResponse
    error: ClassVar[None] = None
    ok: ClassVar[Literal[True]] = True

    @property
    def suggestions(self) -> tuple[str, ...]:
        """The suggestions."""
        return self.response.suggestions


@attrs.frozen
class BatchFailure(Generic[_In]):
    """An item of a batch that failed.

    Attributes:
        index: The item's position in the input, from 0.
        request: The item as it was given.
        error: The typed error.
        response: Always None.
        ok: Always False.
    """

    index: int
    request: _In
    error: DumGumError
    response: ClassVar[None] = None
    ok: ClassVar[Literal[False]] = False

    @property
    def suggestions(self) -> tuple[str, ...]:
        """An empty tuple: a failed item has no suggestions."""
        return ()


# Two classes, not one with optional fields, so that a type checker narrows the
# union on ``result.ok`` (mypy), ``result.ok is True``, ``result.error is None`` or
# ``isinstance`` (mypy and pyright; pyright does not narrow on the bare truthiness
# of an attribute, by design: microsoft/pyright#6113).
if TYPE_CHECKING:
    BatchResult: TypeAlias = BatchSuccess[_In] | BatchFailure[_In]
else:

    class _BatchResultType(type):
        """Keeps ``BatchResult`` a class at run time: ``isinstance`` and subscripts work,
        and calling it (deprecated) builds the matching result type."""

        def __instancecheck__(cls, obj: object) -> bool:
            return isinstance(obj, BatchSuccess | BatchFailure)

        def __subclasscheck__(cls, sub: type) -> bool:
            return issubclass(sub, BatchSuccess | BatchFailure)

        def __call__(
            cls,
            index: int,
            request: Any,
            response: SuggestionResponse | None = None,
            error: DumGumError | None = None,
        ) -> Any:
            warnings.warn(
                "constructing BatchResult is deprecated; construct BatchSuccess or "
                "BatchFailure (BatchResult stays as their union, for annotations)",
                DeprecationWarning,
                stacklevel=2,
            )
            if error is not None:
                return BatchFailure(index, request, error)
            if response is None:
                raise TypeError("BatchResult needs a response or an error")
            return BatchSuccess(index, request, response)

    class BatchResult(metaclass=_BatchResultType):
        """The outcome of one item of a batch: a :class:`BatchSuccess` or a
        :class:`BatchFailure` (a type alias of their union, for type checkers).

        Both have ``index``, ``request``, ``response`` (None on failure), ``error``
        (None on success), ``ok`` and ``suggestions`` (empty on failure).
        """

        def __class_getitem__(cls, item: Any) -> Any:
            return BatchSuccess[item] | BatchFailure[item]


#: Called after each result is handed out: (results so far, that result).
ProgressCallback = Callable[[int, BatchResult[Any]], None]


class _SourceFailed:
    """The source (or something other than an API call) raised: the batch must stop."""

    __slots__ = ("exc",)

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


_DONE = object()


class AttemptBudget:
    """At most ``limit`` HTTP attempts for one batch; counts the ones it allowed."""

    __slots__ = ("attempts", "limit")

    def __init__(self, limit: int) -> None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ConfigurationError(f"max_requests must be an integer >= 1, got {limit!r}")
        self.limit = limit
        self.attempts = 0

    @property
    def exhausted(self) -> bool:
        """True once every allowed attempt has been made."""
        return self.attempts >= self.limit

    def error(self) -> BudgetExhaustedError:
        """The error saying the budget is spent, with its counts."""
        return BudgetExhaustedError(
            f"the batch's budget of {self.limit} HTTP attempts (max_requests, retries "
            "included) is spent: no further request was sent",
            max_requests=self.limit,
            attempts=self.attempts,
        )

    def spend(self) -> None:
        """Count one attempt about to queue for a slot and a rate-limit token.

        Raises:
            BudgetExhaustedError: None is left; the attempt must not start.
        """
        if self.attempts >= self.limit:
            raise self.error()
        self.attempts += 1


_budget: contextvars.ContextVar[AttemptBudget | None] = contextvars.ContextVar(
    "dumgum_async_attempt_budget", default=None
)


def spend_attempt() -> None:
    """Count an attempt against the running batch's budget, if it has one.

    Raises:
        BudgetExhaustedError: The budget is spent; the attempt must not start.
    """
    budget = _budget.get()
    if budget is not None:
        budget.spend()


async def stream(
    call: Callable[[_In], Awaitable[SuggestionResponse]],
    requests: Iterable[_In] | AsyncIterable[_In],
    *,
    concurrency: int,
    ordered: bool,
    stop_on_error: bool,
    progress: ProgressCallback | None,
    fatal: tuple[type[DumGumError], ...] = (),
    budget: AttemptBudget | None = None,
) -> AsyncGenerator[BatchResult[_In], None]:
    """Run ``call`` over ``requests``; yield each :class:`BatchResult` as it is ready.

    After the first error that is an instance of one of ``fatal``, no new item is
    started; the items in flight finish and are yielded (the fatal one included),
    then that error is raised. Items never started are never yielded. ``budget``
    spent is fatal in the same way (:class:`BudgetExhaustedError`).

    Raises:
        ConfigurationError: ``concurrency`` below 1.
        BudgetExhaustedError: ``budget`` is spent; after the items in flight.
        DumGumError: The first failure, when ``stop_on_error`` is set; the first
            ``fatal`` one, after the items in flight.
        Exception: Whatever the source raised while being iterated.
    """
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ConfigurationError(f"concurrency must be an integer >= 1, got {concurrency!r}")
    pull = _puller(requests)
    # Ordered output may hold finished items back behind a slow one: give it room.
    window = asyncio.Semaphore(2 * concurrency if ordered else concurrency)
    results: asyncio.Queue[Any] = asyncio.Queue()
    pull_lock = asyncio.Lock()
    next_index = 0
    running = concurrency
    stopped_by: DumGumError | None = None

    async def worker() -> None:
        nonlocal next_index, running, stopped_by
        try:
            while True:
                await window.acquire()
                async with pull_lock:
                    if stopped_by is not None:
                        window.release()
                        return
                    try:
                        item = await pull()
                    except StopAsyncIteration:
                        window.release()
                        return
                    except Exception as exc:
                        window.release()
                        results.put_nowait(_SourceFailed(exc))
                        return
                    if budget is not None and budget.exhausted:
                        # Checked with an item in hand: a budget that ran out just as
                        # the input did stops nothing.
                        stopped_by = stopped_by or budget.error()
                        window.release()
                        return
                    index = next_index
                    next_index += 1
                result: BatchResult[_In]
                try:
                    result = BatchSuccess(index, item, await call(item))
                except DumGumError as exc:
                    result = BatchFailure(index, item, exc)
                    if stopped_by is None and isinstance(exc, (*fatal, BudgetExhaustedError)):
                        stopped_by = exc
                except Exception as exc:  # a bug, not an API failure: stop the batch
                    results.put_nowait(_SourceFailed(exc))
                    return
                results.put_nowait(result)
        finally:
            running -= 1
            if running == 0:
                results.put_nowait(_DONE)

    # Each worker task runs in a copy of this context: the budget goes with them
    # (and so with every attempt of their calls), never back to the caller.
    token = _budget.set(budget)
    try:
        workers = [asyncio.create_task(worker()) for _ in range(concurrency)]
    finally:
        _budget.reset(token)
    done = 0
    held: dict[int, BatchResult[_In]] = {}
    expected = 0
    try:
        while True:
            got = await results.get()
            if got is _DONE:
                if stopped_by is not None:
                    raise stopped_by
                break
            if isinstance(got, _SourceFailed):
                raise got.exc
            if stop_on_error and got.error is not None:
                raise got.error
            if not ordered:
                window.release()
                done += 1
                if progress is not None:
                    progress(done, got)
                yield got
                continue
            held[got.index] = got
            while expected in held:
                ready = held.pop(expected)
                expected += 1
                window.release()
                done += 1
                if progress is not None:
                    progress(done, ready)
                yield ready
    finally:
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)


def _puller(requests: Iterable[_In] | AsyncIterable[_In]) -> Callable[[], Awaitable[_In]]:
    """One ``await pull()`` per item, for sync and async sources alike."""
    if isinstance(requests, AsyncIterable):
        aiterator = aiter(requests)
        return aiterator.__anext__
    if not isinstance(requests, Iterable):
        raise TypeError(f"requests must be an iterable or async iterable, got {requests!r}")
    iterator = iter(requests)

    async def pull() -> _In:
        try:
            return next(iterator)
        except StopIteration:
            raise StopAsyncIteration from None

    return pull


class _Caller(Protocol):
    def suggest(
        self, request: SuggestionRequest | Mapping[str, Any]
    ) -> Awaitable[SuggestionResponse]:
        """As ``DumGumClient.suggest``."""
        ...


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
        *,
        concurrency: int = DEFAULT_BATCH_CONCURRENCY,
        stop_on_error: bool = False,
        retry: RetryPolicy | NotGiven | None = NOT_GIVEN,
        timeout: float | _dt.timedelta | Timeout | NotGiven | None = NOT_GIVEN,
        extra_headers: Mapping[str, str] | NotGiven | None = NOT_GIVEN,
        progress: ProgressCallback | None = None,
    ) -> list[BatchResult[_Item]]:
        """Like :meth:`suggest_many`, but return every result in input order.

        The results are all held in memory; prefer :meth:`suggest_many` for large
        inputs.

        Raises:
            AuthenticationError: As for :meth:`suggest_many`; the results are lost.
            PermissionDeniedError: Likewise.
            ClientClosedError: Likewise.
            DumGumError: The first failure, only with ``stop_on_error``.
        """
        if timeout is None:
            # Warned here, where the caller's line is one frame up.
            self._opts.for_call(NOT_GIVEN, None, NOT_GIVEN, stacklevel=2)
            timeout = NOT_GIVEN
        results: list[BatchResult[_Item]] = []
        results_of = self.suggest_many(
            requests,
            concurrency=concurrency,
            ordered=True,
            stop_on_error=stop_on_error,
            retry=retry,
            timeout=timeout,
            extra_headers=extra_headers,
            progress=progress,
        )
        try:
            async for result in results_of:
                results.append(result)
        finally:
            await results_of.aclose()
        return results
