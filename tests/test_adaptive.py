"""The adaptive rate: its controller on a fake clock, the limiter following it (virtual
time), and end to end against the emulator enforcing a limit the client is not told."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dumgum_async as dg
from dumgum_async import _adaptive, _cli
from dumgum_async._adaptive import AdaptiveController
from dumgum_async._throttle_adaptive import AdaptiveLimiter
from dumgum_async.testing import FakeDumGumServer, ServerRateLimit, sample_requests
from dumgum_async.testing._rate_limit import TokenBucket
from tests.helpers.bodies import full_request
from tests.helpers.virtual_time import VirtualTimeLoop, run_virtual, send_after
from tests.helpers.windows import max_in_window


def controller(
    start: float = 10.0, *, min_rate: float = 1.0, max_rate: float = 1000.0
) -> AdaptiveController:
    return AdaptiveController(min_rate, max_rate, start, 1.0)


def successes(c: AdaptiveController, start: float, end: float, step: float = 0.01) -> None:
    t = start
    while t <= end + 1e-9:
        c.success(t)
        t += step


# --- the controller, on a fake clock -------------------------------------------------


def test_the_first_requests_go_at_the_start_rate() -> None:
    assert controller(12.0).rate == 12.0


def test_the_rate_grows_by_half_per_window_of_successes_before_any_429() -> None:
    c = controller(10.0)
    c.success(0.0)
    c.success(1.0)
    assert c.rate == pytest.approx(15.0)
    c.success(3.0)
    assert c.rate == pytest.approx(15.0 * 1.5**2)


def test_the_rate_never_exceeds_max_rate() -> None:
    c = controller(10.0, max_rate=40.0)
    successes(c, 0.0, 30.0, step=0.5)
    assert c.rate == 40.0


def test_the_first_429_records_the_ceiling_and_cuts_under_it() -> None:
    c = controller(50.0)
    c.rate_limited(5.0, 1.0)
    assert c.ceiling == 50.0
    assert c.rate == pytest.approx(50.0 * (1 - _adaptive.START_CUT))
    assert c.cuts == 1


def test_429s_before_the_pause_ends_do_not_cut_again() -> None:
    c = controller(50.0)
    c.rate_limited(5.0, 1.0)
    after = c.rate
    c.rate_limited(5.5, 1.0)
    c.rate_limited(5.99, 1.0)
    assert (c.rate, c.cuts) == (after, 1)
    c.rate_limited(6.01, 1.0)
    assert c.cuts == 2


def test_no_growth_during_the_hold_after_a_cut() -> None:
    c = controller(50.0)
    c.rate_limited(0.0, 1.0)
    held = c.rate
    probe_at = 1.0 + _adaptive.START_PROBE_AFTER
    successes(c, 0.5, probe_at - 0.05)
    assert c.rate == held


def test_probing_after_the_hold_grows_slowly() -> None:
    c = controller(50.0)
    c.rate_limited(0.0, 1.0)
    held = c.rate
    probe_at = 1.0 + _adaptive.START_PROBE_AFTER
    successes(c, 1.0, probe_at + 2.0)
    assert c.rate == pytest.approx(held * (1 + _adaptive.PROBE_GROWTH) ** 2, rel=0.02)


def test_a_later_429_cuts_to_a_margin_under_what_the_server_accepted() -> None:
    c = controller(40.0)
    c.rate_limited(0.0, 1.0)  # ceiling 40, rate 28
    c.rate = 45.0  # as if it had probed up
    # The server accepted 30 a window for the last windows (a burst hid the rest).
    successes(c, 1.0, 10.0, step=1 / 30)
    c.rate_limited(10.0, 1.0)
    assert c.ceiling == pytest.approx(30.0, rel=0.02)
    assert c.rate == pytest.approx(30.0 * (1 - _adaptive.HOLD_MARGIN), rel=0.02)


def test_a_429_soon_after_the_pause_takes_the_rate_sent_at_as_the_ceiling() -> None:
    c = controller(40.0)
    c.rate_limited(0.0, 1.0)
    rate = c.rate
    successes(c, 1.0, 2.0)  # too short a span to measure the server by
    c.rate_limited(2.0, 1.0)
    assert c.ceiling == rate


def test_probes_that_find_the_same_ceiling_come_less_often() -> None:
    c = controller(40.0)
    c.rate_limited(0.0, 1.0)
    waits = []
    now = 1.0
    for _ in range(3):
        # The server takes 38 a window; each probe meets it 5 windows in.
        until = max(now + 5.0, c._probe_at + 5.0)
        successes(c, now, until, step=1 / 38)
        now = until
        c.rate_limited(now, 1.0)
        waits.append(c._probe_at - c._quiet_until)
        now += 1.0
    assert waits[1] == 2 * waits[0]
    assert waits[2] == 2 * waits[1]


def test_the_rate_never_falls_below_min_rate() -> None:
    c = controller(5.0, min_rate=4.0)
    now = 0.0
    for _ in range(20):
        c.rate_limited(now, 1.0)
        now += 1.5
    assert c.rate == 4.0


def test_clean_answers_above_the_ceiling_raise_it() -> None:
    c = controller(40.0)
    c.rate_limited(0.0, 1.0)
    successes(c, 1.0, 60.0, step=0.02)
    assert c.ceiling is not None
    assert c.ceiling > 40.0
    assert c.rate == pytest.approx(c.ceiling)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(0.0, 3.0), st.booleans(), st.sampled_from([None, 0.0, 1.0, 5.0])),
        max_size=80,
    ),
    st.floats(1.0, 50.0),
    st.floats(50.0, 500.0),
)
def test_the_rate_stays_within_its_bounds_whatever_the_answers(
    events: list[tuple[float, bool, float | None]], low: float, high: float
) -> None:
    c = AdaptiveController(low, high, low, 1.0)
    now = 0.0
    for gap, limited, retry_after in events:
        now += gap
        rate = c.rate_limited(now, retry_after) if limited else c.success(now)
        assert low <= rate <= high


def test_it_settles_just_under_a_hidden_token_bucket() -> None:
    # A fake-time run: one request every 1/rate s; a 429 pauses everyone for 1 s.
    bucket = TokenBucket(37.0, 10)
    c = controller(10.0)
    now, pause_until, done, limited, sent = 0.0, 0.0, 0, 0, 0
    while done < 1500:
        now = max(now, pause_until)
        sent += 1
        if bucket.acquire(now) is None:
            done += 1
            c.success(now)
        else:
            limited += 1
            c.rate_limited(now, 1.0)
            pause_until = now + 1.0
        now += 1.0 / c.rate
    assert now < 1.15 * 1500 / 37
    assert limited < 0.02 * sent
    assert 0.85 * 37 <= c.rate <= 1.05 * 37


# --- config ------------------------------------------------------------------------


def test_adaptive_returns_a_config_with_the_documented_defaults() -> None:
    config = dg.RateLimit.adaptive()
    assert isinstance(config, dg.AdaptiveRateLimit)
    assert (config.min_rate, config.start, config.max_rate, config.time_period) == (
        1.0,
        10.0,
        1000.0,
        1.0,
    )


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"min_rate": 0}, "min_rate"),
        ({"max_rate": float("inf")}, "max_rate"),
        ({"start": "fast"}, "start"),
        ({"time_period": -1}, "time_period"),
        ({"min_rate": 20.0, "max_rate": 10.0, "start": 15.0}, "min_rate"),
        ({"start": 2000.0}, "start"),
    ],
)
def test_bad_bounds_are_a_configuration_error_naming_the_field(
    kwargs: dict[str, object], field: str
) -> None:
    with pytest.raises(dg.ConfigurationError, match=field):
        dg.RateLimit.adaptive(**kwargs)  # type: ignore[arg-type]


# --- the limiter, on virtual time --------------------------------------------------


def test_after_a_429_no_window_holds_more_than_the_new_rate() -> None:
    async def main(loop: VirtualTimeLoop) -> tuple[list[float], float, float]:
        limiter = AdaptiveLimiter(dg.RateLimit.adaptive(start=40.0), clock=loop.time)
        before: list[float] = []
        await asyncio.gather(*(send_after(limiter, before) for _ in range(60)))
        await asyncio.sleep(0)
        cut_at = loop.time()
        limiter.observe(429, None)  # no Retry-After: the rate drops, no pause
        rate = limiter.controller.rate
        after: list[float] = []
        await asyncio.gather(*(send_after(limiter, after) for _ in range(60)))
        await asyncio.sleep(0)
        return sorted(before + after), cut_at, rate

    stamps, cut_at, rate = run_virtual(main)
    assert rate == pytest.approx(28.0)
    # Every window that ends after the cut, those reaching back over releases made at
    # the old rate included, holds at most the new rate: the log is judged at it.
    worst = max(sum(1 for s in stamps if t - 1.0 < s <= t) for t in stamps if t > cut_at)
    assert worst <= 28
    assert max_in_window(stamps, 1.0) <= 40


def test_a_429_with_retry_after_pauses_every_caller() -> None:
    async def main(loop: VirtualTimeLoop) -> float:
        limiter = AdaptiveLimiter(dg.RateLimit.adaptive(start=20.0), clock=loop.time)
        await limiter.acquire()
        limiter.pause(2.0)  # what the client does on a 429 with Retry-After: 2
        limiter.observe(429, 2.0)
        await limiter.acquire()
        return loop.time()

    assert run_virtual(main) >= 2.0


def test_answers_that_are_not_2xx_or_429_do_not_move_the_rate() -> None:
    limiter = AdaptiveLimiter(dg.RateLimit.adaptive(start=20.0))
    for status in (500, 503, 400, 401):
        limiter.observe(status, None)
    assert limiter.current_rate == 20.0
    assert limiter.rate_ceiling is None


def test_the_rate_is_reported_per_second_for_a_longer_window() -> None:
    limiter = AdaptiveLimiter(dg.RateLimit.adaptive(start=120.0, time_period=60.0))
    assert limiter.current_rate == pytest.approx(2.0)
    limiter.observe(429, 1.0)
    assert limiter.rate_ceiling == pytest.approx(2.0)


# --- the client --------------------------------------------------------------------


async def test_stats_report_a_fixed_limit_and_no_ceiling() -> None:
    async with dg.DumGumClient(
        api_key="k", base_url="http://127.0.0.1:9", rate_limit=dg.RateLimit.per_minute(600)
    ) as client:
        stats = client.stats
    assert stats.rate_limit_current == pytest.approx(10.0)
    assert stats.rate_limit_ceiling is None


async def test_stats_report_no_rate_without_a_limit() -> None:
    async with dg.DumGumClient(api_key="k", base_url="http://127.0.0.1:9") as client:
        assert client.stats.rate_limit_current is None


class CountingLimiter:
    """A limiter that records what the client tells it."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, float | None]] = []

    async def acquire(self) -> None:
        return None

    def pause(self, seconds: float) -> None:
        return None

    def observe(self, status: int, retry_after: float | None) -> None:
        self.seen.append((status, retry_after))


