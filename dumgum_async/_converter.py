"""The wire format: models to and from the API's JSON, and response bodies to models.

This is the only place that knows camelCase names, omitted defaults and string
formats of dates. Three cattrs converters share one set of hook factories:

* ``_STRICT`` and ``_LENIENT`` structure JSON into models, rejecting or keeping
  enum values this release does not know;
* ``_STRICT`` also unstructures to plain JSON values (``to_dict``);
* ``_ENCODE`` unstructures to what orjson serializes natively (enums, dates and
  tuples left as they are), which is what every request on the wire goes through.

Type checks and constraints are the models' own (run once, in ``__init__``); the
hooks here only convert, so no value is checked twice on the hot path.
"""

from __future__ import annotations

import datetime as _dt
import re
import sys
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, get_args, get_origin

import attrs
import cattrs
import orjson
from cattrs.errors import ClassValidationError, IterableValidationError
from cattrs.fns import identity
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from dumgum_async import _pylist
from dumgum_async._enums import ALIASES, WireEnum
from dumgum_async._models import (
    MODELS,
    SuggestionRequest,
    SuggestionResponse,
    install_codec,
    text_problem,
)
from dumgum_async.exceptions import Problem, RequestValidationError

_M = TypeVar("_M")
_Hook = Callable[[Any, Any], Any]


def camel(name: str) -> str:
    """``first_name`` -> ``firstName``: the API's spelling of an attribute name."""
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


# --- structuring: JSON -> models ---------------------------------------------------


class _Mismatch(ValueError):
    """A JSON value of the wrong shape; its message is shown to the user as is."""


