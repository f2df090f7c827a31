"""The API key (and a Redis password) never reach anything a caller can log.

Error trackers (Sentry, Rollbar, ``TracebackException(capture_locals=True)``) walk an
exception's ``__cause__`` and ``__context__``, every frame of every traceback in that
chain and their locals, and the exception's attributes, and record what ``repr`` and
``str`` say. :func:`leaks` does the same, further than any of them (every local,
attribute and container item, a few levels deep), and every error family the client
can raise is put through it, over real sockets on 127.0.0.1.

Only :class:`Secret` objects may hold the key, and they are opaque to the walk (their
``repr`` and ``str`` are redacted): the client's ``_api_key``, and the
``Authorization`` value inside its request headers (``_headers``, a
:class:`SecretHeaders`, which reveals it only while aiohttp reads the items).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import pickle
import socket
import traceback
import types
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

import dumgum_async as dg
from dumgum_async._http import Transport
from dumgum_async._secret import Secret, SecretHeaders
from dumgum_async.testing import FakeDumGumServer, FaultKind, ScriptedResponse
from tests.helpers.bodies import minimal_request
from tests.helpers.hostile_server import hostile_server, http_response, replying

# Distinctive, so that a hit is never a coincidence.
KEY = "sk-canary-Zq8VwX3nTb7LpR2m"
REDIS_PASSWORD = "redis-canary-Hh4Jk9Qs"

#: How far the walk follows attributes and items from each frame local or attribute.
MAX_DEPTH = 5
#: Never descended into: their text is their repr (checked), their insides are not ours.
_LEAVES = (
    str,
    bytes,
    int,
    float,
    complex,
    bool,
    type(None),
    type,
    types.ModuleType,
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
    types.CodeType,
    types.FrameType,
    types.TracebackType,
    types.CoroutineType,
    types.GeneratorType,
    types.AsyncGeneratorType,
    asyncio.AbstractEventLoop,
    logging.Logger,
)
# tests/: the helpers the tests call are the caller too.
_CALLER = str(Path(__file__).parent.parent)
#: The documented redacting wrappers (see the module docstring).
_WRAPPERS = (Secret,)


def _text(obj: object, how: Any) -> str:
    try:
        return str(how(obj))
    except Exception as exc:
        return f"<{how.__name__}() raised {type(exc).__name__}>"


class _Walk:
    def __init__(self, needles: tuple[str, ...], *, skip_caller: bool) -> None:
        self.needles = needles
        self.skip_caller = skip_caller
        self.found: list[str] = []
        self._seen: set[int] = set()

    def check(self, text: str, where: str) -> None:
        if text.startswith(("<repr() raised", "<str() raised")):
            self.found.append(f"{where}: {text}")
        for needle in self.needles:
            if needle in text:
                self.found.append(f"{where}: {text[:300]!r}")

    def exception(self, exc: BaseException, where: str) -> None:
        if id(exc) in self._seen:
            return
        self._seen.add(id(exc))
        self.check(_text(exc, repr), f"repr({where})")
        self.check(_text(exc, str), f"str({where})")
        self.value(exc.args, f"{where}.args", 0)
        for name, attr in vars(exc).items():
            self.value(attr, f"{where}.{name}", 0)
        for name in ("__notes__", "exceptions"):
            extra = getattr(exc, name, None)
            if extra is not None:
                self.value(extra, f"{where}.{name}", 0)
        tb = exc.__traceback__
        while tb is not None:
            frame = tb.tb_frame
            if self.skip_caller and frame.f_code.co_filename.startswith(_CALLER):
                tb = tb.tb_next
                continue
            at = f"{where} frame {frame.f_code.co_filename}:{frame.f_code.co_name}"
            for name, local in frame.f_locals.items():
                self.value(local, f"{at} local {name!r}", 0)
            tb = tb.tb_next
        if exc.__cause__ is not None:
            self.exception(exc.__cause__, f"{where}.__cause__")
        if exc.__context__ is not None:
            self.exception(exc.__context__, f"{where}.__context__")

    def value(self, obj: object, where: str, depth: int) -> None:
        if isinstance(obj, BaseException):
            self.exception(obj, where)
            return
        if depth > MAX_DEPTH or id(obj) in self._seen:
            return
        if not isinstance(obj, _LEAVES):
            self._seen.add(id(obj))
        self.check(_text(obj, repr), f"repr({where})")
        if isinstance(obj, (*_LEAVES, *_WRAPPERS)):
            return
        self.check(_text(obj, str), f"str({where})")
        if isinstance(obj, Mapping):
            for key, item in list(obj.items()):
                self.value(key, f"{where} key", depth + 1)
                self.value(item, f"{where}[{key!r}]", depth + 1)
        elif isinstance(obj, list | tuple | set | frozenset):
            for i, item in enumerate(obj):
                self.value(item, f"{where}[{i}]", depth + 1)
        for name, attr in _attributes(obj):
            self.value(attr, f"{where}.{name}", depth + 1)


def _attributes(obj: object) -> Iterator[tuple[str, object]]:
    with contextlib.suppress(TypeError):
        yield from list(vars(obj).items())
    for cls in type(obj).__mro__:
        for name in getattr(cls, "__slots__", ()):
            if name not in ("__dict__", "__weakref__"):
                with contextlib.suppress(AttributeError):
                    yield name, getattr(obj, name)


def _rendered(exc: BaseException, *, skip_caller: bool) -> str:
    """What ``TracebackException(capture_locals=True)`` prints, the caller's frames dropped."""
    top = traceback.TracebackException.from_exception(exc, capture_locals=True)
    pending, seen = [top], set()
    while pending:
        te = pending.pop()
        if id(te) in seen:
            continue
        seen.add(id(te))
        if skip_caller:
            te.stack[:] = [f for f in te.stack if not f.filename.startswith(_CALLER)]
        pending += [t for t in (te.__cause__, te.__context__) if t is not None]
        pending += getattr(te, "exceptions", None) or []
    return "".join(top.format()) + "".join(traceback.format_exception(exc))


