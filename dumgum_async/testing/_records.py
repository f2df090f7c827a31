"""What the emulator remembers about the requests it received."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from dumgum_async.testing._faults import FaultKind

__all__ = ["RecordedRequest", "ServerStats"]

_UNPARSED: Final = object()


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request as the emulator received it, and what it did about it.

    Attributes:
        method: HTTP method, e.g. ``"POST"``.
        path: URL path without the query string.
        headers: A copy of the request headers, names as sent (repeated headers are joined
            with ``", "``); use :meth:`header` for a case-insensitive lookup.
        body: The raw body.
        json: The body parsed as JSON, or None if it was empty or not JSON.
        received_at: ``time.monotonic()`` when the body had arrived.
        status: The HTTP status sent (after a stall: the one that is sent when the stall
            ends), or None when no response is sent (connection reset).
        fault: The fault applied (random or scripted), or None.
        scripted: Whether a :class:`ScriptedResponse` answered it.
    """

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes
    received_at: float
    status: int | None
    fault: FaultKind | None = None
    scripted: bool = False
    # Parsed on first use: thousands of parsed bodies kept alive would make every
    # full garbage collection of the server a pause long enough to skew the arrival
    # times a rate-limit test measures.
    _json: Any = field(default=_UNPARSED, repr=False, compare=False)

    @property
    def json(self) -> Any:
        """The body parsed as JSON, or None if it was empty or not JSON."""
        if self._json is _UNPARSED:
            try:
                parsed = orjson.loads(self.body) if self.body else None
            except orjson.JSONDecodeError:
                parsed = None
            object.__setattr__(self, "_json", parsed)
        return self._json

    def header(self, name: str, default: str | None = None) -> str | None:
        """Return a request header by case-insensitive name, or ``default``."""
        value = self.headers.get(name)
        if value is not None:
            return value
        wanted = name.lower()
        for key, found in self.headers.items():
            if key.lower() == wanted:
                return found
        return default


@dataclass(frozen=True, slots=True)
class ServerStats:
    """Counters since the server started (or since ``server.clear()``).

    Attributes:
        total: Requests received.
        by_status: Responses by HTTP status (resets have none and are not counted here).
        by_fault: Requests by fault applied (random or scripted).
        rate_limited: 429 responses sent by the rate limiter (random 429 faults are in
            ``by_fault``).
        scripted: Requests answered by a scripted response.
        in_flight: Requests received and not answered yet.
    """

    total: int
    by_status: Mapping[int, int]
    by_fault: Mapping[FaultKind, int]
    rate_limited: int
    scripted: int
    in_flight: int
