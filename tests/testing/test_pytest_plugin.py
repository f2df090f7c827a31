"""The ``dumgum_server`` fixtures provided by the package's pytest plugin."""

from __future__ import annotations

import subprocess
import sys

import aiohttp

from dumgum_async.testing import FakeDumGumServer, Faults, ServerFactory
from tests.helpers.bodies import minimal_request
from tests.helpers.constants import AUTH


async def test_dumgum_server_fixture_is_started_with_the_test_key(
    dumgum_server: FakeDumGumServer, http: aiohttp.ClientSession
) -> None:
    assert dumgum_server.running
    assert dumgum_server.api_key == "test-key"
    assert dumgum_server.faults == Faults()
    async with http.post(dumgum_server.endpoint_url, json=minimal_request(), headers=AUTH) as r:
        assert r.status == 200
    assert dumgum_server.stats.by_status == {200: 1}


async def test_factory_starts_servers_with_options(
    dumgum_server_factory: ServerFactory, http: aiohttp.ClientSession
) -> None:
    first = await dumgum_server_factory(faults=Faults(http_500=1.0))
    second = await dumgum_server_factory(api_key="other")
    assert first.port != second.port
    async with http.post(first.endpoint_url, json=minimal_request(), headers=AUTH) as resp:
        assert resp.status == 500
    headers = {"Authorization": "Bearer other"}
    async with http.post(second.endpoint_url, json=minimal_request(), headers=headers) as resp:
        assert resp.status == 200


def test_plugin_import_is_cheap_and_the_server_is_loaded_on_first_use() -> None:
    code = (
        "import sys\n"
        "import dumgum_async.testing.pytest_plugin\n"
        "import dumgum_async.testing as testing\n"
        "assert 'dumgum_async.testing._server' not in sys.modules\n"
        "assert 'jsonschema' not in sys.modules and 'yaml' not in sys.modules\n"
        "assert testing.FakeDumGumServer.__name__ == 'FakeDumGumServer'\n"
        "assert 'dumgum_async.testing._server' in sys.modules\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
