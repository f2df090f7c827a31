"""The Redis URL and its password (_redis_url), and the settings refused at construction.

Every test that needs it starts its own ``redis-server`` (``tests/redis_server.py``).
"""

from __future__ import annotations

import traceback
from collections.abc import Awaitable
from typing import TYPE_CHECKING

import pytest

import dumgum_async as dg
from dumgum_async._redis import RedisRateLimit
from dumgum_async.exceptions import RateLimiterUnavailableError
from dumgum_async.testing import FakeDumGumServer
from tests.redis_server import new_key as _key
from tests.redis_server import require as _require
from tests.samples import minimal_request

if TYPE_CHECKING:
    pass
from tests.redis._support import (
    KEY,
)
from tests.redis._support import (
    closed_port as _closed_port,
)
from tests.redis._support import (
    hung_redis as _hung_redis,
)

PASSWORD = "s3cr3t-pw"


def _reachable_reprs(exc: BaseException) -> list[str]:
    """What an error tracker may capture: the reprs of everything reachable from
    ``exc`` through its args, attributes, cause and context chain, and the locals
    of every frame of its traceback, walking into containers."""
    seen: set[int] = set()
    stack: list[object] = [exc]
    found: list[str] = []
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        found.append(repr(obj))
        if isinstance(obj, BaseException):
            stack += [*obj.args, *vars(obj).values(), obj.__cause__, obj.__context__]
            tb = obj.__traceback__
            while tb is not None:
                stack += tb.tb_frame.f_locals.values()
                tb = tb.tb_next
        elif isinstance(obj, dict):
            stack += [*obj.keys(), *obj.values()]
        elif isinstance(obj, list | tuple | set | frozenset):
            stack += list(obj)
    return found


def _assert_no_password(exc: BaseException) -> None:
    text = "".join(traceback.TracebackException.from_exception(exc, capture_locals=True).format())
    assert PASSWORD not in text
    leaks = [r for r in _reachable_reprs(exc) if PASSWORD in r]
    assert leaks == []


async def _failure(awaitable: Awaitable[object]) -> BaseException:
    # The test's own frame must not hold the URL: a helper catches the error.
    try:
        await awaitable
    except dg.DumGumError as exc:
        return exc
    raise AssertionError("it did not fail")


async def test_the_password_is_nowhere_in_the_error_of_a_refused_connection() -> None:
    async with (
        RedisRateLimit(
            f"redis://:{PASSWORD}@127.0.0.1:{_closed_port()}/0", key=_key(), max_rate=5
        ) as limiter,
        FakeDumGumServer(api_key=KEY) as fake,
        dg.DumGumClient(api_key=KEY, base_url=fake.url, rate_limit=limiter) as client,
    ):
        first = await _failure(client.suggest(minimal_request()))
        again = await _failure(limiter.acquire())  # the breaker's error, at once
    for exc in (first, again):
        assert isinstance(exc, RateLimiterUnavailableError)
        _assert_no_password(exc)


async def test_the_password_is_nowhere_in_the_error_of_a_hung_server() -> None:
    # redis-py sends AUTH, then waits: its frames hold the password (auth_args).
    async with (
        _hung_redis() as (port, accepted),
        RedisRateLimit(
            f"redis://user:{PASSWORD}@127.0.0.1:{port}/0",
            key=_key(),
            max_rate=5,
            socket_timeout=0.3,
        ) as limiter,
    ):
        exc = await _failure(limiter.acquire())
        assert accepted
    assert isinstance(exc, RateLimiterUnavailableError)
    assert "in time" in str(exc)
    _assert_no_password(exc)


def _url_with_password(where: str, option: str) -> str:
    # Built here, so that no frame of the traceback under test holds it in a local.
    if where == "netloc":
        return f"redis://:{PASSWORD}@127.0.0.1:6379/0?{option}"
    return f"redis://127.0.0.1:6379/0?password={PASSWORD}&{option}"


@pytest.mark.parametrize(
    ("where", "option", "named"),
    [
        ("netloc", "socket_timeout=abc", "socket_timeout"),
        ("netloc", "frobnicate=1", "frobnicate"),
        ("query", "socket_timeout=x", "socket_timeout"),
    ],
)
def test_a_bad_url_option_is_refused_at_construction(where: str, option: str, named: str) -> None:
    _require("redis")
    with pytest.raises(dg.ConfigurationError, match=named) as info:
        RedisRateLimit(_url_with_password(where, option), key="k", max_rate=5)
    _assert_no_password(info.value)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://user:s3cret@cache:6379/0", "redis://user:***@cache:6379/0"),
        ("rediss://:s3cret@[::1]:6380", "rediss://:***@[::1]:6380"),
        ("unix:///run/redis.sock?password=s3cret&db=2", "unix:///run/redis.sock?password=***&db=2"),
    ],
)
def test_repr_never_shows_the_password(url: str, shown: str) -> None:
    _require("redis")
    text = repr(RedisRateLimit(url, key="k", max_rate=5))
    assert "s3cret" not in text
    assert shown in text


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_rate": 0},
        {"max_rate": 5, "burst": 6},
        {"max_rate": 5, "time_period": -1},
        {"max_rate": 5, "on_redis_error": "ignore"},
        {"max_rate": 5, "socket_timeout": 0},
        {"max_rate": 5, "recheck_interval": 0},
        {"max_rate": 5, "margin": 2.0},
        {"max_rate": 5, "key": ""},
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, object]) -> None:
    _require("redis")
    settings: dict[str, object] = {"key": "k", **kwargs}
    with pytest.raises(dg.ConfigurationError):
        RedisRateLimit("redis://localhost", **settings)  # type: ignore[arg-type]


@pytest.mark.parametrize("url", ["http://localhost:6379", "redis://localhost:port", "localhost"])
def test_a_url_that_is_not_redis_is_refused(url: str) -> None:
    _require("redis")
    with pytest.raises(dg.ConfigurationError, match="redis://"):
        RedisRateLimit(url, key="k", max_rate=5)