def leaks(exc: BaseException, *needles: str, skip_caller: bool = True) -> list[str]:
    """Where ``needles`` (default: the key) show in anything an error tracker sees of ``exc``.

    The frames of this test module are skipped unless ``skip_caller`` is False:
    what the caller keeps in its own locals is the caller's business.
    """
    walk = _Walk(needles or (KEY,), skip_caller=skip_caller)
    walk.exception(exc, "exc")
    walk.check(_rendered(exc, skip_caller=skip_caller), "TracebackException(capture_locals=True)")
    return walk.found


def assert_no_leak(exc: BaseException, *needles: str) -> None:
    found = leaks(exc, *needles)
    assert not found, "secret reachable from the exception:\n" + "\n".join(found[:20])


def _client(base_url: str, **kwargs: Any) -> dg.DumGumClient:
    kwargs.setdefault("retry", None)
    return dg.DumGumClient(api_key=KEY, base_url=base_url, **kwargs)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
async def server() -> AsyncIterator[FakeDumGumServer]:
    async with FakeDumGumServer(api_key=KEY, seed=1) as fake:
        yield fake


async def _failure(server: FakeDumGumServer, *script: ScriptedResponse, **kw: Any) -> dg.APIError:
    server.script(*script)
    async with _client(server.url, **kw) as client:
        with pytest.raises(dg.APIError) as info:
            await client.suggest(minimal_request())
    return info.value


# --- the walk itself ----------------------------------------------------------------


def test_the_walk_finds_a_key_held_in_a_frame_local() -> None:
    def holds_it(key: str) -> None:
        raise RuntimeError("nothing in the message")

    with pytest.raises(RuntimeError) as info:
        holds_it("Bearer " + KEY)
    found = leaks(info.value, skip_caller=False)
    assert any("local 'key'" in where for where in found)
    assert any("capture_locals" in where for where in found)


def test_the_walk_finds_a_key_deep_in_a_chained_exceptions_attribute() -> None:
    class Holder:
        def __init__(self) -> None:
            self.inner = {"headers": [("Authorization", "Bearer " + KEY)]}

    cause = ValueError("inner")
    cause.holder = Holder()  # type: ignore[attr-defined]
    outer = RuntimeError("outer")
    outer.__context__ = cause
    assert leaks(outer)


