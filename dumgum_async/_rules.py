"""The constraints a model's fields declare: strings, patterns, integers, dates, lists.

Each function returns a :class:`~dumgum_async._constraints.Check`, a sequence of
rules (an expression true when the value is fine, a code, a message); the
machinery that turns a model's checks into its fast path and its full list of
problems is ``_constraints``'.
"""

from __future__ import annotations

import datetime as _dt
import re
import zoneinfo
from collections import Counter
from collections.abc import Iterable, Mapping
from functools import cache, lru_cache
from typing import Any, ClassVar

from dumgum_async._constraints import Check, Rule, compile_function
from dumgum_async._enums import WireEnum
from dumgum_async.exceptions import Problem

_Loc = tuple[str | int, ...]
_Out = list[Problem]

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1


# --- what a problem says -------------------------------------------------------------


def kind(value: object) -> str:
    """A value's type for a message: ``str 'abc'``, ``null``, ``Gender.MALE``."""
    if value is None:
        return "null"
    if isinstance(value, WireEnum):
        return f"{type(value).__name__}.{value.name}"
    if isinstance(value, str | int | float):
        return f"{type(value).__name__} {excerpt(value)}"
    return type(value).__name__


def excerpt(value: object, limit: int = 60) -> str:
    """A short ``repr``: never the whole of a huge string or integer."""
    if isinstance(value, str):
        text = repr(value[:limit])
    elif isinstance(value, int) and value.bit_length() > 3 * limit:
        # repr() of an int over 4,300 digits raises ValueError (CVE-2020-10735).
        return f"<an integer of about {int(value.bit_length() * 0.30103) + 1} digits>"
    else:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _label(value: object) -> str:
    # How a repeated item is named: an enum's wire value as is; anything odd quoted.
    text = value._value_ if isinstance(value, WireEnum) else value
    if isinstance(text, str) and len(text) <= 60 and text.isidentifier():
        return text
    return excerpt(text)


def _s(n: int) -> str:
    return "" if n == 1 else "s"


# --- the rules ------------------------------------------------------------------------


