"""The circuit breaker on a fake clock: when it opens, probes and closes, and what counts."""

from __future__ import annotations

import random

import pytest

import dumgum_async as dg
from dumgum_async._breaker import CLOSED, HALF_OPEN, OPEN, PROBE_POLL, Breaker, Ticket
from dumgum_async._retry import is_outage, is_retryable

QUICK = dg.CircuitBreaker(window=20, failure_ratio=0.8, cooldown=5.0, max_cooldown=20.0, probes=2)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _breaker(policy: dg.CircuitBreaker = QUICK) -> tuple[Breaker, FakeClock]:
    clock = FakeClock()
    return Breaker(policy, clock=clock), clock


def _ticket(breaker: Breaker) -> Ticket:
    got = breaker.admit()
    assert isinstance(got, Ticket), f"not admitted: wait {got}"
    return got


def _fail(breaker: Breaker, n: int) -> None:
    for _ in range(n):
        breaker.record(_ticket(breaker), True)


def _open(breaker: Breaker) -> None:
    _fail(breaker, breaker.policy.window)
    assert breaker.state == OPEN


def test_defaults_are_the_documented_constants() -> None:
    policy = dg.CircuitBreaker()
    assert policy.window == dg.DEFAULT_BREAKER_WINDOW == 20
    assert policy.failure_ratio == dg.DEFAULT_BREAKER_FAILURE_RATIO
    assert policy.cooldown == dg.DEFAULT_BREAKER_COOLDOWN
    assert policy.max_cooldown == dg.DEFAULT_BREAKER_MAX_COOLDOWN
    assert policy.probes == dg.DEFAULT_BREAKER_PROBES


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("window", 0),
        ("window", 2.5),
        ("failure_ratio", 0),
        ("failure_ratio", 1.5),
        ("cooldown", -1),
        ("max_cooldown", 1.0),  # below the default cooldown
        ("probes", 0),
    ],
)
def test_bad_settings_are_a_configuration_error_naming_the_field(field: str, value: float) -> None:
    with pytest.raises(dg.ConfigurationError, match=field):
        dg.CircuitBreaker(**{field: value})  # type: ignore[arg-type]


def test_a_client_refuses_a_breaker_of_the_wrong_type() -> None:
    with pytest.raises(dg.ConfigurationError, match="circuit_breaker"):
        dg.DumGumClient(api_key="k", circuit_breaker=5.0)  # type: ignore[arg-type]


def test_an_api_failing_every_attempt_opens_it_within_20_attempts() -> None:
    breaker, _ = _breaker(dg.CircuitBreaker())
    _fail(breaker, 19)
    assert breaker.state == CLOSED
    _fail(breaker, 1)
    assert breaker.state == OPEN
    assert breaker.openings == 1


def test_failures_after_successes_open_it_once_the_ratio_is_reached() -> None:
    breaker, _ = _breaker()
    for _ in range(20):
        breaker.record(_ticket(breaker), False)
    _fail(breaker, 15)
    assert breaker.state == CLOSED  # 15 of the last 20
    _fail(breaker, 1)
    assert breaker.state == OPEN  # 16 of the last 20 = 80%


def test_a_30_percent_random_fault_mix_never_opens_it() -> None:
    rng = random.Random(20261201)
    breaker, _ = _breaker(dg.CircuitBreaker())
    for _ in range(50_000):
        breaker.record(_ticket(breaker), rng.random() < 0.3)
    assert breaker.state == CLOSED
    assert breaker.openings == 0


def test_while_open_nothing_is_admitted_until_the_cooldown_ends() -> None:
    breaker, clock = _breaker()
    _open(breaker)
    assert breaker.admit() == pytest.approx(5.0)
    clock.now += 3.0
    assert breaker.admit() == pytest.approx(2.0)
    assert breaker.retry_at == pytest.approx(1005.0)


def test_after_the_cooldown_one_probe_at_a_time_goes_through() -> None:
    breaker, clock = _breaker()
    _open(breaker)
    clock.now += 5.0
    assert breaker.state == HALF_OPEN
    probe = _ticket(breaker)
    assert probe.probe
    assert breaker.admit() == PROBE_POLL