def test_the_walk_reports_a_repr_that_raises() -> None:
    class Broken:
        def __repr__(self) -> str:
            raise AttributeError("half-built")

    exc = RuntimeError("x")
    exc.thing = Broken()  # type: ignore[attr-defined]
    assert any("raised AttributeError" in where for where in leaks(exc))


# --- the Secret wrapper -------------------------------------------------------------


def test_secret_repr_str_and_format_are_redacted() -> None:
    secret = Secret(KEY)
    logged = logging.LogRecord("x", logging.INFO, __file__, 1, "%s %r", (secret, secret), None)
    for text in (repr(secret), str(secret), f"{secret}", logged.getMessage()):
        assert KEY not in text
        assert "redacted" in text


def test_secret_reveals_its_value_only_when_asked() -> None:
    assert Secret(KEY).reveal() == KEY


def test_secret_cannot_be_pickled() -> None:
    with pytest.raises(TypeError, match="pickled"):
        pickle.dumps(Secret(KEY))


def test_secret_copies_are_itself() -> None:
    secret = Secret(KEY)
    assert copy.copy(secret) is secret
    assert copy.deepcopy({"k": secret})["k"] is secret


def test_secret_of_a_non_str_refuses_to_reveal_without_showing_it() -> None:
    with pytest.raises(TypeError) as info:
        Secret(KEY.encode()).reveal()
    assert "bytes" in str(info.value)
    assert_no_leak(info.value)


# --- the request headers ------------------------------------------------------------


def _headers() -> SecretHeaders:
    return SecretHeaders(Secret("Bearer " + KEY), {"Accept": "application/json"})


def test_secret_headers_are_not_a_mapping_that_serialisers_would_walk() -> None:
    # Error trackers serialise a Mapping item by item, whatever its repr.
    headers = _headers()
    assert not isinstance(headers, Mapping | dict)
    assert KEY not in repr(headers)
    assert KEY not in str(headers)
    assert "'Accept': 'application/json'" in repr(headers)


def test_secret_headers_read_like_a_mapping() -> None:
    headers = _headers()
    assert dict(headers) == {"Authorization": "Bearer " + KEY, "Accept": "application/json"}
    assert headers["Authorization"] == "Bearer " + KEY
    assert headers.get("Accept") == "application/json"
    assert headers.get("X-Missing", "-") == "-"
    assert "Authorization" in headers
    assert len(headers) == 2


def test_secret_headers_items_are_what_aiohttp_copies() -> None:
    items = _headers().items()
    assert list(items) == [("Authorization", "Bearer " + KEY), ("Accept", "application/json")]
    assert ("Accept", "application/json") in items
    assert len(items) == 2


def test_secret_headers_cannot_be_pickled() -> None:
    with pytest.raises(TypeError, match="pickled"):
        pickle.dumps(_headers())


async def test_the_server_sees_the_bearer_key_and_the_other_headers(
    server: FakeDumGumServer,
) -> None:
    async with _client(server.url) as client:
        await client.suggest(minimal_request())
    (seen,) = server.requests
    assert seen.status == 200
    assert seen.header("Authorization") == "Bearer " + KEY
    assert seen.header("Accept") == "application/json"
    assert seen.header("Content-Type") == "application/json"
    assert (seen.header("User-Agent") or "").startswith("dumgum-async/")


# --- where the key lives ------------------------------------------------------------


def test_the_key_lives_only_in_secrets() -> None:
    client = _client("http://127.0.0.1:9")
    assert client._api_key.reveal() == KEY
    assert client._headers["Authorization"] == "Bearer " + KEY
    probe = RuntimeError("probe")
    probe.client = client  # type: ignore[attr-defined]
    probe.transport = client._transport  # type: ignore[attr-defined]
    assert_no_leak(probe)


