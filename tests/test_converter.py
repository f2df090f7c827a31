"""The wire format: round trips, omitted defaults, enum strictness, and agreement with the spec."""

from __future__ import annotations

import copy
import datetime as dt
import importlib.resources
import json
import pickle
import string
import zoneinfo
from collections.abc import Callable, Iterator
from typing import Any, get_args, get_origin

import attrs
import orjson
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dumgum_async as dg
from dumgum_async import _converter
from tests.helpers.bodies import full_request, minimal_request
from tests.helpers.misbehaving import RaisingMapping

UTC = dt.UTC
INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1

# --- a strategy for valid request bodies -------------------------------------------

TIME_ZONES = ["UTC", "Europe/Paris", "America/New_York", "Asia/Kathmandu", "Australia/Lord_Howe"]
DATETIME_ZONES: list[dt.tzinfo] = [
    UTC,
    dt.timezone(dt.timedelta(hours=5, minutes=30)),
    dt.timezone(dt.timedelta(hours=-8)),
    zoneinfo.ZoneInfo("Europe/Paris"),
    zoneinfo.ZoneInfo("America/St_Johns"),
]

_URL_TAIL = st.text(string.ascii_letters + string.digits + "/._-~%?=&", min_size=1, max_size=30)


def _values(enum_cls: type[dg.WireEnum]) -> st.SearchStrategy[str]:
    return st.sampled_from([m.value for m in enum_cls])


def _unique(enum_cls: type[dg.WireEnum]) -> st.SearchStrategy[list[str]]:
    return st.lists(_values(enum_cls), min_size=1, max_size=5, unique=True)


def _url(*schemes: str) -> st.SearchStrategy[str]:
    return st.tuples(st.sampled_from(schemes), _URL_TAIL).map("".join)


def _datetime_text(value: dt.datetime) -> str:
    return orjson.dumps(value, option=orjson.OPT_UTC_Z).decode()[1:-1]


AWARE_DATETIMES = st.datetimes(timezones=st.sampled_from(DATETIME_ZONES)).map(_datetime_text)
DATES = st.dates().map(dt.date.isoformat)
INT32 = st.integers(INT32_MIN, INT32_MAX)
NAME_32 = st.text(min_size=1, max_size=32)
HTTPS_URL = _url("https://", "HTTPS://")
HTTP_URL = _url("http://", "https://")  # the schema's pattern is case-sensitive
SOME_TEXT = st.text(max_size=40)
NON_BLANK = st.text(min_size=1, max_size=20).filter(lambda s: s.strip() != "")


FEATURES = st.fixed_dictionaries(
    {},
    optional={
        "ethnicity": _values(dg.Ethnicity),
        "height": INT32,
        "weight": INT32,
        "eyesColor": _values(dg.EyesColor),
        "hairColor": _values(dg.HairColor),
        "hairLength": _values(dg.HairLength),
        "maritalStatus": _values(dg.MaritalStatus),
        "job": st.text(max_size=32),
        "working": st.booleans(),
        "interests": _unique(dg.Interest),
        "bdsmInterests": _unique(dg.BdsmInterest),
        "sexualInterests": _unique(dg.SexualInterest),
        "lookingFor": _unique(dg.LookingFor),
        "sexualOrientation": _values(dg.SexualOrientation),
        "childrenCount": INT32,
        "wantsChildren": _values(dg.WantsChildren),
        "surgeryStatus": _values(dg.SurgeryStatus),
        "unitSystem": _values(dg.UnitSystem),
        "livingWith": _values(dg.LivingWith),
        "education": _values(dg.Education),
        "religion": _values(dg.Religion),
        "smoking": _values(dg.Smoking),
        "bodyShape": _values(dg.BodyShape),
        "sports": _unique(dg.Sport),
        "musicGenres": _unique(dg.MusicGenre),
    },
)

