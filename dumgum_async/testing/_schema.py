"""Request validation for the emulator: the vendor's JSON schema plus its prose rules.

The schema is read from the ``openapi.yaml`` shipped in ``dumgum_async`` (never from the
client's models), turned into a JSON Schema 2020-12 document whose ``$defs`` are the
spec's ``components/schemas``, and checked with :mod:`jsonschema`.

A valid request costs only the fast compiled check (:mod:`._compiled`, "certainly
valid" or "not sure"); an invalid one gets jsonschema's complete list of problems,
then the prose rules' (:mod:`._prose`).

Two deliberate departures from the literal schema, both taken from the spec's prose:
``MessageElement.text`` ("can be ``null``") and ``features.working`` ("defaults to
``null``") also accept JSON ``null``.

jsonschema and PyYAML come from the ``testing`` extra and are imported only when a
validator is first built.
"""

from __future__ import annotations

import functools
import importlib.resources
from collections.abc import Iterable
from typing import Any

from dumgum_async.testing._compiled import (
    DEFS_PREFIX,
    Check,
    UnsupportedSchemaError,
    compile_schema,
)
from dumgum_async.testing._prose import WireProblem, prose_problems, short

__all__ = [
    "INSTALL_HINT",
    "REQUEST_SCHEMA_NAME",
    "RequestValidator",
    "UnsupportedSchemaError",
    "WireProblem",
    "compile_schema",
    "format_path",
    "get_validator",
    "load_spec",
    "prose_problems",
    "request_schema",
    "validate_request",
]

REQUEST_SCHEMA_NAME = "IcebreakerSuggestionRequest"
"""Name of the request body schema in the spec's ``components/schemas``."""

INSTALL_HINT = (
    "the DumGum emulator needs jsonschema and PyYAML to validate requests; "
    "install them with: pip install 'dumgum-async[testing]'"
)

_COMPONENTS_PREFIX = "#/components/schemas/"

# Properties whose prose says ``null`` is accepted although the schema types forbid it.

_NULLABLE: tuple[tuple[str, str], ...] = (
    ("MessageElement", "text"),
    ("ContentCreationProfileFeatureSet", "working"),
)


# --------------------------------------------------------------------------- loading


@functools.cache
def load_spec() -> dict[str, Any]:
    """Load the vendor OpenAPI document shipped as ``dumgum_async/openapi.yaml``.

    Returns:
        The parsed document (cached: do not mutate it).

    Raises:
        ImportError: PyYAML is not installed (it comes with the ``testing`` extra).
    """
    try:
        import yaml
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(INSTALL_HINT) from exc
    text = (
        importlib.resources.files("dumgum_async")
        .joinpath("openapi.yaml")
        .read_text(encoding="utf-8")
    )
    # CSafeLoader is the C implementation of the safe loader, used when available.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    document = yaml.load(text, Loader=loader)
    if not isinstance(document, dict):  # pragma: no cover - the shipped file is fixed
        raise ValueError("openapi.yaml does not hold a mapping")
    return document


def _rewrite_refs(node: Any) -> Any:
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith(_COMPONENTS_PREFIX):
                out[key] = DEFS_PREFIX + value[len(_COMPONENTS_PREFIX) :]
            else:
                out[key] = _rewrite_refs(value)
        return out
    if isinstance(node, list):
        return [_rewrite_refs(item) for item in node]
    return node


@functools.cache
def request_schema() -> dict[str, Any]:
    """Build the JSON Schema (draft 2020-12) of the request body from the shipped spec.

    Returns:
        ``{"$schema": ..., "$defs": <components/schemas>, "$ref": "#/$defs/Icebreaker..."}``
        with every ``#/components/schemas/X`` reference rewritten to ``#/$defs/X`` and the
        two prose-nullable properties widened to accept ``null`` (cached: do not mutate).

    Raises:
        ImportError: PyYAML is not installed.
    """
    spec = load_spec()
    defs = _rewrite_refs(spec["components"]["schemas"])
    for schema_name, prop in _NULLABLE:
        prop_schema = defs[schema_name]["properties"][prop]
        prop_schema["type"] = [prop_schema["type"], "null"]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$defs": defs,
        "$ref": DEFS_PREFIX + REQUEST_SCHEMA_NAME,
    }


