"""Request validation for the emulator: the vendor's JSON schema plus its prose rules.

The schema is read from the ``openapi.yaml`` shipped in ``dumgum_async`` (never from the
client's models), turned into a JSON Schema 2020-12 document whose ``$defs`` are the
spec's ``components/schemas``, and checked with :mod:`jsonschema`.

jsonschema needs about 4 ms for a realistic 8 KB request, too slow for benchmarks at
several hundred requests per second.  So the schema is also compiled into plain Python
predicates (:func:`compile_schema`) that only say "certainly valid" or "not sure".  They
handle just the keywords the spec uses and answer "not sure" whenever in doubt; only then
does jsonschema run, and its errors are the ones reported.  A valid request therefore costs
the fast check only, and an invalid one gets jsonschema's complete list of problems.

Two deliberate departures from the literal schema, both taken from the spec's prose:
``MessageElement.text`` ("can be ``null``") and ``features.working`` ("defaults to
``null``") also accept JSON ``null``.

jsonschema and PyYAML come from the ``testing`` extra and are imported only when a
validator is first built.
"""

from __future__ import annotations

import datetime as _dt
import functools
import importlib.resources
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "INSTALL_HINT",
    "REQUEST_SCHEMA_NAME",
    "RequestValidator",
    "UnsupportedSchemaError",
    "WireProblem",
    "compile_schema",
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
_DEFS_PREFIX = "#/$defs/"

# Properties whose prose says ``null`` is accepted although the schema types forbid it.
_NULLABLE: tuple[tuple[str, str], ...] = (
    ("MessageElement", "text"),
    ("ContentCreationProfileFeatureSet", "working"),
)


@dataclass(frozen=True, slots=True)
class WireProblem:
    """One reason the emulator rejected a request, as its 400 body lists it.

    Not the client's :class:`dumgum_async.Problem`, which locates a problem by path
    segments (``loc``) in Python's or the API's names: this one is the server's view,
    a JSON path string and a message, exactly what goes on the wire (:meth:`as_dict`).
    (It was ``dumgum_async.testing.Problem``, a name that stays as a deprecated alias.)

    Attributes:
        path: Where in the body, dotted with list indices in brackets, e.g.
            ``"userProfile.features.job"`` or ``"messages[3].date"``; ``"$"`` is the body
            itself.
        message: What is wrong, for a human.
    """

    path: str
    message: str

    def as_dict(self) -> dict[str, str]:
        """Return the problem as the JSON object sent in 400 responses."""
        return {"path": self.path, "message": self.message}


class UnsupportedSchemaError(ValueError):
    """Raised by :func:`compile_schema` for a keyword the fast compiler does not handle."""


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
                out[key] = _DEFS_PREFIX + value[len(_COMPONENTS_PREFIX) :]
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
        "$ref": _DEFS_PREFIX + REQUEST_SCHEMA_NAME,
    }


# ------------------------------------------------------------------ fast compiled check

Check = Callable[[Any], bool]

_ANNOTATIONS = frozenset(
    {
        "$schema",
        "$defs",
        "$comment",
        "title",
        "description",
        "default",
        "example",
        "examples",
        "format",  # an annotation in 2020-12 unless a format checker is enabled
        "deprecated",
        "readOnly",
        "writeOnly",
    }
)
_SUPPORTED = frozenset(
    {
        "type",
        "enum",
        "$ref",
        "properties",
        "required",
        "items",
        "uniqueItems",
        "minLength",
        "maxLength",
        "pattern",
    }
)
_PY_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),  # bool is not int here: type(True) is bool
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
    "null": (type(None),),
}


def _always(_: Any) -> bool:
    return True


def _all_of(checks: list[Check]) -> Check:
    if not checks:
        return _always
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        first, second = checks
        return lambda x: first(x) and second(x)
    frozen = tuple(checks)

    def check(x: Any) -> bool:
        return all(c(x) for c in frozen)

    return check


