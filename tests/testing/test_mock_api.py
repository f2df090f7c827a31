"""``dumgum_async.testing.mock_api()`` and the ``dumgum_mock_api`` fixture."""

from __future__ import annotations

import json
import subprocess
import sys

import aiohttp
import aioresponses.core as aioresponses_core
import pytest
from aioresponses import aioresponses
from yarl import URL

import dumgum_async as dg
from dumgum_async.testing import FakeDumGumServer, mock_api
from tests.helpers.bodies import minimal_request
from tests.helpers.constants import API_KEY, ENDPOINT

SUGGESTIONS = ["one", "two", "three"]


def _client(base_url: str | None = None) -> dg.DumGumClient:
    return dg.DumGumClient(api_key=API_KEY, base_url=base_url, retry=None)


async def test_mock_api_answers_the_clients_request_on_the_installed_aiohttp() -> None:
    with mock_api() as mocked:
        mocked.post(ENDPOINT, payload={"suggestions": SUGGESTIONS})
        async with _client() as client:
            response = await client.suggest(minimal_request())
    assert list(response.suggestions) == SUGGESTIONS
    (call,) = mocked.requests[("POST", URL(ENDPOINT))]
    assert json.loads(call.kwargs["data"]) == minimal_request()


async def test_mock_api_puts_aioresponses_back_when_the_block_ends() -> None:
    with mock_api():
        assert vars(aioresponses_core)["ClientResponse"] is not aiohttp.ClientResponse
    assert vars(aioresponses_core)["ClientResponse"] is aiohttp.ClientResponse


async def test_requests_after_the_block_reach_the_real_server() -> None:
    with mock_api() as mocked:
        mocked.post(ENDPOINT, payload={"suggestions": SUGGESTIONS})
    async with (
        FakeDumGumServer(api_key=API_KEY) as server,
        _client(base_url=server.url) as client,
    ):
        await client.suggest(minimal_request())
    assert [r.json for r in server.requests] == [minimal_request()]


async def test_passthrough_lets_requests_to_the_emulator_through() -> None:
    async with FakeDumGumServer(api_key=API_KEY) as server:
        with mock_api(passthrough=[server.url]) as mocked:
            mocked.post(ENDPOINT, payload={"suggestions": SUGGESTIONS})
            async with _client() as mocked_client, _client(base_url=server.url) as real:
                mocked_answer = await mocked_client.suggest(minimal_request())
                real_answer = await real.suggest(minimal_request(language="FR"))
    assert list(mocked_answer.suggestions) == SUGGESTIONS
    assert len(real_answer.suggestions) == 3
    assert [r.json for r in server.requests] == [minimal_request(language="FR")]


async def test_dumgum_mock_api_fixture_mocks_the_client(dumgum_mock_api: aioresponses) -> None:
    dumgum_mock_api.post(ENDPOINT, status=429, headers={"Retry-After": "7"})
    async with _client() as client:
        with pytest.raises(dg.RateLimitError) as info:
            await client.suggest(minimal_request())
    assert info.value.retry_after == 7
    assert len(dumgum_mock_api.requests[("POST", URL(ENDPOINT))]) == 1


def test_mock_api_without_aioresponses_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "aioresponses", None)
    monkeypatch.setitem(sys.modules, "aioresponses.core", None)
    with pytest.raises(ImportError, match=r"pip install 'dumgum-async\[testing\]'"), mock_api():
        pass  # pragma: no cover - never entered


def test_dumgum_async_testing_imports_without_aioresponses() -> None:
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'aioresponses':\n"
        "            raise ImportError(name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import dumgum_async.testing, dumgum_async.testing.pytest_plugin\n"
        "assert 'aioresponses' not in sys.modules\n"
        "print(dumgum_async.testing.mock_api.__name__)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "mock_api"