# ------------------------------------------------------------------ schema problems


def format_path(parts: Iterable[str | int]) -> str:
    """Render a JSON location as ``a.b[2].c`` (``"$"`` for the root)."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out or "$"


# JSON's name for each Python type json.loads gives; bool before int (True is an int).
_JSON_TYPES: tuple[tuple[type, str], ...] = (
    (type(None), "null"),
    (bool, "boolean"),
    (int, "integer"),
    (float, "number"),
    (str, "string"),
    (list, "array"),
    (dict, "object"),
)


def _json_type(value: Any) -> str:
    return next(
        (name for kind, name in _JSON_TYPES if isinstance(value, kind)), type(value).__name__
    )


def _schema_problems(error: Any) -> list[WireProblem]:
    parts = list(error.absolute_path)
    kind = error.validator
    expected = error.validator_value
    instance = error.instance
    if kind == "required":
        missing = [p for p in expected if isinstance(instance, dict) and p not in instance]
        return [WireProblem(format_path([*parts, name]), "is required") for name in missing]
    path = format_path(parts)
    if kind == "type":
        wanted = " or ".join(expected) if isinstance(expected, list) else str(expected)
        message = f"must be of type {wanted}, got {_json_type(instance)}"
    elif kind == "enum":
        shown = ", ".join(str(v) for v in expected[:12])
        if len(expected) > 12:
            shown += f", ... ({len(expected)} allowed values)"
        message = f"{short(instance)} is not one of {shown}"
    elif kind == "maxLength":
        message = f"must be at most {expected} characters long, got {len(instance)}"
    elif kind == "minLength":
        message = f"must be at least {expected} characters long, got {len(instance)}"
    elif kind == "pattern":
        message = f"{short(instance)} does not match {expected}"
    elif kind == "uniqueItems":
        message = "must not contain duplicate items"
    else:
        message = str(error.message)
    return [WireProblem(path, message)]


class RequestValidator:
    """Validates parsed request bodies against the spec; build it with :func:`get_validator`.

    Raises:
        ImportError: jsonschema or PyYAML is missing (the ``testing`` extra).
    """

    def __init__(self) -> None:
        try:
            from jsonschema import Draft202012Validator
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError(INSTALL_HINT) from exc
        schema = request_schema()
        Draft202012Validator.check_schema(schema)
        self._reference = Draft202012Validator(schema)
        self._fast: Check | None
        try:
            self._fast = compile_schema(schema)
        except UnsupportedSchemaError:  # pragma: no cover - the shipped spec compiles
            self._fast = None

    def schema_problems(self, body: Any) -> list[WireProblem]:
        """Return the JSON schema violations of ``body`` (jsonschema's, all of them)."""
        if self._fast is not None and self._fast(body):
            return []
        problems: list[WireProblem] = []
        mistyped: set[str] = set()
        for error in self._reference.iter_errors(body):
            found = _schema_problems(error)
            if error.validator == "type":
                mistyped.update(p.path for p in found)
            elif error.validator == "enum" and found[0].path in mistyped:
                continue  # "must be of type string" already says it
            problems.extend(found)
        return problems

    def problems(self, body: Any) -> list[WireProblem]:
        """Return every schema and prose problem of ``body``; empty when it is valid.

        Args:
            body: The parsed JSON request body.
        """
        found = self.schema_problems(body)
        found.extend(prose_problems(body))
        if len(found) < 2:
            return found
        return list(dict.fromkeys(found))  # drop exact duplicates, keep order


@functools.cache
def get_validator() -> RequestValidator:
    """Return the process-wide :class:`RequestValidator`, building it on first use.

    Raises:
        ImportError: jsonschema or PyYAML is missing (install ``dumgum-async[testing]``).
    """
    return RequestValidator()


def validate_request(body: Any) -> list[WireProblem]:
    """Check a request body (parsed JSON) the way the emulator does.

    Args:
        body: The request body as parsed JSON (dicts, lists, str, numbers...).

    Returns:
        Every schema and prose problem found; an empty list means the vendor's rules hold.

    Raises:
        ImportError: jsonschema or PyYAML is missing (install ``dumgum-async[testing]``).
    """
    return get_validator().problems(body)
