"""The emulator's server-side rate limit: token bucket and sliding window."""

from __future__ import annotations

import aiohttp
import pytest

from dumgum_async.testing import ServerFactory, ServerRateLimit
from dumgum_async.testing._rate_limit import SlidingWindow, TokenBucket
from tests.testing._bodies import minimal_request
from tests.testing.conftest import AUTH


def test_token_bucket_allows_a_burst_then_refills_at_the_rate() -> None:
    bucket = TokenBucket(per_second=2.0, capacity=3)
    assert [bucket.acquire(10.0) for _ in range(3)] == [None, None, None]
    wait = bucket.acquire(10.0)
    assert wait == pytest.approx(0.5)
    assert bucket.acquire(10.5) is None
    assert bucket.acquire(10.5) is not None


def test_sliding_window_is_exact_over_any_window() -> None:
    window = SlidingWindow(limit=2, period=1.0)
    # Binary-exact times, so that the window edges are exact too.
    assert window.acquire(0.0) is None
    assert window.acquire(0.25) is None
    assert window.acquire(0.75) == pytest.approx(0.25)
    assert window.acquire(1.0) is None  # the request at 0.0 left the window
    assert window.acquire(1.125) == pytest.approx(0.125)
    assert window.acquire(1.25) is None


def test_rejected_requests_consume_nothing() -> None:
    window = SlidingWindow(limit=1, period=1.0)
    assert window.acquire(0.0) is None
    for t in (0.1, 0.2, 0.9):
        assert window.acquire(t) is not None
    assert window.acquire(1.0) is None


def test_rate_limit_modes_and_validation() -> None:
    assert ServerRateLimit(max_rate=10, burst=5).is_token_bucket
    assert not ServerRateLimit(max_rate=5, time_period=1.0).is_token_bucket
    assert ServerRateLimit.sliding_window(3, 2.0) == ServerRateLimit(max_rate=3, time_period=2.0)
    with pytest.raises(ValueError, match="whole number"):
        ServerRateLimit(max_rate=2.5)
    with pytest.raises(ValueError, match="rate"):
        ServerRateLimit(max_rate=0, burst=1)


async def _statuses(
    http: aiohttp.ClientSession, url: str, count: int
) -> list[tuple[int, str | None]]:
    out = []
    for _ in range(count):
        async with http.post(url, json=minimal_request(), headers=AUTH) as resp:
            await resp.read()
            out.append((resp.status, resp.headers.get("Retry-After")))
    return out


async def test_token_bucket_answers_429_with_retry_after_beyond_the_burst(
    dumgum_server_factory: ServerFactory, http: aiohttp.ClientSession
) -> None:
    server = await dumgum_server_factory(rate_limit=ServerRateLimit(max_rate=0.2, burst=3))
    results = await _statuses(http, server.endpoint_url, 5)
    assert [status for status, _ in results] == [200, 200, 200, 429, 429]
    for _, retry_after in results[3:]:
        assert retry_after is not None
        assert 1 <= int(retry_after) <= 5
    assert server.stats.rate_limited == 2


async def test_sliding_window_answers_429_beyond_the_limit(
    dumgum_server_factory: ServerFactory, http: aiohttp.ClientSession
) -> None:
    server = await dumgum_server_factory(rate_limit=ServerRateLimit(max_rate=2, time_period=30.0))
    results = await _statuses(http, server.endpoint_url, 3)
    assert [status for status, _ in results] == [200, 200, 429]
    assert results[2][1] is not None
    assert 1 <= int(results[2][1]) <= 30


async def test_no_429_within_the_limit(
    dumgum_server_factory: ServerFactory, http: aiohttp.ClientSession
) -> None:
    server = await dumgum_server_factory(rate_limit=ServerRateLimit(max_rate=1000, burst=50))
    results = await _statuses(http, server.endpoint_url, 20)
    assert {status for status, _ in results} == {200}
    assert server.stats.rate_limited == 0


async def test_429_body_is_json_with_the_wait(
    dumgum_server_factory: ServerFactory, http: aiohttp.ClientSession
) -> None:
    server = await dumgum_server_factory(rate_limit=ServerRateLimit(max_rate=1, time_period=60.0))
    await _statuses(http, server.endpoint_url, 1)
    async with http.post(server.endpoint_url, json=minimal_request(), headers=AUTH) as resp:
        assert resp.status == 429
        payload = await resp.json()
    assert payload["error"] == "rate_limited"
    assert payload["retryAfter"] == int(resp.headers["Retry-After"])


def test_the_old_keyword_names_still_work_and_warn() -> None:
    with pytest.warns(DeprecationWarning, match="is deprecated") as record:
        old = ServerRateLimit(rate=3, period=2.0)
    assert old == ServerRateLimit(max_rate=3, time_period=2.0)
    assert [str(w.message).split(" is ")[0] for w in record] == [
        "ServerRateLimit(rate=...)",
        "ServerRateLimit(period=...)",
    ]


def test_the_old_classmethod_keywords_still_work_and_warn() -> None:
    with pytest.warns(DeprecationWarning, match="use max_rate|use time_period"):
        bucket = ServerRateLimit.token_bucket(rate=2, burst=3, period=5.0)
    with pytest.warns(DeprecationWarning, match="limit"):
        window = ServerRateLimit.sliding_window(limit=4)
    assert bucket == ServerRateLimit(max_rate=2, burst=3, time_period=5.0)
    assert window == ServerRateLimit(max_rate=4)


def test_the_old_attribute_names_still_work_and_warn() -> None:
    limit = ServerRateLimit(max_rate=3, time_period=2.0)
    with pytest.warns(DeprecationWarning, match="use max_rate"):
        assert limit.rate == 3
    with pytest.warns(DeprecationWarning, match="use time_period"):
        assert limit.period == 2.0


def test_an_old_name_and_its_new_name_together_are_refused() -> None:
    with pytest.raises(TypeError, match="both 'rate' and its new name 'max_rate'"):
        ServerRateLimit(max_rate=3, rate=3)  # type: ignore[call-overload]


def test_an_unknown_keyword_is_refused() -> None:
    with pytest.raises(TypeError, match="unexpected keyword argument 'limit'"):
        ServerRateLimit(max_rate=3, limit=3)  # type: ignore[call-overload]
