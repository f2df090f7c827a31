"""Caller objects whose own methods fail: what the library must turn into problems."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any


class RaisingMapping(Mapping[str, Any]):
    """A mapping every read of which raises (a lazy view over a closed store, say)."""

    def __getitem__(self, key: str) -> Any:
        raise RuntimeError("getitem boom")

    def __iter__(self) -> Iterator[str]:
        raise RuntimeError("iter boom")

    def __len__(self) -> int:
        return 1


class UnhashableStr(str):
    """A string whose ``__hash__`` raises: a set, a dict or a cache of it fails."""

    __slots__ = ()

    def __hash__(self) -> int:
        raise RuntimeError("hash boom")


class RaisingTZ(dt.tzinfo):
    """A half-written tzinfo: ``utcoffset`` raises."""

    def utcoffset(self, d: dt.datetime | None) -> dt.timedelta | None:
        raise RuntimeError("tz boom")

    def dst(self, d: dt.datetime | None) -> dt.timedelta | None:
        return None

    def tzname(self, d: dt.datetime | None) -> str | None:
        return None


class StrOffsetTZ(dt.tzinfo):
    """A tzinfo whose ``utcoffset`` answers a string, which ``datetime`` refuses."""

    def utcoffset(self, d: dt.datetime | None) -> Any:
        return "+01:00"

    def dst(self, d: dt.datetime | None) -> dt.timedelta | None:
        return None

    def tzname(self, d: dt.datetime | None) -> str | None:
        return None
