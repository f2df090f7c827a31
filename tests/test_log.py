"""What the library logs, at which level, and that it prints nothing unless asked."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap

import pytest

import dumgum_async as dg
from dumgum_async import _log
from dumgum_async._breaker import Breaker, Ticket
from dumgum_async.testing import FakeDumGumServer, Faults, ScriptedResponse
from tests.helpers.bodies import minimal_request

KEY = "emulator-key"
QUICK = dg.RetryPolicy(initial_backoff=0.01, max_backoff=0.02, budget=None)

# An application that never configures logging, making one call that is retried once.
_APP = textwrap.dedent(
    """
    import asyncio
    import dumgum_async as dg
    from dumgum_async.testing import FakeDumGumServer, ScriptedResponse
    from tests.helpers.bodies import minimal_request

    async def main():
        async with FakeDumGumServer(api_key="k") as fake:
            fake.script(ScriptedResponse(status=503, headers={"Retry-After": "0"}, json={}))
            async with dg.DumGumClient(api_key="k", base_url=fake.url) as client:
                await client.suggest(minimal_request())
        print("done")

    asyncio.run(main())
    """
)


def _run_app(log: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DUMGUM_LOG"}
    if log is not None:
        env["DUMGUM_LOG"] = log
    return subprocess.run(
        [sys.executable, "-c", _APP], capture_output=True, text=True, env=env, timeout=60
    )


def test_the_package_logger_has_a_null_handler() -> None:
    handlers = logging.getLogger("dumgum_async").handlers
    assert any(isinstance(h, logging.NullHandler) for h in handlers)


def test_an_application_without_logging_set_up_gets_nothing_on_stderr() -> None:
    proc = _run_app(None)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "done"
    assert proc.stderr == ""


def test_dumgum_log_info_shows_retries_on_stderr() -> None:
    proc = _run_app("info")
    assert proc.returncode == 0, proc.stderr
    assert "INFO dumgum_async: attempt 1/4 failed (HTTP 503)" in proc.stderr
    assert "-> 200" not in proc.stderr  # the per-request lines are DEBUG


def test_dumgum_log_debug_shows_each_request() -> None:
    proc = _run_app("DEBUG")
    assert proc.returncode == 0, proc.stderr
    assert "-> 503" in proc.stderr
    assert "-> 200" in proc.stderr


def test_configure_adds_the_stderr_handler_once_and_ignores_other_values() -> None:
    logger = logging.getLogger("dumgum_async")
    saved_handlers, saved_level = list(logger.handlers), logger.level
    try:
        _log.configure({"DUMGUM_LOG": "loud"})
        assert logger.handlers == saved_handlers
        _log.configure({"DUMGUM_LOG": "info"})
        _log.configure({"DUMGUM_LOG": "info"})
        added = [h for h in logger.handlers if h not in saved_handlers]
        assert len(added) == 1
        assert isinstance(added[0], logging.StreamHandler)
        assert logger.level == logging.INFO
    finally:
        logger.handlers[:] = saved_handlers
        logger.setLevel(saved_level)


async def test_a_retry_is_logged_at_info(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="dumgum_async")
    async with (
        FakeDumGumServer(api_key=KEY) as fake,
        dg.DumGumClient(api_key=KEY, base_url=fake.url, retry=QUICK) as client,
    ):
        fake.script(ScriptedResponse(status=500, json={}))
        await client.suggest(minimal_request())
    retries = [r for r in caplog.records if "retrying" in r.getMessage()]
    assert [r.levelno for r in retries] == [logging.INFO]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_exhausted_retries_are_logged_at_warning(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="dumgum_async")
    async with (
        FakeDumGumServer(api_key=KEY, faults=Faults(http_500=1.0)) as fake,
        dg.DumGumClient(
            api_key=KEY, base_url=fake.url, retry=QUICK, circuit_breaker=None
        ) as client,
    ):
        with pytest.raises(dg.InternalServerError):
            await client.suggest(minimal_request())
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == ["giving up after 4 attempts: HTTP 500"]
    assert len([r for r in caplog.records if r.levelno == logging.INFO]) == 3


def test_breaker_changes_are_logged_at_warning(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="dumgum_async")
    now = [0.0]
    breaker = Breaker(dg.CircuitBreaker(window=2, probes=1, cooldown=1.0), clock=lambda: now[0])
    for _ in range(2):
        ticket = breaker.admit()
        assert isinstance(ticket, Ticket)
        breaker.record(ticket, True)
    now[0] = 2.0
    probe = breaker.admit()
    assert isinstance(probe, Ticket)
    breaker.record(probe, False)
    messages = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert [level for level, _ in messages] == [logging.WARNING, logging.WARNING]
    assert "circuit breaker open" in messages[0][1]
    assert "circuit breaker closed" in messages[1][1]
