"""``mock_api()``: aioresponses, patched to work with the installed aiohttp.

aiohttp 3.14 made ``ClientResponse``'s ``stream_writer`` argument required and
aioresponses 0.7.9 does not pass it, so every mocked request fails with a
``TypeError`` (upstream: pnuckowski/aioresponses issue #289; the fix proposed in its
PR #288 takes the same approach as this one: aiohttp only reads
``stream_writer.output_size``).  The patch is applied only while the context is open
and only where the installed aiohttp needs it.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from unittest import mock

import aiohttp

if TYPE_CHECKING:
    from aioresponses import aioresponses

__all__ = ["mock_api"]

_NEEDS_AIORESPONSES = (
    "dumgum_async.testing.mock_api() needs aioresponses: pip install 'dumgum-async[testing]'"
)


class _NoStreamWriter:
    """Stands in for the request writer a mocked response never had."""

    output_size = 0


class _CompatResponse(aiohttp.ClientResponse):
    """A ``ClientResponse`` that aioresponses 0.7.9 can build on aiohttp 3.14+."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", _NoStreamWriter())
        super().__init__(*args, **kwargs)


@contextlib.contextmanager
def mock_api(**options: Any) -> Iterator[aioresponses]:
    """Mock every aiohttp request (the client's included) with aioresponses.

    Works with the installed aiohttp, including 3.14 and later with aioresponses 0.7.9.
    Register answers on the object it yields, e.g.
    ``mocked.post(url, payload={"suggestions": [...]})``; it records the calls made in
    ``mocked.requests``.

    Args:
        options: Passed to ``aioresponses()``, e.g. ``passthrough=[server.url]`` to let
            requests to a real server (such as :class:`FakeDumGumServer`) through.

    Yields:
        The started ``aioresponses`` object; it is stopped when the block ends.

    Raises:
        ImportError: aioresponses is not installed (it comes with the ``testing`` extra).
    """
    try:
        import aioresponses.core as aioresponses_core
    except ImportError as exc:
        raise ImportError(_NEEDS_AIORESPONSES, name=exc.name) from exc
    with (
        mock.patch.object(aioresponses_core, "ClientResponse", _response_class()),
        aioresponses_core.aioresponses(**options) as mocked,
    ):
        yield mocked


def _response_class() -> type[aiohttp.ClientResponse]:
    needs_writer = "stream_writer" in inspect.signature(aiohttp.ClientResponse).parameters
    return _CompatResponse if needs_writer else aiohttp.ClientResponse