async def test_the_client_tells_an_observing_limiter_of_every_answer() -> None:
    limiter = CountingLimiter()
    limit = ServerRateLimit.token_bucket(max_rate=1, burst=2, time_period=60)
    async with FakeDumGumServer(api_key="k", rate_limit=limit) as server:
        async with dg.DumGumClient(
            api_key="k",
            base_url=server.url,
            rate_limit=limiter,
            retry=dg.RetryPolicy(max_attempts=1),
            circuit_breaker=None,
        ) as client:
            for _ in range(3):
                with contextlib.suppress(dg.RateLimitError):
                    await client.suggest(full_request())
        received = server.stats.total
    assert len(limiter.seen) == received == 3
    assert [status for status, _ in limiter.seen] == [200, 200, 429]
    assert limiter.seen[2][1] is not None
    assert limiter.seen[2][1] >= 1


async def test_it_finds_a_hidden_limit_end_to_end() -> None:
    # 60/s hidden from the client; a start at half of it keeps the climb short.
    limit = ServerRateLimit.token_bucket(max_rate=60, burst=5)
    n = 600
    ideal = n / 60
    async with FakeDumGumServer(api_key="k", rate_limit=limit, validate=False) as server:
        async with dg.DumGumClient(
            api_key="k",
            base_url=server.url,
            rate_limit=dg.RateLimit.adaptive(start=30.0),
            retry=dg.RetryPolicy(max_attempts=20, budget=None),
            circuit_breaker=None,
        ) as client:
            started = time.monotonic()
            ok = 0
            async for result in client.suggest_many([full_request()] * n, concurrency=16):
                ok += isinstance(result, dg.BatchSuccess)
            elapsed = time.monotonic() - started
            stats = client.stats
        seen = server.stats
    assert ok == n
    assert seen.total == stats.attempts
    assert seen.rate_limited < 0.05 * seen.total
    assert elapsed < 1.4 * ideal, (elapsed, stats)
    assert stats.rate_limit_current is not None
    assert stats.rate_limit_ceiling is not None
    assert 40 <= stats.rate_limit_current <= 66


