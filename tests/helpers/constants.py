"""Names the tests share: the keys and addresses they talk to."""

from __future__ import annotations

API_KEY = "sk-test-0123456789abcdef"
"""The key of the client tests that mock the API (aioresponses)."""
BASE_URL = "https://api.dumgum.com"
ENDPOINT = BASE_URL + "/cs/v1/content_creation/suggestion"
"""The URL aioresponses is told to answer."""
AUTH = {"Authorization": "Bearer test-key"}
"""The header the emulator accepts by default (its ``DEFAULT_API_KEY``)."""
CLI_KEY = "cli-key"
"""The key the command-line tests give their emulator and ``--api-key``."""
