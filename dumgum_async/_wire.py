"""The wire shape of the models: camelCase names, date strings, omitted defaults.

With ``_structure`` this is the only place that knows the JSON shape. It works on
any attrs class whose fields declare a constraint (``_constraints``) and imports no
model: ``_models`` calls it from ``to_dict`` (and ``_structure`` from
``from_dict``); ``_converter`` builds the request encoder on it.

Here are the **detailed road** from JSON to a model, cattrs with detailed
validation, whose per-field hooks apply the model table's full checks so that every
problem is reported with its path (``_structure`` tries its fast road first), and
the unstructurers, models to JSON values.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, TypeVar, get_args, get_origin

import attrs
import cattrs
import orjson
from cattrs.errors import ClassValidationError, IterableValidationError
from cattrs.fns import identity
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from dumgum_async._constraints import Check, Table, invalid_value
from dumgum_async._enums import ALIASES, WireEnum
from dumgum_async._rules import text_problem
from dumgum_async.exceptions import Problem, RequestValidationError

_M = TypeVar("_M")
_Hook = Callable[[Any, Any], Any]
_Loc = tuple[str | int, ...]


def camel(name: str) -> str:
    """``first_name`` -> ``firstName``: the API's spelling of an attribute name."""
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def table(cls: type) -> Table:
    """The constraint table of a model class (set by ``_models``' decorator)."""
    return cls._table  # type: ignore[attr-defined, no-any-return]


# --- structuring: JSON -> models, the detailed road ---------------------------------


class _Mismatch(ValueError):
    """A JSON value of the wrong shape; its message is shown to the user as is."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class _Invalid(Exception):
    """Problems already located relative to the value that raised it."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(problems)
        self.problems = problems


