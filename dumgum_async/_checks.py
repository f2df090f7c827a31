"""Checks of the plain values settings are made of, shared by every settings object.

The attrs validators of ``_config``'s frozen settings (positive numbers, counts,
shares), the normalisation of durations, and the checks of a host and an API key
that ``resolve_base_url``/``resolve_api_key`` apply. Each raises (or answers) in
terms of the value alone; which value a setting takes, and every ``DEFAULT_*``,
stays in ``_config``.
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
import math
import unicodedata
from typing import Any

import attrs

from dumgum_async._rules import excerpt
from dumgum_async.exceptions import ConfigurationError


def _finite(value: float, name: str) -> bool:
    """``value`` is not inf or NaN; raises for an int too large to be a float."""
    try:
        return math.isfinite(value)
    except OverflowError:
        # math.isfinite converts an int to a float, which fails past about 1e308: no
        # clock or rate can use such a number.
        raise ConfigurationError(f"{name} is too large, got {excerpt(value)}") from None


def positive(_: Any, attribute: attrs.Attribute[Any], value: float | None) -> None:
    """A positive, finite number; None passes (no limit)."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigurationError(f"{attribute.name} must be a number, got {excerpt(value)}")
    if not (value > 0 and _finite(value, attribute.name)):
        raise ConfigurationError(
            f"{attribute.name} must be a positive number, got {excerpt(value)}"
        )


def non_negative(_: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    """Zero or a positive, finite number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigurationError(f"{attribute.name} must be a number, got {excerpt(value)}")
    if not (value >= 0 and _finite(value, attribute.name)):
        raise ConfigurationError(f"{attribute.name} must be zero or more, got {excerpt(value)}")


def count(_: Any, attribute: attrs.Attribute[Any], value: int) -> None:
    """An integer of at least 1 (a bool is not one)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"{attribute.name} must be an integer >= 1, got {excerpt(value)}")


def share(_: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    """A share above 0, up to 1."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
        raise ConfigurationError(f"{attribute.name} must be in (0, 1], got {excerpt(value)}")


def fraction(_: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    """A fraction from 0 to 1."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ConfigurationError(f"{attribute.name} must be between 0 and 1, got {excerpt(value)}")


def switch(_: Any, attribute: attrs.Attribute[Any], value: bool) -> None:
    """True or False: "no" is truthy, and would turn on what the caller meant off."""
    if not isinstance(value, bool):
        raise ConfigurationError(f"{attribute.name} must be True or False, got {excerpt(value)}")


def optional_instance(cls: type) -> Any:
    """A validator: an instance of ``cls`` or None, named in the error otherwise.

    Checked when the settings are made: a wrong object would otherwise be found only
    by the first call that uses it, as an AttributeError.
    """

    def validate(_: Any, attribute: attrs.Attribute[Any], value: object) -> None:
        if value is not None and not isinstance(value, cls):
            raise ConfigurationError(
                f"{attribute.name} must be a {cls.__name__} or None, got {excerpt(value)}"
            )

    return validate


def seconds(value: float | _dt.timedelta | None, name: str) -> float | None:
    """Normalise a duration given as seconds or a ``timedelta``; None stays None.

    Raises:
        ConfigurationError: Not a positive, finite duration.
    """
    if value is None:
        return None
    if isinstance(value, _dt.timedelta):
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigurationError(f"{name} must be seconds or a timedelta, got {excerpt(value)}")
    if not (value > 0 and _finite(value, name)):
        raise ConfigurationError(f"{name} must be positive, got {excerpt(value)}")
    return float(value)


def timedelta_to_seconds(value: Any) -> Any:
    """A ``timedelta`` as its seconds; anything else unchanged, for the validator to judge."""
    return value.total_seconds() if isinstance(value, _dt.timedelta) else value


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def key_problem(key: str) -> str | None:
    """What is wrong with ``key``, naming no character of it; "" for no key; None if fine.

    A separate function so that the bare key is a local of a frame that has
    returned, never of one that raises.
    """
    if not key.strip():
        return ""
    for index, char in enumerate(key):
        if "!" <= char <= "~":
            continue
        code = f"U+{ord(char):04X}"
        if unicodedata.category(char) == "Cc":
            return f"a control character ({code}) at index {index}"
        if char.isspace():
            return f"whitespace ({code}) at index {index}"
        if unicodedata.category(char) == "Cf":
            return f"an invisible formatting character ({code}) at index {index}"
        return f"a non-ASCII character at index {index}"
    return None
