"""The request and response models: frozen attrs classes in Python's own terms.

Models know nothing of JSON: names are snake_case, lists are tuples, dates are
``datetime.date``/``datetime.datetime``. The wire shape (camelCase, omitted
defaults) lives in ``_converter``, which also attaches ``from_dict``/``to_dict``.

Each field declares its constraint next to it (``_opt(_Str(max_len=32))``). Every
model checks all of its own fields when built and raises one
:class:`~dumgum_async.exceptions.RequestValidationError` listing every problem;
nested models were checked when they were built, so nothing is checked twice.
"""

from __future__ import annotations

import datetime as _dt
import re
import zoneinfo
from collections import Counter
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any, ClassVar, Protocol, TypeVar

import attrs

from dumgum_async._enums import (
    BdsmInterest,
    BodyShape,
    Education,
    Ethnicity,
    EyesColor,
    Gender,
    GiftTier,
    HairColor,
    HairLength,
    Interest,
    Language,
    LivingWith,
    LookingFor,
    MaritalStatus,
    MusicGenre,
    Personality,
    PetSex,
    Religion,
    Sender,
    SexualInterest,
    SexualOrientation,
    Smoking,
    Sport,
    SurgeryStatus,
    UnitSystem,
    WantsChildren,
    WireEnum,
)
from dumgum_async.exceptions import Problem, RequestValidationError

_T = TypeVar("_T")
_M = TypeVar("_M")
_Loc = tuple[str | int, ...]
_Out = list[Problem]

_INT32_MIN = -(2**31)
_INT32_MAX = 2**31 - 1


# --- constraints -------------------------------------------------------------------
# A constraint has two halves. ``fast`` is a Python expression, true when the value
# is certainly fine; the model compiles all of them into one function, so a valid
# object costs a handful of comparisons. ``__call__`` runs only when that fails: it
# explains every problem of the value, with its location.


class _Check:
    __slots__ = ()

    def fast(self, v: str, ns: dict[str, Any]) -> str:
        """An expression over the variable named ``v``; names it needs go into ``ns``."""
        raise NotImplementedError

    def __call__(self, value: Any, loc: _Loc, out: _Out) -> None:
        raise NotImplementedError


def _bind(ns: dict[str, Any], value: object) -> str:
    key = f"_c{len(ns)}"
    ns[key] = value
    return key


