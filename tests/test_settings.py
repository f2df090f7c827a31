"""The client's settings: each of the wrong type or shape is a ConfigurationError naming it."""

from __future__ import annotations

from typing import Any

import pytest

import dumgum_async as dg

KEY = "sk-settings-0123456789abcdef"


@pytest.mark.parametrize(
    "base_url",
    ["http://[::1", "http://127.0.0.1:99999", "http://127.0.0.1:abc", ["http://x"]],
)
def test_a_malformed_base_url_is_a_configuration_error(base_url: object) -> None:
    # urllib and yarl raise ValueError (a list: TypeError) for these; the client's
    # settings are refused with ConfigurationError, a DumGumError.
    with pytest.raises(dg.ConfigurationError, match="base_url"):
        dg.DumGumClient(api_key=KEY, base_url=base_url)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["64k", None, float("nan"), 65536.5])
def test_a_max_response_bytes_that_is_not_an_integer_is_a_configuration_error(
    value: object,
) -> None:
    # "64k" and None raised TypeError; NaN was accepted and turned the cap off (no
    # size compares greater than NaN, so a decompression bomb was read whole).
    with pytest.raises(dg.ConfigurationError, match="max_response_bytes"):
        dg.DumGumClient(api_key=KEY, max_response_bytes=value)  # type: ignore[arg-type]


@pytest.mark.parametrize("flag", ["strict_enums", "telemetry", "allow_insecure_http", "trust_env"])
def test_a_switch_that_is_not_a_bool_is_a_configuration_error(flag: str) -> None:
    # "no" is truthy: taken as a switch it would turn on what the caller meant off.
    kwargs: dict[str, Any] = {flag: "no"}
    with pytest.raises(dg.ConfigurationError, match=flag):
        dg.DumGumClient(api_key=KEY, **kwargs)


def test_a_session_that_is_not_an_aiohttp_session_is_a_configuration_error() -> None:
    with pytest.raises(dg.ConfigurationError, match="session"):
        dg.DumGumClient(api_key=KEY, session="not a session")  # type: ignore[arg-type]
