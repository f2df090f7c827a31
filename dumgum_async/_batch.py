"""The batch engine: many calls at once from a lazy source, with flat memory.

Workers pull items one at a time from the source, so a generator over a million
conversations is never materialised. A window semaphore is taken before an item
is pulled and given back only when its result has been handed to the caller:
at most ``window`` items exist at once (in flight, or finished and waiting),
whatever the input size and however slow the consumer.

A *fatal* error (one that every further item would meet too: a rejected key, a
closed client) stops the batch without burning the rest of the input: no new
item is started, the items on the wire finish and are yielded, an item still
waiting (for a slot, a token, a retry's backoff, the breaker) is woken and not
sent (it fails with :class:`BatchStoppedError`), then the error is raised.

A *budget* (``max_requests``) bounds the HTTP attempts of the batch's calls,
retries included: the workers carry it, with whether the batch stopped, in the
context variable of ``_gate``, which the client asks as each attempt queues for a
slot and a token (so that once it is spent no item waits for a token only to fail;
an attempt whose deadline passes while it queues counts, unsent). Once it is
spent, the next attempt fails with :class:`BudgetExhaustedError` instead of
starting, no new item is pulled, and the batch stops like on a fatal error.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import AsyncGenerator, AsyncIterable, Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, TypeAlias, TypeVar

import attrs

from dumgum_async._gate import AttemptBudget, Gate, enter, leave
from dumgum_async._models import SuggestionResponse
from dumgum_async.exceptions import BudgetExhaustedError, ConfigurationError, DumGumError

_In = TypeVar("_In")


@attrs.frozen
class _BatchItem(Generic[_In]):
    """What every result of a batch says: which item it is."""

    #: The item's position in the input, from 0.
    index: int
    #: The item as it was given.
    request: _In


@attrs.frozen
class BatchSuccess(_BatchItem[_In]):
    """An item of a batch that got suggestions.

    Attributes:
        index: The item's position in the input, from 0.
        request: The item as it was given.
        response: The suggestions (``suggestions`` is a shortcut); ``error`` is
            always None and ``ok`` always True.
    """

    response: SuggestionResponse
    error: ClassVar[None] = None
    ok: ClassVar[Literal[True]] = True

    @property
    def suggestions(self) -> tuple[str, ...]:
        """The suggestions."""
        return self.response.suggestions


@attrs.frozen
class BatchFailure(_BatchItem[_In]):
    """An item of a batch that failed.

    Attributes:
        index: The item's position in the input, from 0.
        request: The item as it was given.
        error: The typed error; ``response`` is always None, ``ok`` always False
            and ``suggestions`` empty.
    """

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
    gate = Gate(budget)  # what the calls' attempts see (_gate.spend_attempt, sending)
    # The worker awaiting the source, if any: an async source may not yield for a
    # long time (a queue, a socket), and a stopped batch must not wait for it.
    pulling: asyncio.Task[None] | None = None
    interrupted = False
    # The workers inside call(item): stop() cancels those without an attempt on the
    # wire (gate.stopping), since an item waiting for a slot, a token, a retry's
    # backoff or the breaker would only fail with BatchStoppedError once its wait ends.
    calling: set[asyncio.Task[Any]] = set()

    def stop(exc: DumGumError) -> None:
        nonlocal stopped_by, interrupted
        if stopped_by is not None:
            return
        stopped_by = exc
        current = asyncio.current_task()
        if not isinstance(exc, BudgetExhaustedError):
            # A spent budget holds back only the attempts it did not count; a
            # refused key, every attempt not yet sent: those waiting are woken now.
            gate.stopped_by = exc
            for task in calling - gate.on_wire:
                # One being cancelled already (by close: it ends with ClientClosedError)
                # needs no cancel of ours.
                if task is not current and not task.cancelling():
                    gate.stopping.add(task)
                    task.cancel()
        if pulling is not None and pulling is not current:
            interrupted = True
            pulling.cancel()

    async def worker() -> None:
        nonlocal next_index, running, pulling, interrupted
        me = asyncio.current_task()
        assert me is not None
        try:
            while True:
                await window.acquire()
                async with pull_lock:
                    if stopped_by is not None:
                        window.release()
                        return
                    pulling = me
                    try:
                        item = await pull()
                    except StopAsyncIteration:
                        window.release()
                        return
                    except asyncio.CancelledError:
                        # Ours (stop() above) is a normal end; anyone else's goes on.
                        if interrupted and me.uncancel() == 0:
                            interrupted = False
                            window.release()
                            return
                        raise
                    except Exception as exc:
                        window.release()
                        if interrupted:  # our cancel, which the source made an error of
                            interrupted = False
                            me.uncancel()
                            return
                        results.put_nowait(_SourceFailed(exc))
                        return
                    finally:
                        pulling = None
                    if interrupted:
                        # Our cancel, which the source answered with an item anyway:
                        # the batch stopped, so it is not started (nor yielded).
                        interrupted = False
                        me.uncancel()
                        window.release()
                        return
                    if budget is not None and budget.exhausted:
                        # Checked with an item in hand: a budget that ran out just as
                        # the input did stops nothing.
                        stop(budget.error())
                        window.release()
                        return
                    index = next_index
                    next_index += 1
                result: BatchResult[_In]
                calling.add(me)
                try:
                    result = BatchSuccess(index, item, await call(item))
                except DumGumError as exc:
                    result = BatchFailure(index, item, exc)
                    if isinstance(exc, (*fatal, BudgetExhaustedError)):
                        stop(exc)
                except asyncio.CancelledError:
                    # Ours (stop() above), where the call did not make it its error
                    # itself: the item was not sent. Anyone else's goes on.
                    refused = gate.take_back(me)
                    if refused is None:
                        raise
                    result = BatchFailure(index, item, refused)
                except Exception as exc:  # a bug, not an API failure: stop the batch
                    results.put_nowait(_SourceFailed(exc))
                    return
                finally:
                    calling.discard(me)
                    if me in gate.stopping:  # the call swallowed our cancel: take it back
                        gate.stopping.discard(me)
                        me.uncancel()
                results.put_nowait(result)
        finally:
            running -= 1
            if running == 0:
                results.put_nowait(_DONE)

    # Each worker task runs in a copy of this context: the gate goes with them
    # (and so with every attempt of their calls), never back to the caller.
    token = enter(gate)
    try:
        workers = [asyncio.create_task(worker()) for _ in range(concurrency)]
    finally:
        leave(token)
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