CHILD = st.fixed_dictionaries(
    {}, optional={"name": NAME_32, "gender": _values(dg.Gender), "age": INT32}
)

PET = st.fixed_dictionaries(
    {},
    optional={
        "name": NAME_32,
        "sex": _values(dg.PetSex),
        "age": INT32,
        "breed": NAME_32,
        "type": NAME_32,
    },
)

PROFILE_OPTIONAL = {
    "version": SOME_TEXT,
    "description": st.text(max_size=200),
    "birthdate": DATES,
    "countryCode": st.text(string.ascii_letters, min_size=2, max_size=2),
    "city": st.text(max_size=64),
    "postalCode": st.text(max_size=64),
    "timeZone": st.sampled_from(TIME_ZONES),
    "features": FEATURES,
    "personality": _values(dg.Personality),
    "mainPictureUrl": HTTPS_URL,
    "pictures": st.lists(HTTPS_URL, min_size=1, max_size=3),
    "privatePictures": st.lists(HTTPS_URL, min_size=1, max_size=3),
    "expiresAt": AWARE_DATETIMES,
    "children": st.lists(CHILD, min_size=1, max_size=3),
    "pets": st.lists(PET, min_size=1, max_size=3),
}


@st.composite
def profiles(draw: st.DrawFn) -> dict[str, Any]:
    body = draw(
        st.fixed_dictionaries(
            {"id": SOME_TEXT, "gender": _values(dg.Gender)}, optional=PROFILE_OPTIONAL
        )
    )
    # firstName or nickname must be present and not blank; the other is free text.
    names = draw(st.sampled_from([("firstName",), ("nickname",), ("firstName", "nickname")]))
    body[names[0]] = draw(NON_BLANK)
    if len(names) == 2:
        body[names[1]] = draw(SOME_TEXT)
    return body


GIFT = st.fixed_dictionaries({"name": SOME_TEXT, "tier": _values(dg.GiftTier)})

MESSAGE_OPTIONAL = {
    "pictureUrls": st.lists(HTTP_URL, min_size=1, max_size=3),
    "poke": st.booleans(),
    "gifts": st.lists(GIFT, min_size=1, max_size=2),
    "sticker": st.text(max_size=160),
    "text": st.text(max_size=512),
}


@st.composite
def messages(draw: st.DrawFn) -> list[dict[str, Any]]:
    ids = draw(st.lists(st.text(max_size=8), max_size=5, unique=True))
    out: list[dict[str, Any]] = []
    for message_id in ids:
        body = draw(
            st.fixed_dictionaries(
                {
                    "id": st.just(message_id),
                    "sender": _values(dg.Sender),
                    "date": AWARE_DATETIMES,
                },
                optional=MESSAGE_OPTIONAL,
            )
        )
        out.append(body)
    return out


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "userProfile": draw(profiles()),
        "personaProfile": draw(profiles()),
        "language": draw(_values(dg.Language)),
        "messages": draw(messages()),
    }


FAST = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# --- round trips -----------------------------------------------------------------------


@pytest.mark.parametrize("sample", [full_request, minimal_request], ids=["full", "minimal"])
def test_sample_round_trips_through_the_model(sample: Callable[[], dict[str, Any]]) -> None:
    data = sample()
    assert dg.SuggestionRequest.from_dict(data).to_dict() == data


@pytest.mark.parametrize("sample", [full_request, minimal_request], ids=["full", "minimal"])
def test_sample_encodes_to_the_same_json(sample: Callable[[], dict[str, Any]]) -> None:
    data = sample()
    request = dg.SuggestionRequest.from_dict(data)
    assert json.loads(_converter.encode_request(request)) == data


@FAST
@given(data=requests())
def test_any_valid_request_round_trips_through_to_dict(data: dict[str, Any]) -> None:
    assert dg.SuggestionRequest.from_dict(data).to_dict() == data


