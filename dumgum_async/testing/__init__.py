"""Aids for testing code that uses dumgum_async: a local DumGum API emulator.

:class:`FakeDumGumServer` is a real HTTP server on ``127.0.0.1`` that behaves like the
vendor's ``POST /cs/v1/content_creation/suggestion``: it checks the bearer key, validates
bodies against the shipped OpenAPI spec (400 listing every problem), answers three
conversation-aware suggestions in the requested language, and on demand rate-limits,
misbehaves (:class:`Faults`), adds :class:`Latency` or plays :class:`ScriptedResponse`
answers.  It records what it receives (:class:`RecordedRequest`).

Validation needs the ``testing`` extra: ``pip install 'dumgum-async[testing]'``.

Example::

    from dumgum_async.testing import FakeDumGumServer, Faults, ScriptedResponse

    async with FakeDumGumServer(api_key="test-key", faults=Faults(http_503=0.1), seed=7) as server:
        server.script(ScriptedResponse(status=503, headers={"Retry-After": "1"}))
        ...  # call server.endpoint_url with "Authorization: Bearer test-key"
        assert server.attempts_for(body) == 2  # the 503, then the retry

With pytest (and pytest-asyncio), the ``dumgum_server``, ``dumgum_server_factory`` and
``dumgum_mock_api`` fixtures are available without any import; see
:mod:`dumgum_async.testing.pytest_plugin`.  :func:`mock_api` mocks the client's requests
with aioresponses instead of a server, patched for the installed aiohttp.
From a shell: ``dumgum-async serve --port 8080 --fault-503 0.1``.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from dumgum_async.testing._constants import DEFAULT_API_KEY, ENDPOINT_PATH, STRING_LIST_HEADER
from dumgum_async.testing._faults import FaultKind, Faults, Latency, ScriptedResponse
from dumgum_async.testing._mock import mock_api
from dumgum_async.testing._rate_limit import ServerRateLimit
from dumgum_async.testing._records import RecordedRequest, ServerStats
from dumgum_async.testing._samples import sample_requests
from dumgum_async.testing._schema import WireProblem, validate_request

if TYPE_CHECKING:
    from dumgum_async.testing._server import FakeDumGumServer, ServerFactory

    # Seen by type checkers; at run time __getattr__ gives it with a DeprecationWarning.
    Problem = WireProblem

__all__ = [
    "DEFAULT_API_KEY",
    "ENDPOINT_PATH",
    "STRING_LIST_HEADER",
    "FakeDumGumServer",
    "FaultKind",
    "Faults",
    "Latency",
    "RecordedRequest",
    "ScriptedResponse",
    "ServerFactory",
    "ServerRateLimit",
    "ServerStats",
    "WireProblem",
    "mock_api",
    "sample_requests",
    "validate_request",
]

# The server pulls in aiohttp.web: import it on first use so that importing this package
# (which the pytest plugin does in every pytest run) stays cheap.
_LAZY = {"FakeDumGumServer", "ServerFactory"}

#: Old public names, kept for one release: each warns and gives its new name's object.
_DEPRECATED = {"Problem": "WireProblem"}

if not TYPE_CHECKING:

    def __getattr__(name: str) -> Any:
        if name in _LAZY:
            from dumgum_async.testing import _server

            return getattr(_server, name)
        if name in _DEPRECATED:
            new = _DEPRECATED[name]
            warnings.warn(
                f"dumgum_async.testing.{name} is deprecated, use {new} (the client's "
                "dumgum_async.Problem is another class)",
                DeprecationWarning,
                stacklevel=2,
            )
            return globals()[new]
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _LAZY)