def test_the_key_from_the_environment_is_held_the_same_way(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DUMGUM_API_KEY", KEY)
    client = dg.DumGumClient(base_url="http://127.0.0.1:9")
    assert isinstance(client._api_key, Secret)
    assert client._headers["Authorization"] == "Bearer " + KEY
    assert KEY not in repr(vars(client))


# --- configuration errors -----------------------------------------------------------


@pytest.mark.parametrize(
    ("char", "said"),
    [
        ("\x01", "control character (U+0001)"),
        ("\x1b", "control character (U+001B)"),
        ("\x7f", "control character (U+007F)"),
        ("\r", "control character (U+000D)"),
        ("\n", "control character (U+000A)"),
        ("\0", "control character (U+0000)"),
        (" ", "whitespace (U+0020)"),
        ("\u00a0", "whitespace (U+00A0)"),
        ("\u200b", "invisible formatting character (U+200B)"),
        ("\u00e9", "non-ASCII character"),
    ],
)
def test_a_key_with_a_character_a_header_cannot_carry_is_refused_at_construction(
    char: str, said: str
) -> None:
    with pytest.raises(dg.ConfigurationError, match="api_key has") as info:
        dg.DumGumClient(api_key=KEY + char)
    assert said in str(info.value)
    assert f"index {len(KEY)}" in str(info.value)
    assert_no_leak(info.value)


def test_a_bad_key_in_the_environment_is_named_as_such(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUMGUM_API_KEY", KEY + "\x1b")
    with pytest.raises(dg.ConfigurationError, match="DUMGUM_API_KEY has a control") as info:
        dg.DumGumClient()
    assert_no_leak(info.value)


def test_an_empty_key_does_not_fall_back_to_the_environment_nor_show_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DUMGUM_API_KEY", KEY)
    with pytest.raises(dg.ConfigurationError, match="no API key") as info:
        dg.DumGumClient(api_key="")
    assert_no_leak(info.value)


def test_a_blank_key_in_the_environment_is_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUMGUM_API_KEY", " \t ")
    with pytest.raises(dg.ConfigurationError, match="no API key"):
        dg.DumGumClient()


def test_a_key_that_is_not_a_str_is_refused_without_showing_it() -> None:
    with pytest.raises(dg.ConfigurationError, match="must be a str, got bytes") as info:
        dg.DumGumClient(api_key=KEY.encode())  # type: ignore[arg-type]
    assert_no_leak(info.value, KEY)


@pytest.mark.parametrize(
    "settings",
    [
        {"base_url": "ftp://api.dumgum.com"},
        {"base_url": "http://api.dumgum.com"},
        {"timeout": 0},
        {"timeout": "30"},
        {"max_concurrency": 0},
        {"retry": "yes"},
        {"max_response_bytes": 1},
    ],
)
def test_configuration_errors_after_the_key_was_read_do_not_hold_it(
    settings: dict[str, Any],
) -> None:
    with pytest.raises(dg.ConfigurationError) as info:
        dg.DumGumClient(api_key=KEY, **settings)
    assert_no_leak(info.value)


def test_a_configuration_error_with_the_key_from_the_environment_does_not_hold_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DUMGUM_API_KEY", KEY)
    with pytest.raises(dg.ConfigurationError) as info:
        dg.DumGumClient(base_url="ftp://x")
    assert_no_leak(info.value)


def test_repr_of_a_client_whose_init_raised_does_not_raise() -> None:
    with pytest.raises(dg.ConfigurationError) as info:
        dg.DumGumClient(api_key=KEY, timeout=-1)
    tb = info.value.__traceback__
    selves = []
    while tb is not None:
        if tb.tb_frame.f_code.co_name == "__init__" and "self" in tb.tb_frame.f_locals:
            selves.append(tb.tb_frame.f_locals["self"])
        tb = tb.tb_next
    assert selves, "the constructor's frame is in the traceback"
    for half_built in selves:
        assert "not initialised" in repr(half_built)


def test_repr_of_a_client_that_failed_before_its_base_url_does_not_raise() -> None:
    with pytest.raises(dg.ConfigurationError) as info:
        dg.DumGumClient(api_key="bad\x01")
    rendered = "".join(
        traceback.TracebackException.from_exception(info.value, capture_locals=True).format()
    )
    assert "<DumGumClient base_url=None not initialised>" in rendered


# --- errors of a call ---------------------------------------------------------------


async def test_a_refused_connection_does_not_hold_the_key() -> None:
    async with _client(f"http://127.0.0.1:{_closed_port()}") as client:
        with pytest.raises(dg.APIConnectionError) as info:
            await client.suggest(minimal_request())
    assert_no_leak(info.value)


async def test_a_connection_reset_before_the_response_does_not_hold_the_key(
    server: FakeDumGumServer,
) -> None:
    exc = await _failure(server, ScriptedResponse.reset())
    assert isinstance(exc, dg.APIConnectionError)
    assert_no_leak(exc)


async def test_a_connection_cut_mid_body_does_not_hold_the_key(server: FakeDumGumServer) -> None:
    exc = await _failure(server, ScriptedResponse.fault_of(FaultKind.TRUNCATED))
    assert isinstance(exc, dg.APIConnectionError)
    assert_no_leak(exc)


async def test_a_timeout_does_not_hold_the_key(server: FakeDumGumServer) -> None:
    exc = await _failure(server, ScriptedResponse.stall(2.0), timeout=0.2)
    assert isinstance(exc, dg.APITimeoutError)
    assert_no_leak(exc)


async def test_a_deadline_does_not_hold_the_key(server: FakeDumGumServer) -> None:
    exc = await _failure(
        server,
        ScriptedResponse.stall(2.0),
        retry=dg.RetryPolicy(deadline=0.2, budget=None),
        timeout=5,
    )
    assert isinstance(exc, dg.APITimeoutError)
    assert_no_leak(exc)


async def test_a_401_for_a_wrong_key_does_not_hold_either_key() -> None:
    async with (
        FakeDumGumServer(api_key="the-right-one") as fake,
        _client(fake.url) as client,
    ):
        with pytest.raises(dg.AuthenticationError) as info:
            await client.suggest(minimal_request())
    assert_no_leak(info.value)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422, 429, 500, 502, 503, 504, 418])