@FAST
@given(data=requests())
def test_any_valid_request_encodes_to_the_json_it_came_from(data: dict[str, Any]) -> None:
    request = dg.SuggestionRequest.from_dict(data)
    assert json.loads(_converter.encode_request(request)) == data


@FAST
@given(data=requests())
def test_a_request_rebuilt_from_its_dict_is_equal(data: dict[str, Any]) -> None:
    request = dg.SuggestionRequest.from_dict(data)
    assert dg.SuggestionRequest.from_dict(request.to_dict()) == request


@FAST
@given(data=requests())
def test_the_fast_road_and_the_detailed_road_build_the_same_request(data: dict[str, Any]) -> None:
    # from_dict tries a generated straight-line builder first and falls back to cattrs'
    # detailed structuring (which explains errors); both must read valid input alike.
    detailed = _converter._STRICT.structure(data, dg.SuggestionRequest)
    assert dg.SuggestionRequest.from_dict(data) == detailed


def _whole_minute_offset(value: dt.datetime) -> bool:
    # Local mean time (Paris before 1911: +00:09:21) is rejected, not sent cut.
    offset = value.utcoffset()
    return offset is not None and not offset % dt.timedelta(minutes=1)


@settings(max_examples=100, deadline=None)
@given(value=st.datetimes(timezones=st.sampled_from(DATETIME_ZONES)).filter(_whole_minute_offset))
def test_to_dict_writes_a_datetime_as_orjson_does(value: dt.datetime) -> None:
    profile = dg.Profile(id="u", gender=dg.Gender.MAN, nickname="n", expires_at=value)
    assert profile.to_dict()["expiresAt"] == _datetime_text(value)


def test_response_round_trips_through_the_model() -> None:
    data = {"suggestions": ["Hi!", "Hello there", "Salut"]}
    assert dg.SuggestionResponse.from_dict(data).to_dict() == data


def test_to_dict_and_the_request_body_agree() -> None:
    request = dg.SuggestionRequest.from_dict(full_request())
    assert json.loads(_converter.encode_request(request)) == request.to_dict()


def test_the_request_body_is_compact_utf8() -> None:
    request = dg.SuggestionRequest.from_dict(full_request(n_messages=3))
    body = _converter.encode_request(request)
    assert body.startswith(b'{"userProfile":{"id":"u-1","gender":"MAN",')
    assert "Léa".encode() in body
    assert b"\\u" not in body


def test_to_dict_gives_plain_json_values() -> None:
    data = dg.SuggestionRequest.from_dict(full_request(n_messages=5)).to_dict()
    features = data["userProfile"]["features"]
    assert type(data["language"]) is str
    assert type(data["messages"]) is list
    assert type(data["userProfile"]["pictures"]) is list
    assert type(features["interests"]) is list
    assert all(type(v) is str for v in features["interests"])
    assert type(data["messages"][0]["date"]) is str
    assert type(data["userProfile"]["birthdate"]) is str


def test_to_dict_gives_an_unknown_member_as_a_plain_string() -> None:
    request = dg.SuggestionRequest.from_dict(minimal_request(language="ZH_CN"), strict_enums=False)
    language = request.to_dict()["language"]
    assert type(language) is str
    assert language == "ZH_CN"


def test_to_dict_output_dumps_as_yaml_with_the_safe_dumper() -> None:
    # A str subclass (an enum member) would make yaml's safe dumper give up.
    data = dg.SuggestionRequest.from_dict(full_request(n_messages=2)).to_dict()
    assert yaml.safe_load(yaml.safe_dump(data)) == data


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (dt.datetime(2026, 1, 1, 12, 34, 20, tzinfo=UTC), "2026-01-01T12:34:20Z"),
        (
            dt.datetime(2026, 1, 1, 12, 34, 20, 250000, tzinfo=UTC),
            "2026-01-01T12:34:20.250000Z",
        ),
        (
            dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))),
            "2026-01-01T12:00:00+02:00",
        ),
        (
            dt.datetime(2026, 7, 1, 12, 0, tzinfo=zoneinfo.ZoneInfo("Europe/Paris")),
            "2026-07-01T12:00:00+02:00",
        ),
    ],
    ids=["utc", "microseconds", "offset", "zoneinfo"],
)
def test_to_dict_writes_datetimes_in_iso_8601(value: dt.datetime, text: str) -> None:
    profile = dg.Profile(id="u", gender=dg.Gender.MAN, nickname="n", expires_at=value)
    assert profile.to_dict()["expiresAt"] == text


