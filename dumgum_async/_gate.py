"""A batch's gate: what its items' attempts ask before they go.

The batch engine (``_batch.stream``) runs its workers with a :class:`Gate` in a
context variable, so the call path (``_callpath``) reaches it without a parameter
and calls outside a batch see none. It holds the ``max_requests`` budget
(:class:`AttemptBudget`, spent by :func:`spend_attempt` as an attempt queues for a
slot and a token) and whether the batch stopped: once a fatal error stopped it, an
attempt that has not gone fails with :class:`BatchStoppedError` (:func:`may_send`,
:func:`sending`; a retry asks :func:`may_send` as it is decided, before it is
counted or slept toward), and the stop's cancel of a waiting item becomes that
error (:func:`stopped_while_queued`).
Only a batch item's own call asks: a call the source makes sees the variable too,
and is none of the batch's business.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from functools import partial
from typing import Any

from dumgum_async.exceptions import (
    BatchStoppedError,
    BudgetExhaustedError,
    ConfigurationError,
    DumGumError,
)


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


class Gate:
    """What a batch's attempts check before they go: its budget, and whether it stopped;
    and which of its calls' tasks have an attempt on the wire (:func:`sending`) or were
    cancelled by the stop (:func:`stopped_while_queued`)."""

    __slots__ = ("budget", "on_wire", "stopped_by", "stopping")

    def __init__(self, budget: AttemptBudget | None) -> None:
        self.budget = budget
        self.stopped_by: DumGumError | None = None
        self.on_wire: set[asyncio.Task[Any]] = set()
        self.stopping: set[asyncio.Task[Any]] = set()

    def take_back(self, task: asyncio.Task[Any]) -> BatchStoppedError | None:
        """The error of ``task``, cancelled by the stop as its call waited; None if
        that cancel was not the stop's, or someone else's is pending too."""
        if task not in self.stopping:
            return None
        self.stopping.discard(task)
        if task.uncancel() > 0:
            return None
        return self.refuse()

    def refuse(self) -> BatchStoppedError:
        """The error of an item whose attempt was about to go when the batch stopped."""
        assert self.stopped_by is not None
        return BatchStoppedError(
            f"not sent: the batch stopped ({self.stopped_by})", stopped_by=self.stopped_by
        )


_gate: contextvars.ContextVar[Gate | None] = contextvars.ContextVar(
    "dumgum_async_batch_gate", default=None
)


def spend_attempt() -> None:
    """Count an attempt against the running batch's budget, as it queues.

    Raises:
        BatchStoppedError: The batch stopped: the attempt must not start.
        BudgetExhaustedError: The budget is spent; the attempt must not start.
    """
    gate = _gate.get()
    if gate is not None:
        if gate.stopped_by is not None:
            raise gate.refuse()
        if gate.budget is not None:
            gate.budget.spend()


def may_send() -> None:
    """Check, with a slot and a token in hand, that the running batch has not stopped.

    An attempt queued behind a rate limit may wait for seconds: if the key was
    refused meanwhile, sending it would only earn another refusal.

    Raises:
        BatchStoppedError: The batch stopped: the attempt must not be sent.
    """
    gate = _gate.get()
    if gate is not None and gate.stopped_by is not None:
        raise gate.refuse()


def sending() -> Callable[[], object] | None:
    """:func:`may_send`, then mark the current task's attempt as on the wire until the
    returned function is called (a stopping batch lets such an attempt finish, and
    cancels its other calls' waits); None outside a batch.

    Raises:
        BatchStoppedError: The batch stopped: the attempt must not be sent.
    """
    gate = _gate.get()
    if gate is None:
        return None
    if gate.stopped_by is not None:
        raise gate.refuse()
    task = asyncio.current_task()
    assert task is not None
    wire = gate.on_wire
    wire.add(task)
    return partial(wire.discard, task)


def stopped_while_queued(task: asyncio.Task[Any]) -> BatchStoppedError | None:
    """For a batch call's ``CancelledError``: the error to raise instead when the
    running batch's stop cancelled ``task`` as it waited (see :meth:`Gate.take_back`).
    """
    gate = _gate.get()
    return None if gate is None else gate.take_back(task)


def enter(gate: Gate) -> contextvars.Token[Gate | None]:
    """Make ``gate`` the one the current context's attempts ask (until :func:`leave`)."""
    return _gate.set(gate)


def leave(token: contextvars.Token[Gate | None]) -> None:
    """Undo the :func:`enter` that gave ``token``."""
    _gate.reset(token)