def utf8_ok(value: str) -> bool:
    """``value`` can be encoded as UTF-8 (it holds no lone surrogate)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


_SURROGATE = re.compile("[\ud800-\udfff]")


def _surrogate_message(value: str) -> str:
    found = _SURROGATE.search(value)
    where = f"U+{ord(found.group()):04X} at index {found.start()}" if found else "?"
    return f"not valid Unicode text: a lone surrogate ({where}) cannot be sent"


# isascii() is O(1) in CPython (a flag on the string): only non-ASCII text pays for
# the encode that finds a lone surrogate, which orjson would refuse to send.
TEXT = Rule("surrogate", "{v}.isascii() or {ok}({v})", {"ok": utf8_ok}, _surrogate_message)


def text_problem(value: str, loc: _Loc, out: _Out) -> None:
    """Report a string that cannot be encoded as UTF-8 (so cannot be sent as JSON)."""
    if not (value.isascii() or utf8_ok(value)):
        out.append(Problem(loc, _surrogate_message(value), TEXT.code))


def _type(test: str, what: str, names: Mapping[str, object] | None = None) -> Rule:
    # A constraint's first rule: the later ones assume the value is of the type.
    return Rule(
        "type",
        test,
        names or {},
        lambda value: f"expected {what}, got {kind(value)}",
        stop=True,
    )


def _is_a(cls: type, what: str) -> Rule:
    # The exact class first: the common case costs one identity test.
    return _type("{v}.__class__ is {cls} or isinstance({v}, {cls})", what, {"cls": cls})


def _exactly(cls: type, what: str) -> Rule:
    return _type("{v}.__class__ is {cls}", what, {"cls": cls})


STRING = _is_a(str, "a string")


@cache  # a Check is immutable: one is shared by every field declaring it
def string(*, max_len: int | None = None, min_len: int = 0, label: str = "str") -> Check:
    """A string of ``min_len`` to ``max_len`` characters, all encodable."""
    rules = [STRING]
    if max_len is not None:
        rules.append(
            Rule(
                "max_length",
                f"len({{v}}) <= {max_len}",
                message=lambda v: f"at most {max_len} characters (got {len(v)})",
            )
        )
    if min_len:
        rules.append(
            Rule(
                "min_length",
                f"len({{v}}) >= {min_len}",
                message=lambda v: f"at least {min_len} character{_s(min_len)}",
            )
        )
    return Check([*rules, TEXT], label)


@cache  # a Check is immutable: one is shared by every field declaring it
def pattern(regex: str, what: str, label: str) -> Check:
    """A string matching ``regex`` (from its start), all encodable."""
    match = re.compile(regex).match
    return Check(
        [
            STRING,
            Rule(
                "pattern",
                "{m}({v}) is not None",
                {"m": match},
                lambda v: f"must be {what}, got {excerpt(v)}",
                stop=True,
            ),
            TEXT,
        ],
        label,
    )


@lru_cache(maxsize=1024)
def is_time_zone(name: str) -> bool:
    """``name`` is in the IANA time zone database."""
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        # OSError: a name that is a directory of the database ("Europe").
        return False
    return True


@cache  # a Check is immutable: one is shared by every field declaring it
def time_zone() -> Check:
    """An IANA time zone name."""
    return Check(
        [
            STRING,
            Rule(
                "time_zone",
                "{tz}({v})",
                {"tz": is_time_zone},
                lambda v: f"not an IANA time zone: {excerpt(v)}",
            ),
        ],
        "time_zone",
    )


@cache  # a Check is immutable: one is shared by every field declaring it
def integer() -> Check:
    """A 32-bit integer (a bool is not one)."""
    return Check(
        [
            _type(
                "{v}.__class__ is int or (isinstance({v}, int) and not isinstance({v}, bool))",
                "an integer",
            ),
            Rule(
                "range",
                f"{INT32_MIN} <= {{v}} <= {INT32_MAX}",
                message=lambda v: "out of range for a 32-bit integer",
            ),
        ],
        "int",
    )


@cache  # a Check is immutable: one is shared by every field declaring it
def boolean() -> Check:
    """True or False."""
    return Check([_type("{v} is True or {v} is False", "true or false")], "bool")


@cache
def instance(cls: type) -> Check:
    """An instance of ``cls``: an enum, or a nested model (which checked itself)."""
    return Check([_is_a(cls, cls.__name__)], cls.__name__)


class _DateCheck(Check):
    # The real classes, held on the class: freezegun swaps module-level references
    # to datetime.date/datetime for its fakes while time is frozen.
    __slots__ = ()
    base: ClassVar[type[_dt.date]] = _dt.date
    base_datetime: ClassVar[type[_dt.datetime]] = _dt.datetime

    def normalise(self, value: Any, required: bool) -> Any:
        # A subclass (freezegun's FakeDate, pendulum.Date) becomes a plain date:
        # orjson writes only the base type, and equality is kept.
        base = self.base
        if (
            isinstance(value, base)
            and value.__class__ is not base
            and not isinstance(value, self.base_datetime)
        ):
            return base(value.year, value.month, value.day)
        return value


@cache  # a Check is immutable: one is shared by every field declaring it
def date() -> Check:
    """A ``datetime.date`` that is not a ``datetime``."""
    return _DateCheck(
        [
            # The exact class: a subclass was made a plain date by normalise() first.
            _exactly(_DateCheck.base, "a datetime.date")
        ],
        "date",
    )


_MINUTE = _dt.timedelta(minutes=1)


def _whole_minutes(value: _dt.datetime) -> bool:
    offset = value.utcoffset()
    return offset is not None and not offset % _MINUTE


def _offset_text(offset: _dt.timedelta) -> str:
    sign = "-" if offset < _dt.timedelta(0) else "+"
    rest = abs(offset)
    minutes, seconds = divmod(rest.seconds, 60)
    text = f"{sign}{minutes // 60:02d}:{minutes % 60:02d}:{seconds:02d}"
    return f"{text}.{rest.microseconds:06d}" if rest.microseconds else text


def _offset_message(value: _dt.datetime) -> str:
    offset = value.utcoffset()
    if offset is None:
        return "must be timezone-aware (a naive datetime is ambiguous)"
    return (
        f"UTC offset {_offset_text(offset)} is not a whole number of minutes, "
        "which RFC 3339 cannot express; convert it first, e.g. "
        ".astimezone(datetime.timezone.utc)"
    )


class _DateTimeCheck(Check):
    __slots__ = ()
    base: ClassVar[type[_dt.datetime]] = _dt.datetime

    def normalise(self, value: Any, required: bool) -> Any:
        # A subclass (freezegun's FakeDatetime, pendulum.DateTime) becomes a plain
        # datetime with the same fields and tzinfo: orjson writes only the base type.
        base = self.base
        if isinstance(value, base) and value.__class__ is not base:
            return base(
                value.year,
                value.month,
                value.day,
                value.hour,
                value.minute,
                value.second,
                value.microsecond,
                tzinfo=value.tzinfo,
                fold=value.fold,
            )
        return value


@cache  # a Check is immutable: one is shared by every field declaring it
def datetime() -> Check:
    """A timezone-aware ``datetime`` whose UTC offset is whole minutes."""
    return _DateTimeCheck(
        [
            _exactly(_DateTimeCheck.base, "a datetime.datetime"),
            # fromisoformat() gives the timezone.utc singleton for "Z" and "+00:00": no
            # utcoffset() call for those. Any other offset must be whole minutes: RFC
            # 3339 cannot write "+05:30:15", and orjson would silently cut it to "+05:30".
            Rule(
                "utc_offset",
                "{v}.tzinfo is {utc} or ({v}.tzinfo is not None and {whole}({v}))",
                {"utc": _dt.UTC, "whole": _whole_minutes},
                _offset_message,
            ),
        ],
        "datetime",
    )


def _explain_repeats(value: tuple[Any, ...], loc: _Loc, out: _Out, _: Any) -> None:
    # One pass over the items (a count() per item made 20,000 take seconds).
    counts = Counter(value)
    dupes = sorted({_label(v) for v, n in counts.items() if n > 1})
    shown = ", ".join(dupes[:10]) + (f" and {len(dupes) - 10} more" if len(dupes) > 10 else "")
    out.append(Problem(loc, f"items must be unique; repeated: {shown}", "unique"))


_NOT_NULL = Rule("null", "{v} is not None", message=lambda v: "must not be null", stop=True)


class _ManyCheck(Check):
    __slots__ = ()
    null_normalised = True

    def normalise(self, value: Any, required: bool) -> Any:
        # Friendly to callers without a type checker: a list becomes a tuple, and
        # null for an optional list means empty.
        return () if value is None and not required else as_tuple(value)


def many(item: Check, *, unique: bool = False) -> Check:
    """A tuple of items that each pass ``item``; optionally all distinct."""
    each = Check([_NOT_NULL, *item.rules], f"item of {item.label}")
    # The loop tests the item's own rules only: each begins with a test of the class,
    # which None fails, so "not null" needs no test of its own (only a message).
    assert not all(p(None) for p in item.predicates)
    ns: dict[str, Any] = {}
    test = item.fast("x", ns)
    ok = compile_function(
        f"def ok(v):\n    for x in v:\n        if not ({test}):\n"
        "            return False\n    return True\n",
        "ok",
        ns,
        f"items {item.label}",
    )

    def explain_items(value: tuple[Any, ...], loc: _Loc, out: _Out, name: Any) -> None:
        for i, x in enumerate(value):
            each.explain(x, (*loc, i), out, name)

    rules = [
        _is_a(tuple, "a tuple"),
        # stop: the items are hashable (enums, strings) once they all passed.
        Rule("items", "not {v} or {ok}({v})", {"ok": ok}, explain=explain_items, stop=True),
    ]
    if unique:
        rules.append(Rule("unique", "len(set({v})) == len({v})", explain=_explain_repeats))
    return _ManyCheck(rules, f"tuple of {item.label}")


def as_tuple(value: object) -> object:
    """A list (or any iterable but a str, bytes, mapping) as a tuple; else as is."""
    # A str or a mapping is iterable but never what the caller meant; leave it for
    # the check to report instead of splitting it into characters or keys.
    if isinstance(value, list | set | frozenset | range) or (
        isinstance(value, Iterable) and not isinstance(value, str | bytes | Mapping | tuple)
    ):
        return tuple(value)
    return value
