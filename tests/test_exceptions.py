"""Every error survives pickling and copying, with every attribute it carries.

A job queue (saq, arq, Celery) or a ``ProcessPoolExecutor`` hands a failed call's
exception to another process by pickling it; ``copy`` does the same dance. The
default ``Exception`` reduce calls ``cls(*args)``, which breaks for constructors with
required keywords, and aiohttp's header proxy cannot be pickled at all: both are
attacked here, on errors built by hand and on errors a real server provoked.
"""

from __future__ import annotations

import copy
import pickle
from collections.abc import Callable
from typing import Any

import pytest
from multidict import CIMultiDict, CIMultiDictProxy, MultiDict, MultiDictProxy

import dumgum_async as dg
from dumgum_async import exceptions
from dumgum_async._interpret import safe_headers
from dumgum_async.testing import FakeDumGumServer, ScriptedResponse, sample_requests

KEY = "sk-pickle-canary-Yt5Rw2Qp"
REQUEST = next(iter(sample_requests(1, seed=5)))
HEADERS = safe_headers({"Retry-After": "3", "X-Request-Id": "r-1", "X-Extra": "a"})
_WHERE: dict[str, Any] = {"method": "POST", "url": "http://127.0.0.1/x", "attempts": 3}

#: One instance of every exception class, with every attribute set to a non-default.
SAMPLES: dict[type[dg.DumGumError], Callable[[], dg.DumGumError]] = {
    dg.DumGumError: lambda: dg.DumGumError("base"),
    dg.ConfigurationError: lambda: dg.ConfigurationError("bad timeout"),
    dg.ClientClosedError: lambda: dg.ClientClosedError("closed"),
    dg.RequestValidationError: lambda: dg.RequestValidationError(
        [dg.Problem(("messages", 3, "text"), "at most 5 characters", "max_length")]
    ),
    dg.RateLimiterUnavailableError: lambda: dg.RateLimiterUnavailableError("redis down"),
    dg.BudgetExhaustedError: lambda: dg.BudgetExhaustedError("spent", max_requests=7, attempts=7),
    dg.BatchStoppedError: lambda: dg.BatchStoppedError(
        "not sent",
        stopped_by=dg.AuthenticationError("HTTP 401", status_code=401, headers=HEADERS),
    ),
    dg.APIError: lambda: dg.APIError("api", request_id="r-9", **_WHERE),
    dg.APIConnectionError: lambda: dg.APIConnectionError("reset", **_WHERE),
    dg.APITimeoutError: lambda: dg.APITimeoutError("slow", **_WHERE),
    dg.CircuitOpenError: lambda: dg.CircuitOpenError(
        "open", retry_after=1.5, retry_at=99.0, **_WHERE
    ),
    dg.ResponseDecodeError: lambda: dg.ResponseDecodeError(
        "bad body", body_excerpt="<html>", status_code=203, request_id="r-2", **_WHERE
    ),
}
for _status in (400, 401, 403, 404, 409, 418, 422, 429, 503):
    SAMPLES.setdefault(
        exceptions.status_error_class(_status),
        lambda s=_status: exceptions.status_error_class(s)(  # type: ignore[misc]
            f"HTTP {s}",
            status_code=s,
            body="{}",
            headers=HEADERS,
            retry_after=3.0,
            request_id="r-1",
            **_WHERE,
        ),
    )


def _state(error: BaseException) -> dict[str, Any]:
    """What an error carries, comparable across copies (nested errors by their state)."""
    state: dict[str, Any] = {"type": type(error), "args": error.args, "str": str(error)}
    for name, value in vars(error).items():
        if isinstance(value, BaseException):
            state[name] = _state(value)
        elif name == "headers":
            state[name] = (type(value), list(value.items()))
        else:
            state[name] = value
    return state


def test_every_exception_class_has_a_sample() -> None:
    public = {
        obj
        for name in exceptions.__all__
        if isinstance(obj := getattr(exceptions, name), type) and issubclass(obj, dg.DumGumError)
    }
    assert public <= set(SAMPLES)


@pytest.mark.parametrize("cls", list(SAMPLES), ids=lambda c: c.__name__)
def test_an_error_survives_pickling_with_every_attribute(cls: type[dg.DumGumError]) -> None:
    error = SAMPLES[cls]()
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        assert _state(pickle.loads(pickle.dumps(error, protocol))) == _state(error)