def test_successful_probes_close_it() -> None:
    breaker, clock = _breaker()
    _open(breaker)
    clock.now += 5.0
    breaker.record(_ticket(breaker), False)
    assert breaker.state == HALF_OPEN  # two probes must succeed
    breaker.record(_ticket(breaker), False)
    assert breaker.state == CLOSED
    assert breaker.retry_at is None
    assert not _ticket(breaker).probe


def test_a_failed_probe_reopens_it_for_twice_as_long_up_to_the_cap() -> None:
    breaker, clock = _breaker()
    _open(breaker)
    waits = []
    for _ in range(4):
        clock.now += 100.0
        breaker.record(_ticket(breaker), True)
        got = breaker.admit()
        assert isinstance(got, float)
        waits.append(got)
    assert waits == pytest.approx([10.0, 20.0, 20.0, 20.0])
    assert breaker.openings == 5


def test_the_cooldown_starts_over_after_it_closed() -> None:
    breaker, clock = _breaker()
    _open(breaker)
    clock.now += 5.0
    breaker.record(_ticket(breaker), True)  # reopened for 10 s
    clock.now += 10.0
    breaker.record(_ticket(breaker), False)
    breaker.record(_ticket(breaker), False)
    _open(breaker)
    assert breaker.admit() == pytest.approx(5.0)


def test_a_probe_without_a_verdict_lets_the_next_one_through() -> None:
    breaker, clock = _breaker()
    _open(breaker)
    clock.now += 5.0
    breaker.record(_ticket(breaker), None)  # cancelled, or cut by the caller's deadline
    assert breaker.state == HALF_OPEN
    assert _ticket(breaker).probe


def test_outcomes_of_attempts_sent_before_it_opened_are_ignored() -> None:
    breaker, clock = _breaker()
    early = [_ticket(breaker) for _ in range(10)]
    _open(breaker)
    clock.now += 5.0
    probe = _ticket(breaker)
    for ticket in early:
        breaker.record(ticket, False)  # late successes decide nothing
    assert breaker.state == HALF_OPEN
    breaker.record(probe, True)
    assert breaker.state == OPEN


def test_a_ticket_from_before_it_opened_and_closed_again_is_ignored() -> None:
    breaker, clock = _breaker()
    stale = _ticket(breaker)
    _open(breaker)
    clock.now += 5.0
    breaker.record(_ticket(breaker), False)
    breaker.record(_ticket(breaker), False)
    assert breaker.state == CLOSED
    fresh = _ticket(breaker)
    assert fresh is not stale
    for _ in range(QUICK.window):
        breaker.record(stale, True)  # the old closed state's: no evidence now
    assert breaker.state == CLOSED
    _fail(breaker, QUICK.window)
    assert breaker.state == OPEN


def test_outcomes_without_a_verdict_do_not_fill_the_window() -> None:
    breaker, _ = _breaker()
    _fail(breaker, 19)
    for _ in range(50):
        breaker.record(_ticket(breaker), None)
    assert breaker.state == CLOSED
    _fail(breaker, 1)
    assert breaker.state == OPEN


@pytest.mark.parametrize(
    ("exc", "outage"),
    [
        (dg.APIConnectionError("refused"), True),
        (dg.APITimeoutError("slow"), True),
        (dg.ResponseDecodeError("garbled"), True),
        (dg.InternalServerError("x", status_code=503), True),
        (dg.InternalServerError("x", status_code=500), True),
        (dg.RateLimitError("x", status_code=429), False),
        (dg.AuthenticationError("x", status_code=401), False),
        (dg.BadRequestError("x", status_code=400), False),
        (dg.CircuitOpenError("x", retry_after=1.0, retry_at=1.0), False),
    ],
)
def test_what_counts_as_a_failure_of_the_api(exc: dg.APIError, outage: bool) -> None:
    assert is_outage(exc) is outage


def test_a_circuit_open_error_is_a_connection_error_that_is_never_retried() -> None:
    exc = dg.CircuitOpenError("open", retry_after=2.5, retry_at=123.0)
    assert isinstance(exc, dg.APIConnectionError)
    assert (exc.retry_after, exc.retry_at) == (2.5, 123.0)
    assert not is_retryable(exc)