class _Invalid(Exception):
    """Problems already located relative to the value that raised it."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(problems)
        self.problems = problems


def _json_kind(value: object) -> str:
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


def _passthrough(value: Any, _: Any) -> Any:
    # Types are checked by the model itself, once; coercing here (cattrs' default
    # turns 5 into "5") would hide mistakes instead of reporting them.
    return value


def _structure_int(value: Any, _: Any) -> Any:
    # JSON has one number type: 170.0 is the integer 170 to JSON Schema (and so to
    # the API); 170.5, NaN and inf are left for the model to reject.
    if value.__class__ is float and value.is_integer():
        return int(value)
    return value


_OLD_ISO = sys.version_info < (3, 11)
# Bound at import: freezegun swaps ``datetime.datetime`` for its fake class while
# time is frozen, and the fake's fromisoformat() returns fakes.
_fromisoformat = _dt.datetime.fromisoformat
_date_fromisoformat = _dt.date.fromisoformat
_LEAP_SECOND = re.compile(r"[^:]*[Tt ]\d\d:\d\d:60")


def _structure_datetime(value: Any, _: Any) -> _dt.datetime:
    if not isinstance(value, str):
        raise _Mismatch(f"expected an ISO 8601 date-time string, got {_json_kind(value)}")
    text = value
    if text[-1:] == "z":  # RFC 3339 allows a lower-case "z"; fromisoformat does not
        text = text[:-1] + "Z"
    if _OLD_ISO and text[-1:] == "Z":  # Python 3.10's fromisoformat lacks "Z"
        text = text[:-1] + "+00:00"
    try:
        return _fromisoformat(text)
    except ValueError:
        if _LEAP_SECOND.match(text):
            raise _Mismatch(
                f"a leap second ({value[:40]!r}) cannot be held by a Python datetime; "
                "send :59 instead"
            ) from None
        raise _Mismatch(f"not an ISO 8601 date-time: {value[:40]!r}") from None


_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")


def _structure_date(value: Any, _: Any) -> _dt.date:
    if not isinstance(value, str):
        raise _Mismatch(f"expected a yyyy-MM-dd date string, got {_json_kind(value)}")
    if not _DATE_RE.match(value):
        raise _Mismatch(f"expected a yyyy-MM-dd date, got {value[:40]!r}")
    try:
        return _date_fromisoformat(value)
    except ValueError:
        raise _Mismatch(f"not a real date: {value!r}") from None


def _enum_table(cls: type[WireEnum]) -> dict[Any, WireEnum]:
    """Wire string -> member, older spellings included."""
    table: dict[Any, WireEnum] = {k: cls(v) for k, v in cls._value2member_map_.items()}
    for alias, target in ALIASES.get(cls, {}).items():
        table[alias] = cls(target)
    return table


def _enum_hook(cls: type[WireEnum], *, strict: bool) -> _Hook:
    lookup = _enum_table(cls)
    expected = ", ".join(m.value for m in cls)

    def structure(value: Any, _: Any) -> WireEnum:
        try:
            member = lookup.get(value)
        except TypeError:  # unhashable: a list or an object
            member = None
        if member is not None:
            return member
        if not isinstance(value, str):
            raise _Mismatch(f"expected a string, got {_json_kind(value)}")
        if not strict:
            out: list[Problem] = []
            text_problem(value, (), out)  # kept to be sent back: it must be sendable
            if out:
                raise RequestValidationError(out)
            return cls.unknown(value)
        raise _Mismatch(f"unknown value {value[:40]!r}; expected one of: {expected}")

    return structure


def _tuple_hook(item_type: Any, converter: cattrs.Converter) -> _Hook:
    item_hook = converter.get_structure_hook(item_type)

    def structure(value: Any, _: Any) -> tuple[Any, ...]:
        if not isinstance(value, list | tuple):
            raise _Mismatch(f"expected an array, got {_json_kind(value)}")
        if item_hook is _passthrough:
            return tuple(value)
        try:
            return tuple([item_hook(v, item_type) for v in value])
        except Exception:
            pass
        # Slow path, only for bad input: find every bad item, not just the first.
        problems: list[Problem] = []
        for i, v in enumerate(value):
            try:
                item_hook(v, item_type)
            except Exception as exc:
                problems.extend(_problems_of(exc, (i,)))
        raise _Invalid(problems)

    return structure


def _checked(hook: _Hook, check: Any, required: bool) -> _Hook:
    """A field's structure hook that also applies the model's constraint to the result.

    So one bad field does not hide the others' problems: cattrs collects every
    field's error before it would call the class (whose own checks then never run).
    """

    def structure(value: Any, t: Any) -> Any:
        result = hook(value, t)
        if result is None:
            if required:
                raise _Mismatch("required")
            return None
        out: list[Problem] = []
        check(result, (), out)
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
    for name, check, required in cls._checks:  # type: ignore[attr-defined]
        a = attrs.fields_dict(cls)[name]
        hook = _checked(converter.get_structure_hook(a.type), check, required)
        overrides[name] = override(rename=camel(name), struct_hook=hook)
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
            raise _Mismatch(f"expected an object ({label}), got {_json_kind(value)}")
        try:
            return fn(value, cls)
        except ClassValidationError as exc:
            problems = _problems_of(exc, ())
        # Some field failed, so the class was never built and its cross-field rules
        # never ran: run them over the raw input, so that they are reported too.
        more: list[Problem] = []
        try:
            cls._check_more(_RawView(value), more)  # type: ignore[attr-defined]
        except Exception:
            more = []
        seen = set(problems)
        for p in _problems_of(RequestValidationError(more), ()):
            if p not in seen:
                problems.append(p)
        raise _Invalid(problems)

    return structure


def _optional_of(t: Any) -> Any:
    """``X | None`` -> ``X``; anything else -> None."""
    args = get_args(t)
    if len(args) == 2 and type(None) in args:
        return args[0] if args[1] is type(None) else args[1]
    return None


def _is_homogeneous_tuple(t: Any) -> bool:
    args = get_args(t)
    return get_origin(t) is tuple and len(args) == 2 and args[1] is Ellipsis


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
        _is_homogeneous_tuple, lambda t, c: _tuple_hook(get_args(t)[0], c)
    )

    # An explicit null is the same as an absent key for optional fields.
    def optional_hook(t: Any, c: cattrs.Converter) -> _Hook:
        inner = c.get_structure_hook(_optional_of(t))
        inner_type = _optional_of(t)
        return lambda v, _: None if v is None else inner(v, inner_type)

    conv.register_structure_hook_factory(lambda t: _optional_of(t) is not None, optional_hook)
    conv.register_structure_hook_factory(attrs.has, _model_hook)
    return conv


def _problems_of(exc: BaseException, loc: tuple[str | int, ...]) -> list[Problem]:
    """Flatten what structuring raised into located problems, in camelCase paths."""
    if isinstance(exc, ClassValidationError | IterableValidationError):
        out: list[Problem] = []
        for sub in exc.exceptions:
            sub_loc = loc
            for note in getattr(sub, "__notes__", ()):
                if isinstance(note, cattrs.AttributeValidationNote):
                    sub_loc = (*loc, camel(note.name))
                elif isinstance(note, cattrs.IterableValidationNote):
                    sub_loc = (*loc, note.index)
            out.extend(_problems_of(sub, sub_loc))
        return out
    if isinstance(exc, _Invalid):
        return [Problem((*loc, *p.loc), p.message) for p in exc.problems]
    if isinstance(exc, RequestValidationError):
        # Raised by a model's own checks, in attribute names: translate to the wire's.
        return [
            Problem((*loc, *(camel(s) if isinstance(s, str) else s for s in p.loc)), _wire(p))
            for p in exc.problems
        ]
    if isinstance(exc, KeyError):
        return [Problem(loc, "required")]
    if isinstance(exc, _Mismatch):
        return [Problem(loc, str(exc))]
    return [Problem(loc, f"invalid value ({type(exc).__name__}: {exc})")]


def _wire(problem: Problem) -> str:
    # The one cross-field message that names attributes; say it in the JSON's words.
    if problem.message.startswith("first_name or nickname"):
        return "firstName or nickname is required (at least one)"
    return problem.message


# --- unstructuring: models -> JSON -------------------------------------------------


def _datetime_to_str(value: _dt.datetime) -> str:
    # Exactly what orjson writes on the wire, so to_dict() and the request body agree.
    return orjson.dumps(value, option=orjson.OPT_UTC_Z).decode()[1:-1]


def _enum_value(member: WireEnum) -> str:
    return member._value_  # type: ignore[no-any-return]


def _make_unstructurer(*, native: bool) -> cattrs.Converter:
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

    conv.register_unstructure_hook_factory(_is_homogeneous_tuple, tuple_hook)

    def optional_hook(t: Any, c: cattrs.Converter) -> Callable[[Any], Any]:
        inner = c.get_unstructure_hook(_optional_of(t))
        if inner is identity:
            return inner
        return lambda v: None if v is None else inner(v)

    conv.register_unstructure_hook_factory(lambda t: _optional_of(t) is not None, optional_hook)
    conv.register_unstructure_hook_factory(attrs.has, _unstructure_model)
    return conv


def _unstructure_model(cls: Any, converter: cattrs.Converter) -> Callable[[Any], Any]:
    renames: dict[str, Any] = {a.name: override(rename=camel(a.name)) for a in attrs.fields(cls)}
    return make_dict_unstructure_fn(
        cls,
        converter,
        _cattrs_omit_if_default=True,  # None and () are "absent" on the wire
        **renames,
    )


_STRICT = _make_structurer(strict=True)
_LENIENT = _make_structurer(strict=False)
_TO_DICT = _make_unstructurer(native=False)
_ENCODE = _make_unstructurer(native=True)
_ENCODE_REQUEST = _ENCODE.get_unstructure_hook(SuggestionRequest)


# --- the fast road for valid input ---------------------------------------------------
# cattrs' generated functions (above) report every problem with its path, but pay
# for it on every call: a dict of results, a hook call and a try block per field,
# then ``cls(**res)``. Most input is valid, so it first takes a straight-line
# constructor call generated here from the same fields, names and leaf functions;
# on any exception it is thrown away and the cattrs road explains what is wrong.


def _tuple_plain(value: Any) -> tuple[Any, ...]:
    if value.__class__ is list:
        return tuple(value)
    if value.__class__ is tuple:
        return value  # type: ignore[no-any-return, unused-ignore]
    raise _Mismatch("expected an array")


def _compile_fast(cls: type, fast: dict[type, Any], lookups: dict[type, Any]) -> Any:
    ns: dict[str, Any] = {
        "_cl": cls,
        "_new": object.__new__,
        "_ok": cls._fast_ok,  # type: ignore[attr-defined]
        "_plain": _tuple_plain,
        "_Invalid": _Mismatch,
    }
    body: list[str] = []

    def bind(value: object) -> str:
        key = f"_h{len(ns)}"
        ns[key] = value
        return key

    for a in attrs.fields(cls):
        t = _optional_of(a.type) or a.type
        key = camel(a.name)
        var = f"f_{a.name}"
        required = a.default is attrs.NOTHING
        body.append(f"    {var} = o[{key!r}]" if required else f"    {var} = g({key!r})")
        if _is_homogeneous_tuple(t):
            item = get_args(t)[0]
            if item in lookups:
                conv = f"tuple([{bind(lookups[item])}[x] for x in {var}])"
                conv = f"_plain({var}) and {conv}"
            elif item in fast:
                conv = f"tuple([{bind(fast[item])}(x) for x in _plain({var})])"
            else:
                conv = f"(tuple({var}) if {var}.__class__ is list else _plain({var}))"
            if required:
                body.append(f"    {var} = {conv}")
            else:
                body.append(f"    {var} = () if {var} is None else {conv}")
            continue
        if t in lookups:
            conv = f"{bind(lookups[t])}[{var}]"
        elif t in fast:
            conv = f"{bind(fast[t])}({var})"
        elif t is _dt.datetime:
            # Python 3.11+ reads "Z" itself: call fromisoformat directly (a non-string
            # raises, and the detailed road then explains it).
            parse = _structure_datetime if _OLD_ISO else None
            if parse is None:
                conv = f"{bind(_dt.datetime.fromisoformat)}({var})"
            else:
                conv = f"{bind(parse)}({var}, None)"
        elif t is _dt.date:
            conv = f"{bind(_structure_date)}({var}, None)"
        else:
            conv = ""  # str, int, bool: the model checks the type itself
        if conv:
            body.append(f"    if {var} is not None: {var} = {conv}")
    # Built like pickle builds objects (object.__new__, then each slot), skipping the
    # frozen __init__'s setattr calls: the same checks run, through _ok.
    fill = [f"    {bind(getattr(cls, a.name).__set__)}(obj, f_{a.name})" for a in attrs.fields(cls)]
    src = (
        "def fast(o):\n"
        "    g = o.get\n" + "\n".join(body) + "\n"
        "    obj = _new(_cl)\n" + "\n".join(fill) + "\n"
        "    if not _ok(obj):\n"
        "        raise _Invalid('')\n"
        "    return obj\n"
    )
    exec(src, ns)
    return ns["fast"]


def _build_fast() -> dict[type, Any]:
    lookups: dict[type, Any] = {cls: _enum_table(cls) for cls in WireEnum.__subclasses__()}
    fast: dict[type, Any] = {}
    for cls in MODELS:  # bottom-up, so nested classes are compiled first
        attrs.resolve_types(cls)  # type: ignore[type-var]
        fast[cls] = _compile_fast(cls, fast, lookups)
    return fast


_FAST = _build_fast()


def from_dict(cls: type[_M], data: Mapping[str, Any], *, strict_enums: bool = True) -> _M:
    """Structure ``data`` (the API's JSON shape) into ``cls``; see ``Model.from_dict``."""
    try:
        return _FAST[cls](data)  # type: ignore[no-any-return]
    except Exception:
        pass
    conv = _STRICT if strict_enums else _LENIENT
    try:
        return conv.structure(data, cls)
    except Exception as exc:
        raise RequestValidationError(_problems_of(exc, ())) from None


def to_dict(obj: object) -> dict[str, Any]:
    """Unstructure a model into the API's JSON shape."""
    result: dict[str, Any] = _TO_DICT.unstructure(obj)
    return result


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


class _Codec:
    from_dict = staticmethod(from_dict)
    to_dict = staticmethod(to_dict)


install_codec(_Codec())

# Warm the generated functions now, so the first request does not pay for codegen.
for _cls in MODELS:
    _STRICT.get_structure_hook(_cls)
    _TO_DICT.get_unstructure_hook(_cls)


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
        raise BodyError(f"expected a JSON object, got {_json_kind(data)}")
    if "suggestions" not in data:
        raise BodyError("response has no 'suggestions' field")
    raw = data["suggestions"]
    if isinstance(raw, str):
        items = parse_string_list(raw)
    elif isinstance(raw, list):
        items = raw
        if not all(isinstance(v, str) for v in items):
            raise BodyError("'suggestions' must hold only strings")
    else:
        raise BodyError(f"'suggestions' must be an array of strings, got {_json_kind(raw)}")
    return SuggestionResponse(suggestions=tuple(items))
