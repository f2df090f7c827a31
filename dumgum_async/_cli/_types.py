"""The types of the command line's arguments: each turns a flag's text into its value or
raises :class:`argparse.ArgumentTypeError` with the message argparse prints."""

from __future__ import annotations

import argparse
import functools
import math
from collections.abc import Callable
from typing import Any, TypeVar

import dumgum_async as dg

_T = TypeVar("_T", int, float)


def _number(
    convert: Callable[[str], _T], what: str, valid: Callable[[_T], bool], requirement: str
) -> Callable[[str], _T]:
    """A type reading a number with ``convert`` and refusing it unless ``valid``;
    ``requirement`` is the message, formatted with the ``text`` and its ``value``."""

    def parse(text: str) -> _T:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not {what}: {text!r}") from None
        if not valid(value):
            raise argparse.ArgumentTypeError(requirement.format(text=text, value=value))
        return value

    return parse


positive_int = _number(int, "an integer", lambda v: v >= 1, "must be at least 1, got {value}")
positive_float = _number(
    float,
    "a number",
    lambda v: v > 0 and math.isfinite(v),
    "must be a positive number, got {text}",
)
probability = _number(
    float, "a number", lambda v: 0.0 <= v <= 1.0, "must be between 0 and 1, got {text}"
)


def fixed_rate(text: str) -> dg.RateLimit:
    """A fixed rate: ``20/s``, ``600/min``, ``36000/h``."""
    try:
        return dg.RateLimit.parse(text)
    except dg.ConfigurationError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def rate(text: str) -> dg.RateLimit | dg.AdaptiveRateLimit:
    """A fixed rate (``20/s``), or ``auto`` / ``auto:MIN-MAX/UNIT`` (``auto:5-200/s``):
    an adaptive rate within those bounds, starting at the library's default start
    (brought within them)."""
    head, colon, bounds = text.strip().partition(":")
    if head.lower() != "auto":
        return fixed_rate(text)
    if not colon:
        return dg.RateLimit.adaptive()
    low, dash, high = bounds.partition("-")
    try:
        if not dash:
            raise dg.ConfigurationError("no '-'")
        top = dg.RateLimit.parse(high)
        bottom = float(low)
        start = min(max(dg.RateLimit.adaptive().start, bottom), top.max_rate)
        return dg.RateLimit.adaptive(
            min_rate=bottom, max_rate=top.max_rate, start=start, time_period=top.time_period
        )
    except (ValueError, dg.ConfigurationError) as exc:
        raise argparse.ArgumentTypeError(
            f"--rate auto takes bounds like auto:5-200/s or auto:60-6000/min, got {text!r} ({exc})"
        ) from None


def flags_of(
    parser: argparse._ActionsContainer, kind: Callable[[str], Any], metavar: str
) -> Callable[..., argparse.Action]:
    """``parser.add_argument`` with ``type`` and ``metavar`` given: for the flags that
    take one kind of value (seconds, counts), so that each says only what is its own."""
    return functools.partial(parser.add_argument, type=kind, metavar=metavar)