def json_kind(value: object) -> str:
    """A JSON value's type, for a message: ``a string``, ``an array``, ``null``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


#: What the hooks here raise for bad input (cattrs' per-field groups are caught by
#: the model hook); anything else is a bug and propagates.
ERRORS: Final = (_Mismatch, _Invalid, RequestValidationError)


def _passthrough(value: Any, _: Any) -> Any:
    # Types are checked by the model's table, once; coercing here (cattrs' default
    # turns 5 into "5") would hide mistakes instead of reporting them.
    return value


def _structure_int(value: Any, _: Any) -> Any:
    # JSON has one number type: 170.0 is the integer 170 to JSON Schema (and so to
    # the API); 170.5, NaN and inf are left for the model to reject.
    if value.__class__ is float and value.is_integer():
        return int(value)
    return value


# Bound at import: freezegun swaps ``datetime.datetime`` for its fake class while
# time is frozen, and the fake's fromisoformat() returns fakes.
fromisoformat = _dt.datetime.fromisoformat
date_fromisoformat = _dt.date.fromisoformat
_LEAP_SECOND = re.compile(r"[^:]*[Tt ]\d\d:\d\d:60")


def _structure_datetime(value: Any, _: Any) -> _dt.datetime:
    if not isinstance(value, str):
        raise _Mismatch("type", f"expected an ISO 8601 date-time string, got {json_kind(value)}")
    text = value
    if text[-1:] == "z":  # RFC 3339 allows a lower-case "z"; fromisoformat does not
        text = text[:-1] + "Z"
    try:
        return fromisoformat(text)
    except ValueError:
        if _LEAP_SECOND.match(text):
            raise _Mismatch(
                "format",
                f"a leap second ({value[:40]!r}) cannot be held by a Python datetime; "
                "send :59 instead",
            ) from None
        raise _Mismatch("format", f"not an ISO 8601 date-time: {value[:40]!r}") from None


DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")


def _structure_date(value: Any, _: Any) -> _dt.date:
    if not isinstance(value, str):
        raise _Mismatch("type", f"expected a yyyy-MM-dd date string, got {json_kind(value)}")
    if not DATE_RE.match(value):
        raise _Mismatch("type", f"expected a yyyy-MM-dd date, got {value[:40]!r}")
    try:
        return date_fromisoformat(value)
    except ValueError:
        raise _Mismatch("format", f"not a real date: {value!r}") from None


def enum_table(cls: type[WireEnum]) -> dict[Any, WireEnum]:
    """Wire string -> member, older spellings included."""
    lookup: dict[Any, WireEnum] = {k: cls(v) for k, v in cls._value2member_map_.items()}
    for alias, target in ALIASES.get(cls, {}).items():
        lookup[alias] = cls(target)
    return lookup


def _enum_hook(cls: type[WireEnum], *, strict: bool) -> _Hook:
    lookup = enum_table(cls)
    expected = ", ".join(m.value for m in cls)

    def structure(value: Any, _: Any) -> WireEnum:
        member = lookup.get(value) if value.__class__ is str else None
        if member is not None:
            return member
        if not isinstance(value, str):
            raise _Mismatch("type", f"expected a string, got {json_kind(value)}")
        if not strict:
            out: list[Problem] = []
            text_problem(value, (), out)  # kept to be sent back: it must be sendable
            if out:
                raise RequestValidationError(out)
            return cls.unknown(value)
        raise _Mismatch("enum", f"unknown value {value[:40]!r}; expected one of: {expected}")

    return structure


def _tuple_hook(item_type: Any, converter: cattrs.Converter) -> _Hook:
    item_hook = converter.get_structure_hook(item_type)

    def structure(value: Any, _: Any) -> tuple[Any, ...]:
        if not isinstance(value, list | tuple):
            raise _Mismatch("type", f"expected an array, got {json_kind(value)}")
        if item_hook is _passthrough:
            return tuple(value)
        # One pass that finds every bad item, not just the first.
        items: list[Any] = []
        problems: list[Problem] = []
        for i, v in enumerate(value):
            try:
                items.append(item_hook(v, item_type))
            except ERRORS as exc:  # each item's error becomes its problem
                problems.extend(problems_of(exc, (i,)))
        if problems:
            raise _Invalid(problems)
        return tuple(items)

    return structure


def _checked(hook: _Hook, check: Check, required: bool) -> _Hook:
    """A field's structure hook that also applies the field's constraint to the result.

    So one bad field does not hide the others' problems: cattrs collects every
    field's error before it would call the class (whose own checks then never run).
    """

    def structure(value: Any, t: Any) -> Any:
        if value is None and not required:
            # Absent, as the fast road and the model read it: None, or () for a list.
            return check.normalise(None, required)
        result = hook(value, t)
        if result is None:
            if required:
                raise _Mismatch("required", "required")
            return None
        out: list[Problem] = []
        check.explain(result, (), out)
        if out:
            raise RequestValidationError(out)
        return result

    return structure


class _RawView:
    """Attribute access over raw JSON, for cross-field rules on input that did not build."""

    __slots__ = ("_raw",)

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self._raw = raw

    def __getattr__(self, name: str) -> Any:
        return _raw_view(self._raw.get(camel(name)))


def _raw_view(value: Any) -> Any:
    if isinstance(value, Mapping):
        return _RawView(value)
    if isinstance(value, list):
        return tuple(_raw_view(v) for v in value)
    return value


def _model_hook(cls: type, converter: cattrs.Converter) -> _Hook:
    overrides: dict[str, Any] = {}
    rows = table(cls)
    by_name = attrs.fields_dict(cls)
    for f in rows.fields:
        hook = _checked(converter.get_structure_hook(by_name[f.name].type), f.check, f.required)
        overrides[f.name] = override(rename=camel(f.name), struct_hook=hook)
    fn: Callable[[Any, Any], Any] = make_dict_structure_fn(
        cls,
        converter,
        _cattrs_forbid_extra_keys=False,  # the vendor may add response fields
        _cattrs_detailed_validation=True,
        **overrides,
    )
    label = cls.__name__

    def structure(value: Any, _: Any) -> Any:
        if not isinstance(value, Mapping):
            raise _Mismatch("type", f"expected an object ({label}), got {json_kind(value)}")
        if value.__class__ is not dict:
            # Read once, here (cattrs' code and the rules over raw input below each read
            # it again): a caller's mapping whose reads fail is one problem, at its place.
            try:
                value = dict(value)
            except Exception as exc:
                raise _Invalid([invalid_value((), exc)]) from None
        try:
            return fn(value, cls)
        except ClassValidationError as exc:
            # A model's own error, from ``cls(**res)`` (no attribute note), means every
            # field passed its hook's check and only the rules over the whole object
            # failed: those are explained below, in the JSON's names.
            failed = [
                e
                for e in exc.exceptions
                if getattr(e, "__notes__", None) or not isinstance(e, RequestValidationError)
            ]
            problems = problems_of_each(failed, ())
        # The class was not built, so its rules over several fields did not run (or
        # spoke in attribute names): run them over the raw input, in the JSON's.
        if rows.rules is not None:
            seen = set(problems)
            more: list[Problem] = []
            rows.rules.explain(_RawView(value), (), more, camel)
            problems += [p for p in more if p not in seen]
        raise _Invalid(problems)

    return structure


def optional_of(t: Any) -> Any:
    """``X | None`` -> ``X``; anything else -> None."""
    args = get_args(t)
    if len(args) == 2 and type(None) in args:
        return args[0] if args[1] is type(None) else args[1]
    return None


def tuple_item(t: Any) -> Any:
    """``tuple[X, ...]`` -> ``X``; anything else -> None."""
    args = get_args(t)
    if get_origin(t) is tuple and len(args) == 2 and args[1] is Ellipsis:
        return args[0]
    return None


def is_homogeneous_tuple(t: Any) -> bool:
    """``t`` is ``tuple[X, ...]``."""
    return tuple_item(t) is not None


def _make_structurer(*, strict: bool) -> cattrs.Converter:
    conv = cattrs.Converter(detailed_validation=True, forbid_extra_keys=False)
    for t in (str, bool, float):
        conv.register_structure_hook(t, _passthrough)
    conv.register_structure_hook(int, _structure_int)
    conv.register_structure_hook(_dt.datetime, _structure_datetime)
    conv.register_structure_hook(_dt.date, _structure_date)
    # cattrs dispatches on classes (most specific first) before predicates, and every
    # WireEnum is a str: so each enum is registered by class, not by a predicate.
    for enum_cls in WireEnum.__subclasses__():
        conv.register_structure_hook(enum_cls, _enum_hook(enum_cls, strict=strict))
    conv.register_structure_hook_factory(
        is_homogeneous_tuple, lambda t, c: _tuple_hook(get_args(t)[0], c)
    )

    # An explicit null is the same as an absent key for optional fields.
    def optional_hook(t: Any, c: cattrs.Converter) -> _Hook:
        inner = c.get_structure_hook(optional_of(t))
        inner_type = optional_of(t)
        return lambda v, _: None if v is None else inner(v, inner_type)

    conv.register_structure_hook_factory(lambda t: optional_of(t) is not None, optional_hook)
    conv.register_structure_hook_factory(attrs.has, _model_hook)
    return conv


def problems_of(exc: BaseException, loc: _Loc) -> list[Problem]:
    """Flatten what structuring raised into located problems, in camelCase paths."""
    if isinstance(exc, ClassValidationError | IterableValidationError):
        return problems_of_each(exc.exceptions, loc)
    if isinstance(exc, _Invalid):
        return [Problem((*loc, *p.loc), p.message, p.code) for p in exc.problems]
    if isinstance(exc, RequestValidationError):
        # Raised by a field's check, in attribute names: translate to the wire's.
        return [
            Problem(
                (*loc, *(camel(s) if isinstance(s, str) else s for s in p.loc)), p.message, p.code
            )
            for p in exc.problems
        ]
    if isinstance(exc, KeyError):
        return [Problem(loc, "required", "required")]
    if isinstance(exc, _Mismatch):
        return [Problem(loc, str(exc), exc.code)]
    return [invalid_value(loc, exc)]


def problems_of_each(errors: Iterable[BaseException], loc: _Loc) -> list[Problem]:
    """The problems of a cattrs error group's members, each at the place its note names."""
    out: list[Problem] = []
    for sub in errors:
        sub_loc = loc
        for note in getattr(sub, "__notes__", ()):
            if isinstance(note, cattrs.AttributeValidationNote):
                sub_loc = (*loc, camel(note.name))
            elif isinstance(note, cattrs.IterableValidationNote):
                sub_loc = (*loc, note.index)
        out.extend(problems_of(sub, sub_loc))
    return out


