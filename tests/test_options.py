"""Per-call options and ``with_options`` views, asserted on what the emulator received."""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import itertools
import pickle
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dumgum_async as dg
from dumgum_async._options import check_header
from dumgum_async.testing import FakeDumGumServer, ScriptedResponse, sample_requests

KEY = "options-key"
OK_JSON = {"suggestions": ["Hi!"]}
REQUEST = next(iter(sample_requests(1, seed=5)))
FAST_RETRY = dg.RetryPolicy(initial_backoff=0.01, max_backoff=0.02, budget=None)
# A busy 2-core machine may add this much to a round trip.
MARGIN = 0.3


def _client(fake: FakeDumGumServer, **kwargs: Any) -> dg.DumGumClient:
    kwargs.setdefault("retry", None)
    return dg.DumGumClient(api_key=KEY, base_url=fake.url, **kwargs)


def _unreachable() -> dg.DumGumClient:
    # Port 9 on loopback: if anything were sent it would fail as a connection error.
    return dg.DumGumClient(api_key=KEY, base_url="http://127.0.0.1:9", retry=None)


# --- the sentinel -------------------------------------------------------------------


def test_not_given_is_one_falsy_object_kept_through_copies_and_pickling() -> None:
    assert not dg.NOT_GIVEN
    assert repr(dg.NOT_GIVEN) == "NOT_GIVEN"
    assert dg.NotGiven() is dg.NOT_GIVEN
    assert copy.deepcopy(dg.NOT_GIVEN) is dg.NOT_GIVEN
    assert pickle.loads(pickle.dumps(dg.NOT_GIVEN)) is dg.NOT_GIVEN


async def test_not_given_passed_explicitly_means_the_clients_settings() -> None:
    async with FakeDumGumServer(api_key=KEY) as fake:
        fake.script(ScriptedResponse(503, json={}), ScriptedResponse(200, json=OK_JSON))
        async with _client(fake, retry=FAST_RETRY) as client:
            await client.suggest(
                REQUEST, retry=dg.NOT_GIVEN, timeout=dg.NOT_GIVEN, extra_headers=dg.NOT_GIVEN
            )
    assert len(fake.requests) == 2  # the client's retry policy applied


# --- extra_headers ------------------------------------------------------------------


async def test_extra_headers_reach_the_server_merged_over_the_clients() -> None:
    async with FakeDumGumServer(api_key=KEY) as fake, _client(fake) as client:
        await client.suggest(REQUEST, extra_headers={"X-Trace": "t-1", "user-agent": "mine"})
        await client.suggest(REQUEST)
    first, second = fake.requests
    assert first.header("X-Trace") == "t-1"
    assert first.header("User-Agent") == "mine"  # replaced, not repeated
    assert first.header("Authorization") == f"Bearer {KEY}"
    assert first.header("Content-Type") == "application/json"
    # Per call only: the next call is the client's again.
    assert second.header("X-Trace") is None
    assert (second.header("User-Agent") or "").startswith("dumgum-async/")


@pytest.mark.parametrize(
    "name", ["Authorization", "authorization", "AUTHORIZATION", "Content-Type", "Host"]
)
async def test_extra_headers_may_not_replace_what_the_client_sets(name: str) -> None:
    async with FakeDumGumServer(api_key=KEY) as fake, _client(fake) as client:
        with pytest.raises(dg.ConfigurationError, match=f"may not set {name}"):
            await client.suggest(REQUEST, extra_headers={name: "Bearer other"})
        assert client.stats.calls == 0
    assert fake.requests == []