async def test_a_status_error_does_not_hold_the_key(server: FakeDumGumServer, status: int) -> None:
    exc = await _failure(
        server,
        ScriptedResponse(status=status, json={"error": "no"}, headers={"Retry-After": "0"}),
    )
    assert isinstance(exc, dg.APIStatusError)
    assert exc.status_code == status
    assert_no_leak(exc)


async def test_a_status_error_after_retries_does_not_hold_the_key(
    server: FakeDumGumServer,
) -> None:
    policy = dg.RetryPolicy(max_attempts=3, initial_backoff=0.01, max_backoff=0.01, budget=None)
    failures = [ScriptedResponse(status=503, json={"error": "busy"}) for _ in range(3)]
    exc = await _failure(server, *failures, retry=policy)
    assert exc.attempts == 3
    assert_no_leak(exc)


async def test_an_unreadable_2xx_body_does_not_hold_the_key(server: FakeDumGumServer) -> None:
    exc = await _failure(server, ScriptedResponse(status=200, body=b"<html>portal</html>"))
    assert isinstance(exc, dg.ResponseDecodeError)
    assert_no_leak(exc)


async def test_an_oversized_2xx_body_does_not_hold_the_key(server: FakeDumGumServer) -> None:
    exc = await _failure(
        server, ScriptedResponse(status=200, body=b"x" * 4096), max_response_bytes=1024
    )
    assert isinstance(exc, dg.ResponseDecodeError)
    assert_no_leak(exc)


@pytest.mark.parametrize("status", [401, 502])
async def test_a_key_echoed_in_an_error_page_is_redacted(
    server: FakeDumGumServer, status: int
) -> None:
    # Placed across the 200-character cut of the message, which must not keep a part of it.
    page = ("x" * 190 + f"Authorization: Bearer {KEY}\n").encode()
    exc = await _failure(server, ScriptedResponse(status=status, body=page))
    assert isinstance(exc, dg.APIStatusError)
    assert "Authorization: Bearer <redacted>" in exc.body
    assert KEY[:8] not in str(exc)
    assert_no_leak(exc)


async def test_a_key_echoed_in_a_response_header_is_redacted(
    server: FakeDumGumServer,
) -> None:
    exc = await _failure(
        server, ScriptedResponse(status=502, headers={"X-Debug-Auth": f"Bearer {KEY}"})
    )
    assert isinstance(exc, dg.APIStatusError)
    assert exc.headers["X-Debug-Auth"] == "Bearer <redacted>"
    assert_no_leak(exc)


async def test_a_key_echoed_in_an_unreadable_2xx_body_is_redacted(
    server: FakeDumGumServer,
) -> None:
    page = ("x" * 190 + f"Authorization: Bearer {KEY}").encode()
    exc = await _failure(server, ScriptedResponse(status=200, body=page))
    assert isinstance(exc, dg.ResponseDecodeError)
    assert KEY[:8] not in exc.body_excerpt
    assert_no_leak(exc)


