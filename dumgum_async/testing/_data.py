"""The emulator's tables (phrasebooks, stopwords, sample conversations) as data files.

They live in ``dumgum_async/testing/data/`` as JSON: the stdlib parses them in a few
milliseconds, and nothing is read until a reply or a sample is first wanted, so importing
the pytest plugin stays cheap.  A missing or malformed file raises
:class:`DataFileError` naming the file (and the entry, for a wrong shape).
"""

from __future__ import annotations

import functools
import importlib.resources
import json
from collections.abc import Mapping
from typing import Any

__all__ = [
    "DataFileError",
    "document",
    "load_json",
    "mapping",
    "string",
    "strings",
    "tuples",
    "where",
]

_PACKAGE = "dumgum_async.testing"
_FOLDER = "data"


class DataFileError(RuntimeError):
    """A data file of the emulator is missing, is not valid JSON, or has the wrong shape."""


def where(name: str) -> str:
    """The path of data file ``name`` inside the installed package, for messages."""
    return f"{_PACKAGE.replace('.', '/')}/{_FOLDER}/{name}"


@functools.cache
def load_json(name: str) -> Any:
    """Parse ``dumgum_async/testing/data/<name>`` once; later calls return the same object.

    Args:
        name: The file name, e.g. ``"stopwords.json"``.

    Returns:
        The parsed JSON (shared: do not mutate it).

    Raises:
        DataFileError: The file is missing, unreadable, not UTF-8 JSON, or repeats a key
            within one object.
    """
    resource = importlib.resources.files(_PACKAGE).joinpath(_FOLDER).joinpath(name)
    try:
        text = resource.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataFileError(
            f"{where(name)} cannot be read ({exc}); reinstall dumgum-async"
        ) from exc
    try:
        return json.loads(text, object_pairs_hook=functools.partial(_unique_keys, name))
    except json.JSONDecodeError as exc:
        raise DataFileError(f"{where(name)} is not valid JSON: {exc}") from exc


def _unique_keys(name: str, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json.loads keeps the last of two equal keys; in a table that is a silent typo.
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise DataFileError(f"{where(name)}: the key {key!r} appears twice in one object")
        out[key] = value
    return out


def document(name: str) -> Mapping[str, Any]:
    """Return data file ``name`` parsed, checking that it holds a JSON object.

    Raises:
        DataFileError: The file is missing or malformed.
    """
    return mapping(load_json(name), name, "the document")


def mapping(value: Any, name: str, path: str) -> Mapping[str, Any]:
    """Return ``value`` if it is a JSON object, else raise naming ``name`` and ``path``."""
    if not isinstance(value, dict):
        raise DataFileError(f"{where(name)}: {path} must be an object")
    return value


def string(value: Any, name: str, path: str) -> str:
    """Return ``value`` if it is a string, else raise naming ``name`` and ``path``."""
    if not isinstance(value, str):
        raise DataFileError(f"{where(name)}: {path} must be a string")
    return value


def strings(value: Any, name: str, path: str) -> tuple[str, ...]:
    """Return ``value`` (a non-empty list of strings) as a tuple, else raise naming the entry."""
    if not isinstance(value, list) or not value or not all(isinstance(s, str) for s in value):
        raise DataFileError(f"{where(name)}: {path} must be a non-empty list of strings")
    return tuple(value)


def tuples(value: Any, name: str, path: str, width: int) -> tuple[tuple[str, ...], ...]:
    """Return ``value`` (a non-empty list of ``width``-string lists) as tuples, else raise."""
    if not isinstance(value, list) or not value:
        raise DataFileError(f"{where(name)}: {path} must be a non-empty list")
    rows = []
    for index, row in enumerate(value):
        rows.append(strings(row, name, f"{path}[{index}]"))
        if len(row) != width:
            raise DataFileError(f"{where(name)}: {path}[{index}] must hold {width} strings")
    return tuple(rows)