def _types_of(declared: Any) -> frozenset[type]:
    names = [declared] if isinstance(declared, str) else declared
    if not isinstance(names, list) or not names or any(n not in _PY_TYPES for n in names):
        raise UnsupportedSchemaError(f"unsupported type {declared!r}")
    return frozenset(t for n in names for t in _PY_TYPES[n])


def _string_enum(schema: Mapping[str, Any]) -> frozenset[str]:
    values = schema["enum"]
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise UnsupportedSchemaError("only enums of strings are supported")
    return frozenset(values)


class _Compiler:
    def __init__(self, root: Mapping[str, Any]) -> None:
        self._defs: Mapping[str, Any] = root.get("$defs", {})
        self._compiled: dict[str, Check] = {}

    def ref(self, ref: Any) -> Check:
        if not isinstance(ref, str) or not ref.startswith(_DEFS_PREFIX):
            raise UnsupportedSchemaError(f"unsupported $ref {ref!r}")
        name = ref[len(_DEFS_PREFIX) :]
        if "/" in name or "~" in name or "%" in name or name not in self._defs:
            raise UnsupportedSchemaError(f"unsupported $ref {ref!r}")
        if name not in self._compiled:
            slot: list[Check] = []
            self._compiled[name] = lambda x: slot[0](x)  # recursion placeholder
            slot.append(self.compile(self._defs[name]))
            self._compiled[name] = slot[0]
        return self._compiled[name]

    def shape(self, schema: Any) -> tuple[frozenset[type] | None, frozenset[str] | None, Check]:
        """Classify a subschema: (exact types, None, check) for a bare ``type``;
        (None, enum values, check) for an enum of strings; (None, None, check) otherwise."""
        check = self.compile(schema)
        if isinstance(schema, dict):
            keys = set(schema) - _ANNOTATIONS
            if keys == {"type"}:
                return _types_of(schema["type"]), None, check
            if keys == {"enum"} or (keys == {"type", "enum"} and schema["type"] == "string"):
                return None, _string_enum(schema), check
        return None, None, check

    def compile(self, schema: Any) -> Check:
        if schema is True:
            return _always
        if schema is False:
            return lambda _: False
        if not isinstance(schema, dict):
            raise UnsupportedSchemaError(f"schema must be an object, got {schema!r}")
        unknown = set(schema) - _SUPPORTED - _ANNOTATIONS
        if unknown:
            raise UnsupportedSchemaError(f"unsupported keywords {sorted(unknown)}")

        checks: list[Check] = []
        declared = schema.get("type")
        single = declared if isinstance(declared, str) else None
        if declared is not None:
            allowed = _types_of(declared)
            # A single string/array/object type is enforced by that type's keyword group.
            if single not in ("string", "object", "array"):
                checks.append(lambda x: type(x) in allowed)
        if "enum" in schema:
            values = _string_enum(schema)
            checks.append(lambda x: type(x) is str and x in values)
        for group in (
            self._string(schema, strict=single == "string"),
            self._array(schema, strict=single == "array"),
            self._object(schema, strict=single == "object"),
        ):
            if group is not None:
                checks.append(group)
        if "$ref" in schema:
            checks.append(self.ref(schema["$ref"]))
        return _all_of(checks)

    @staticmethod
    def _string(schema: Mapping[str, Any], *, strict: bool) -> Check | None:
        min_len = schema.get("minLength", 0)
        max_len = schema.get("maxLength")
        pattern = schema.get("pattern")
        if not isinstance(min_len, int) or not isinstance(max_len, (int, type(None))):
            raise UnsupportedSchemaError("minLength/maxLength must be integers")
        if pattern is not None and not isinstance(pattern, str):
            raise UnsupportedSchemaError("pattern must be a string")
        if not min_len and max_len is None and pattern is None:
            return (lambda x: type(x) is str) if strict else None
        search = re.compile(pattern).search if pattern is not None else None
        upper = max_len if max_len is not None else -1

        def check(x: Any) -> bool:
            if type(x) is not str:
                return not strict and not isinstance(x, str)
            if len(x) < min_len or (upper >= 0 and len(x) > upper):
                return False
            return search is None or search(x) is not None

        return check

    def _array(self, schema: Mapping[str, Any], *, strict: bool) -> Check | None:
        unique = schema.get("uniqueItems", False) is True
        if "items" in schema:
            types, values, items = self.shape(schema["items"])
        else:
            types, values, items = None, None, None
        if not strict and items is None and not unique:
            return None

        def check(x: Any) -> bool:
            if type(x) is not list:
                return not strict and not isinstance(x, list)
            if values is not None:
                for item in x:
                    if type(item) is not str or item not in values:
                        return False
            elif types is not None:
                for item in x:
                    if type(item) not in types:
                        return False
            elif items is not None:
                for item in x:
                    if not items(item):
                        return False
            if unique:
                # Only lists of strings are decided here; anything else is "not sure".
                return all(type(i) is str for i in x) and len(set(x)) == len(x)
            return True

        return check

    def _object(self, schema: Mapping[str, Any], *, strict: bool) -> Check | None:
        props_schema = schema.get("properties", {})
        required = schema.get("required", [])
        if not isinstance(props_schema, dict) or not isinstance(required, list):
            raise UnsupportedSchemaError("properties/required are malformed")
        typed: dict[str, frozenset[type]] = {}
        enums: dict[str, frozenset[str]] = {}
        others: dict[str, Check] = {}
        for name, sub in props_schema.items():
            types, values, check = self.shape(sub)
            if types is not None:
                typed[name] = types
            elif values is not None:
                enums[name] = values
            else:
                others[name] = check
        needed = tuple(required)
        if not strict and not props_schema and not needed:
            return None

        def check_object(x: Any) -> bool:
            if type(x) is not dict:
                return not strict and not isinstance(x, dict)
            for name in needed:
                if name not in x:
                    return False
            for key, value in x.items():
                allowed = typed.get(key)
                if allowed is not None:
                    if type(value) not in allowed:
                        return False
                    continue
                values = enums.get(key)
                if values is not None:
                    if type(value) is not str or value not in values:
                        return False
                    continue
                sub = others.get(key)
                if sub is not None and not sub(value):
                    return False
            return True

        return check_object


