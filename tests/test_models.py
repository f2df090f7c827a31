"""The models: construction in Python, and every constraint of the spec through ``from_dict``."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable
from typing import Any

import attrs
import pytest

import dumgum_async as dg
from tests.helpers.bodies import WHEN, full_request, minimal_request
from tests.helpers.bodies import message_model as _message
from tests.helpers.bodies import profile_model as _profile
from tests.helpers.misbehaving import RaisingTZ, StrOffsetTZ, UnhashableStr

UTC = dt.UTC
INT32_MAX = 2**31 - 1
INT32_MIN = -(2**31)

Mutation = Callable[[dict[str, Any]], None]


def _problems(excinfo: pytest.ExceptionInfo[dg.RequestValidationError]) -> set[tuple[str, str]]:
    return {(p.path, p.message) for p in excinfo.value.problems}


def _paths(excinfo: pytest.ExceptionInfo[dg.RequestValidationError]) -> set[str]:
    return {p.path for p in excinfo.value.problems}


# --- construction in Python ----------------------------------------------------------


def test_attributes_are_snake_case() -> None:
    features = dg.Features(eyes_color=dg.EyesColor.GREEN, children_count=2)
    profile = _profile(
        first_name="Julie",
        country_code="FR",
        postal_code="69001",
        time_zone="Europe/Paris",
        main_picture_url="https://example.org/a.jpg",
        private_pictures=("https://example.org/b.jpg",),
        features=features,
    )
    assert profile.first_name == "Julie"
    assert profile.country_code == "FR"
    assert profile.postal_code == "69001"
    assert profile.time_zone == "Europe/Paris"
    assert profile.main_picture_url == "https://example.org/a.jpg"
    assert profile.private_pictures == ("https://example.org/b.jpg",)
    assert profile.features is features
    assert features.eyes_color is dg.EyesColor.GREEN
    assert features.children_count == 2


def test_optional_fields_default_to_none_and_lists_to_empty_tuples() -> None:
    profile = _profile()
    assert profile.nickname is None
    assert profile.features is None
    assert profile.pictures == ()
    assert profile.children == ()
    assert dg.Features().interests == ()


@pytest.mark.parametrize(
    ("build", "attribute"),
    [
        (lambda v: _profile(pictures=v), "pictures"),
        (lambda v: _profile(private_pictures=v), "private_pictures"),
        (lambda v: _message(picture_urls=v), "picture_urls"),
        (lambda v: dg.SuggestionResponse(suggestions=v), "suggestions"),
    ],
    ids=["pictures", "private_pictures", "picture_urls", "suggestions"],
)
def test_a_list_given_at_runtime_becomes_a_tuple(
    build: Callable[[Any], object], attribute: str
) -> None:
    model = build(["https://example.org/1.jpg", "https://example.org/2.jpg"])
    value = getattr(model, attribute)
    assert type(value) is tuple
    assert value == ("https://example.org/1.jpg", "https://example.org/2.jpg")


def test_a_list_of_enum_members_becomes_a_tuple() -> None:
    features = dg.Features(interests=[dg.Interest.MUSIC, dg.Interest.ART])  # type: ignore[arg-type]
    assert features.interests == (dg.Interest.MUSIC, dg.Interest.ART)


def test_messages_given_as_a_list_become_a_tuple() -> None:
    request = dg.SuggestionRequest(
        user_profile=_profile(),
        persona_profile=_profile(id="p-1", gender=dg.Gender.WOMAN),
        language=dg.Language.FR,
        messages=[_message(id="a"), _message(id="b")],  # type: ignore[arg-type]
    )
    assert type(request.messages) is tuple
    assert [m.id for m in request.messages] == ["a", "b"]


@pytest.mark.parametrize(
    "build",
    [
        lambda: _profile(pictures=None),
        lambda: _profile(private_pictures=None, children=None, pets=None),
        lambda: _message(picture_urls=None, gifts=None),
        lambda: dg.Features(interests=None, sports=None, music_genres=None),  # type: ignore[arg-type]
    ],
    ids=["pictures", "profile-lists", "message-lists", "features-lists"],
)
def test_none_for_an_optional_list_means_empty(build: Callable[[], Any]) -> None:
    model = build()
    lists = [a.name for a in attrs.fields(type(model)) if a.default == ()]
    assert lists
    assert all(getattr(model, name) == () for name in lists)


def test_none_for_an_optional_list_is_left_out_of_to_dict() -> None:
    assert "pictures" not in _profile(pictures=None).to_dict()


def test_models_are_frozen() -> None:
    profile = _profile()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        profile.first_name = "Other"  # type: ignore[misc]
    assert profile.first_name == "Marc"


def test_models_compare_by_value() -> None:
    assert _profile(city="Lyon") == _profile(city="Lyon")
    assert _profile(city="Lyon") != _profile(city="Paris")


def test_models_take_keyword_arguments_only() -> None:
    with pytest.raises(TypeError):
        dg.Gift("Teddy Bear", dg.GiftTier.LOW)  # type: ignore[call-arg]


def test_every_problem_of_one_object_is_reported_at_once_in_attribute_names() -> None:
    with pytest.raises(dg.RequestValidationError) as excinfo:
        _profile(
            first_name=" ",
            city="x" * 65,
            country_code="FRA",
            pictures=["https://ok.example/1.jpg", "http://insecure.example/2.jpg"],
            time_zone="Mars/Olympus_Mons",
        )
    assert {p.loc for p in excinfo.value.problems} == {
        ("city",),
        ("country_code",),
        ("pictures", 1),
        ("time_zone",),
        (),
    }


def test_the_name_rule_is_reported_in_attribute_names_from_python() -> None:
    with pytest.raises(dg.RequestValidationError) as excinfo:
        _profile(first_name=None, nickname="")
    assert _problems(excinfo) == {("", "first_name or nickname is required (at least one)")}


def test_a_nickname_alone_is_enough() -> None:
    profile = _profile(first_name=None, nickname="jules")
    assert profile.display_name == "jules"


def test_display_name_prefers_the_first_name() -> None:
    assert _profile(first_name="Julie", nickname="jules").display_name == "Julie"


def test_missing_required_fields_are_reported_from_python() -> None:
    kwargs: dict[str, Any] = {"name": None, "tier": None}
    with pytest.raises(dg.RequestValidationError) as excinfo:
        dg.Gift(**kwargs)
    assert _problems(excinfo) == {("name", "required"), ("tier", "required")}


def test_a_naive_datetime_is_rejected_from_python_with_a_clear_message() -> None:
    with pytest.raises(dg.RequestValidationError) as excinfo:
        _message(date=dt.datetime(2025, 4, 25, 10, 0))
    assert _problems(excinfo) == {
        ("date", "must be timezone-aware (a naive datetime is ambiguous)")
    }


def test_a_naive_expiry_is_rejected_from_python() -> None:
    with pytest.raises(dg.RequestValidationError) as excinfo:
        _profile(expires_at=dt.datetime(2026, 1, 1))
    assert _paths(excinfo) == {"expires_at"}


@pytest.mark.parametrize(
    "tz",
    [UTC, dt.timezone(dt.timedelta(hours=-5)), zoneinfo.ZoneInfo("Europe/Paris")],
    ids=["utc", "fixed-offset", "zoneinfo"],
)
def test_an_aware_datetime_is_accepted_from_python(tz: dt.tzinfo) -> None:
    date = dt.datetime(2025, 4, 25, 10, 0, tzinfo=tz)
    assert _message(date=date).date == date


@pytest.mark.parametrize("name", ["Europe", "America/Argentina", "Mars/Olympus_Mons", ""])
def test_a_name_that_is_not_a_time_zone_is_a_validation_error_from_python(name: str) -> None:
    with pytest.raises(dg.RequestValidationError) as excinfo:
        _profile(time_zone=name)
    assert _problems(excinfo) == {("time_zone", f"not an IANA time zone: {name!r}")}


def test_a_datetime_is_not_a_birthdate() -> None:
    with pytest.raises(dg.RequestValidationError) as excinfo:
        _profile(birthdate=WHEN)
    assert _paths(excinfo) == {"birthdate"}


def test_a_plain_string_is_not_an_enum_member_from_python() -> None:
    with pytest.raises(dg.RequestValidationError) as excinfo:
        _message(sender="USER")
    assert _problems(excinfo) == {("sender", "expected Sender, got str 'USER'")}


def test_a_member_of_the_wrong_enum_is_rejected_from_python() -> None:
    with pytest.raises(dg.RequestValidationError) as excinfo:
        dg.Child(gender=dg.LookingFor.MAN)  # type: ignore[arg-type]
    assert _paths(excinfo) == {"gender"}


@pytest.mark.parametrize("value", [True, 1.0, "3", INT32_MAX + 1], ids=repr)
def test_an_int_field_rejects_anything_but_an_int32_from_python(value: Any) -> None:
    with pytest.raises(dg.RequestValidationError) as excinfo:
        dg.Pet(age=value)
    assert _paths(excinfo) == {"age"}


def test_a_list_item_of_the_wrong_model_is_reported_with_its_index() -> None:
    with pytest.raises(dg.RequestValidationError) as excinfo:
        _profile(children=[dg.Child(name="Léa"), dg.Pet(name="Moka")])
    assert _problems(excinfo) == {("children[1]", "expected Child, got Pet")}


def test_a_string_for_a_list_field_is_not_split_into_characters() -> None:
    with pytest.raises(dg.RequestValidationError) as excinfo:
        _profile(pictures="https://example.org/a.jpg")
    assert _problems(excinfo) == {
        ("pictures", "expected a tuple, got str 'https://example.org/a.jpg'")
    }


def test_duplicate_message_ids_are_rejected_from_python() -> None:
    with pytest.raises(dg.RequestValidationError) as excinfo:
        dg.SuggestionRequest(
            user_profile=_profile(),
            persona_profile=_profile(id="p-1"),
            language=dg.Language.EN,
            messages=(_message(id="same"), _message(id="other"), _message(id="same")),
        )
    assert _problems(excinfo) == {("messages[2].id", "duplicate id 'same' (also at [0])")}


# --- caller objects whose own methods fail --------------------------------------------


def test_a_tzinfo_whose_utcoffset_raises_is_a_problem_of_the_date() -> None:
    with pytest.raises(dg.RequestValidationError) as excinfo:
        _message(date=dt.datetime(2025, 4, 25, 10, 0, tzinfo=RaisingTZ()))
    assert _problems(excinfo) == {("date", "invalid value (RuntimeError: tz boom)")}
    assert [p.code for p in excinfo.value.problems] == ["invalid"]


def test_a_tzinfo_whose_utcoffset_is_not_a_timedelta_is_a_problem_of_the_date() -> None:
    with pytest.raises(dg.RequestValidationError) as excinfo:
        _message(date=dt.datetime(2025, 4, 25, 10, 0, tzinfo=StrOffsetTZ()))
    assert _paths(excinfo) == {"date"}
    assert "invalid value (TypeError: " in excinfo.value.problems[0].message


def test_a_time_zone_whose_hash_raises_is_a_problem_of_the_time_zone() -> None:
    # The time zone check is cached, and a cache hashes its argument.
    with pytest.raises(dg.RequestValidationError) as excinfo:
        _profile(time_zone=UnhashableStr("Europe/Paris"))
    assert _problems(excinfo) == {("time_zone", "invalid value (RuntimeError: hash boom)")}


def test_message_ids_whose_hash_raises_are_a_problem_of_the_request() -> None:
    # The rule over several fields (distinct ids) is where the hash is taken: its
    # problem is the request's.
    same = UnhashableStr("same")
    with pytest.raises(dg.RequestValidationError) as excinfo:
        dg.SuggestionRequest(
            user_profile=_profile(),
            persona_profile=_profile(id="p-1"),
            language=dg.Language.EN,
            messages=(_message(id=same), _message(id=same)),
        )
    assert [(p.loc, p.message) for p in excinfo.value.problems] == [
        ((), "invalid value (RuntimeError: hash boom)")
    ]


# --- the error types -----------------------------------------------------------------


def test_request_validation_error_is_a_value_error_and_a_dumgum_error() -> None:
    with pytest.raises(dg.RequestValidationError) as excinfo:
        dg.Gift.from_dict({})
    assert isinstance(excinfo.value, ValueError)
    assert isinstance(excinfo.value, dg.DumGumError)


def test_request_validation_error_holds_its_problems_as_a_tuple_in_order() -> None:
    with pytest.raises(dg.RequestValidationError) as excinfo:
        dg.Message.from_dict({})
    assert excinfo.value.problems == (
        dg.Problem(("id",), "required"),
        dg.Problem(("sender",), "required"),
        dg.Problem(("date",), "required"),
    )


def test_request_validation_error_message_lists_every_problem() -> None:
    with pytest.raises(dg.RequestValidationError) as excinfo:
        dg.Gift.from_dict({})
    assert str(excinfo.value) == "2 problems in the request:\n  name: required\n  tier: required"


@pytest.mark.parametrize(
    ("loc", "path"),
    [
        ((), ""),
        (("language",), "language"),
        (("userProfile", "features", "job"), "userProfile.features.job"),
        (("messages", 3, "text"), "messages[3].text"),
        (("messages", 0, "gifts", 1, "tier"), "messages[0].gifts[1].tier"),
        (("userProfile", "pictures", 2), "userProfile.pictures[2]"),
    ],
)
def test_problem_path_is_a_json_path(loc: tuple[str | int, ...], path: str) -> None:
    assert dg.Problem(loc, "wrong").path == path


def test_problem_str_is_path_then_message() -> None:
    assert str(dg.Problem(("messages", 1, "text"), "too long")) == "messages[1].text: too long"


def test_problem_str_without_a_location_is_the_message() -> None:
    assert str(dg.Problem((), "first things first")) == "first things first"


def test_problems_compare_and_hash_by_location_and_message() -> None:
    a = dg.Problem(("language",), "required")
    assert a == dg.Problem(("language",), "required")
    assert a != dg.Problem(("language",), "unknown")
    assert len({a, dg.Problem(("language",), "required")}) == 1


# --- from_dict: the valid samples ----------------------------------------------------


@pytest.mark.parametrize("sample", [full_request, minimal_request], ids=["full", "minimal"])
def test_the_samples_are_valid(sample: Callable[[], dict[str, Any]]) -> None:
    request = dg.SuggestionRequest.from_dict(sample())
    assert request.user_profile.id == "u-1"
    assert request.persona_profile.id == "p-1"
    assert request.language is dg.Language.EN


def test_from_dict_builds_nested_models_with_python_values() -> None:
    request = dg.SuggestionRequest.from_dict(full_request(n_messages=5))
    profile = request.user_profile
    assert profile.birthdate == dt.date(1990, 5, 14)
    assert profile.expires_at == dt.datetime(2026, 1, 1, 12, 34, 20, tzinfo=UTC)
    assert profile.features is not None
    assert profile.features.interests[0] is dg.Interest.TRAVELING
    assert profile.pets == (
        dg.Pet(name="Moka", sex=dg.PetSex.FEMALE, age=3, breed="Beagle", type="dog"),
    )
    assert request.messages[4].gifts == (dg.Gift(name="Teddy Bear", tier=dg.GiftTier.LOW),)
    assert request.messages[3].picture_urls == ("https://example.org/p/1.jpg",)


# --- from_dict: one failing case per constraint ----------------------------------------


def _set(*path: str | int, value: Any) -> Mutation:
    def mutate(d: dict[str, Any]) -> None:
        target: Any = d
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


def _del(*path: str | int) -> Mutation:
    def mutate(d: dict[str, Any]) -> None:
        target: Any = d
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return mutate


def _all(*mutations: Mutation) -> Mutation:
    def mutate(d: dict[str, Any]) -> None:
        for m in mutations:
            m(d)

    return mutate


UP = "userProfile"
FEAT = (UP, "features")
GIFT = {"name": "Teddy Bear", "tier": "LOW"}
NAME_RULE = "firstName or nickname is required (at least one)"

# (id, mutation of full_request(3), expected path, expected start of the message)
CONSTRAINTS: list[tuple[str, Mutation, str, str]] = [
    # required fields
    ("profile-id-missing", _del(UP, "id"), "userProfile.id", "required"),
    ("profile-id-null", _set(UP, "id", value=None), "userProfile.id", "required"),
    (
        "profile-gender-missing",
        _del("personaProfile", "gender"),
        "personaProfile.gender",
        "required",
    ),
    ("message-id-missing", _del("messages", 1, "id"), "messages[1].id", "required"),
    ("message-sender-missing", _del("messages", 0, "sender"), "messages[0].sender", "required"),
    ("message-date-missing", _del("messages", 2, "date"), "messages[2].date", "required"),
    ("request-user-profile-missing", _del("userProfile"), "userProfile", "required"),
    ("request-persona-missing", _del("personaProfile"), "personaProfile", "required"),
    ("request-language-missing", _del("language"), "language", "required"),
    ("request-messages-missing", _del("messages"), "messages", "required"),
    (
        "gift-name-missing",
        _set("messages", 0, "gifts", value=[{"tier": "HIGH"}]),
        "messages[0].gifts[0].name",
        "required",
    ),
    (
        "gift-tier-missing",
        _set("messages", 0, "gifts", value=[GIFT, {"name": "Roses"}]),
        "messages[0].gifts[1].tier",
        "required",
    ),
    # firstName or nickname
    ("names-both-missing", _all(_del(UP, "firstName"), _del(UP, "nickname")), UP, NAME_RULE),
    (
        "names-both-null",
        _all(_set(UP, "firstName", value=None), _set(UP, "nickname", value=None)),
        UP,
        NAME_RULE,
    ),
    (
        "names-both-empty",
        _all(_set(UP, "firstName", value=""), _set(UP, "nickname", value="")),
        UP,
        NAME_RULE,
    ),
    (
        "names-both-blank",
        _all(_set(UP, "firstName", value="   "), _set(UP, "nickname", value="\t\n")),
        UP,
        NAME_RULE,
    ),
    (
        "names-blank-first-name-alone",
        _all(_set(UP, "firstName", value=" "), _del(UP, "nickname")),
        UP,
        NAME_RULE,
    ),
    # countryCode
    (
        "country-code-three-letters",
        _set(UP, "countryCode", value="FRA"),
        "userProfile.countryCode",
        "must be a two-letter ISO 3166-1 code",
    ),
    (
        "country-code-one-letter",
        _set(UP, "countryCode", value="F"),
        "userProfile.countryCode",
        "must be a two-letter ISO 3166-1 code",
    ),
    (
        "country-code-digit",
        _set(UP, "countryCode", value="F1"),
        "userProfile.countryCode",
        "must be a two-letter ISO 3166-1 code",
    ),
    (
        "country-code-empty",
        _set(UP, "countryCode", value=""),
        "userProfile.countryCode",
        "must be a two-letter ISO 3166-1 code",
    ),
    (
        "country-code-trailing-newline",
        _set(UP, "countryCode", value="FR\n"),
        "userProfile.countryCode",
        "must be a two-letter ISO 3166-1 code",
    ),
    # string lengths
    ("city-65", _set(UP, "city", value="x" * 65), "userProfile.city", "at most 64 characters"),
    (
        "postal-code-65",
        _set(UP, "postalCode", value="9" * 65),
        "userProfile.postalCode",
        "at most 64 characters",
    ),
    (
        "job-33",
        _set(*FEAT, "job", value="j" * 33),
        "userProfile.features.job",
        "at most 32 characters",
    ),
    (
        "child-name-empty",
        _set(UP, "children", 0, "name", value=""),
        "userProfile.children[0].name",
        "at least 1 character",
    ),
    (
        "child-name-33",
        _set(UP, "children", 0, "name", value="c" * 33),
        "userProfile.children[0].name",
        "at most 32 characters",
    ),
    (
        "pet-name-empty",
        _set(UP, "pets", 0, "name", value=""),
        "userProfile.pets[0].name",
        "at least 1 character",
    ),
    (
        "pet-name-33",
        _set(UP, "pets", 0, "name", value="p" * 33),
        "userProfile.pets[0].name",
        "at most 32 characters",
    ),
    (
        "pet-breed-empty",
        _set(UP, "pets", 0, "breed", value=""),
        "userProfile.pets[0].breed",
        "at least 1 character",
    ),
    (
        "pet-breed-33",
        _set(UP, "pets", 0, "breed", value="b" * 33),
        "userProfile.pets[0].breed",
        "at most 32 characters",
    ),
    (
        "pet-type-empty",
        _set(UP, "pets", 0, "type", value=""),
        "userProfile.pets[0].type",
        "at least 1 character",
    ),
    (
        "pet-type-33",
        _set(UP, "pets", 0, "type", value="t" * 33),
        "userProfile.pets[0].type",
        "at most 32 characters",
    ),
    (
        "sticker-161",
        _set("messages", 1, "sticker", value="s" * 161),
        "messages[1].sticker",
        "at most 160 characters",
    ),
    (
        "text-513",
        _set("messages", 2, "text", value="t" * 513),
        "messages[2].text",
        "at most 512 characters",
    ),
    # URLs
    (
        "main-picture-http",
        _set(UP, "mainPictureUrl", value="http://example.org/a.jpg"),
        "userProfile.mainPictureUrl",
        "must be an https:// URL",
    ),
    (
        "pictures-http",
        _set(UP, "pictures", 1, value="http://example.org/b.jpg"),
        "userProfile.pictures[1]",
        "must be an https:// URL",
    ),
    (
        "private-pictures-http",
        _set(UP, "privatePictures", 0, value="http://example.org/c.jpg"),
        "userProfile.privatePictures[0]",
        "must be an https:// URL",
    ),
    (
        "main-picture-not-a-url",
        _set(UP, "mainPictureUrl", value="example.org/a.jpg"),
        "userProfile.mainPictureUrl",
        "must be an https:// URL",
    ),
    (
        "main-picture-scheme-only",
        _set(UP, "mainPictureUrl", value="https://"),
        "userProfile.mainPictureUrl",
        "must be an https:// URL",
    ),
    (
        "picture-urls-ftp",
        _set("messages", 0, "pictureUrls", value=["ftp://example.org/a.jpg"]),
        "messages[0].pictureUrls[0]",
        "must be an http:// or https:// URL",
    ),
    # uniqueItems
    (
        "interests-repeated",
        _set(*FEAT, "interests", value=["MUSIC", "ART", "MUSIC"]),
        "userProfile.features.interests",
        "items must be unique; repeated: MUSIC",
    ),
    (
        "bdsm-interests-repeated",
        _set(*FEAT, "bdsmInterests", value=["BDSM_SOFT", "BDSM_SOFT"]),
        "userProfile.features.bdsmInterests",
        "items must be unique; repeated: BDSM_SOFT",
    ),
    (
        "sexual-interests-repeated",
        _set(*FEAT, "sexualInterests", value=["KISSING", "KISSING"]),
        "userProfile.features.sexualInterests",
        "items must be unique; repeated: KISSING",
    ),
    (
        "looking-for-repeated",
        _set(*FEAT, "lookingFor", value=["MAN", "WOMAN", "MAN"]),
        "userProfile.features.lookingFor",
        "items must be unique; repeated: MAN",
    ),
    (
        "sports-repeated",
        _set(*FEAT, "sports", value=["YOGA", "GOLF", "YOGA", "GOLF"]),
        "userProfile.features.sports",
        "items must be unique; repeated: GOLF, YOGA",
    ),
    (
        "music-genres-repeated",
        _set(*FEAT, "musicGenres", value=["JAZZ", "JAZZ"]),
        "userProfile.features.musicGenres",
        "items must be unique; repeated: JAZZ",
    ),
    # dates
    (
        "birthdate-not-a-real-date",
        _set(UP, "birthdate", value="2023-02-30"),
        "userProfile.birthdate",
        "not a real date: '2023-02-30'",
    ),
    (
        "birthdate-month-13",
        _set(UP, "birthdate", value="1990-13-01"),
        "userProfile.birthdate",
        "not a real date",
    ),
    (
        "birthdate-day-first",
        _set(UP, "birthdate", value="14/05/1990"),
        "userProfile.birthdate",
        "expected a yyyy-MM-dd date",
    ),
    (
        "birthdate-no-dashes",
        _set(UP, "birthdate", value="19900514"),
        "userProfile.birthdate",
        "expected a yyyy-MM-dd date",
    ),
    (
        "birthdate-short-month",
        _set(UP, "birthdate", value="1990-5-14"),
        "userProfile.birthdate",
        "expected a yyyy-MM-dd date",
    ),
    (
        "birthdate-with-time",
        _set(UP, "birthdate", value="1990-05-14T00:00:00"),
        "userProfile.birthdate",
        "expected a yyyy-MM-dd date",
    ),
    (
        "birthdate-a-number",
        _set(UP, "birthdate", value=19900514),
        "userProfile.birthdate",
        "expected a yyyy-MM-dd date string, got a number",
    ),
    # time zones
    (
        "time-zone-unknown",
        _set(UP, "timeZone", value="Mars/Olympus_Mons"),
        "userProfile.timeZone",
        "not an IANA time zone",
    ),
    (
        "time-zone-wrong-case",
        _set(UP, "timeZone", value="europe/paris"),
        "userProfile.timeZone",
        "not an IANA time zone",
    ),
    (
        "time-zone-a-region",
        _set(UP, "timeZone", value="Europe"),
        "userProfile.timeZone",
        "not an IANA time zone",
    ),
    (
        "time-zone-a-path",
        _set(UP, "timeZone", value="/etc/passwd"),
        "userProfile.timeZone",
        "not an IANA time zone",
    ),
    (
        "time-zone-empty",
        _set(UP, "timeZone", value=""),
        "userProfile.timeZone",
        "not an IANA time zone",
    ),
    # message ids
    (
        "message-ids-repeated",
        _set("messages", 2, "id", value="m0"),
        "messages[2].id",
        "duplicate id 'm0' (also at [0])",
    ),
    # date-times
    (
        "message-date-naive",
        _set("messages", 1, "date", value="2025-04-25T10:01:00"),
        "messages[1].date",
        "must be timezone-aware (a naive datetime is ambiguous)",
    ),
    (
        "expires-at-naive",
        _set(UP, "expiresAt", value="2026-01-01T12:34:20"),
        "userProfile.expiresAt",
        "must be timezone-aware",
    ),
    (
        "message-date-not-iso",
        _set("messages", 0, "date", value="yesterday"),
        "messages[0].date",
        "not an ISO 8601 date-time: 'yesterday'",
    ),
    (
        "message-date-a-number",
        _set("messages", 0, "date", value=1745575200),
        "messages[0].date",
        "expected an ISO 8601 date-time string, got a number",
    ),
    # integers
    (
        "height-a-bool",
        _set(*FEAT, "height", value=True),
        "userProfile.features.height",
        "expected an integer, got bool True",
    ),
    (
        "weight-a-string",
        _set(*FEAT, "weight", value="64"),
        "userProfile.features.weight",
        "expected an integer, got str '64'",
    ),
    (
        "height-a-fraction",  # 172.0 is an integer to JSON Schema: spec_differences.json
        _set(*FEAT, "height", value=172.5),
        "userProfile.features.height",
        "expected an integer, got float 172.5",
    ),
    (
        "children-count-over-int32",
        _set(*FEAT, "childrenCount", value=INT32_MAX + 1),
        "userProfile.features.childrenCount",
        "out of range for a 32-bit integer",
    ),
    (
        "child-age-under-int32",
        _set(UP, "children", 0, "age", value=INT32_MIN - 1),
        "userProfile.children[0].age",
        "out of range for a 32-bit integer",
    ),
    (
        "pet-age-a-string",
        _set(UP, "pets", 0, "age", value="3"),
        "userProfile.pets[0].age",
        "expected an integer",
    ),
    # booleans
    (
        "working-a-string",
        _set(*FEAT, "working", value="yes"),
        "userProfile.features.working",
        "expected true or false",
    ),
    (
        "poke-an-int",
        _set("messages", 0, "poke", value=1),
        "messages[0].poke",
        "expected true or false",
    ),
    # strings
    ("profile-id-a-number", _set(UP, "id", value=5), "userProfile.id", "expected a string"),
    (
        "text-a-number",
        _set("messages", 0, "text", value=42),
        "messages[0].text",
        "expected a string",
    ),
    (
        "gender-a-number",
        _set(UP, "gender", value=5),
        "userProfile.gender",
        "expected a string, got a number",
    ),
    # wrong JSON types
    (
        "profile-an-array",
        _set(UP, value=[]),
        "userProfile",
        "expected an object (Profile), got an array",
    ),
    (
        "persona-a-string",
        _set("personaProfile", value="p-1"),
        "personaProfile",
        "expected an object (Profile), got a string",
    ),
    (
        "features-an-array",
        _set(*FEAT, value=["ASIAN"]),
        "userProfile.features",
        "expected an object (Features), got an array",
    ),
    (
        "message-a-string",
        _set("messages", 1, value="hello"),
        "messages[1]",
        "expected an object (Message), got a string",
    ),
    (
        "gift-an-array",
        _set("messages", 0, "gifts", value=[["Roses", "LOW"]]),
        "messages[0].gifts[0]",
        "expected an object (Gift), got an array",
    ),
    (
        "child-null",
        _set(UP, "children", value=[None]),
        "userProfile.children[0]",
        "expected an object (Child), got null",
    ),
    (
        "messages-an-object",
        _set("messages", value={"m0": {}}),
        "messages",
        "expected an array, got an object",
    ),
    ("messages-null", _set("messages", value=None), "messages", "expected an array, got null"),
    (
        "pictures-a-string",
        _set(UP, "pictures", value="https://example.org/a.jpg"),
        "userProfile.pictures",
        "expected an array, got a string",
    ),
    (
        "interests-a-string",
        _set(*FEAT, "interests", value="MUSIC"),
        "userProfile.features.interests",
        "expected an array, got a string",
    ),
    (
        "pictures-holding-null",
        _set(UP, "pictures", value=[None]),
        "userProfile.pictures[0]",
        "must not be null",
    ),
    (
        "interests-holding-a-number",
        _set(*FEAT, "interests", value=[7]),
        "userProfile.features.interests[0]",
        "expected a string, got a number",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "path", "message"),
    [pytest.param(m, p, msg, id=case_id) for case_id, m, p, msg in CONSTRAINTS],
)
def test_from_dict_reports_each_broken_constraint_at_its_json_path(
    mutate: Mutation, path: str, message: str
) -> None:
    data = full_request(n_messages=3)
    mutate(data)
    with pytest.raises(dg.RequestValidationError) as excinfo:
        dg.SuggestionRequest.from_dict(data)
    problems = excinfo.value.problems
    assert [p.path for p in problems] == [path]
    assert problems[0].message.startswith(message), problems[0].message


def test_str_of_a_problem_reads_path_colon_message() -> None:
    data = full_request(n_messages=1)
    data["userProfile"]["features"]["job"] = "j" * 33
    with pytest.raises(dg.RequestValidationError) as excinfo:
        dg.SuggestionRequest.from_dict(data)
    assert [str(p) for p in excinfo.value.problems] == [
        "userProfile.features.job: at most 32 characters (got 33)"
    ]


def test_from_dict_locations_are_camel_case_segments() -> None:
    data = full_request(n_messages=3)
    data["messages"][2]["pictureUrls"] = ["gopher://example.org"]
    with pytest.raises(dg.RequestValidationError) as excinfo:
        dg.SuggestionRequest.from_dict(data)
    assert [p.loc for p in excinfo.value.problems] == [("messages", 2, "pictureUrls", 0)]


def test_a_mapping_is_required_at_the_top_level() -> None:
    with pytest.raises(dg.RequestValidationError) as excinfo:
        dg.SuggestionRequest.from_dict([])  # type: ignore[arg-type]
    assert _problems(excinfo) == {("", "expected an object (SuggestionRequest), got an array")}


def test_an_empty_object_reports_every_required_field() -> None:
    with pytest.raises(dg.RequestValidationError) as excinfo:
        dg.SuggestionRequest.from_dict({})
    assert [p.path for p in excinfo.value.problems] == [
        "userProfile",
        "personaProfile",
        "language",
        "messages",
    ]


def test_profile_from_dict_reports_its_own_required_fields() -> None:
    with pytest.raises(dg.RequestValidationError) as excinfo:
        dg.Profile.from_dict({"firstName": "Marc"})
    assert _problems(excinfo) == {("id", "required"), ("gender", "required")}


def test_the_name_rule_is_reported_beside_other_problems_of_the_profile() -> None:
    data = minimal_request()
    data["userProfile"] = {"id": "u-1", "gender": "ROBOT", "firstName": " "}
    with pytest.raises(dg.RequestValidationError) as excinfo:
        dg.SuggestionRequest.from_dict(data)
    assert _paths(excinfo) == {"userProfile.gender", "userProfile"}


def test_duplicate_ids_are_reported_beside_other_problems_of_the_messages() -> None:
    data = full_request(n_messages=3)
    data["messages"][1]["id"] = "m0"
    data["messages"][2]["text"] = "t" * 513
    with pytest.raises(dg.RequestValidationError) as excinfo:
        dg.SuggestionRequest.from_dict(data)
    assert _paths(excinfo) == {"messages[1].id", "messages[2].text"}


def test_every_repeated_id_is_reported_against_its_first_use() -> None:
    data = full_request(n_messages=4)
    for i in (1, 3):
        data["messages"][i]["id"] = "m0"
    with pytest.raises(dg.RequestValidationError) as excinfo:
        dg.SuggestionRequest.from_dict(data)
    assert _problems(excinfo) == {
        ("messages[1].id", "duplicate id 'm0' (also at [0])"),
        ("messages[3].id", "duplicate id 'm0' (also at [0])"),
    }


def test_every_bad_item_of_a_list_is_reported() -> None:
    data = minimal_request()
    data["userProfile"]["features"] = {"interests": [None, 7, "MUSIC", "ROBOTICS"]}
    with pytest.raises(dg.RequestValidationError) as excinfo:
        dg.SuggestionRequest.from_dict(data)
    assert _paths(excinfo) == {
        "userProfile.features.interests[0]",
        "userProfile.features.interests[1]",
        "userProfile.features.interests[3]",
    }


def test_many_problems_across_the_tree_are_reported_together() -> None:
    data = full_request(n_messages=4)
    user = data["userProfile"]
    user["features"]["job"] = "j" * 33
    user["features"]["sports"] = ["YOGA", "YOGA"]
    user["pets"][0]["breed"] = ""
    user["birthdate"] = "2023-02-30"
    del user["firstName"]
    user["nickname"] = " "
    persona = data["personaProfile"]
    del persona["gender"]
    persona["timeZone"] = "Nowhere/Land"
    persona["pictures"] = ["http://example.org/a.jpg"]
    data["language"] = "KLINGON"
    data["messages"][0]["date"] = "2025-04-25T10:00:00"
    data["messages"][1]["sticker"] = "s" * 161
    data["messages"][2]["gifts"] = [{"name": "Roses"}]
    data["messages"][3]["id"] = "m1"
    with pytest.raises(dg.RequestValidationError) as excinfo:
        dg.SuggestionRequest.from_dict(data)
    assert _paths(excinfo) == {
        "userProfile.features.job",
        "userProfile.features.sports",
        "userProfile.pets[0].breed",
        "userProfile.birthdate",
        "userProfile",
        "personaProfile.gender",
        "personaProfile.timeZone",
        "personaProfile.pictures[0]",
        "language",
        "messages[0].date",
        "messages[1].sticker",
        "messages[2].gifts[0].tier",
        "messages[3].id",
    }
    assert len(excinfo.value.problems) == 13


# --- from_dict: values at the edge of a constraint are accepted -------------------------

EDGES: list[tuple[str, Mutation]] = [
    ("city-64", _set(UP, "city", value="x" * 64)),
    ("city-empty", _set(UP, "city", value="")),
    ("postal-code-64", _set(UP, "postalCode", value="9" * 64)),
    ("job-32", _set(*FEAT, "job", value="j" * 32)),
    ("job-32-non-ascii", _set(*FEAT, "job", value="é" * 32)),
    ("child-name-1", _set(UP, "children", 0, "name", value="L")),
    ("child-name-32", _set(UP, "children", 0, "name", value="c" * 32)),
    ("pet-breed-32", _set(UP, "pets", 0, "breed", value="b" * 32)),
    ("pet-type-1", _set(UP, "pets", 0, "type", value="t")),
    ("sticker-160", _set("messages", 0, "sticker", value="s" * 160)),
    ("sticker-empty", _set("messages", 0, "sticker", value="")),
    ("text-512", _set("messages", 0, "text", value="t" * 512)),
    ("text-null", _set("messages", 0, "text", value=None)),
    ("country-code-lower-case", _set(UP, "countryCode", value="fr")),
    ("picture-urls-http", _set("messages", 0, "pictureUrls", value=["http://example.org/a"])),
    # Only the host: the schema's pattern makes the scheme lower-case (spec_differences.json).
    ("picture-urls-upper-case-host", _set("messages", 0, "pictureUrls", value=["https://EX.ORG"])),
    ("height-int32-max", _set(*FEAT, "height", value=INT32_MAX)),
    ("weight-int32-min", _set(*FEAT, "weight", value=INT32_MIN)),
    ("age-zero", _set(UP, "children", 0, "age", value=0)),
    ("birthdate-leap-day", _set(UP, "birthdate", value="2024-02-29")),
    ("time-zone-utc", _set(UP, "timeZone", value="UTC")),
    ("time-zone-america", _set(UP, "timeZone", value="America/Argentina/Buenos_Aires")),
    ("date-with-offset", _set("messages", 0, "date", value="2025-04-25T12:00:00+02:00")),
    ("date-with-fraction", _set("messages", 0, "date", value="2025-04-25T10:00:00.250Z")),
    ("nickname-only", _all(_del(UP, "firstName"), _set(UP, "nickname", value="marc"))),
    ("first-name-only", _del(UP, "nickname")),
    ("blank-nickname-beside-first-name", _set(UP, "nickname", value=" ")),
    ("no-messages", _set("messages", value=[])),
    ("unique-lists-single-item", _set(*FEAT, "lookingFor", value=["WOMAN"])),
]


@pytest.mark.parametrize("mutate", [pytest.param(m, id=case_id) for case_id, m in EDGES])
def test_from_dict_accepts_values_at_the_edge_of_a_constraint(mutate: Mutation) -> None:
    data = full_request(n_messages=2)
    mutate(data)
    request = dg.SuggestionRequest.from_dict(data)
    assert isinstance(request, dg.SuggestionRequest)


def test_a_naive_date_error_message_says_why() -> None:
    data = minimal_request()
    data["messages"][0]["date"] = "2025-04-25T10:00:00"
    with pytest.raises(dg.RequestValidationError, match="timezone-aware"):
        dg.SuggestionRequest.from_dict(data)


def test_explicit_null_for_an_optional_field_means_absent() -> None:
    data = minimal_request()
    data["userProfile"].update({"features": None, "pictures": None, "city": None})
    profile = dg.SuggestionRequest.from_dict(data).user_profile
    assert profile.features is None
    assert profile.pictures == ()
    assert profile.city is None