def _utf8_ok(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


_SURROGATE = re.compile("[\ud800-\udfff]")


def _text_fast(v: str, ns: dict[str, Any]) -> str:
    # isascii() is O(1) in CPython (a flag on the string): only non-ASCII text pays
    # for the encode that finds a lone surrogate, which orjson would refuse to send.
    return f"({v}.isascii() or {_bind(ns, _utf8_ok)}({v}))"


def text_problem(value: str, loc: _Loc, out: _Out) -> None:
    """Report a string that cannot be encoded as UTF-8 (so cannot be sent as JSON)."""
    if value.isascii() or _utf8_ok(value):
        return
    found = _SURROGATE.search(value)
    where = f"U+{ord(found.group()):04X} at index {found.start()}" if found else "?"
    out.append(Problem(loc, f"not valid Unicode text: a lone surrogate ({where}) cannot be sent"))


class _Str(_Check):
    __slots__ = ("max_len", "min_len")

    def __init__(self, *, max_len: int | None = None, min_len: int = 0) -> None:
        self.max_len = max_len
        self.min_len = min_len

    def fast(self, v: str, ns: dict[str, Any]) -> str:
        expr = f"{v}.__class__ is str"
        if self.max_len is not None:
            expr += f" and len({v}) <= {self.max_len}"
        if self.min_len:
            expr += f" and len({v}) >= {self.min_len}"
        return f"{expr} and {_text_fast(v, ns)}"

    def __call__(self, value: Any, loc: _Loc, out: _Out) -> None:
        if not isinstance(value, str):
            out.append(Problem(loc, f"expected a string, got {_kind(value)}"))
            return
        n = len(value)
        if self.max_len is not None and n > self.max_len:
            out.append(Problem(loc, f"at most {self.max_len} characters (got {n})"))
        elif n < self.min_len:
            out.append(Problem(loc, f"at least {self.min_len} character{_s(self.min_len)}"))
        text_problem(value, loc, out)


class _Pattern(_Check):
    __slots__ = ("re", "what")

    def __init__(self, pattern: str, what: str) -> None:
        self.re = re.compile(pattern)
        self.what = what

    def fast(self, v: str, ns: dict[str, Any]) -> str:
        match = _bind(ns, self.re.match)
        return f"{v}.__class__ is str and {match}({v}) is not None and {_text_fast(v, ns)}"

    def __call__(self, value: Any, loc: _Loc, out: _Out) -> None:
        if not isinstance(value, str):
            out.append(Problem(loc, f"expected a string, got {_kind(value)}"))
        elif not self.re.match(value):
            out.append(Problem(loc, f"must be {self.what}, got {_excerpt(value)}"))
        else:
            text_problem(value, loc, out)


def _country_code() -> _Pattern:
    return _Pattern(r"[A-Za-z]{2}\Z", "a two-letter ISO 3166-1 code")


def _url(*, https_only: bool) -> _Pattern:
    if https_only:
        # The schema has no pattern here, only the prose "must be HTTPS"; a scheme
        # is case-insensitive (RFC 3986), so "HTTPS://" is HTTPS.
        return _Pattern(r"(?i)https://\S", "an https:// URL")
    # The schema's own pattern, ^https?://.* , which is case-sensitive: the API
    # rejects "HTTP://x". A host is also required: "https://" alone is no picture.
    return _Pattern(r"https?://\S", "an http:// or https:// URL (lower-case scheme)")


@lru_cache(maxsize=1024)
def _is_time_zone(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        # OSError: a name that is a directory of the database ("Europe").
        return False
    return True


class _TimeZone(_Check):
    __slots__ = ()

    def fast(self, v: str, ns: dict[str, Any]) -> str:
        return f"{v}.__class__ is str and {_bind(ns, _is_time_zone)}({v})"

    def __call__(self, value: Any, loc: _Loc, out: _Out) -> None:
        if not isinstance(value, str):
            out.append(Problem(loc, f"expected a string, got {_kind(value)}"))
        elif not _is_time_zone(value):
            out.append(Problem(loc, f"not an IANA time zone: {_excerpt(value)}"))


class _Int(_Check):
    __slots__ = ()

    def fast(self, v: str, ns: dict[str, Any]) -> str:
        return f"{v}.__class__ is int and {_INT32_MIN} <= {v} <= {_INT32_MAX}"

    def __call__(self, value: Any, loc: _Loc, out: _Out) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            out.append(Problem(loc, f"expected an integer, got {_kind(value)}"))
        elif not _INT32_MIN <= value <= _INT32_MAX:
            out.append(Problem(loc, "out of range for a 32-bit integer"))


class _Bool(_Check):
    __slots__ = ()

    def fast(self, v: str, ns: dict[str, Any]) -> str:
        return f"({v} is True or {v} is False)"

    def __call__(self, value: Any, loc: _Loc, out: _Out) -> None:
        if value is not True and value is not False:
            out.append(Problem(loc, f"expected true or false, got {_kind(value)}"))


class _Instance(_Check):
    """An instance of one class: an enum, a nested model (which validated itself)."""

    __slots__ = ("cls",)

    def __init__(self, cls: type) -> None:
        self.cls = cls

    def fast(self, v: str, ns: dict[str, Any]) -> str:
        return f"{v}.__class__ is {_bind(ns, self.cls)}"

    def __call__(self, value: Any, loc: _Loc, out: _Out) -> None:
        if not isinstance(value, self.cls):
            out.append(Problem(loc, f"expected {self.cls.__name__}, got {_kind(value)}"))


class _Date(_Check):
    # The real classes, held on the class: freezegun swaps module-level references
    # to datetime.date/datetime for its fakes while time is frozen.
    __slots__ = ()
    base: ClassVar[type[_dt.date]] = _dt.date
    base_datetime: ClassVar[type[_dt.datetime]] = _dt.datetime

    def fast(self, v: str, ns: dict[str, Any]) -> str:
        return f"{v}.__class__ is {_bind(ns, self.base)}"

    def normalise(self, value: Any) -> Any:
        # A subclass (freezegun's FakeDate, pendulum.Date) becomes a plain date:
        # orjson writes only the base type, and equality is kept.
        if (
            isinstance(value, self.base)
            and value.__class__ is not self.base
            and not isinstance(value, self.base_datetime)
        ):
            return self.base(value.year, value.month, value.day)
        return value

    def __call__(self, value: Any, loc: _Loc, out: _Out) -> None:
        if not isinstance(value, self.base) or isinstance(value, self.base_datetime):
            out.append(Problem(loc, f"expected a datetime.date, got {_kind(value)}"))


_MINUTE = _dt.timedelta(minutes=1)


def _whole_minutes(value: _dt.datetime) -> bool:
    offset = value.utcoffset()
    return offset is not None and not offset % _MINUTE


class _DateTime(_Check):
    __slots__ = ()
    base: ClassVar[type[_dt.datetime]] = _dt.datetime

    def fast(self, v: str, ns: dict[str, Any]) -> str:
        # fromisoformat() gives the timezone.utc singleton for "Z" and "+00:00": no
        # utcoffset() call for those. Any other offset must be whole minutes: RFC 3339
        # cannot write "+05:30:15", and orjson would silently cut it to "+05:30".
        tz = f"{v}.tzinfo"
        return (
            f"{v}.__class__ is {_bind(ns, self.base)} and "
            f"({tz} is {_bind(ns, _dt.UTC)} or "
            f"({tz} is not None and {_bind(ns, _whole_minutes)}({v})))"
        )

    def normalise(self, value: Any) -> Any:
        # A subclass (freezegun's FakeDatetime, pendulum.DateTime) becomes a plain
        # datetime with the same fields and tzinfo: orjson writes only the base type.
        if isinstance(value, self.base) and value.__class__ is not self.base:
            return self.base(
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

    def __call__(self, value: Any, loc: _Loc, out: _Out) -> None:
        if not isinstance(value, self.base):
            out.append(Problem(loc, f"expected a datetime.datetime, got {_kind(value)}"))
            return
        offset = value.utcoffset()
        if offset is None:
            out.append(Problem(loc, "must be timezone-aware (a naive datetime is ambiguous)"))
        elif offset % _MINUTE:
            out.append(
                Problem(
                    loc,
                    f"UTC offset {_offset_text(offset)} is not a whole number of minutes, "
                    "which RFC 3339 cannot express; convert it first, e.g. "
                    ".astimezone(datetime.timezone.utc)",
                )
            )


def _offset_text(offset: _dt.timedelta) -> str:
    sign = "-" if offset < _dt.timedelta(0) else "+"
    rest = abs(offset)
    minutes, seconds = divmod(rest.seconds, 60)
    text = f"{sign}{minutes // 60:02d}:{minutes % 60:02d}:{seconds:02d}"
    return f"{text}.{rest.microseconds:06d}" if rest.microseconds else text


class _Many(_Check):
    __slots__ = ("item", "ok", "unique")

    def __init__(self, item: _Check, *, unique: bool = False) -> None:
        self.item = item
        self.unique = unique
        ns: dict[str, Any] = {}
        src = (
            "def ok(v):\n"
            "    for x in v:\n"
            f"        if not ({item.fast('x', ns)}):\n"
            "            return False\n"
            f"    return {'len(set(v)) == len(v)' if unique else 'True'}\n"
        )
        exec(src, ns)  # one small function per list field, built once at import
        self.ok = ns["ok"]

    def fast(self, v: str, ns: dict[str, Any]) -> str:
        return f"{v}.__class__ is tuple and (not {v} or {_bind(ns, self.ok)}({v}))"

    def normalise_list(self, value: Any, required: bool) -> Any:
        # Friendly to callers without a type checker: a list becomes a tuple, and
        # null for an optional list means empty.
        return () if value is None and not required else _as_tuple(value)

    def __call__(self, value: Any, loc: _Loc, out: _Out) -> None:
        if not isinstance(value, tuple):
            out.append(Problem(loc, f"expected a tuple, got {_kind(value)}"))
            return
        check = self.item
        for i, item in enumerate(value):
            if item is None:
                out.append(Problem((*loc, i), "must not be null"))
            else:
                check(item, (*loc, i), out)
        if self.unique and len(value) > 1:
            try:
                counts = Counter(value)
            except TypeError:  # unhashable items were already reported above
                return
            if len(counts) != len(value):
                # One pass over the items (a count() per item made 20,000 take seconds).
                dupes = sorted({_label(v) for v, n in counts.items() if n > 1})
                shown = ", ".join(dupes[:10]) + (
                    f" and {len(dupes) - 10} more" if len(dupes) > 10 else ""
                )
                out.append(Problem(loc, f"items must be unique; repeated: {shown}"))


def _label(value: object) -> str:
    # How a repeated item is named: an enum's wire value as is; anything odd quoted.
    text = value._value_ if isinstance(value, WireEnum) else value
    if isinstance(text, str) and len(text) <= 60 and text.isidentifier():
        return text
    return _excerpt(text)


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, WireEnum):
        return f"{type(value).__name__}.{value.name}"
    if isinstance(value, str | int | float):
        return f"{type(value).__name__} {_excerpt(value)}"
    return type(value).__name__


def _excerpt(value: object, limit: int = 60) -> str:
    if isinstance(value, str):
        text = repr(value[:limit])  # never the repr of a whole huge string
    elif isinstance(value, int) and value.bit_length() > 3 * limit:
        # repr() of an int over 4,300 digits raises ValueError (CVE-2020-10735).
        return f"<an integer of about {int(value.bit_length() * 0.30103) + 1} digits>"
    else:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _s(n: int) -> str:
    return "" if n == 1 else "s"


# --- fields ------------------------------------------------------------------------

_CHECK = "dumgum_async.check"
_REQUIRED = "dumgum_async.required"


def _req(check: _Check) -> Any:
    """A required field: no default; None is reported as missing."""
    return attrs.field(metadata={_CHECK: check, _REQUIRED: True})


def _opt(check: _Check) -> Any:
    """An optional scalar field; None means absent and is left out of the JSON."""
    return attrs.field(default=None, metadata={_CHECK: check})


def _many(item: _Check, *, unique: bool = False, required: bool = False) -> Any:
    """A list field, held as a tuple (a list given at runtime is made a tuple)."""
    meta = {_CHECK: _Many(item, unique=unique), _REQUIRED: required}
    if required:
        return attrs.field(metadata=meta)
    return attrs.field(default=(), metadata=meta)


def _as_tuple(value: object) -> object:
    # A str or a mapping is iterable but never what the caller meant; leave it for
    # the check to report instead of splitting it into characters or keys.
    if isinstance(value, list | set | frozenset | range) or (
        isinstance(value, Iterable) and not isinstance(value, str | bytes | Mapping | tuple)
    ):
        return tuple(value)
    return value


class _Codec(Protocol):
    """What the converter layer provides; installed by it at import (see ``_converter``)."""

    def from_dict(self, cls: type[_M], data: Mapping[str, Any], *, strict_enums: bool) -> _M: ...

    def to_dict(self, obj: object) -> dict[str, Any]: ...


_codec: list[_Codec] = []


def install_codec(codec: _Codec) -> None:
    """Called once by the converter layer; models stay free of any wire-format import."""
    _codec[:] = [codec]


class _Validated:
    """Mixin: run every field's constraint after ``__init__``; raise all problems at once."""

    __slots__ = ()
    _checks: ClassVar[tuple[tuple[str, _Check, bool], ...]] = ()

    @classmethod
    def from_dict(cls: type[_M], data: Mapping[str, Any], *, strict_enums: bool = True) -> _M:
        """Build the model from the API's JSON shape (camelCase keys, ISO dates).

        Unknown keys are ignored. Every problem in ``data`` is reported at once, with
        its JSON path.

        Args:
            data: A mapping shaped like the API's JSON.
            strict_enums: When False, an enum value this release does not know is
                kept as an unknown member and sent back untouched, instead of being
                an error.

        Raises:
            RequestValidationError: ``data`` does not describe a valid object.
        """
        return _codec[0].from_dict(cls, data, strict_enums=strict_enums)

    def to_dict(self) -> dict[str, Any]:
        """Return the API's JSON shape: camelCase keys, None and empty lists left out."""
        return _codec[0].to_dict(self)

    def __attrs_post_init__(self) -> None:
        if not self._fast_ok(self):
            self._validate_slowly()

    @staticmethod
    def _fast_ok(instance: Any) -> bool:  # replaced by a compiled function per class
        return False

    def _more_ok(self) -> bool:
        """Cheap test of the rules that span several fields."""
        return True

    def _check_more(self, out: _Out) -> None:
        """Explain the rules that span several fields."""

    def _validate_slowly(self) -> None:
        out: _Out = []
        for name, check, required in self._checks:
            value = getattr(self, name)
            if isinstance(check, _Many):
                fixed = check.normalise_list(value, required)
            elif isinstance(check, _Date | _DateTime):
                fixed = check.normalise(value)
            else:
                fixed = value
            if fixed is not value:
                object.__setattr__(self, name, fixed)
                value = fixed
            if value is None:
                if required:
                    out.append(Problem((name,), "required"))
            else:
                check(value, (name,), out)
        self._check_more(out)
        if out:
            raise RequestValidationError(out)


def _compile_fast_ok(checks: tuple[tuple[str, _Check, bool], ...], more: bool) -> Any:
    ns: dict[str, Any] = {}
    lines = ["def _fast_ok(self):"]
    for name, check, required in checks:
        lines.append(f"    v = self.{name}")
        test = check.fast("v", ns)
        if required or isinstance(check, _Many):
            # An optional list given as None takes the slow road, which makes it ().
            lines.append(f"    if v is None or not ({test}):")
        else:
            lines.append(f"    if v is not None and not ({test}):")
        lines.append("        return False")
    lines.append("    return self._more_ok()" if more else "    return True")
    exec("\n".join(lines), ns)  # the attrs way: one straight-line function per class
    return ns["_fast_ok"]


def _checked(cls: type[_M]) -> type[_M]:
    """Compile the field checks of an attrs class (applied above ``@attrs.frozen``).

    A separate decorator, not a wrapper around attrs, so that type checkers' attrs
    support still sees every model's ``__init__``.
    """
    checks = tuple(
        (a.name, a.metadata[_CHECK], bool(a.metadata.get(_REQUIRED)))
        for a in attrs.fields(cls)  # type: ignore[arg-type]
        if _CHECK in a.metadata
    )
    setattr(cls, "_checks", checks)  # noqa: B010
    more = getattr(cls, "_more_ok") is not _Validated._more_ok  # noqa: B009
    setattr(cls, "_fast_ok", staticmethod(_compile_fast_ok(checks, more)))  # noqa: B010
    return cls


class _Encoded:
    """Mixin: one slot where ``_encode`` keeps the object's JSON once it is sent twice.

    A plain slot, not an attrs field, so nothing else sees it: ``__init__``, equality,
    hashing, ``repr``, ``attrs.fields``/``asdict``/``evolve``, pickling, copying and the
    converter all work on the fields alone, and a copy or an evolved object starts empty.
    """

    __slots__ = ("_wire",)


# --- models ------------------------------------------------------------------------

_NAME = _Str(min_len=1, max_len=32)


@_checked
@attrs.frozen(kw_only=True)
class Gift(_Validated):
    """A gift attached to a message (the spec's ``ConversationGift``).

    Args:
        name: The gift's name, e.g. ``"Teddy Bear"``.
        tier: Its value.

    Raises:
        RequestValidationError: A field is missing or of the wrong type.
    """

    name: str = _req(_Str())
    tier: GiftTier = _req(_Instance(GiftTier))


@_checked
@attrs.frozen(kw_only=True)
class Child(_Validated):
    """A child of a profile's owner.

    Args:
        name: 1 to 32 characters.
        gender: The child's gender.
        age: Age in years.

    Raises:
        RequestValidationError: A field breaks its constraint.
    """

    name: str | None = _opt(_NAME)
    gender: Gender | None = _opt(_Instance(Gender))
    age: int | None = _opt(_Int())


@_checked
@attrs.frozen(kw_only=True)
class Pet(_Validated):
    """A pet of a profile's owner.

    Args:
        name: 1 to 32 characters.
        sex: The pet's sex.
        age: Age in years.
        breed: 1 to 32 characters.
        type: The kind of animal, 1 to 32 characters (``"dog"``).

    Raises:
        RequestValidationError: A field breaks its constraint.
    """

    name: str | None = _opt(_NAME)
    sex: PetSex | None = _opt(_Instance(PetSex))
    age: int | None = _opt(_Int())
    breed: str | None = _opt(_NAME)
    type: str | None = _opt(_NAME)


@_checked
@attrs.frozen(kw_only=True)
class Features(_Validated):
    """Physical and lifestyle features of a profile (``ContentCreationProfileFeatureSet``).

    Every field is optional; list fields hold unique items. ``height`` and ``weight``
    are in cm and kg unless ``unit_system`` is ``IMPERIAL`` (inches, pounds).
    ``working`` overrides the inference of working status from ``job``.

    Raises:
        RequestValidationError: A field breaks its constraint (``job`` over 32
            characters, repeated list items, wrong types).
    """

    ethnicity: Ethnicity | None = _opt(_Instance(Ethnicity))
    height: int | None = _opt(_Int())
    weight: int | None = _opt(_Int())
    eyes_color: EyesColor | None = _opt(_Instance(EyesColor))
    hair_color: HairColor | None = _opt(_Instance(HairColor))
    hair_length: HairLength | None = _opt(_Instance(HairLength))
    marital_status: MaritalStatus | None = _opt(_Instance(MaritalStatus))
    job: str | None = _opt(_Str(max_len=32))
    working: bool | None = _opt(_Bool())
    interests: tuple[Interest, ...] = _many(_Instance(Interest), unique=True)
    bdsm_interests: tuple[BdsmInterest, ...] = _many(_Instance(BdsmInterest), unique=True)
    sexual_interests: tuple[SexualInterest, ...] = _many(_Instance(SexualInterest), unique=True)
    looking_for: tuple[LookingFor, ...] = _many(_Instance(LookingFor), unique=True)
    sexual_orientation: SexualOrientation | None = _opt(_Instance(SexualOrientation))
    children_count: int | None = _opt(_Int())
    wants_children: WantsChildren | None = _opt(_Instance(WantsChildren))
    surgery_status: SurgeryStatus | None = _opt(_Instance(SurgeryStatus))
    unit_system: UnitSystem | None = _opt(_Instance(UnitSystem))
    living_with: LivingWith | None = _opt(_Instance(LivingWith))
    education: Education | None = _opt(_Instance(Education))
    religion: Religion | None = _opt(_Instance(Religion))
    smoking: Smoking | None = _opt(_Instance(Smoking))
    body_shape: BodyShape | None = _opt(_Instance(BodyShape))
    sports: tuple[Sport, ...] = _many(_Instance(Sport), unique=True)
    music_genres: tuple[MusicGenre, ...] = _many(_Instance(MusicGenre), unique=True)


@_checked
@attrs.frozen(kw_only=True)
class Profile(_Validated, _Encoded):
    """A profile: the user who receives the suggestions, or the persona who would send them.

    Args:
        id: The profile's ID.
        gender: The owner's gender.
        first_name: First name; ``first_name`` or ``nickname`` is required.
        nickname: Nickname; ``first_name`` or ``nickname`` is required.
        version: Any string; when it changes the API refreshes its stored profile.
        description: Free text about the profile.
        birthdate: Date of birth.
        country_code: ISO 3166-1 alpha-2 code; ``city`` and ``postal_code`` are
            ignored by the API without it.
        city: At most 64 characters.
        postal_code: At most 64 characters.
        time_zone: An IANA time zone name, e.g. ``"Europe/Paris"``.
        features: Physical and lifestyle features.
        personality: The profile's personality.
        main_picture_url: An https URL.
        pictures: Public picture URLs, https only.
        private_pictures: Private picture URLs, https only.
        expires_at: When the API purges its copy (timezone-aware).
        children: The owner's children.
        pets: The owner's pets.

    Raises:
        RequestValidationError: A field breaks its constraint; every problem of
            this profile is listed.
    """

    id: str = _req(_Str())
    gender: Gender = _req(_Instance(Gender))
    version: str | None = _opt(_Str())
    first_name: str | None = _opt(_Str())
    nickname: str | None = _opt(_Str())
    description: str | None = _opt(_Str())
    birthdate: _dt.date | None = _opt(_Date())
    country_code: str | None = _opt(_country_code())
    city: str | None = _opt(_Str(max_len=64))
    postal_code: str | None = _opt(_Str(max_len=64))
    time_zone: str | None = _opt(_TimeZone())
    features: Features | None = _opt(_Instance(Features))
    personality: Personality | None = _opt(_Instance(Personality))
    main_picture_url: str | None = _opt(_url(https_only=True))
    pictures: tuple[str, ...] = _many(_url(https_only=True))
    private_pictures: tuple[str, ...] = _many(_url(https_only=True))
    expires_at: _dt.datetime | None = _opt(_DateTime())
    children: tuple[Child, ...] = _many(_Instance(Child))
    pets: tuple[Pet, ...] = _many(_Instance(Pet))

    def _more_ok(self) -> bool:
        return _present(self.first_name) or _present(self.nickname)

    def _check_more(self, out: _Out) -> None:
        # Also called on raw JSON that failed to build (see _converter): attributes only.
        if not (_present(self.first_name) or _present(self.nickname)):
            out.append(Problem((), "first_name or nickname is required (at least one)"))

    @property
    def display_name(self) -> str:
        """The first name if there is one, else the nickname."""
        return self.first_name or self.nickname or ""


def _present(value: str | None) -> bool:
    return isinstance(value, str) and value.strip() != ""


@_checked
@attrs.frozen(kw_only=True)
class Message(_Validated, _Encoded):
    """One message of the conversation history.

    Args:
        id: Unique within the request; the API deduplicates on it.
        sender: ``Sender.USER`` or ``Sender.PERSONA``.
        date: When it was sent; must be timezone-aware.
        text: At most 512 characters; None for a message without text.
        picture_urls: http(s) URLs of attached images.
        poke: The message is a poke.
        gifts: Gifts sent with the message.
        sticker: Text description of a sticker, at most 160 characters.

    Raises:
        RequestValidationError: A field breaks its constraint.
    """

    id: str = _req(_Str())
    sender: Sender = _req(_Instance(Sender))
    date: _dt.datetime = _req(_DateTime())
    picture_urls: tuple[str, ...] = _many(_url(https_only=False))
    poke: bool | None = _opt(_Bool())
    gifts: tuple[Gift, ...] = _many(_Instance(Gift))
    sticker: str | None = _opt(_Str(max_len=160))
    text: str | None = _opt(_Str(max_len=512))


@_checked
@attrs.frozen(kw_only=True)
class SuggestionRequest(_Validated):
    """A request for three reply suggestions (the spec's ``IcebreakerSuggestionRequest``).

    Args:
        user_profile: The profile that receives the suggestions.
        persona_profile: The profile on whose behalf the replies are suggested.
        language: The language of the suggestions.
        messages: The conversation so far, oldest first (may be empty).

    Raises:
        RequestValidationError: A field is missing or wrong, or two messages share an id.
    """

    user_profile: Profile = _req(_Instance(Profile))
    persona_profile: Profile = _req(_Instance(Profile))
    language: Language = _req(_Instance(Language))
    messages: tuple[Message, ...] = _many(_Instance(Message), required=True)

    def _more_ok(self) -> bool:
        messages = self.messages
        return len(messages) < 2 or len({m.id for m in messages}) == len(messages)

    def _check_more(self, out: _Out) -> None:
        messages = self.messages
        if not isinstance(messages, tuple) or len(messages) < 2:
            return
        seen: dict[object, int] = {}
        for i, m in enumerate(messages):
            mid = getattr(m, "id", None)
            if mid is None:
                continue
            first = seen.setdefault(mid, i)
            if first != i:
                out.append(
                    Problem(("messages", i, "id"), f"duplicate id {mid!r} (also at [{first}])")
                )


@_checked
@attrs.frozen(kw_only=True)
class SuggestionResponse(_Validated):
    """The API's answer: suggested replies, usually three.

    Args:
        suggestions: The suggested replies, best first.
    """

    suggestions: tuple[str, ...] = _many(_Str(), required=True)


#: Every model class, bottom-up: a class appears after the classes it contains.
MODELS: tuple[type[_Validated], ...] = (
    Gift,
    Child,
    Pet,
    Features,
    Profile,
    Message,
    SuggestionRequest,
    SuggestionResponse,
)