def compile_schema(schema: Mapping[str, Any]) -> Check:
    """Compile a JSON schema into a conservative predicate.

    The predicate returns ``True`` only for instances the schema certainly accepts (for the
    keywords in use: type, enum of strings, $ref into ``$defs``, properties, required, items,
    uniqueItems, minLength, maxLength, pattern) and ``False`` when it is not sure.

    Args:
        schema: A JSON schema whose ``$ref`` values all point into its own ``$defs``.

    Returns:
        The predicate.

    Raises:
        UnsupportedSchemaError: The schema uses a keyword the compiler does not handle.
    """
    return _Compiler(schema).compile(schema)


# ---------------------------------------------------------------------- prose rules

# Ranges are checked by the patterns; only days 29-31 need a calendar check.
_DATE = r"([0-9]{4})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
_DATE_RE = re.compile(_DATE)
_DATETIME_RE = re.compile(
    _DATE + r"[Tt]([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(?:\.[0-9]+)?"
    r"(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
)
# https://, optional user info, a host (name, IPv4 or [IPv6]), optional port, then a path,
# query or fragment; no whitespace anywhere.
_HTTPS_RE = re.compile(
    r"[Hh][Tt][Tt][Pp][Ss]://(?:[^/?#@\s]*@)?(?:\[[0-9A-Fa-f:.]+\]|[^/?#:@\s\[\]]+)"
    r"(?::[0-9]*)?(?:[/?#]\S*)?"
)
_COUNTRY_RE = re.compile(r"[A-Za-z]{2}")


def _real_day(match: re.Match[str]) -> bool:
    if match[3] <= "28":
        return True
    try:
        _dt.date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return False
    return True


def _is_date(value: str) -> bool:
    match = _DATE_RE.fullmatch(value)
    return match is not None and _real_day(match)


def _is_rfc3339(value: str) -> bool:
    match = _DATETIME_RE.fullmatch(value)
    return match is not None and _real_day(match)