@pytest.mark.parametrize("cls", list(SAMPLES), ids=lambda c: c.__name__)
def test_an_error_survives_copy_and_deepcopy(cls: type[dg.DumGumError]) -> None:
    error = SAMPLES[cls]()
    assert _state(copy.copy(error)) == _state(error)
    assert _state(copy.deepcopy(error)) == _state(error)


def test_an_error_of_a_users_subclass_keeps_its_own_attributes() -> None:
    error = _Tagged("HTTP 500", status_code=500, tag="mine")
    back = pickle.loads(pickle.dumps(error))
    assert (type(back), back.tag, back.status_code) == (_Tagged, "mine", 500)


class _Tagged(dg.InternalServerError):
    def __init__(self, message: str, *, status_code: int, tag: str) -> None:
        super().__init__(message, status_code=status_code)
        self.tag = tag


def test_unpickled_headers_stay_read_only_and_case_insensitive() -> None:
    back = pickle.loads(pickle.dumps(SAMPLES[dg.RateLimitError]()))
    headers = back.headers
    assert headers["retry-after"] == headers["RETRY-AFTER"] == "3"
    with pytest.raises(TypeError):
        headers["X-New"] = "1"


@pytest.mark.parametrize(
    "proxy",
    [
        CIMultiDictProxy(
            CIMultiDict([("Retry-After", "3"), ("Set-Cookie", "a"), ("set-cookie", "b")])
        ),
        MultiDictProxy(MultiDict([("Retry-After", "3"), ("Set-Cookie", "a"), ("set-cookie", "b")])),
    ],
    ids=["aiohttp's CIMultiDictProxy", "MultiDictProxy"],
)
def test_an_error_a_user_builds_around_aiohttps_own_headers_pickles_and_copies(
    proxy: MultiDictProxy[str],
) -> None:
    # As a user's test double or wrapper does: headers straight from an aiohttp response.
    error = dg.RateLimitError("HTTP 429", status_code=429, headers=proxy, retry_after=3.0)
    copies = [pickle.loads(pickle.dumps(error, p)) for p in range(pickle.HIGHEST_PROTOCOL + 1)]
    copies += [copy.copy(error), copy.deepcopy(error)]
    for back in copies:
        assert back.headers["retry-after"] == "3"
        assert sorted(back.headers.getall("Set-Cookie")) == ["a", "b"]  # repeats kept
        assert (back.retry_after, back.status_code) == (3.0, 429)
    assert error.headers is proxy  # the original is left as it was


async def test_a_429_from_a_real_server_survives_pickling() -> None:
    async with FakeDumGumServer(api_key=KEY) as fake:
        fake.script(
            ScriptedResponse(
                429,
                headers={"Retry-After": "0", "X-Request-Id": "rl-7", "Set-Cookie": "s=1"},
                json={"error": "slow down"},
            )
        )
        async with dg.DumGumClient(api_key=KEY, base_url=fake.url, retry=None) as client:
            with pytest.raises(dg.RateLimitError) as raised:
                await client.suggest(REQUEST)
    back = pickle.loads(pickle.dumps(raised.value))
    assert _state(back) == _state(raised.value)
    assert (back.status_code, back.retry_after, back.request_id) == (429, 0.0, "rl-7")
    assert back.headers["x-request-id"] == "rl-7"
    assert "Set-Cookie" not in back.headers


async def test_a_pickled_error_never_holds_the_key_a_server_echoed() -> None:
    async with FakeDumGumServer(api_key=KEY) as fake:
        fake.script(
            ScriptedResponse(
                401,
                headers={"X-Echo": f"Bearer {KEY}", "WWW-Authenticate": KEY},
                body=f"bad key {KEY}".encode(),
            )
        )
        async with dg.DumGumClient(api_key=KEY, base_url=fake.url, retry=None) as client:
            with pytest.raises(dg.AuthenticationError) as raised:
                await client.suggest(REQUEST)
    stopped = dg.BatchStoppedError("not sent", stopped_by=raised.value)
    for error in (raised.value, stopped):
        for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
            data = pickle.dumps(error, protocol)
            assert KEY.encode() not in data
            assert KEY not in repr(pickle.loads(data).__dict__)