def test_to_dict_writes_dates_as_yyyy_mm_dd() -> None:
    profile = dg.Profile(id="u", gender=dg.Gender.MAN, nickname="n", birthdate=dt.date(990, 5, 4))
    assert profile.to_dict()["birthdate"] == "0990-05-04"


# --- omitted defaults -------------------------------------------------------------------


def test_to_dict_of_an_empty_feature_set_is_empty() -> None:
    assert dg.Features().to_dict() == {}


def test_to_dict_leaves_out_none_and_empty_lists() -> None:
    profile = dg.Profile(id="u-1", gender=dg.Gender.MAN, first_name="Marc")
    assert profile.to_dict() == {"id": "u-1", "gender": "MAN", "firstName": "Marc"}


def test_explicit_nulls_and_empty_lists_are_left_out_after_a_round_trip() -> None:
    data = minimal_request()
    data["userProfile"].update(
        {"city": None, "pictures": [], "children": None, "features": {"interests": []}}
    )
    data["messages"][0].update({"gifts": [], "pictureUrls": None, "poke": None})
    out = dg.SuggestionRequest.from_dict(data).to_dict()
    assert out["userProfile"] == {
        "id": "u-1",
        "gender": "MAN",
        "firstName": "Marc",
        "features": {},
    }
    assert out["messages"][0] == minimal_request()["messages"][0]


def test_falsy_values_that_are_not_defaults_are_kept() -> None:
    data = minimal_request()
    data["userProfile"].update({"city": "", "features": {"working": False, "height": 0}})
    data["messages"][0].update({"poke": False, "text": ""})
    assert dg.SuggestionRequest.from_dict(data).to_dict() == data


def test_an_empty_conversation_is_sent_as_an_empty_list() -> None:
    data = minimal_request()
    data["messages"] = []
    request = dg.SuggestionRequest.from_dict(data)
    assert request.to_dict()["messages"] == []
    assert json.loads(_converter.encode_request(request))["messages"] == []


# --- unknown keys ---------------------------------------------------------------------


def test_unknown_request_keys_are_ignored_at_every_level() -> None:
    data = full_request(n_messages=3)
    extended = copy.deepcopy(data)
    extended["requestId"] = "abc"
    extended["userProfile"]["favouriteColour"] = "teal"
    extended["userProfile"]["features"]["starSign"] = "LEO"
    extended["userProfile"]["pets"][0]["colour"] = {"nested": [1, 2]}
    extended["messages"][1]["reactions"] = ["heart"]
    extended["messages"][0]["gifts"] = [{"name": "Roses", "tier": "LOW", "price": 3}]
    data["messages"][0]["gifts"] = [{"name": "Roses", "tier": "LOW"}]
    assert dg.SuggestionRequest.from_dict(extended).to_dict() == data


def test_unknown_response_keys_are_ignored() -> None:
    response = dg.SuggestionResponse.from_dict(
        {"suggestions": ["a", "b", "c"], "model": "v9", "usage": {"tokens": 12}}
    )
    assert response == dg.SuggestionResponse(suggestions=("a", "b", "c"))