def _is_https(value: str) -> bool:
    return _HTTPS_RE.fullmatch(value) is not None


def _profile_problems(profile: Mapping[str, Any], where: str, out: list[WireProblem]) -> None:
    names = (profile.get("firstName"), profile.get("nickname"))
    if not any(isinstance(n, str) and n.strip() for n in names):
        out.append(WireProblem(where, "must have a non-empty firstName or nickname"))
    birthdate = profile.get("birthdate")
    if isinstance(birthdate, str) and not _is_date(birthdate):
        out.append(
            WireProblem(f"{where}.birthdate", f"{_short(birthdate)} is not a real yyyy-MM-dd date")
        )
    country = profile.get("countryCode")
    if isinstance(country, str) and len(country) == 2 and not _COUNTRY_RE.fullmatch(country):
        out.append(
            WireProblem(f"{where}.countryCode", "must be a two-letter ISO 3166-1 alpha-2 code")
        )
    expires = profile.get("expiresAt")
    if isinstance(expires, str) and not _is_rfc3339(expires):
        out.append(
            WireProblem(
                f"{where}.expiresAt",
                f"{_short(expires)} is not an RFC 3339 date-time with a time zone offset",
            )
        )
    main = profile.get("mainPictureUrl")
    if isinstance(main, str) and not _is_https(main):
        out.append(WireProblem(f"{where}.mainPictureUrl", f"{_short(main)} is not an https URL"))
    for key in ("pictures", "privatePictures"):
        urls = profile.get(key)
        if isinstance(urls, list):
            for index, url in enumerate(urls):
                if isinstance(url, str) and not _is_https(url):
                    out.append(
                        WireProblem(f"{where}.{key}[{index}]", f"{_short(url)} is not an https URL")
                    )


def prose_problems(body: Any) -> list[WireProblem]:
    """Check the rules the spec states in prose rather than in its schema.

    Each profile has a non-blank ``firstName`` or ``nickname``; ``mainPictureUrl``,
    ``pictures`` and ``privatePictures`` are https URLs; ``birthdate`` is a real
    ``yyyy-MM-dd`` date; ``countryCode`` is two letters; ``expiresAt`` and message
    ``date`` values are RFC 3339 date-times with an offset (``Z`` or ``+hh:mm``); message
    ids are unique within the request.  Parts of the body with the wrong JSON type are
    skipped (the schema reports those).

    Args:
        body: The parsed request body.

    Returns:
        The problems found, in body order (empty when the rules hold).
    """
    out: list[WireProblem] = []
    if not isinstance(body, dict):
        return out
    for key in ("userProfile", "personaProfile"):
        profile = body.get(key)
        if isinstance(profile, dict):
            _profile_problems(profile, key, out)
    messages = body.get("messages")
    if isinstance(messages, list):
        first_use: dict[str, int] = {}
        for index, message in enumerate(messages):
            if not isinstance(message, dict):
                continue
            message_id = message.get("id")
            if isinstance(message_id, str):
                if message_id in first_use:
                    out.append(
                        WireProblem(
                            f"messages[{index}].id",
                            f"duplicate message id {_short(message_id)} "
                            f"(already used by messages[{first_use[message_id]}])",
                        )
                    )
                else:
                    first_use[message_id] = index
            date = message.get("date")
            if isinstance(date, str) and not _is_rfc3339(date):
                out.append(
                    WireProblem(
                        f"messages[{index}].date",
                        f"{_short(date)} is not an RFC 3339 date-time with a time zone offset",
                    )
                )
    return out


# ------------------------------------------------------------------ schema problems


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def format_path(parts: Iterable[str | int]) -> str:
    """Render a JSON location as ``a.b[2].c`` (``"$"`` for the root)."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out or "$"


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


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
        message = f"{_short(instance)} is not one of {shown}"
    elif kind == "maxLength":
        message = f"must be at most {expected} characters long, got {len(instance)}"
    elif kind == "minLength":
        message = f"must be at least {expected} characters long, got {len(instance)}"
    elif kind == "pattern":
        message = f"{_short(instance)} does not match {expected}"
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
