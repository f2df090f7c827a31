"""The emulator's fast request check: a JSON schema compiled into Python predicates.

jsonschema needs about 4 ms for a realistic 8 KB request, too slow for benchmarks at
several hundred requests per second. So :mod:`dumgum_async.testing._schema` also
compiles the schema into plain predicates (:func:`compile_schema`) that only say
"certainly valid" or "not sure". They handle just the keywords the spec uses and
answer "not sure" whenever in doubt; only then does jsonschema run. Pure Python:
neither jsonschema nor PyYAML is needed here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["DEFS_PREFIX", "Check", "UnsupportedSchemaError", "compile_schema"]

#: Where every ``$ref`` the compiler follows points: the schema's own ``$defs``.
DEFS_PREFIX = "#/$defs/"


class UnsupportedSchemaError(ValueError):
    """Raised by :func:`compile_schema` for a keyword the fast compiler does not handle."""


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
        if not isinstance(ref, str) or not ref.startswith(DEFS_PREFIX):
            raise UnsupportedSchemaError(f"unsupported $ref {ref!r}")
        name = ref[len(DEFS_PREFIX) :]
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
