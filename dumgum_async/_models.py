"""The request and response models: frozen attrs classes in Python's own terms.

Models hold Python values: names are snake_case, lists are tuples, dates are
``datetime.date``/``datetime.datetime``. The wire shape (camelCase, omitted
defaults) is ``_wire``'s and ``_structure``'s, which ``from_dict``/``to_dict`` call.

Each field declares its constraint next to it (``_opt(c.string(max_len=32))``); a
model's rules over several fields are its ``RULES``. From that table
(``_constraints``) every model gets a generated fast check and the full list of
problems; it checks all of its own fields when built and raises one
:class:`~dumgum_async.exceptions.RequestValidationError` listing every problem.
Nested models were checked when they were built, so nothing is checked twice.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

import attrs

from dumgum_async import _constraints, _structure, _wire
from dumgum_async import _rules as c
from dumgum_async._constraints import CHECK, REQUIRED, Check, Rule, Table
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
)
from dumgum_async.exceptions import Problem, RequestValidationError

_M = TypeVar("_M")
_Loc = tuple[str | int, ...]
_Out = list[Problem]


# --- fields ------------------------------------------------------------------------


def _req(check: Check) -> Any:
    """A required field: no default; None is reported as missing."""
    return attrs.field(metadata={CHECK: check, REQUIRED: True})


def _opt(check: Check) -> Any:
    """An optional scalar field; None means absent and is left out of the JSON."""
    return attrs.field(default=None, metadata={CHECK: check})


def _many(item: Check, *, unique: bool = False, required: bool = False) -> Any:
    """A list field, held as a tuple (a list given at runtime is made a tuple)."""
    meta = {CHECK: c.many(item, unique=unique), REQUIRED: required}
    if required:
        return attrs.field(metadata=meta)
    return attrs.field(default=(), metadata=meta)


def _country_code() -> Check:
    return c.pattern(r"[A-Za-z]{2}\Z", "a two-letter ISO 3166-1 code", "country_code")


def _url(*, https_only: bool) -> Check:
    if https_only:
        # The schema has no pattern here, only the prose "must be HTTPS"; a scheme
        # is case-insensitive (RFC 3986), so "HTTPS://" is HTTPS.
        return c.pattern(r"(?i)https://\S", "an https:// URL", "https_url")
    # The schema's own pattern, ^https?://.* , which is case-sensitive: the API
    # rejects "HTTP://x". A host is also required: "https://" alone is no picture.
    return c.pattern(r"https?://\S", "an http:// or https:// URL (lower-case scheme)", "url")


class _Validated:
    """Mixin: check every field after ``__init__`` (fast, then in full); raise all problems."""

    __slots__ = ()
    _table: ClassVar[Table]
    #: Rules over several fields of one object (``_constraints.Rule``, over ``{v}``).
    RULES: ClassVar[tuple[Rule, ...]] = ()

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
        return _structure.from_dict(cls, data, strict_enums=strict_enums)

    def to_dict(self) -> dict[str, Any]:
        """Return the API's JSON shape: camelCase keys, None and empty lists left out."""
        return _wire.to_dict(self)

    def __attrs_post_init__(self) -> None:
        if not self._fast_ok(self):
            self._validate_slowly()

    @staticmethod
    def _fast_ok(instance: Any) -> bool:  # replaced by a generated function per class
        return False

    def _validate_slowly(self) -> None:
        for f in self._table.fields:
            value = getattr(self, f.name)
            fixed = f.check.normalise(value, f.required)
            if fixed is not value:
                object.__setattr__(self, f.name, fixed)
        out = self._table.problems(self)
        if out:
            raise RequestValidationError(out)


def _checked(cls: type[_M]) -> type[_M]:
    """Derive the checks of an attrs class from its table (applied above ``@attrs.frozen``).

    A separate decorator, not a wrapper around attrs, so that type checkers' attrs
    support still sees every model's ``__init__``.
    """
    rows = _constraints.table_of(cls)
    setattr(cls, "_table", rows)  # noqa: B010
    setattr(cls, "_fast_ok", staticmethod(_constraints.compile_fast_ok(cls, rows)))  # noqa: B010
    return cls