@pytest.mark.parametrize(
    ("name", "value", "match"),
    [
        ("X-Evil", "a\r\nX-Injected: 1", "U\\+000D"),
        ("X-Evil", "a\nb", "U\\+000A"),
        ("X-Evil", "a\x00b", "U\\+0000"),
        ("X-Evil", "a\x7fb", "U\\+007F"),
        ("X-Evil", "caf\u00e9\u20ac", "U\\+20AC"),
        ("X Bad", "value-9f2", "not a valid header name"),
        ("X-Bad:", "value-9f2", "not a valid header name"),
        ("", "value-9f2", "not a valid header name"),
        ("X-Bad\r\n", "value-9f2", "not a valid header name"),
    ],
)
async def test_header_injection_is_refused_with_a_typed_error_naming_the_header(
    name: str, value: str, match: str
) -> None:
    async with _unreachable() as client:
        with pytest.raises(dg.ConfigurationError, match=match) as info:
            await client.suggest(REQUEST, extra_headers={name: value})
    assert "extra_headers" in str(info.value)
    assert "value-9f2" not in str(info.value)  # the value is never quoted
    assert "Injected" not in str(info.value)


async def test_a_header_value_that_is_not_a_str_is_refused() -> None:
    async with _unreachable() as client:
        with pytest.raises(dg.ConfigurationError, match="X-Num must be a str, got int"):
            await client.suggest(REQUEST, extra_headers={"X-Num": 3})  # type: ignore[dict-item]


async def test_extra_headers_must_be_a_mapping() -> None:
    async with _unreachable() as client:
        with pytest.raises(dg.ConfigurationError, match="mapping"):
            await client.suggest(REQUEST, extra_headers=[("X-A", "b")])  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=20))
def test_any_value_with_a_control_character_is_refused(text: str) -> None:
    bad = any((ord(c) < 0x20 and c != "\t") or ord(c) == 0x7F or ord(c) > 0xFF for c in text)
    if bad:
        with pytest.raises(dg.ConfigurationError):
            check_header("X-Value", text, "extra_headers")
    else:
        check_header("X-Value", text, "extra_headers")


# --- timeouts -----------------------------------------------------------------------


async def test_a_per_call_timeout_is_applied_to_the_attempt() -> None:
    async with FakeDumGumServer(api_key=KEY) as fake:
        fake.script(ScriptedResponse(200, json=OK_JSON, delay=2.0))
        async with _client(fake, timeout=10) as client:
            started = time.monotonic()
            with pytest.raises(dg.APITimeoutError, match=r"0\.2 s"):
                await client.suggest(REQUEST, timeout=0.2)
            took = time.monotonic() - started
    assert len(fake.requests) == 1
    assert 0.2 <= took < 0.2 + MARGIN + 0.5


async def test_a_timeout_read_limit_cuts_a_silent_server_short() -> None:
    async with FakeDumGumServer(api_key=KEY) as fake:
        fake.script(ScriptedResponse(200, json=OK_JSON, delay=2.0))
        async with _client(fake, timeout=10) as client:
            started = time.monotonic()
            with pytest.raises(dg.APITimeoutError, match=r"read 0\.2 s"):
                await client.suggest(REQUEST, timeout=dg.Timeout(total=10, read=0.2))
            took = time.monotonic() - started
    assert len(fake.requests) == 1
    assert took < 0.2 + MARGIN + 0.5


async def test_a_timeout_object_as_the_clients_default_is_used() -> None:
    async with FakeDumGumServer(api_key=KEY) as fake:
        fake.script(ScriptedResponse(200, json=OK_JSON, delay=2.0))
        async with _client(fake, timeout=dg.Timeout(total=0.2, connect=5)) as client:
            with pytest.raises(dg.APITimeoutError, match="connect 5 s"):
                await client.suggest(REQUEST)


def test_timeout_maps_to_aiohttp_client_timeout_but_the_total() -> None:
    from dumgum_async._http import Transport

    # The total is the transport's own shared timer (tests/test_timer.py), so aiohttp
    # arms no timer of its own per request for it.
    transport = Transport(session=None, max_connections=1, max_response_bytes=4096)
    mapped = transport._aiohttp_timeout(dg.Timeout(total=7, connect=2, read=3))
    assert (mapped.total, mapped.connect, mapped.sock_read) == (None, 2, 3)
    plain = transport._aiohttp_timeout(4.0)
    assert (plain.total, plain.connect, plain.sock_read, plain.sock_connect) == (None,) * 4