async def test_a_refused_cross_origin_redirect_does_not_hold_the_key(
    server: FakeDumGumServer,
) -> None:
    elsewhere = f"http://localhost:{server.port}/cs/v1/content_creation/suggestion"
    exc = await _failure(server, ScriptedResponse(status=307, headers={"Location": elsewhere}))
    assert isinstance(exc, dg.APIStatusError)
    assert "refusing" in str(exc)
    assert_no_leak(exc)


async def test_a_redirect_loop_does_not_hold_the_key(server: FakeDumGumServer) -> None:
    loop = [ScriptedResponse(status=308, headers={"Location": server.endpoint_url})] * 4
    exc = await _failure(server, *loop)
    assert "redirects" in str(exc)
    assert_no_leak(exc)


async def test_a_validation_error_does_not_hold_the_key(server: FakeDumGumServer) -> None:
    async with _client(server.url) as client:
        with pytest.raises(dg.RequestValidationError) as info:
            await client.suggest({"messages": "not a list"})
    assert server.requests == []
    assert_no_leak(info.value)


async def test_a_closed_client_error_does_not_hold_the_key(server: FakeDumGumServer) -> None:
    client = _client(server.url)
    await client.aclose()
    with pytest.raises(dg.ClientClosedError) as info:
        await client.suggest(minimal_request())
    assert_no_leak(info.value)


