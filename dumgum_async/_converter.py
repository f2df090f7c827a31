"""Requests to bytes, response bodies to models: the wire format at the edges of a call.

The shape of the models in JSON (camelCase names, omitted defaults, date strings)
is ``_wire``'s; this module adds what a call needs on top of it:

* ``encode_request``: a request as the exact body sent, through a cattrs
  unstructurer that leaves to orjson what it serializes natively (enums, dates,
  tuples);
* ``decode_response``: a 2xx body checked once, here, and made a
  ``SuggestionResponse`` without checking it again;
* ``from_dict``/``to_dict``, the functions behind the models' methods.
"""

from __future__ import annotations

from typing import Final

import attrs
import orjson

from dumgum_async import _pylist, _wire
from dumgum_async._models import SuggestionRequest, SuggestionResponse
from dumgum_async._rules import text_problem
from dumgum_async._structure import from_dict
from dumgum_async._wire import camel, json_kind, make_unstructurer, to_dict
from dumgum_async.exceptions import Problem, RequestValidationError

__all__ = [
    "BodyError",
    "camel",
    "decode_response",
    "encode_request",
    "from_dict",
    "parse_string_list",
    "to_dict",
]

# The detailed road's structurers, for benchmarks and tests that take it directly.
_STRICT: Final = _wire.STRICT
_LENIENT: Final = _wire.LENIENT

_ENCODE: Final = make_unstructurer(native=True)
_ENCODE_REQUEST: Final = _ENCODE.get_unstructure_hook(SuggestionRequest)


def encode_request(request: SuggestionRequest) -> bytes:
    """The request body as sent: compact UTF-8 JSON.

    Raises:
        RequestValidationError: Something in ``request`` cannot be written as JSON
            (a lone surrogate in an unknown enum value, say), named by its path.
    """
    try:
        return orjson.dumps(_ENCODE_REQUEST(request), option=orjson.OPT_UTC_Z)
    except orjson.JSONEncodeError as exc:
        # Only now, on the failure, walk the model to name what orjson refused.
        problems = _unsendable(request, ())
        raise RequestValidationError(
            problems or [Problem((), f"cannot be written as JSON ({exc})")]
        ) from None


def _unsendable(value: object, loc: tuple[str | int, ...]) -> list[Problem]:
    """Every value under ``value`` that orjson cannot write, in attribute names."""
    out: list[Problem] = []
    cls = type(value)
    if attrs.has(cls):
        for a in attrs.fields(cls):
            out.extend(_unsendable(getattr(value, a.name), (*loc, a.name)))
    elif isinstance(value, tuple | list):
        for i, item in enumerate(value):
            out.extend(_unsendable(item, (*loc, i)))
    elif isinstance(value, str):
        text_problem(value, loc, out)
    elif value is not None:
        try:
            orjson.dumps(value, option=orjson.OPT_UTC_Z)
        except orjson.JSONEncodeError:
            out.append(Problem(loc, f"cannot be written as JSON: {type(value).__name__}"))
    return out


# --- responses ---------------------------------------------------------------------


class BodyError(ValueError):
    """A 2xx body that is not a suggestion response; the client adds HTTP context."""


def parse_string_list(text: str) -> list[str]:
    """Read a list of strings written as JSON or as a Python literal, without eval.

    The vendor's older documentation shows ``"suggestions": "['a', 'b', 'c']"``.

    Raises:
        BodyError: ``text`` is not a list of string literals.
    """
    stripped = text.strip()
    if stripped.startswith("["):
        try:
            value = orjson.loads(stripped)
        except orjson.JSONDecodeError:
            pass
        else:
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                return value
            raise BodyError("'suggestions' string holds a list that is not all strings")
    try:
        return _pylist.parse(text)
    except _pylist.NotAListError:
        raise BodyError("'suggestions' is a string but not a list of quoted strings") from None
    except _pylist.InvalidEscapeError:  # \N{unknown name}, \U beyond U+10FFFF, surrogates
        raise BodyError("'suggestions' string holds an invalid escape sequence") from None


def decode_response(body: bytes) -> SuggestionResponse:
    """Parse a 2xx body into a :class:`SuggestionResponse`; unknown fields are ignored.

    Raises:
        BodyError: The body is not JSON, or not an object with ``suggestions`` as a
            list of strings or a string holding one.
    """
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BodyError("response body is not valid JSON") from None
    if not isinstance(data, dict):
        raise BodyError(f"expected a JSON object, got {json_kind(data)}")
    if "suggestions" not in data:
        raise BodyError("response has no 'suggestions' field")
    raw = data["suggestions"]
    if isinstance(raw, str):
        items = parse_string_list(raw)
    elif isinstance(raw, list):
        items = raw
        for v in items:  # a loop, not all(...): no generator per response
            if v.__class__ is not str:  # orjson makes no str subclass
                raise BodyError("'suggestions' must hold only strings")
    else:
        raise BodyError(f"'suggestions' must be an array of strings, got {json_kind(raw)}")
    # Checked above, once: every item is a str from orjson or _pylist, which refuse
    # lone surrogates, so the model's own check would find nothing new.
    return _response(tuple(items))


def _response(suggestions: tuple[str, ...]) -> SuggestionResponse:
    obj = object.__new__(SuggestionResponse)
    _SET_SUGGESTIONS(obj, suggestions)
    return obj


_SET_SUGGESTIONS: Final = SuggestionResponse.suggestions.__set__  # type: ignore[attr-defined]