class _Encoded:
    """Mixin: one slot where ``_encode`` keeps the object's JSON once it is sent twice.

    A plain slot, not an attrs field, so nothing else sees it: ``__init__``, equality,
    hashing, ``repr``, ``attrs.fields``/``asdict``/``evolve``, pickling, copying and the
    converter all work on the fields alone, and a copy or an evolved object starts empty.
    """

    __slots__ = ("_wire",)


class _Holder(_Encoded):
    """Mixin: a profile, which also keeps the encoded history last sent to it (``_encode``)."""

    __slots__ = ("_history",)


# --- models ------------------------------------------------------------------------

_NAME = c.string(min_len=1, max_len=32, label="name")


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

    name: str = _req(c.string())
    tier: GiftTier = _req(c.instance(GiftTier))


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
    gender: Gender | None = _opt(c.instance(Gender))
    age: int | None = _opt(c.integer())


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
    sex: PetSex | None = _opt(c.instance(PetSex))
    age: int | None = _opt(c.integer())
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

    ethnicity: Ethnicity | None = _opt(c.instance(Ethnicity))
    height: int | None = _opt(c.integer())
    weight: int | None = _opt(c.integer())
    eyes_color: EyesColor | None = _opt(c.instance(EyesColor))
    hair_color: HairColor | None = _opt(c.instance(HairColor))
    hair_length: HairLength | None = _opt(c.instance(HairLength))
    marital_status: MaritalStatus | None = _opt(c.instance(MaritalStatus))
    job: str | None = _opt(c.string(max_len=32))
    working: bool | None = _opt(c.boolean())
    interests: tuple[Interest, ...] = _many(c.instance(Interest), unique=True)
    bdsm_interests: tuple[BdsmInterest, ...] = _many(c.instance(BdsmInterest), unique=True)
    sexual_interests: tuple[SexualInterest, ...] = _many(c.instance(SexualInterest), unique=True)
    looking_for: tuple[LookingFor, ...] = _many(c.instance(LookingFor), unique=True)
    sexual_orientation: SexualOrientation | None = _opt(c.instance(SexualOrientation))
    children_count: int | None = _opt(c.integer())
    wants_children: WantsChildren | None = _opt(c.instance(WantsChildren))
    surgery_status: SurgeryStatus | None = _opt(c.instance(SurgeryStatus))
    unit_system: UnitSystem | None = _opt(c.instance(UnitSystem))
    living_with: LivingWith | None = _opt(c.instance(LivingWith))
    education: Education | None = _opt(c.instance(Education))
    religion: Religion | None = _opt(c.instance(Religion))
    smoking: Smoking | None = _opt(c.instance(Smoking))
    body_shape: BodyShape | None = _opt(c.instance(BodyShape))
    sports: tuple[Sport, ...] = _many(c.instance(Sport), unique=True)
    music_genres: tuple[MusicGenre, ...] = _many(c.instance(MusicGenre), unique=True)


@_checked
@attrs.frozen(kw_only=True)
class Profile(_Validated, _Holder):
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

    id: str = _req(c.string())
    gender: Gender = _req(c.instance(Gender))
    version: str | None = _opt(c.string())
    first_name: str | None = _opt(c.string())
    nickname: str | None = _opt(c.string())
    description: str | None = _opt(c.string())
    birthdate: _dt.date | None = _opt(c.date())
    country_code: str | None = _opt(_country_code())
    city: str | None = _opt(c.string(max_len=64))
    postal_code: str | None = _opt(c.string(max_len=64))
    time_zone: str | None = _opt(c.time_zone())
    features: Features | None = _opt(c.instance(Features))
    personality: Personality | None = _opt(c.instance(Personality))
    main_picture_url: str | None = _opt(_url(https_only=True))
    pictures: tuple[str, ...] = _many(_url(https_only=True))
    private_pictures: tuple[str, ...] = _many(_url(https_only=True))
    expires_at: _dt.datetime | None = _opt(c.datetime())
    children: tuple[Child, ...] = _many(c.instance(Child))
    pets: tuple[Pet, ...] = _many(c.instance(Pet))

    # Also tested on raw JSON that failed to build (see _wire): attributes only.
    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule(
            "any_required",
            "{p}({v}.first_name) or {p}({v}.nickname)",
            {"p": lambda value: isinstance(value, str) and value.strip() != ""},
            explain=lambda _, loc, out, name: out.append(
                Problem(
                    loc,
                    f"{name('first_name')} or {name('nickname')} is required (at least one)",
                    "any_required",
                )
            ),
        ),
    )

    @property
    def display_name(self) -> str:
        """The first name if there is one, else the nickname."""
        return self.first_name or self.nickname or ""