# --- the CLI -----------------------------------------------------------------------


def test_cli_rate_auto_is_the_default_adaptive_limit() -> None:
    assert _cli._rate("auto") == dg.RateLimit.adaptive()


@pytest.mark.parametrize(
    ("text", "bounds"),
    [
        ("auto:5-200/s", (5.0, 200.0, 10.0, 1.0)),
        ("AUTO:60-6000/min", (60.0, 6000.0, 60.0, 60.0)),
        ("auto:1-4/s", (1.0, 4.0, 4.0, 1.0)),
    ],
)
def test_cli_rate_auto_takes_bounds_and_brings_the_start_within_them(
    text: str, bounds: tuple[float, float, float, float]
) -> None:
    rate = _cli._rate(text)
    assert isinstance(rate, dg.AdaptiveRateLimit)
    assert (rate.min_rate, rate.max_rate, rate.start, rate.time_period) == bounds


@pytest.mark.parametrize("text", ["auto:5", "auto:x-10/s", "auto:50-10/s", "auto:5-10/week"])
async def test_cli_bad_auto_bounds_are_a_usage_error(
    text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inp = tmp_path / "in.jsonl"
    inp.write_text("{}\n")
    args = ["batch", str(inp), "-o", str(tmp_path / "o"), "--api-key", "k", "--rate", text]
    assert await _cli.run(args) == 2
    assert "auto:5-200/s" in capsys.readouterr().err


async def test_cli_rate_auto_reports_the_rate_it_settled_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    inp.write_text("".join(json.dumps(r) + "\n" for r in sample_requests(60, seed=3)))
    limit = ServerRateLimit.token_bucket(max_rate=30, burst=1)
    async with FakeDumGumServer(api_key="k", rate_limit=limit) as fake:
        args = ["batch", str(inp), "-o", str(out), "--api-key", "k", "--base-url", fake.url]
        args += ["--rate", "auto:25-100/s", "--progress-interval", "0.3"]
        assert await _cli.run(args) == 0
        limited = fake.stats.rate_limited
    err = capsys.readouterr().err
    assert limited >= 1
    assert re.search(r"limit \d+\.\d/s", err), err
    found = re.search(r"rate +settled at ~(\d+\.\d)/s +\(429s began near (\d+\.\d)/s\)", err)
    assert found is not None, err
    assert 17.0 <= float(found[1]) <= 31.0
    assert 25.0 <= float(found[2]) <= 45.0
