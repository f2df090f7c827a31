"""``max_requests``: a batch's HTTP attempts, retries included, bounded; against the emulator."""

from __future__ import annotations

import contextlib
import pickle
from collections import Counter
from typing import Any

import pytest

import dumgum_async as dg
from dumgum_async import _gate
from dumgum_async.testing import FakeDumGumServer, Faults, sample_requests

KEY = "budget-key"
_FAST_RETRY = dg.RetryPolicy(max_attempts=5, initial_backoff=0.001, max_backoff=0.001, budget=None)


def _client(server: FakeDumGumServer) -> dg.DumGumClient:
    return dg.DumGumClient(
        api_key=KEY, base_url=server.url, retry=_FAST_RETRY, allow_insecure_http=True
    )


async def _run(
    client: dg.DumGumClient, items: list[dict[str, Any]], **kwargs: Any
) -> tuple[list[dg.BatchResult[Any]], BaseException | None]:
    results: list[dg.BatchResult[Any]] = []
    error: BaseException | None = None
    stream = client.suggest_many(items, **kwargs)
    async with contextlib.aclosing(stream):
        try:
            async for result in stream:
                results.append(result)
        except dg.DumGumError as exc:
            error = exc
    return results, error


async def test_the_server_sees_exactly_max_requests_attempts_with_retries_included() -> None:
    faults = Faults(http_500=0.3, http_503=0.2, retry_after=0.0)
    async with (
        FakeDumGumServer(api_key=KEY, seed=3, faults=faults) as server,
        _client(server) as client,
    ):
        results, error = await _run(
            client, list(sample_requests(40, seed=2)), concurrency=4, max_requests=15
        )
        assert isinstance(error, dg.BudgetExhaustedError)
        assert (error.max_requests, error.attempts) == (15, 15)
        assert len(server.requests) == 15
        assert client.stats.attempts == 15
        # Faults made some retries: fewer than 15 items were started.
        statuses = Counter(r.status for r in server.requests)
        assert statuses[200] < 15
        assert sum(r.ok for r in results) == statuses[200]
        # Whatever failed, failed for the budget or a final fault, never silently.
        assert all(r.ok or isinstance(r.error, dg.DumGumError) for r in results)
        assert len(results) < 40


async def test_items_not_started_are_not_yielded() -> None:
    async with FakeDumGumServer(api_key=KEY, seed=1) as server, _client(server) as client:
        results, error = await _run(
            client, list(sample_requests(20, seed=2)), concurrency=2, max_requests=5
        )
    assert isinstance(error, dg.BudgetExhaustedError)
    assert len(server.requests) == 5
    assert sorted(r.index for r in results) == [0, 1, 2, 3, 4]
    assert all(r.ok for r in results)


async def test_a_budget_that_runs_out_with_the_input_raises_nothing() -> None:
    async with FakeDumGumServer(api_key=KEY, seed=1) as server, _client(server) as client:
        results, error = await _run(
            client, list(sample_requests(6, seed=2)), concurrency=3, max_requests=6
        )
    assert error is None
    assert len(results) == 6
    assert len(server.requests) == 6


async def test_the_budget_counts_only_the_batch_not_other_calls_of_the_client() -> None:
    async with FakeDumGumServer(api_key=KEY, seed=1) as server, _client(server) as client:
        items = list(sample_requests(4, seed=2))
        await client.suggest(items[0])
        _results, error = await _run(client, items, concurrency=1, max_requests=2)
        assert isinstance(error, dg.BudgetExhaustedError)
        assert error.attempts == 2
        # The client is not spent: an interactive call still goes out.
        await client.suggest(items[3])
        assert len(server.requests) == 1 + 2 + 1


async def test_a_retry_refused_by_the_budget_fails_its_item_with_the_budget_error() -> None:
    async with (
        FakeDumGumServer(api_key=KEY, seed=1, faults=Faults(http_500=1.0)) as server,
        _client(server) as client,
    ):
        results, error = await _run(
            client, list(sample_requests(3, seed=2)), concurrency=1, max_requests=3
        )
    assert isinstance(error, dg.BudgetExhaustedError)
    assert len(server.requests) == 3
    [only] = results
    assert only.index == 0
    assert only.error is error


@pytest.mark.parametrize("bad", [0, -1, True, 2.5, "3"])
async def test_a_bad_max_requests_is_a_configuration_error(bad: Any) -> None:
    client = dg.DumGumClient(api_key=KEY)
    with pytest.raises(dg.ConfigurationError, match="max_requests"):
        client.suggest_many([], max_requests=bad)
    await client.aclose()


async def test_suggest_all_makes_no_more_than_max_requests_attempts() -> None:
    async with (
        FakeDumGumServer(api_key=KEY, seed=3, faults=Faults(http_503=1.0)) as server,
        _client(server) as client,
    ):
        with pytest.raises(dg.BudgetExhaustedError) as raised:
            await client.suggest_all(list(sample_requests(10, seed=2)), max_requests=4)
    assert (raised.value.max_requests, raised.value.attempts) == (4, 4)
    assert len(server.requests) == 4


async def test_suggest_all_refuses_a_bad_max_requests() -> None:
    async with dg.DumGumClient(api_key=KEY) as client:
        with pytest.raises(dg.ConfigurationError, match="max_requests"):
            await client.suggest_all([], max_requests=0)


def test_attempt_budget_refuses_the_attempt_after_the_limit() -> None:
    budget = _gate.AttemptBudget(2)
    budget.spend()
    budget.spend()
    assert budget.exhausted
    with pytest.raises(dg.BudgetExhaustedError) as raised:
        budget.spend()
    assert (raised.value.max_requests, raised.value.attempts) == (2, 2)


def test_spend_attempt_outside_a_batch_counts_nothing() -> None:
    _gate.spend_attempt()  # no budget in this context: never raises


def test_budget_exhausted_error_survives_pickling() -> None:
    error = dg.BudgetExhaustedError("spent", max_requests=7, attempts=7)
    copy = pickle.loads(pickle.dumps(error))
    assert (str(copy), copy.max_requests, copy.attempts) == ("spent", 7, 7)