def test_the_timeout_cache_stays_bounded() -> None:
    from dumgum_async._http import Transport

    transport = Transport(session=None, max_connections=1, max_response_bytes=4096)
    for i in range(1000):  # calls bringing ever new limits
        transport._aiohttp_timeout(dg.Timeout(total=10.0, connect=1.0 + i / 1000))
    assert len(transport._timeouts) <= 64


@pytest.mark.parametrize(
    "kwargs",
    [{"total": 0}, {"total": -1}, {"connect": 0}, {"read": float("nan")}, {"total": "3"}],
)
def test_a_bad_timeout_is_a_configuration_error(kwargs: dict[str, Any]) -> None:
    with pytest.raises(dg.ConfigurationError):
        dg.Timeout(**kwargs)


def test_a_timeout_takes_timedeltas_and_defaults_to_the_default_timeout() -> None:
    assert dg.Timeout().total == dg.DEFAULT_TIMEOUT
    assert dg.Timeout(total=dt.timedelta(seconds=3), connect=dt.timedelta(seconds=1)) == (
        dg.Timeout(total=3.0, connect=1.0)
    )


async def test_a_per_call_timeout_of_the_wrong_type_is_refused_before_sending() -> None:
    async with _unreachable() as client:
        with pytest.raises(dg.ConfigurationError, match="timeout must be"):
            await client.suggest(REQUEST, timeout="3")  # type: ignore[arg-type]


async def test_timeout_none_still_means_the_clients_timeout_with_a_deprecation_warning() -> None:
    async with FakeDumGumServer(api_key=KEY) as fake:
        fake.script(ScriptedResponse(200, json=OK_JSON, delay=0.3))
        async with _client(fake, timeout=5) as client:
            with pytest.warns(DeprecationWarning, match="timeout=None") as record:
                response = await client.suggest(REQUEST, timeout=None)
    assert response.suggestions == ("Hi!",)  # the 5 s client timeout, not "no timeout"
    assert record[0].filename == __file__


async def test_timeout_none_in_batches_is_deprecated_too() -> None:
    async with FakeDumGumServer(api_key=KEY) as fake, _client(fake) as client:
        with pytest.warns(DeprecationWarning, match="timeout=None") as many:
            results = [r async for r in client.suggest_many([REQUEST], timeout=None)]
        with pytest.warns(DeprecationWarning, match="timeout=None") as every:
            all_results = await client.suggest_all([REQUEST], timeout=None)
    assert [r.ok for r in results + all_results] == [True, True]
    assert many[0].filename == __file__
    assert every[0].filename == __file__


# --- batches ------------------------------------------------------------------------


async def test_batch_extra_headers_reach_the_server_on_every_item() -> None:
    async with FakeDumGumServer(api_key=KEY) as fake, _client(fake) as client:
        results = await client.suggest_all(
            sample_requests(4, seed=2), extra_headers={"X-Job": "nightly"}
        )
    assert all(r.ok for r in results)
    assert [r.header("X-Job") for r in fake.requests] == ["nightly"] * 4
    assert all(r.header("Authorization") == f"Bearer {KEY}" for r in fake.requests)


async def test_a_batch_with_a_bad_header_fails_before_anything_is_sent() -> None:
    async with _unreachable() as client:
        with pytest.raises(dg.ConfigurationError, match="Authorization"):
            client.suggest_many([REQUEST], extra_headers={"Authorization": "x"})


async def test_a_batch_timeout_applies_to_its_items() -> None:
    async with FakeDumGumServer(api_key=KEY) as fake:
        fake.script(ScriptedResponse(200, json=OK_JSON, delay=2.0))
        async with _client(fake, timeout=10) as client:
            results = await client.suggest_all([REQUEST], timeout=dg.Timeout(total=0.2))
    assert isinstance(results[0].error, dg.APITimeoutError)


