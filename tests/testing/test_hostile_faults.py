"""The emulator's hostile faults, met by the real client: each ends in a typed error
within the timeout, and the server saw what the fault implies."""

from __future__ import annotations

import asyncio
import time

import pytest

import dumgum_async as dg
from dumgum_async.testing import FakeDumGumServer, FaultKind, Faults, ScriptedResponse
from dumgum_async.testing._serve import main
from tests.helpers.bodies import minimal_request

KEY = "fault-key"


async def _once(kind: FaultKind, **options: float) -> tuple[BaseException, float, FakeDumGumServer]:
    async with (
        FakeDumGumServer(api_key=KEY, faults=Faults.only(kind, **options), seed=1) as server,
        dg.DumGumClient(api_key=KEY, base_url=server.url, retry=None, timeout=0.5) as client,
    ):
        started = time.perf_counter()
        with pytest.raises(dg.DumGumError) as info:
            await client.suggest(minimal_request())
        elapsed = time.perf_counter() - started
    return info.value, elapsed, server


async def test_a_bomb_fault_is_refused_at_the_clients_cap() -> None:
    error, elapsed, server = await _once(FaultKind.BOMB)
    assert isinstance(error, dg.ResponseDecodeError)
    assert "exceeds the 1048576-byte limit" in str(error)
    assert server.stats.by_fault == {FaultKind.BOMB: 1}
    assert elapsed < 2.0


async def test_a_trickle_fault_ends_in_a_timeout() -> None:
    error, elapsed, server = await _once(FaultKind.TRICKLE, trickle_interval=0.05)
    assert isinstance(error, dg.APITimeoutError)
    assert 0.4 < elapsed < 2.0
    assert server.stats.by_fault == {FaultKind.TRICKLE: 1}


async def test_a_cut_fault_is_a_connection_error() -> None:
    error, _, server = await _once(FaultKind.CUT)
    assert isinstance(error, dg.APIConnectionError)
    assert not isinstance(error, dg.APITimeoutError)
    assert server.stats.by_fault == {FaultKind.CUT: 1}


async def test_a_giant_header_fault_is_a_connection_error() -> None:
    error, _, _ = await _once(FaultKind.GIANT_HEADER)
    assert isinstance(error, dg.APIConnectionError)
    assert "8190" in str(error) or "header" in str(error).lower()


async def test_a_redirect_fault_is_refused_and_never_followed() -> None:
    error, _, server = await _once(FaultKind.REDIRECT)
    assert isinstance(error, dg.APIStatusError)
    assert error.status_code == 307
    assert "refusing to follow" in str(error)
    assert server.stats.total == 1


async def test_a_scripted_bomb_then_a_normal_answer_is_retried_to_success() -> None:
    policy = dg.RetryPolicy(initial_backoff=0.01, max_backoff=0.02, budget=None)
    async with (
        FakeDumGumServer(api_key=KEY) as server,
        dg.DumGumClient(api_key=KEY, base_url=server.url, retry=policy) as client,
    ):
        server.script(ScriptedResponse.fault_of(FaultKind.BOMB))
        result = await client.suggest(minimal_request())
    assert len(result.suggestions) == 3
    assert server.attempts_for(minimal_request()) == 2


async def test_closing_the_server_ends_a_trickle() -> None:
    server = FakeDumGumServer(api_key=KEY, faults=Faults.only(FaultKind.TRICKLE))
    await server.start()
    async with dg.DumGumClient(api_key=KEY, base_url=server.url, retry=None, timeout=30) as client:
        call = asyncio.create_task(client.suggest(minimal_request()))
        for _ in range(500):  # until the request arrives
            if server.stats.total:
                break
            await asyncio.sleep(0.01)
        started = time.perf_counter()
        await server.close()
        with pytest.raises(dg.APIConnectionError):
            await call
    assert time.perf_counter() - started < 5.0


@pytest.mark.parametrize(
    "flag",
    ["--fault-bomb", "--fault-trickle", "--fault-cut", "--fault-giant-header", "--fault-redirect"],
)
def test_serve_offers_each_hostile_fault_as_a_flag(
    flag: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--help"]) == 0
    assert flag in capsys.readouterr().out
    assert main([flag, "2"]) == 2  # parsed and checked like the other probabilities
    assert "0..1" in capsys.readouterr().err


def test_serve_refuses_a_non_positive_trickle_interval(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--fault-trickle", "1", "--trickle-interval", "0"]) == 2
    assert "trickle_interval" in capsys.readouterr().err
