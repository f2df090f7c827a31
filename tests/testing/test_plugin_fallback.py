"""Without pytest-asyncio, the plugin loads and its async fixtures say what is missing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

_BLOCK_PYTEST_ASYNCIO = """
import sys

class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "pytest_asyncio":
            raise ImportError(name)

sys.meta_path.insert(0, Block())
import pytest

sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", "-p",
                      "dumgum_async.testing.pytest_plugin", "test_uses_it.py"]))
"""


def test_server_fixture_without_pytest_asyncio_fails_naming_it(tmp_path: Path) -> None:
    (tmp_path / "test_uses_it.py").write_text("def test_it(dumgum_server):\n    pass\n")
    result = subprocess.run(
        [sys.executable, "-c", _BLOCK_PYTEST_ASYNCIO],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "need pytest-asyncio: pip install pytest-asyncio" in result.stdout
    assert "1 error" in result.stdout
