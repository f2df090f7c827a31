"""The checks of plain setting values: a value no setting can hold is a ConfigurationError."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import dumgum_async as dg

KEY = "sk-checks-0123456789abcdef"
#: Past the largest float: math.isfinite() raised OverflowError for it.
HUGE = 10**400


@pytest.mark.parametrize(
    ("make", "name"),
    [
        (lambda v: dg.DumGumClient(api_key=KEY, timeout=v), "timeout"),
        (lambda v: dg.Timeout(total=1, connect=v), "connect"),
        (lambda v: dg.RetryPolicy(max_backoff=v), "max_backoff"),
        (lambda v: dg.RetryPolicy(deadline=v), "deadline"),
        (lambda v: dg.RetryPolicy(max_retry_after=v), "max_retry_after"),
        (lambda v: dg.RateLimit(v), "max_rate"),
        (lambda v: dg.CircuitBreaker(cooldown=v), "cooldown"),
    ],
)
def test_an_int_too_large_for_a_float_is_a_configuration_error_naming_the_setting(
    make: Callable[[int], object], name: str
) -> None:
    with pytest.raises(dg.ConfigurationError, match=name):
        make(HUGE)


def test_an_int_too_long_to_print_is_described_not_printed() -> None:
    # repr() of an int over 4,300 digits raises ValueError, which the message's
    # formatting would have raised instead of the ConfigurationError.
    with pytest.raises(dg.ConfigurationError, match=r"failure_ratio .* about 5001 digits"):
        dg.CircuitBreaker(failure_ratio=10**5000)