def test_unknown_keys_do_not_hide_problems() -> None:
    data = minimal_request()
    data["userProfile"]["futureField"] = True
    data["userProfile"]["countryCode"] = "France"
    with pytest.raises(dg.RequestValidationError) as excinfo:
        dg.SuggestionRequest.from_dict(data)
    assert [p.path for p in excinfo.value.problems] == ["userProfile.countryCode"]


# --- enum strictness --------------------------------------------------------------------


def test_a_mapping_that_raises_is_a_problem_at_the_root() -> None:
    with pytest.raises(dg.RequestValidationError) as raised:
        dg.SuggestionRequest.from_dict(RaisingMapping())
    assert [(p.loc, p.code) for p in raised.value.problems] == [((), "invalid")]


def test_an_unknown_language_is_rejected_by_default() -> None:
    with pytest.raises(dg.RequestValidationError) as excinfo:
        dg.SuggestionRequest.from_dict(minimal_request(language="ZH_CN"))
    (problem,) = excinfo.value.problems
    assert problem.path == "language"
    assert problem.message.startswith("unknown value 'ZH_CN'; expected one of: EN, EN_GB, FR,")


def test_the_unknown_language_message_lists_every_valid_value() -> None:
    with pytest.raises(dg.RequestValidationError) as excinfo:
        dg.SuggestionRequest.from_dict(minimal_request(language="ZH_CN"))
    message = excinfo.value.problems[0].message
    listed = message.split("expected one of: ", 1)[1].split(", ")
    assert listed == [m.value for m in dg.Language]


def test_an_unknown_language_passes_through_when_not_strict() -> None:
    request = dg.SuggestionRequest.from_dict(minimal_request(language="ZH_CN"), strict_enums=False)
    assert isinstance(request.language, dg.Language)
    assert request.language.is_known is False
    assert request.language == "ZH_CN"
    assert request.language.value == "ZH_CN"
    assert str(request.language) == "ZH_CN"


def test_an_unknown_language_goes_back_untouched_in_to_dict() -> None:
    data = minimal_request(language="ZH_CN")
    assert dg.SuggestionRequest.from_dict(data, strict_enums=False).to_dict() == data


def test_an_unknown_language_goes_back_untouched_in_the_request_body() -> None:
    data = minimal_request(language="ZH_CN")
    request = dg.SuggestionRequest.from_dict(data, strict_enums=False)
    assert json.loads(_converter.encode_request(request)) == data


def test_an_unknown_member_is_one_object_per_value() -> None:
    first = dg.SuggestionRequest.from_dict(minimal_request(language="ZH_CN"), strict_enums=False)
    second = dg.SuggestionRequest.from_dict(minimal_request(language="ZH_CN"), strict_enums=False)
    assert first.language is second.language
    assert first.language is dg.Language.unknown("ZH_CN")
    assert first.language is not dg.Language.unknown("ZH_TW")


def test_pickling_an_unknown_member_keeps_its_identity() -> None:
    member = dg.Language.unknown("ZH_CN")
    assert pickle.loads(pickle.dumps(member)) is member


def test_pickling_a_known_member_keeps_its_identity() -> None:
    assert pickle.loads(pickle.dumps(dg.Language.FR)) is dg.Language.FR


def test_pickling_a_request_keeps_its_unknown_member() -> None:
    request = dg.SuggestionRequest.from_dict(minimal_request(language="ZH_CN"), strict_enums=False)
    restored = pickle.loads(pickle.dumps(request))
    assert restored == request
    assert restored.language is request.language


def test_copying_an_unknown_member_keeps_its_identity() -> None:
    member = dg.Language.unknown("ZH_CN")
    assert copy.copy(member) is member
    assert copy.deepcopy(member) is member


def test_unknown_of_a_known_value_is_the_member() -> None:
    assert dg.Language.unknown("FR") is dg.Language.FR
    assert dg.Language.FR.is_known is True