STRICT: Final = _make_structurer(strict=True)
LENIENT: Final = _make_structurer(strict=False)


# --- unstructuring: models -> JSON -------------------------------------------------


def _datetime_to_str(value: _dt.datetime) -> str:
    # Exactly what orjson writes on the wire, so to_dict() and the request body agree.
    return orjson.dumps(value, option=orjson.OPT_UTC_Z).decode()[1:-1]


def _enum_value(member: WireEnum) -> str:
    return member._value_  # type: ignore[no-any-return]


def make_unstructurer(*, native: bool) -> cattrs.Converter:
    """Models to JSON values; ``native``: leave enums, dates and tuples to orjson."""
    conv = cattrs.Converter()
    if native:
        # orjson writes these itself, faster than any hook could.
        for t in (_dt.datetime, _dt.date):
            conv.register_unstructure_hook(t, identity)
        conv.register_unstructure_hook_factory(
            lambda t: isinstance(t, type) and issubclass(t, WireEnum),
            lambda t: identity,
        )
    else:
        conv.register_unstructure_hook(_dt.datetime, _datetime_to_str)
        conv.register_unstructure_hook(_dt.date, _dt.date.isoformat)
        # By class, not by predicate: cattrs' class dispatch would find str's identity
        # hook first (every WireEnum is a str) and hand back the enum member itself.
        for enum_cls in WireEnum.__subclasses__():
            conv.register_unstructure_hook(enum_cls, _enum_value)

    def tuple_hook(t: Any, c: cattrs.Converter) -> Callable[[Any], Any]:
        item_type = get_args(t)[0]
        item = c.get_unstructure_hook(item_type)
        if item is identity or item_type is str:
            return (lambda v: v) if native else list
        return lambda v: [item(x) for x in v]

    conv.register_unstructure_hook_factory(is_homogeneous_tuple, tuple_hook)

    def optional_hook(t: Any, c: cattrs.Converter) -> Callable[[Any], Any]:
        inner = c.get_unstructure_hook(optional_of(t))
        if inner is identity:
            return inner
        return lambda v: None if v is None else inner(v)

    conv.register_unstructure_hook_factory(lambda t: optional_of(t) is not None, optional_hook)
    conv.register_unstructure_hook_factory(attrs.has, _unstructure_model)
    return conv


def _unstructure_model(cls: Any, converter: cattrs.Converter) -> Callable[[Any], Any]:
    rows = {f.name for f in table(cls).fields}
    renames: dict[str, Any] = {
        a.name: override(rename=camel(a.name)) if a.name in rows else override(omit=True)
        for a in attrs.fields(cls)
    }
    return make_dict_unstructure_fn(
        cls,
        converter,
        _cattrs_omit_if_default=True,  # None and () are "absent" on the wire
        **renames,
    )


TO_DICT: Final = make_unstructurer(native=False)


def to_dict(obj: object) -> dict[str, Any]:
    """Unstructure a model into the API's JSON shape."""
    result: dict[str, Any] = TO_DICT.unstructure(obj)
    return result
