"""Reading an answer's headers: ``Retry-After`` as seconds or as an HTTP date."""

from __future__ import annotations

import calendar
import time
from collections.abc import Iterator

import pytest

from dumgum_async._interpret import parse_retry_after


@pytest.fixture
def west_coast(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process's local time zone is eight hours behind UTC, for the test."""
    monkeypatch.setenv("TZ", "America/Los_Angeles")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("west_coast")
@pytest.mark.parametrize("zone", [" -0000", ""])
def test_a_retry_after_date_without_a_zone_is_read_as_gmt(zone: str) -> None:
    # HTTP dates are GMT (RFC 9110); email.utils gives a naive datetime for these,
    # which .timestamp() read as local time: 60 s became 8 hours and a minute.
    now = calendar.timegm((2015, 10, 21, 7, 27, 0))
    assert parse_retry_after(f"Wed, 21 Oct 2015 07:28:00{zone}", now=now) == 60.0