def test_known_values_are_the_real_members_when_not_strict() -> None:
    request = dg.SuggestionRequest.from_dict(full_request(n_messages=1), strict_enums=False)
    assert request.language is dg.Language.EN
    assert request.user_profile.gender is dg.Gender.MAN
    features = request.user_profile.features
    assert features is not None
    assert all(i.is_known for i in features.interests)


def test_unknown_items_of_an_enum_list_pass_through_when_not_strict() -> None:
    data = minimal_request()
    data["userProfile"]["features"] = {"interests": ["MUSIC", "KNITTING"]}
    request = dg.SuggestionRequest.from_dict(data, strict_enums=False)
    features = request.user_profile.features
    assert features is not None
    assert [i.is_known for i in features.interests] == [True, False]
    assert request.to_dict() == data


def test_not_strict_still_rejects_a_non_string_enum_value() -> None:
    data = minimal_request()
    data["language"] = 7
    with pytest.raises(dg.RequestValidationError) as excinfo:
        dg.SuggestionRequest.from_dict(data, strict_enums=False)
    assert [(p.path, p.message) for p in excinfo.value.problems] == [
        ("language", "expected a string, got a number")
    ]


def test_not_strict_still_checks_every_other_constraint() -> None:
    data = minimal_request(language="ZH_CN")
    data["messages"][0]["text"] = "t" * 513
    with pytest.raises(dg.RequestValidationError) as excinfo:
        dg.SuggestionRequest.from_dict(data, strict_enums=False)
    assert [p.path for p in excinfo.value.problems] == ["messages[0].text"]


@pytest.mark.parametrize("strict", [True, False], ids=["strict", "lenient"])
def test_passionnate_is_read_as_passionate(strict: bool) -> None:
    data = minimal_request()
    data["personaProfile"]["personality"] = "PASSIONNATE"
    request = dg.SuggestionRequest.from_dict(data, strict_enums=strict)
    assert request.persona_profile.personality is dg.Personality.PASSIONATE
    assert request.to_dict()["personaProfile"]["personality"] == "PASSIONATE"
    assert b'"personality":"PASSIONATE"' in _converter.encode_request(request)


def test_the_alias_is_read_beside_other_problems() -> None:
    data = minimal_request()
    data["personaProfile"]["personality"] = "PASSIONNATE"
    data["personaProfile"]["city"] = "c" * 65
    with pytest.raises(dg.RequestValidationError) as excinfo:
        dg.SuggestionRequest.from_dict(data)
    assert [p.path for p in excinfo.value.problems] == ["personaProfile.city"]


def test_the_alias_is_not_a_member() -> None:
    assert "PASSIONNATE" not in {m.value for m in dg.Personality}
    with pytest.raises(ValueError, match="PASSIONNATE"):
        dg.Personality("PASSIONNATE")


# --- agreement with the vendor's spec ------------------------------------------------

SPEC: dict[str, Any] = yaml.safe_load(
    importlib.resources.files("dumgum_async").joinpath("openapi.yaml").read_text("utf-8")
)
SCHEMAS: dict[str, Any] = SPEC["components"]["schemas"]
MODEL_OF_SCHEMA: dict[str, type[Any]] = {
    "IcebreakerSuggestionRequest": dg.SuggestionRequest,
    "SuggestionResponse": dg.SuggestionResponse,
    "Profile": dg.Profile,
    "MessageElement": dg.Message,
    "ContentCreationProfileFeatureSet": dg.Features,
    "Child": dg.Child,
    "Pet": dg.Pet,
    "ConversationGift": dg.Gift,
}


def _spec_enums() -> Iterator[tuple[str, str, list[str]]]:
    """(schema, property, values) of every enum in the spec, array items included."""
    for schema_name, schema in SCHEMAS.items():
        for prop, body in schema.get("properties", {}).items():
            if "enum" in body:
                yield schema_name, prop, body["enum"]
            if "enum" in body.get("items", {}):
                yield schema_name, prop, body["items"]["enum"]


SPEC_ENUMS = list(_spec_enums())


