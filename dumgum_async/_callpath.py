"""One call's life, from the prepared body to the suggestions: ARCHITECTURE.md's steps 3-8.

``CallPath`` is the base of ``DumGumClient`` that makes a call: ``_call`` registers
it in flight and makes the first attempt from its own frame (the breaker's ticket,
then ``_exchange``), ``_after_failure`` hands a failure to
``_retry.retry_after_failure``, whose retries go through ``_attempt`` (the circuit
breaker, then ``_exchange``); ``_exchange`` is one attempt (slot, tokens, POST,
verdict), in which ``_interpret.interpret`` turns the answer into the result or the
error. What the attempts of one call share (the loop's state, the body, the options,
the deadline) travels as one ``_Call``; the deadline is one ``_deadline.Deadline``
(None without one), used by every wait.

This is the hot path: no await, object or lookup is added here per request
without measuring (``benchmarks/bench_client.py``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

import attrs

from dumgum_async import _gate
from dumgum_async._breaker import CLOSED, Breaker, Ticket
from dumgum_async._config import RetryPolicy
from dumgum_async._deadline import Deadline, expired
from dumgum_async._interpret import interpret, parse_retry_after
from dumgum_async._lifecycle import Lifecycle, LoopState
from dumgum_async._models import SuggestionResponse
from dumgum_async._options import CallOptions
from dumgum_async._retry import BudgetTracker, is_outage, reason, retry_after_failure
from dumgum_async._stats import ClientStats
from dumgum_async._throttle import Limiter
from dumgum_async.exceptions import (
    APIError,
    APITimeoutError,
    CircuitOpenError,
    ClientClosedError,
)

if TYPE_CHECKING:
    from dumgum_async._otel import Telemetry

# What ``client.stats`` and the telemetry's waits are measured with. Not the loop's
# clock: uvloop's counts whole milliseconds (libuv's), which rounded every latency
# to one. On CPython's own loops the two are the same clock (time.monotonic).
_now = time.monotonic

# What ``retry=None`` means to _retry on a client without a policy: one attempt, no
# budget; the Retry-After limits are the defaults'.
_NO_RETRIES = RetryPolicy(max_attempts=1, budget=None)


def _without_retries(client: RetryPolicy | None) -> RetryPolicy:
    """What a call's ``retry=None`` means to _retry: one attempt, no budget, and the
    client's own Retry-After limits (the pause a 429 causes holds back all its calls)."""
    if client is None:
        return _NO_RETRIES
    return attrs.evolve(client, max_attempts=1, budget=None)