# --- views --------------------------------------------------------------------------


async def test_a_views_headers_reach_the_server_and_the_parents_do_not_change() -> None:
    async with FakeDumGumServer(api_key=KEY) as fake, _client(fake) as client:
        tenant = client.with_options(headers={"X-Tenant": "acme"})
        await tenant.suggest(REQUEST, extra_headers={"X-Trace": "1"})
        await client.suggest(REQUEST)
    view_req, parent_req = fake.requests
    assert view_req.header("X-Tenant") == "acme"
    assert view_req.header("X-Trace") == "1"
    assert view_req.header("Authorization") == f"Bearer {KEY}"
    assert parent_req.header("X-Tenant") is None


async def test_a_views_calls_count_in_the_parents_stats() -> None:
    async with FakeDumGumServer(api_key=KEY) as fake, _client(fake) as client:
        view = client.with_options(timeout=5)
        await view.suggest(REQUEST)
        await view.suggest_all([REQUEST, REQUEST])
        await view.with_raw_response.suggest(REQUEST)
        assert client.stats.calls == 4
        assert view.stats == client.stats
    assert len(fake.requests) == 4


async def test_a_view_shares_the_parents_circuit_breaker() -> None:
    breaker = dg.CircuitBreaker(window=2, failure_ratio=1.0, cooldown=30)
    async with FakeDumGumServer(api_key=KEY) as fake:
        fake.script(ScriptedResponse(500, json={}), ScriptedResponse(500, json={}))
        async with _client(fake, circuit_breaker=breaker) as client:
            view = client.with_options(headers={"X-A": "b"})
            for _ in range(2):
                with pytest.raises(dg.InternalServerError):
                    await view.suggest(REQUEST)
            with pytest.raises(dg.CircuitOpenError):
                await client.suggest(REQUEST)
    assert len(fake.requests) == 2  # the parent's call was never sent


async def test_the_parents_rate_limit_holds_across_parent_and_views_at_the_server() -> None:
    rate = 20
    limit = dg.RateLimit.per_second(rate)
    async with FakeDumGumServer(api_key=KEY) as fake, _client(fake, rate_limit=limit) as client:
        a = client.with_options(headers={"X-View": "a"})
        b = a.with_options(timeout=5)
        calls = [c.suggest(REQUEST) for c in (client, a, b) for _ in range(4)]
        await asyncio.gather(*calls)
    arrivals = sorted(r.received_at for r in fake.requests)
    assert len(arrivals) == 12
    # Evenly spaced by the one shared limiter: 11 intervals of 1/20 s at least.
    assert arrivals[-1] - arrivals[0] >= 11 / rate - 0.05
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    assert min(gaps) >= 1 / rate - 0.03


async def test_a_views_rate_limit_is_applied_on_top_and_to_the_view_only() -> None:
    async with FakeDumGumServer(api_key=KEY) as fake, _client(fake) as client:
        slow = client.with_options(rate_limit=dg.RateLimit.per_second(5), headers={"X-S": "1"})
        await asyncio.gather(
            *(slow.suggest(REQUEST) for _ in range(4)),
            *(client.suggest(REQUEST) for _ in range(4)),
        )
    slow_at = sorted(r.received_at for r in fake.requests if r.header("X-S"))
    fast_at = sorted(r.received_at for r in fake.requests if not r.header("X-S"))
    assert slow_at[-1] - slow_at[0] >= 3 / 5 - 0.05
    assert fast_at[-1] - fast_at[0] < 3 / 5 - 0.1  # the parent's calls were not held


async def test_a_views_retry_none_disables_retries_for_the_view_only() -> None:
    async with FakeDumGumServer(api_key=KEY) as fake:
        fake.script(
            ScriptedResponse(503, json={}),
            ScriptedResponse(503, json={}),
            ScriptedResponse(200, json=OK_JSON),
        )
        async with _client(fake, retry=FAST_RETRY) as client:
            with pytest.raises(dg.InternalServerError):
                await client.with_options(retry=None).suggest(REQUEST)
            await client.suggest(REQUEST)
    assert len(fake.requests) == 3