def _leaf_type(t: Any) -> Any:
    """``X | None`` and ``tuple[X, ...]`` -> ``X``."""
    args = get_args(t)
    if type(None) in args:
        (t,) = (a for a in args if a is not type(None))
    if get_origin(t) is tuple:
        t = get_args(t)[0]
    return t


def _field(model: type[Any], wire_name: str) -> attrs.Attribute[Any]:
    fields: tuple[attrs.Attribute[Any], ...] = attrs.fields(attrs.resolve_types(model))
    (field,) = (a for a in fields if _converter.camel(a.name) == wire_name)
    return field


def test_every_schema_of_the_spec_has_a_model() -> None:
    assert set(SCHEMAS) == set(MODEL_OF_SCHEMA)


def test_the_spec_has_enums_in_it() -> None:
    # Guards the walk below: a change in the spec's layout must not make it vacuous.
    assert len(SPEC_ENUMS) == 27


@pytest.mark.parametrize(
    ("schema", "prop", "values"),
    SPEC_ENUMS,
    ids=[f"{schema}.{prop}" for schema, prop, _ in SPEC_ENUMS],
)
def test_every_spec_enum_matches_its_enum_class_exactly(
    schema: str, prop: str, values: list[str]
) -> None:
    enum_cls = _leaf_type(_field(MODEL_OF_SCHEMA[schema], prop).type)
    assert isinstance(enum_cls, type)
    assert issubclass(enum_cls, dg.WireEnum)
    assert {m.value for m in enum_cls} == set(values)
    assert len(values) == len(set(values))


def test_every_enum_typed_field_has_an_enum_in_the_spec() -> None:
    in_spec = {(schema, prop) for schema, prop, _ in SPEC_ENUMS}
    enum_fields = {
        (schema, _converter.camel(a.name))
        for schema, model in MODEL_OF_SCHEMA.items()
        for a in attrs.fields(attrs.resolve_types(model))
        if isinstance(_leaf_type(a.type), type) and issubclass(_leaf_type(a.type), dg.WireEnum)
    }
    assert enum_fields == in_spec


def test_every_enum_class_is_used_by_the_spec() -> None:
    used = {
        _leaf_type(_field(MODEL_OF_SCHEMA[schema], prop).type) for schema, prop, _ in SPEC_ENUMS
    }
    public = {getattr(dg, name) for name in dg.__all__}
    enum_classes = {c for c in public if isinstance(c, type) and issubclass(c, dg.WireEnum)} - {
        dg.WireEnum
    }
    assert used == enum_classes


def test_there_are_47_languages() -> None:
    assert len(dg.Language) == 47
    assert len(SCHEMAS["IcebreakerSuggestionRequest"]["properties"]["language"]["enum"]) == 47


@pytest.mark.parametrize("schema", list(MODEL_OF_SCHEMA))
def test_every_spec_property_has_a_model_field_and_back(schema: str) -> None:
    fields = {_converter.camel(a.name) for a in attrs.fields(MODEL_OF_SCHEMA[schema])}
    assert fields == set(SCHEMAS[schema]["properties"])


@pytest.mark.parametrize("schema", list(MODEL_OF_SCHEMA))
def test_required_fields_are_the_spec_required_properties(schema: str) -> None:
    required = {
        _converter.camel(a.name)
        for a in attrs.fields(MODEL_OF_SCHEMA[schema])
        if a.default is attrs.NOTHING
    }
    assert required == set(SCHEMAS[schema].get("required", []))


@pytest.mark.parametrize(
    ("name", "wire"),
    [
        ("id", "id"),
        ("first_name", "firstName"),
        ("main_picture_url", "mainPictureUrl"),
        ("bdsm_interests", "bdsmInterests"),
    ],
)
def test_camel_spells_attribute_names_as_the_api_does(name: str, wire: str) -> None:
    assert _converter.camel(name) == wire