async def test_debug_logs_during_retries_do_not_show_the_key(
    server: FakeDumGumServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    policy = dg.RetryPolicy(max_attempts=4, initial_backoff=0.01, max_backoff=0.01, budget=None)
    server.script(
        ScriptedResponse(status=503, body=f"echo {KEY}".encode()),
        ScriptedResponse.reset(),
        ScriptedResponse(status=429, json={"error": "slow"}, headers={"Retry-After": "0"}),
    )
    async with _client(server.url, retry=policy) as client:
        await client.suggest(minimal_request())
    assert len(server.requests) == 4
    messages = [r.getMessage() for r in caplog.records]
    assert sum("retrying" in m for m in messages) == 3, messages
    assert any("-> 200" in m for m in messages), messages
    formatter = logging.Formatter("%(levelname)s %(name)s %(message)s")
    for record in caplog.records:
        assert KEY not in formatter.format(record)
        assert KEY not in repr(vars(record))


# --- the shared (Redis) rate limiter ------------------------------------------------


async def test_an_unreachable_redis_does_not_show_its_password() -> None:
    pytest.importorskip("redis")
    url = f"redis://:{REDIS_PASSWORD}@127.0.0.1:{_closed_port()}/0"
    async with dg.RedisRateLimit(url, key="secrets-test", max_rate=10, socket_timeout=1) as limiter:
        with pytest.raises(dg.RateLimiterUnavailableError) as info:
            await limiter.acquire()
    assert_no_leak(info.value, REDIS_PASSWORD)


async def test_a_call_failing_on_an_unreachable_redis_shows_neither_secret(
    server: FakeDumGumServer,
) -> None:
    pytest.importorskip("redis")
    url = f"redis://user:{REDIS_PASSWORD}@127.0.0.1:{_closed_port()}/0"
    async with (
        dg.RedisRateLimit(url, key="secrets-test", max_rate=10, socket_timeout=1) as limiter,
        _client(server.url, rate_limit=limiter) as client,
    ):
        with pytest.raises(dg.RateLimiterUnavailableError) as info:
            await client.suggest(minimal_request())
    assert server.requests == []
    assert_no_leak(info.value, KEY, REDIS_PASSWORD)


_BAD_SETTINGS: dict[str, Callable[[str], object]] = {
    "fixed, bad margin": lambda url: dg.RedisRateLimit(url, key="k", max_rate=10, margin=-1),
    "fixed, bad rate": lambda url: dg.RedisRateLimit(url, key="k", max_rate=0),
    "adaptive, bad bounds": lambda url: dg.RedisRateLimit.adaptive(
        url, key="k", min_rate=5, start=1
    ),
    "adaptive, bad margin": lambda url: dg.RedisRateLimit.adaptive(url, key="k", margin=-1),
    "adaptive, unknown keyword": lambda url: dg.RedisRateLimit.adaptive(url, key="k", burst=3),  # type: ignore[call-arg]
}


@pytest.mark.parametrize("build", _BAD_SETTINGS.values(), ids=_BAD_SETTINGS.keys())
def test_a_limiter_refusing_its_settings_does_not_show_the_redis_password(
    build: Callable[[str], object],
) -> None:
    pytest.importorskip("redis")
    url = f"redis://user:{REDIS_PASSWORD}@127.0.0.1:{_closed_port()}/0"
    with pytest.raises((dg.ConfigurationError, TypeError)) as info:
        build(url)
    assert_no_leak(info.value, REDIS_PASSWORD)


# --- the key in errors the transport builds itself ------------------------------------

ECHOED_KEY = "sk-review-0123456789abcdef"

# A proxy echoing the request's headers into the start of an oversized 2xx body, and a
# refused redirect echoing them into one of its headers.
# Chunked: with a Content-Length the cap refuses the body unread.
_ECHO = f"Authorization: Bearer {ECHOED_KEY}\n".encode() + bytes(8192)
_ECHOED_BODY = (
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    + b"%x\r\n%s\r\n0\r\n\r\n" % (len(_ECHO), _ECHO)
)
_ECHOED_REDIRECT = http_response(
    "307 Temporary Redirect",
    b"",
    "Location: http://elsewhere.example/",
    f"X-Echo: Bearer {ECHOED_KEY}",
)


async def _transport_error(raw: bytes, secret: Secret) -> dg.DumGumError:
    async with hostile_server(replying(raw)) as server:
        transport = Transport(session=None, max_connections=1, max_response_bytes=4096)
        transport.open()
        try:
            with pytest.raises(dg.DumGumError) as info:
                await transport.post(
                    f"http://127.0.0.1:{server.port}/x", b"{}", {}, timeout=2.0, secret=secret
                )
        finally:
            await transport.close()
    return info.value


async def test_an_oversized_bodys_excerpt_has_the_key_redacted_by_the_transport() -> None:
    error = await _transport_error(_ECHOED_BODY, Secret(ECHOED_KEY))
    assert isinstance(error, dg.ResponseDecodeError)
    assert "Bearer <redacted>" in error.body_excerpt
    assert ECHOED_KEY not in error.body_excerpt


async def test_a_refused_redirects_headers_have_the_key_masked_by_the_transport() -> None:
    error = await _transport_error(_ECHOED_REDIRECT, Secret(ECHOED_KEY))
    assert isinstance(error, dg.APIStatusError)
    assert error.headers["X-Echo"] == "Bearer <redacted>"


async def _client_error(raw: bytes) -> dg.DumGumError:
    async with (
        hostile_server(replying(raw)) as server,
        dg.DumGumClient(
            api_key=ECHOED_KEY,
            base_url=f"http://127.0.0.1:{server.port}",
            retry=None,
            max_response_bytes=4096,
        ) as client,
    ):
        with pytest.raises(dg.DumGumError) as info:
            await client.suggest(minimal_request())
    return info.value


async def test_an_oversized_bodys_excerpt_never_holds_the_key() -> None:
    error = await _client_error(_ECHOED_BODY)
    assert isinstance(error, dg.ResponseDecodeError)
    assert ECHOED_KEY not in error.body_excerpt


async def test_a_refused_redirects_headers_never_hold_the_key() -> None:
    error = await _client_error(_ECHOED_REDIRECT)
    assert isinstance(error, dg.APIStatusError)
    assert ECHOED_KEY not in error.headers["X-Echo"]


async def test_an_error_page_cut_at_the_cap_keeps_no_part_of_the_key() -> None:
    # The key straddles the cap: cut first and redacted later, its first half stayed.
    page = bytes(4096 - len(ECHOED_KEY) // 2) + ECHOED_KEY.encode() + bytes(4096)
    raw = b"HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n" + (
        b"%x\r\n%s\r\n0\r\n\r\n" % (len(page), page)
    )
    async with hostile_server(replying(raw)) as server:
        transport = Transport(session=None, max_connections=1, max_response_bytes=4096)
        transport.open()
        try:
            response = await transport.post(
                f"http://127.0.0.1:{server.port}/x",
                b"{}",
                {},
                timeout=2.0,
                secret=Secret(ECHOED_KEY),
            )
        finally:
            await transport.close()
    assert ECHOED_KEY[: len(ECHOED_KEY) // 2].encode() not in response.body


# --- a key echoed where the transport builds the error from the answer ----------------


def _chunked(status: str, body: bytes, *headers: str) -> bytes:
    head = "\r\n".join((f"HTTP/1.1 {status}", "Transfer-Encoding: chunked", *headers))
    return (head + "\r\n\r\n").encode("latin-1") + b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)


_OVERSIZED_WITH_ECHOED_ID = {
    "content-length": http_response("200 OK", bytes(8192), f"X-Request-Id: Bearer {ECHOED_KEY}"),
    "chunked": _chunked("200 OK", bytes(8192), f"X-Request-Id: Bearer {ECHOED_KEY}"),
}


@pytest.mark.parametrize("raw", _OVERSIZED_WITH_ECHOED_ID.values(), ids=_OVERSIZED_WITH_ECHOED_ID)
async def test_an_oversized_2xx_bodys_request_id_never_holds_the_key(raw: bytes) -> None:
    error = await _client_error(raw)
    assert isinstance(error, dg.ResponseDecodeError)
    assert error.request_id == "Bearer <redacted>"
    assert_no_leak(error, ECHOED_KEY)


async def test_an_oversized_2xx_bodys_excerpt_keeps_no_part_of_a_key_across_its_cut() -> None:
    # The excerpt is the first 200 bytes: cut before the redaction, the key's start stayed.
    body = b"x" * (200 - len(ECHOED_KEY) // 2) + ECHOED_KEY.encode() + bytes(8192)
    error = await _client_error(_chunked("200 OK", body))
    assert isinstance(error, dg.ResponseDecodeError)
    assert ECHOED_KEY[: len(ECHOED_KEY) // 2] not in error.body_excerpt
    assert_no_leak(error, ECHOED_KEY)


_REDIRECTS_ECHOING_THE_KEY = {
    "malformed": f"http://127.0.0.1:1:2/?key={ECHOED_KEY}",
    "not http": f"javascript:{ECHOED_KEY}",
    "key as the host": f"http://{ECHOED_KEY}.example/",
    "key in another host's query": f"http://elsewhere.example/?key={ECHOED_KEY}",
}


@pytest.mark.parametrize(
    "location", _REDIRECTS_ECHOING_THE_KEY.values(), ids=_REDIRECTS_ECHOING_THE_KEY
)
async def test_a_refused_redirects_message_never_holds_the_key(location: str) -> None:
    raw = http_response("307 Temporary Redirect", b"", f"Location: {location}")
    error = await _client_error(raw)
    assert isinstance(error, dg.APIStatusError)
    assert "refusing" in str(error)
    assert_no_leak(error, ECHOED_KEY)


async def test_a_key_in_a_redirects_host_is_not_shown_lower_cased_either() -> None:
    # yarl lower-cases a host: a message built from the parsed URL escaped the redaction.
    raw = http_response("307 Temporary Redirect", b"", f"Location: http://{KEY}.example/")
    async with (
        hostile_server(replying(raw)) as server,
        _client(f"http://127.0.0.1:{server.port}") as client,
    ):
        with pytest.raises(dg.APIStatusError) as info:
            await client.suggest(minimal_request())
    assert KEY.lower() not in str(info.value).lower()
    assert_no_leak(info.value, KEY, KEY.lower())


async def test_a_same_origin_redirect_echoing_the_key_is_refused_without_showing_it() -> None:
    # Followed, its URL would be in every later message ("more than 3 redirects from
    # ...?k=<key>"), log line and span.
    raw = http_response("307 Temporary Redirect", b"", f"Location: /next?k={ECHOED_KEY}")
    async with (
        hostile_server(replying(raw)) as server,
        dg.DumGumClient(
            api_key=ECHOED_KEY, base_url=f"http://127.0.0.1:{server.port}", retry=None
        ) as client,
    ):
        with pytest.raises(dg.APIStatusError) as info:
            await client.suggest(minimal_request())
        assert len(server.requests) == 1
    assert "carrying credentials" in str(info.value)
    assert_no_leak(info.value, ECHOED_KEY)