class CallPath(Lifecycle):
    """The call half of ``DumGumClient`` (its ``__init__`` sets these attributes)."""

    _url: str
    _opts: CallOptions
    _limiter: Limiter
    _observe: Callable[[int, float | None], object] | None
    _breaker: Breaker | None
    _budget: BudgetTracker | None
    _stats: ClientStats
    _telemetry: Telemetry | None

    async def _call(self, body: bytes, opts: CallOptions, *, batch: bool) -> SuggestionResponse:
        # The first attempt is made from this frame (steps 3 to 5 of ARCHITECTURE.md):
        # each coroutine between suggest() and the POST costs a frame per request.
        bound = self._bound
        if bound is None or self._closed or bound.loop is not asyncio.get_running_loop():
            bound = await self._bind()
        task = asyncio.current_task()
        assert task is not None
        inflight = self._inflight
        inflight.add(task)
        try:
            loop = bound.loop
            policy = opts.retry
            started = _now()
            deadline = Deadline.of(policy, loop)
            # A batch outlasts an outage (waiting on the breaker) only if it may retry.
            patient = batch and policy is not None and policy.max_attempts > 1
            call = _Call(bound, body, opts, deadline, batch, patient)
            budget = self._budget if policy is not None and policy.budget is not None else None
            if budget is not None:
                budget.record_call()
            try:
                if patient:
                    result = await self._attempt(call)
                else:
                    # _attempt's loop, which only a patient call goes round, made once.
                    breaker = self._breaker
                    ticket: Ticket | None = None
                    queued = started
                    if breaker is not None:
                        admitted = breaker.admit()
                        if isinstance(admitted, Ticket):
                            ticket = admitted
                        else:
                            ticket = await self._admit(breaker, admitted, deadline, wait=batch)
                            queued = _now()  # the breaker's wait is not the attempt's
                    result = await self._exchange(call, ticket, queued)
            except APIError as exc:
                # Without retries a failure still goes through _retry's decision:
                # a 429's Retry-After pauses the client whatever this call does next.
                result = await self._after_failure(
                    exc, call, policy or _without_retries(self._opts.retry)
                )
            self._stats.record_success(_now() - started)
            return result
        except asyncio.CancelledError:
            if task in self._cancelled_by_close:
                self._cancelled_by_close.discard(task)
                # Only our own cancel becomes an error; anyone else's is passed on.
                if task.uncancel() == 0:
                    raise ClientClosedError(
                        "the DumGumClient was closed while this call was in flight"
                    ) from None
            if batch:
                # A batch stopped (a refused key) while this item waited, unsent.
                refused = _gate.stopped_while_queued(task)
                if refused is not None:
                    raise refused from None
            raise
        finally:
            inflight.discard(task)
            idle = self._idle
            if not inflight and idle is not None and not idle.done():
                idle.set_result(None)

    async def _after_failure(
        self, first: APIError, call: _Call, policy: RetryPolicy
    ) -> SuggestionResponse:
        budget = self._budget if policy.budget is not None else None
        # Whether to retry at all is _retry's decision too (a 400 is raised from there).
        return await retry_after_failure(
            first,
            partial(self._attempt, call),
            policy=policy,
            budget=budget,
            limiter=self._limiter,
            deadline=call.deadline,
            on_retry=self._count_retry,
            observer=_live(self._telemetry),  # --- telemetry: retry waits and 429 pauses
            before_retry=_gate.may_send if call.batch else None,
        )

    def _count_retry(self, exc: BaseException) -> None:
        self._stats.retries[reason(exc)] += 1

    async def _attempt(self, call: _Call) -> SuggestionResponse:
        breaker = self._breaker
        if breaker is None:
            return await self._exchange(call, None, _now())
        while True:
            admitted = breaker.admit()
            if not isinstance(admitted, Ticket):
                admitted = await self._admit(breaker, admitted, call.deadline, wait=call.batch)
            try:
                return await self._exchange(call, admitted, _now())
            except APIError as exc:
                if not (call.patient and is_outage(exc) and breaker.state != CLOSED):
                    raise
                # The outage is the breaker's to handle: wait for it to let a request
                # through again instead of spending one of this item's attempts.
                self._stats.retries["circuit open"] += 1

    async def _admit(
        self, breaker: Breaker, wait_for: float, deadline: Deadline | None, *, wait: bool
    ) -> Ticket:
        # Entered once breaker.admit() said to wait ``wait_for`` seconds.
        while True:
            if not wait or (deadline is not None and wait_for >= deadline.remaining()):
                raise CircuitOpenError(
                    "the circuit breaker is open after repeated failures of the API; "
                    f"next probe in {wait_for:.2f} s",
                    retry_after=wait_for,
                    retry_at=breaker.retry_at or 0.0,
                    url=self._url,
                    attempts=0,
                )
            await asyncio.sleep(wait_for)
            admitted = breaker.admit()
            if isinstance(admitted, Ticket):
                return admitted
            wait_for = admitted

    async def _exchange(
        self, call: _Call, ticket: Ticket | None, queued: float
    ) -> SuggestionResponse:
        """One attempt of ``call``, queued at ``queued`` (``_now``): a slot, a
        token, the POST and its reading; the breaker is told how the API did (not how
        long we queued: that is no evidence about it)."""
        bound, body, opts, deadline = call.bound, call.body, call.opts, call.deadline
        batch = call.batch
        slots = bound.slots
        telemetry = self._telemetry
        if telemetry is not None and not telemetry.live:
            telemetry = None  # nobody listens yet: the plain POST (Telemetry.listening)
        url = self._url
        verdict: bool | None = None  # for the breaker: stays None unless the API answered
        off_wire: Callable[[], object] | None = None  # a batch attempt's, once it is sent
        # Three instants (queued, sent, answered) split it into waiting and the wire.
        try:
            # A batch's max_requests, counted as the attempt queues,
            # so that once it is spent no queued item waits for a token to fail.
            # Only a batch item's call: the gate is a context variable, so a task the
            # source started, or a call the source made, sees it too, and is no
            # attempt of the batch's (not counted, not refused once it stopped).
            if batch:
                _gate.spend_attempt()
            if slots.free:  # taken inline: no coroutine when a slot is free
                slots.free -= 1
            elif deadline is None:
                await slots.wait()
            else:
                await deadline.within(slots.wait(), "waiting for a concurrency slot", url)
            try:
                slotted = _now() if telemetry is not None else 0.0
                post_timeout = opts.timeout
                if opts.limiters:
                    await self._view_tokens(opts.limiters, deadline)
                token = self._acquire_for_batch(bound) if batch else self._limiter.acquire()
                if deadline is None:
                    await token
                else:
                    await deadline.within(token, "waiting for a rate-limit token", url)
                    capped = deadline.cap_timeout(post_timeout)
                    if capped is None:
                        raise expired("waiting for a rate-limit token", url)
                    post_timeout = capped
                if batch:
                    # The key may have been refused while it queued; from here the
                    # attempt is on the wire, which a stopping batch lets finish.
                    off_wire = _gate.sending()
                self._stats.attempts += 1
                capture = opts.capture
                if capture is not None:
                    capture.attempts += 1
                sent = _now()
                try:
                    if telemetry is None:
                        response = await self._transport.post(
                            url, body, opts.headers, timeout=post_timeout, secret=opts.api_key
                        )
                    else:  # --- telemetry: the attempt's CLIENT span, traceparent sent
                        response = await telemetry.post(
                            self._transport,
                            url,
                            body,
                            opts.headers,
                            timeout=post_timeout,
                            secret=opts.api_key,
                            slot_wait=slotted - queued,
                            token_wait=sent - slotted,
                        )
                except APITimeoutError:
                    if post_timeout is not opts.timeout:
                        # Cut short by our own deadline: no verdict on the API.
                        raise expired("waiting for the response", url) from None
                    verdict = True
                    raise
                except APIError as exc:
                    verdict = is_outage(exc)
                    raise
            finally:
                slots.release()
                if off_wire is not None:
                    off_wire()
            self._stats.record_attempt(sent - queued, _now() - sent)
            status = response.status
            if self._observe is not None:
                retry_after = response.headers.get("Retry-After") if status == 429 else None
                self._observe(status, parse_retry_after(retry_after))
            if capture is not None:
                capture.status = status
                capture.headers = response.headers
            try:
                result = interpret(response, opts.api_key, url)
            except APIError as exc:
                if status == 429:
                    self._stats.rate_limited += 1
                verdict = is_outage(exc)
                raise
            verdict = False
            return result
        finally:
            if ticket is not None:
                assert self._breaker is not None
                self._breaker.record(ticket, verdict)

    async def _view_tokens(self, limiters: tuple[Limiter, ...], deadline: Deadline | None) -> None:
        # A view's own limits first: the client's token is then spent on a request
        # that leaves at once, not held while the view's limit makes it wait.
        for limiter in limiters:
            if deadline is None:
                await limiter.acquire()
            else:
                await deadline.within(
                    limiter.acquire(), "waiting for a rate-limit token", self._url
                )

    async def _acquire_for_batch(self, bound: LoopState) -> None:
        # One batch worker at a time waits in the limiter, so an interactive call
        # arriving meanwhile is at most one batch request behind, not a whole batch.
        async with bound.batch_gate:
            # Checked before the wait too: when the batch stops, the workers queued
            # here fail one after another at once instead of each taking a token.
            _gate.may_send()
            await self._limiter.acquire()


@attrs.define(eq=False)
class _Call:
    """What every attempt of one call shares: made once per call, in ``_call``."""

    bound: LoopState
    body: bytes
    opts: CallOptions
    deadline: Deadline | None
    #: A batch item's call: its tokens queue through the batch gate.
    batch: bool
    #: A batch item that may retry: it outlasts an outage, waiting on the breaker.
    patient: bool


def _live(telemetry: Telemetry | None) -> Telemetry | None:
    return telemetry if telemetry is not None and telemetry.live else None
