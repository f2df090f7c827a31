"""JSON to models: a generated fast road for valid input, then the detailed road.

The **fast road** is a straight-line constructor generated per model class from the
same fields, names and table as everything else: it converts what JSON cannot hold
(enums, dates, tuples), fills the slots and runs the model's generated ``fast_ok``.
It tests the class of every value before converting it, so it raises nothing on bad
input: it answers ``REJECTED``, and the **detailed road** (``_wire``: cattrs with
every problem located) explains what is wrong. Only rejected input takes it.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Mapping
from typing import Any, Final, TypeVar, get_args

import attrs

from dumgum_async import _wire
from dumgum_async._constraints import compile_function
from dumgum_async._enums import WireEnum
from dumgum_async._wire import camel, is_homogeneous_tuple, optional_of, table
from dumgum_async.exceptions import RequestValidationError

_M = TypeVar("_M")


# --- the fast road -------------------------------------------------------
# cattrs' generated functions (above) report every problem with its path, but pay
# for it on every call: a dict of results, a hook call and a try block per field,
# then ``cls(**res)``. Most input is valid, so it first takes a straight-line
# constructor generated here from the same fields, names and tables. It tests the
# class of every value before converting it, so it cannot raise on bad input: what
# it cannot convert becomes ``_BAD``, which no check accepts, and the answer is
# ``REJECTED``.


class _Bad:
    """A value no check accepts: what the fast road makes of what it cannot convert."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<rejected>"


_BAD: Final = _Bad()
#: The fast road's answer for input it does not accept (the detailed road explains).
REJECTED: Final[Any] = _BAD


def _date_or_bad(value: str) -> Any:
    if not _wire.DATE_RE.match(value):
        return _BAD
    try:
        return _wire.date_fromisoformat(value)
    except ValueError:
        return _BAD


_LOOKUPS: Final = {cls: _wire.enum_table(cls) for cls in WireEnum.__subclasses__()}
_FAST: dict[type, Callable[[Any], Any]] = {}


def _fast_constructor(cls: type) -> Callable[[Any], Any]:
    # Resolved at first use, not at import: the models call this module, so it may
    # not import them. Nested classes are built first, by the recursion.
    fast = _FAST.get(cls)
    if fast is None:
        attrs.resolve_types(cls)
        fast = _FAST[cls] = _compile_fast(cls)
    return fast


def _compile_fast(cls: type) -> Callable[[Any], Any]:
    ns: dict[str, Any] = {
        "_cl": cls,
        "_new": object.__new__,
        "_ok": cls._fast_ok,  # type: ignore[attr-defined]
        "_BAD": _BAD,
        "_list": list,
        "_str": str,
        "_dict": dict,
    }

    def bind(value: object) -> str:
        key = f"_h{len(ns)}"
        ns[key] = value
        return key

    def convert(t: Any, var: str) -> str:
        """An expression converting the JSON value ``var`` to ``t``; "" if none is needed."""
        if t in _LOOKUPS:
            return f"{bind(_LOOKUPS[t])}.get({var}, _BAD) if {var}.__class__ is _str else _BAD"
        if attrs.has(t):
            return f"{bind(_fast_constructor(t))}({var})"
        if t is _dt.date:
            return f"{bind(_date_or_bad)}({var}) if {var}.__class__ is _str else _BAD"
        return ""  # str, int, bool: the model's table checks the type itself

    body: list[str] = []
    rows = {f.name for f in table(cls).fields}
    fields = [a for a in attrs.fields(cls) if a.name in rows]
    for a in fields:
        t = optional_of(a.type) or a.type
        var = f"f_{a.name}"
        body.append(f"    {var} = g({camel(a.name)!r})")
        if is_homogeneous_tuple(t):
            item = get_args(t)[0]
            each = convert(item, "x")
            items = f"tuple([{each} for x in {var}])" if each else f"tuple({var})"
            conv = f"{items} if {var}.__class__ is _list else _BAD"
            empty = "_BAD" if a.default is attrs.NOTHING else "()"
            body.append(f"    {var} = {empty} if {var} is None else {conv}")
        elif t is _dt.datetime:
            # Python 3.11+ reads "Z" itself; what it cannot read is the detailed
            # road's to explain.
            body += [
                f"    if {var} is not None:",
                f"        if {var}.__class__ is _str:",
                f"            try: {var} = {bind(_wire.fromisoformat)}({var})",
                f"            except ValueError: {var} = _BAD",
                f"        else: {var} = _BAD",
            ]
        elif conv := convert(t, var):
            body.append(f"    if {var} is not None: {var} = {conv}")
    # Built like pickle builds objects (object.__new__, then each slot), skipping the
    # frozen __init__'s setattr calls: the same checks run, through _ok.
    fill = [f"    {bind(getattr(cls, a.name).__set__)}(obj, f_{a.name})" for a in fields]
    for a in attrs.fields(cls):
        if a.name not in rows:  # not from JSON (a memo, say): its default
            default = a.default.factory() if isinstance(a.default, attrs.Factory) else a.default  # type: ignore[arg-type]
            fill.append(f"    {bind(getattr(cls, a.name).__set__)}(obj, {bind(default)})")
    src = (
        "def fast(o):\n"
        "    if o.__class__ is not _dict:\n"
        "        return _BAD\n"
        "    g = o.get\n" + "\n".join(body) + "\n"
        "    obj = _new(_cl)\n" + "\n".join(fill) + "\n"
        "    return obj if _ok(obj) else _BAD\n"
    )
    return compile_function(src, "fast", ns, f"from_dict {cls.__module__}.{cls.__qualname__}")  # type: ignore[no-any-return]


def from_dict(cls: type[_M], data: Mapping[str, Any], *, strict_enums: bool = True) -> _M:
    """Structure ``data`` (the API's JSON shape) into ``cls``; see ``Model.from_dict``.

    Raises:
        RequestValidationError: Every problem of ``data``, with its JSON path.
    """
    obj = _fast_constructor(cls)(data)
    if obj is not _BAD:
        return obj  # type: ignore[no-any-return]
    conv = _wire.STRICT if strict_enums else _wire.LENIENT
    try:
        return conv.structure(data, cls)
    except _wire.ERRORS as exc:
        raise RequestValidationError(_wire.problems_of(exc, ())) from None


def warm(classes: tuple[type, ...]) -> None:
    """Generate every road of ``classes`` now, so the first request pays no codegen."""
    for cls in classes:
        _fast_constructor(cls)
        _wire.STRICT.get_structure_hook(cls)
        _wire.TO_DICT.get_unstructure_hook(cls)