async def test_a_views_timeout_is_applied() -> None:
    async with FakeDumGumServer(api_key=KEY) as fake:
        fake.script(ScriptedResponse(200, json=OK_JSON, delay=2.0))
        async with _client(fake, timeout=10) as client:
            with pytest.raises(dg.APITimeoutError):
                await client.with_options(timeout=0.2).suggest(REQUEST)


async def test_a_views_api_key_is_sent_and_the_parents_is_kept() -> None:
    async with FakeDumGumServer(api_key=None) as fake, _client(fake) as client:
        other = client.with_options(api_key="other-key", headers={"X-A": "b"})
        await other.suggest(REQUEST)
        await client.suggest(REQUEST)
        assert "other-key" not in repr(other)
    view_req, parent_req = fake.requests
    assert view_req.header("Authorization") == "Bearer other-key"
    assert view_req.header("X-A") == "b"
    assert parent_req.header("Authorization") == f"Bearer {KEY}"


async def test_a_view_made_before_the_parent_opens_shares_its_session() -> None:
    async with FakeDumGumServer(api_key=KEY) as fake:
        client = _client(fake)
        view = client.with_options(timeout=5)
        async with view:
            await view.suggest(REQUEST)
        assert not client.closed  # leaving the view's block closed nothing
        await client.suggest(REQUEST)
        await client.aclose()
    assert len(fake.requests) == 2


async def test_closing_the_parent_closes_its_views() -> None:
    async with FakeDumGumServer(api_key=KEY) as fake:
        client = _client(fake)
        view = client.with_options(headers={"X-A": "b"})
        await view.suggest(REQUEST)
        await client.aclose()
        assert view.closed
        with pytest.raises(dg.ClientClosedError):
            await view.suggest(REQUEST)
        with pytest.raises(dg.ClientClosedError):
            await view.with_raw_response.suggest(REQUEST)
    assert len(fake.requests) == 1


async def test_closing_the_parent_mid_flight_fails_a_views_call() -> None:
    async with FakeDumGumServer(api_key=KEY) as fake:
        fake.script(ScriptedResponse(200, json=OK_JSON, delay=5.0))
        client = _client(fake)
        view = client.with_options(timeout=10)
        task = asyncio.create_task(view.suggest(REQUEST))
        await asyncio.sleep(0.5)
        assert len(fake.requests) == 1  # in flight at the server
        await client.aclose()
        with pytest.raises(dg.ClientClosedError):
            await task


async def test_closing_a_view_closes_nothing() -> None:
    async with FakeDumGumServer(api_key=KEY) as fake, _client(fake) as client:
        view = client.with_options(timeout=5)
        await view.aclose()
        assert not view.closed
        assert not client.closed
        await view.suggest(REQUEST)
        await client.suggest(REQUEST)
    assert len(fake.requests) == 2


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"timeout": None}, "omit it"),
        ({"timeout": -1}, "timeout must be positive"),
        ({"retry": 3}, "retry must be"),
        ({"rate_limit": "5/s"}, "rate_limit must be"),
        ({"headers": {"authorization": "x"}}, "may not set authorization"),
        ({"headers": {"X-A": "b\r\n"}}, "U\\+000D"),
        ({"api_key": "has space"}, "api_key has whitespace"),
    ],
)
def test_bad_view_options_are_configuration_errors(kwargs: dict[str, Any], match: str) -> None:
    client = dg.DumGumClient(api_key=KEY)
    with pytest.raises(dg.ConfigurationError, match=match):
        client.with_options(**kwargs)


def test_a_views_repr_shows_its_parent_and_no_key() -> None:
    client = dg.DumGumClient(api_key=KEY)
    view = client.with_options(api_key="secret-view-key")
    assert "view of <DumGumClient" in repr(view)
    assert "secret-view-key" not in repr(view)
    assert view.base_url == client.base_url