def _repeated_ids(messages: object) -> list[tuple[int, object, int]]:
    """(index, id, index of its first use) of each message whose id was used before."""
    if not isinstance(messages, tuple) or len(messages) < 2:
        return []
    seen: dict[object, int] = {}
    found = []
    for i, m in enumerate(messages):
        mid = getattr(m, "id", None)
        if mid is None:
            continue
        try:
            first = seen.setdefault(mid, i)
        except TypeError:  # an unhashable id (a bytearray, say): its type is the problem
            continue
        if first != i:
            found.append((i, mid, first))
    return found


def _ids_distinct(messages: object) -> bool:
    if not isinstance(messages, tuple) or len(messages) < 2:
        return True
    try:
        # One set answers for valid requests; only a repeat walks the list.
        ids = {m.id for m in messages}
    except (AttributeError, TypeError):  # items of any shape, ids of any type
        return not _repeated_ids(messages)
    return len(ids) == len(messages) or not _repeated_ids(messages)


def _explain_repeated_ids(value: Any, loc: _Loc, out: _Out, name: Any) -> None:
    for i, mid, first in _repeated_ids(value.messages):
        where = (*loc, name("messages"), i, name("id"))
        out.append(Problem(where, f"duplicate id {mid!r} (also at [{first}])", "duplicate"))


@_checked
@attrs.frozen(kw_only=True)
class Message(_Validated):
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

    id: str = _req(c.string())
    sender: Sender = _req(c.instance(Sender))
    date: _dt.datetime = _req(c.datetime())
    picture_urls: tuple[str, ...] = _many(_url(https_only=False))
    poke: bool | None = _opt(c.boolean())
    gifts: tuple[Gift, ...] = _many(c.instance(Gift))
    sticker: str | None = _opt(c.string(max_len=160))
    text: str | None = _opt(c.string(max_len=512))


@_checked
@attrs.frozen(kw_only=True)
class SuggestionRequest(_Validated, _Encoded):
    """A request for three reply suggestions (the spec's ``IcebreakerSuggestionRequest``).

    Args:
        user_profile: The profile that receives the suggestions.
        persona_profile: The profile on whose behalf the replies are suggested.
        language: The language of the suggestions.
        messages: The conversation so far, oldest first (may be empty).

    Raises:
        RequestValidationError: A field is missing or wrong, or two messages share an id.
    """

    user_profile: Profile = _req(c.instance(Profile))
    persona_profile: Profile = _req(c.instance(Profile))
    language: Language = _req(c.instance(Language))
    messages: tuple[Message, ...] = _many(c.instance(Message), required=True)

    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule("duplicate", "{d}({v}.messages)", {"d": _ids_distinct}, explain=_explain_repeated_ids),
    )


@_checked
@attrs.frozen(kw_only=True)
class SuggestionResponse(_Validated):
    """The API's answer: suggested replies, usually three.

    Args:
        suggestions: The suggested replies, best first.
    """

    suggestions: tuple[str, ...] = _many(c.string(), required=True)


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

# Every road generated now, so the first request does not pay for codegen.
_structure.warm(MODELS)
