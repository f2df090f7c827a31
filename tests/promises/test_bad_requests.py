"""Bad request input is named, never crashes, never sent: unsendable text, date subclasses,
offsets RFC 3339 cannot write, the wrong type of request, and linear-time validation."""

from __future__ import annotations

import datetime as dt
import json
import time
import zoneinfo
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import freezegun
import orjson
import pendulum
import pytest

import dumgum_async as dg
from dumgum_async import _cli, _converter
from dumgum_async.testing import FakeDumGumServer, sample_requests
from tests.helpers.bodies import full_request, minimal_request
from tests.helpers.bodies import message_model as _message
from tests.helpers.bodies import profile_model as _profile
from tests.helpers.misbehaving import RaisingMapping, UnhashableStr

KEY = "bad-input-key"
UTC = dt.UTC
LONE = "\ud83d"  # the first half of an emoji's UTF-16 pair, alone


def _client(url: str = "http://127.0.0.1:9") -> dg.DumGumClient:
    # Port 9 (discard): prepare() never connects; a request that got out would fail loudly.
    return dg.DumGumClient(api_key=KEY, base_url=url, retry=None)


def _request(**kwargs: Any) -> dg.SuggestionRequest:
    kwargs.setdefault("user_profile", _profile())
    kwargs.setdefault("persona_profile", _profile(id="p-1", gender=dg.Gender.WOMAN))
    kwargs.setdefault("language", dg.Language.EN)
    kwargs.setdefault("messages", (_message(),))
    return dg.SuggestionRequest(**kwargs)


def _paths(exc: dg.RequestValidationError) -> list[str]:
    return [p.path for p in exc.problems]


# --- text that cannot be encoded as UTF-8 ------------------------------------------------

# (JSON path as keys, where the surrogate goes)
TEXT_FIELDS: list[tuple[str | int, ...]] = [
    ("userProfile", "firstName"),
    ("userProfile", "id"),
    ("userProfile", "description"),
    ("userProfile", "city"),
    ("userProfile", "mainPictureUrl"),
    ("userProfile", "pictures", 1),
    ("userProfile", "features", "job"),
    ("userProfile", "children", 0, "name"),
    ("userProfile", "pets", 0, "breed"),
    ("personaProfile", "version"),
    ("messages", 0, "id"),
    ("messages", 1, "text"),
]


def _spoil(data: dict[str, Any], path: tuple[str | int, ...]) -> str:
    target: Any = data
    for seg in path[:-1]:
        target = target[seg]
    target[path[-1]] = str(target[path[-1]]) + LONE
    return "".join(
        f"[{s}]" if isinstance(s, int) else (f".{s}" if i else s) for i, s in enumerate(path)
    )


@pytest.mark.parametrize("path", TEXT_FIELDS, ids=lambda p: ".".join(map(str, p)))
def test_a_lone_surrogate_from_a_mapping_is_a_validation_error_naming_its_field(
    path: tuple[str | int, ...],
) -> None:
    data = full_request(n_messages=2)
    where = _spoil(data, path)
    with pytest.raises(dg.RequestValidationError) as excinfo:
        dg.SuggestionRequest.from_dict(data)
    assert _paths(excinfo.value) == [where]
    assert "lone surrogate (U+D83D" in excinfo.value.problems[0].message


@pytest.mark.parametrize(
    ("build", "where"),
    [
        (lambda: _profile(first_name="Marc" + LONE), "first_name"),
        (lambda: _profile(pictures=("https://example.org/" + LONE,)), "pictures[0]"),
        (lambda: _message(text=LONE), "text"),
        (lambda: _message(picture_urls=("https://x/", "https://x/" + LONE)), "picture_urls[1]"),
        (lambda: dg.Gift(name=LONE, tier=dg.GiftTier.LOW), "name"),
        (lambda: dg.Features(job=LONE), "job"),
        (lambda: dg.Pet(type=LONE), "type"),
    ],
    ids=["first_name", "pictures", "text", "picture_urls", "gift", "job", "pet"],
)
def test_a_lone_surrogate_in_a_model_is_a_validation_error_naming_its_field(
    build: Callable[[], object], where: str
) -> None:
    with pytest.raises(dg.RequestValidationError) as excinfo:
        build()
    assert _paths(excinfo.value) == [where]


def test_non_ascii_text_without_surrogates_is_accepted() -> None:
    text = "Léa 😀 日本語 \U0010ffff"
    assert _message(text=text).text == text


def test_an_unknown_enum_value_with_a_surrogate_is_refused_even_when_lenient() -> None:
    data = minimal_request()
    data["language"] = "EO" + LONE
    with pytest.raises(dg.RequestValidationError) as excinfo:
        dg.SuggestionRequest.from_dict(data, strict_enums=False)
    assert _paths(excinfo.value) == ["language"]


def test_encoding_a_model_orjson_refuses_names_the_field_instead_of_a_type_error() -> None:
    # The one way past the models' checks: an unknown enum member built by hand.
    user = _profile(personality=dg.Personality.unknown("X" + LONE))
    with pytest.raises(dg.RequestValidationError) as excinfo:
        _converter.encode_request(_request(user_profile=user))
    assert _paths(excinfo.value) == ["user_profile.personality"]


def test_prepare_names_a_surrogate_from_a_mapping_and_from_a_model() -> None:
    data = minimal_request()
    data["messages"][0]["text"] = LONE
    client = _client()
    with pytest.raises(dg.RequestValidationError) as from_mapping:
        client.prepare(data)
    assert _paths(from_mapping.value) == ["messages[0].text"]
    user = _profile(personality=dg.Personality.unknown(LONE))
    with pytest.raises(dg.RequestValidationError) as from_model:
        client.prepare(_request(user_profile=user))
    assert _paths(from_model.value) == ["user_profile.personality"]


async def test_suggest_with_a_surrogate_raises_and_sends_nothing() -> None:
    data = minimal_request()
    data["userProfile"]["firstName"] = LONE
    async with (
        FakeDumGumServer(api_key=KEY) as fake,
        dg.DumGumClient(api_key=KEY, base_url=fake.url) as client,
    ):
        with pytest.raises(dg.RequestValidationError) as excinfo:
            await client.suggest(data)
        assert fake.requests == []
    assert _paths(excinfo.value) == ["userProfile.firstName"]


async def test_a_request_mapping_that_raises_is_a_validation_error_and_sends_nothing() -> None:
    async with (
        FakeDumGumServer(api_key=KEY) as fake,
        dg.DumGumClient(api_key=KEY, base_url=fake.url) as client,
    ):
        with pytest.raises(dg.RequestValidationError) as excinfo:
            await client.suggest(RaisingMapping())
        assert fake.requests == []
    assert [(p.loc, p.message) for p in excinfo.value.problems] == [
        ((), "invalid value (RuntimeError: iter boom)")
    ]


def test_a_time_zone_whose_hash_raises_is_a_validation_error_from_prepare() -> None:
    data = minimal_request()
    data["personaProfile"]["timeZone"] = UnhashableStr("Europe/Paris")
    with pytest.raises(dg.RequestValidationError) as excinfo:
        _client().prepare(data)
    assert _paths(excinfo.value) == ["personaProfile.timeZone"]


async def test_one_unsendable_item_fails_alone_and_the_batch_goes_on() -> None:
    items: list[Any] = [minimal_request() for _ in range(5)]
    for i, item in enumerate(items):
        item["messages"][0]["id"] = f"conv-{i}"
    items[2]["messages"][0]["text"] = "bad " + LONE
    async with (
        FakeDumGumServer(api_key=KEY) as fake,
        dg.DumGumClient(api_key=KEY, base_url=fake.url) as client,
    ):
        results = await client.suggest_all(items, concurrency=2)
        seen = sorted(r.json["messages"][0]["id"] for r in fake.requests if r.json)
    assert [r.ok for r in results] == [True, True, False, True, True]
    error = results[2].error
    assert isinstance(error, dg.RequestValidationError)
    assert _paths(error) == ["messages[0].text"]
    assert seen == ["conv-0", "conv-1", "conv-3", "conv-4"]


async def test_the_batch_cli_writes_an_error_line_for_a_surrogate_and_resume_completes(
    tmp_path: Path,
) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    bodies = list(sample_requests(4, seed=21))
    bodies[1]["userProfile"]["firstName"] = "Zo" + LONE
    # json.dumps writes the lone surrogate as the escape \ud83d, which json.loads reads back.
    inp.write_text("".join(json.dumps(b) + "\n" for b in bodies), encoding="ascii")
    async with FakeDumGumServer(api_key=KEY, seed=1) as fake:
        args = ["batch", str(inp), "-o", str(out), "--api-key", KEY, "--base-url", fake.url]
        assert await _cli.run([*args, "--no-progress"]) == 1
        first = {line["id"]: line for line in map(json.loads, out.read_text().splitlines())}
        assert sorted(first) == [1, 2, 3, 4]
        assert first[2]["error"]["type"] == "RequestValidationError"
        assert "userProfile.firstName" in first[2]["error"]["message"]
        assert all(len(first[i]["suggestions"]) == 3 for i in (1, 3, 4))
        assert len(fake.requests) == 3
        fake.clear()

        # Resuming retries only the failed line: it fails the same way, and the run ends.
        assert await _cli.run([*args, "--resume", "--no-progress"]) == 1
        again = [json.loads(line) for line in out.read_text().splitlines()]
        assert sorted({line["id"] for line in again}) == [1, 2, 3, 4]
        assert fake.requests == []


@pytest.mark.parametrize("request_", ["hello", 42, None, [minimal_request()], b"{}"], ids=repr)
async def test_a_request_that_is_neither_model_nor_mapping_is_a_dumgum_error(
    request_: Any,
) -> None:
    async with (
        FakeDumGumServer(api_key=KEY) as fake,
        dg.DumGumClient(api_key=KEY, base_url=fake.url) as client,
    ):
        with pytest.raises(dg.RequestValidationError, match="SuggestionRequest or a mapping"):
            client.prepare(request_)
        with pytest.raises(dg.RequestValidationError):
            await client.suggest(request_)
        assert fake.requests == []


def test_an_integer_too_long_to_print_is_a_validation_error() -> None:
    # repr() of an int over 4,300 digits raises ValueError; the message must not.
    with pytest.raises(dg.RequestValidationError, match="integer of about 5001 digits"):
        _profile(id=10**5000)


def test_a_huge_string_is_quoted_only_in_part() -> None:
    with pytest.raises(dg.RequestValidationError) as excinfo:
        _profile(country_code="F" * 10**6)
    assert len(str(excinfo.value)) < 200


# --- datetime and date subclasses ---------------------------------------------------------


def _sent(request: dg.SuggestionRequest) -> dict[str, Any]:
    body: dict[str, Any] = orjson.loads(_client().prepare(request))
    return body


def test_freezegun_datetimes_and_dates_are_stored_plain_and_sent() -> None:
    with freezegun.freeze_time("2025-04-25T10:00:00Z"):
        now = dt.datetime.now(UTC)
        today = dt.date.today()
        assert type(now).__name__ == "FakeDatetime"
        assert type(today).__name__ == "FakeDate"
        request = _request(
            user_profile=_profile(birthdate=today, expires_at=now),
            messages=(_message(date=now),),
        )
        body = _sent(request)
    assert type(request.messages[0].date) is dt.datetime
    assert type(request.user_profile.birthdate) is dt.date
    assert request.messages[0].date == now
    assert body["messages"][0]["date"] == "2025-04-25T10:00:00Z"
    assert body["userProfile"]["expiresAt"] == "2025-04-25T10:00:00Z"
    assert body["userProfile"]["birthdate"] == "2025-04-25"


def test_from_dict_while_time_is_frozen_builds_plain_datetimes() -> None:
    with freezegun.freeze_time("2025-01-01"):
        request = dg.SuggestionRequest.from_dict(full_request(n_messages=2))
        body = _sent(request)
    assert type(request.messages[0].date) is dt.datetime
    assert type(request.user_profile.birthdate) is dt.date
    assert body["messages"][1]["date"] == "2025-04-25T10:01:00Z"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (pendulum.datetime(2025, 7, 1, 12, 30, tz="Europe/Paris"), "2025-07-01T12:30:00+02:00"),
        (
            pendulum.datetime(2025, 1, 1, tz=pendulum.FixedTimezone(-12600)),
            "2025-01-01T00:00:00-03:30",
        ),
        (pendulum.datetime(2025, 1, 1, 8, tz="UTC"), "2025-01-01T08:00:00Z"),
    ],
    ids=["zone", "fixed", "utc"],
)
def test_pendulum_datetimes_are_stored_plain_and_sent(value: dt.datetime, text: str) -> None:
    message = _message(date=value)
    assert type(message.date) is dt.datetime
    assert message.date == value
    assert message.date.utcoffset() == value.utcoffset()
    assert _sent(_request(messages=(message,)))["messages"][0]["date"] == text


def test_a_pendulum_date_is_stored_plain_and_sent() -> None:
    profile = _profile(birthdate=pendulum.date(1990, 5, 14))
    assert type(profile.birthdate) is dt.date
    assert _sent(_request(user_profile=profile))["userProfile"]["birthdate"] == "1990-05-14"


def test_a_datetime_subclass_is_still_no_birthdate() -> None:
    with pytest.raises(dg.RequestValidationError) as excinfo:
        _profile(birthdate=pendulum.datetime(1990, 5, 14))
    assert _paths(excinfo.value) == ["birthdate"]


# --- UTC offsets RFC 3339 cannot write ------------------------------------------------


@pytest.mark.parametrize(
    "tz",
    [
        dt.timezone(dt.timedelta(hours=5, minutes=30, seconds=15)),
        dt.timezone(-dt.timedelta(minutes=1, seconds=1)),
        dt.timezone(dt.timedelta(microseconds=1)),
    ],
    ids=["+05:30:15", "-00:01:01", "+1us"],
)
def test_an_offset_that_is_not_whole_minutes_is_rejected_not_cut(tz: dt.tzinfo) -> None:
    with pytest.raises(dg.RequestValidationError) as excinfo:
        _message(date=dt.datetime(2025, 4, 25, 10, 0, tzinfo=tz))
    assert _paths(excinfo.value) == ["date"]
    assert "whole number of minutes" in excinfo.value.problems[0].message


def test_local_mean_time_of_a_zone_is_rejected_not_cut() -> None:
    paris_1900 = dt.datetime(1900, 1, 1, tzinfo=zoneinfo.ZoneInfo("Europe/Paris"))
    with pytest.raises(dg.RequestValidationError, match=r"\+00:09:21"):
        _profile(expires_at=paris_1900)


def test_a_changed_offset_on_a_built_model_is_caught_at_encode() -> None:
    # evolve() re-runs the checks: an object cannot be nudged past them.
    odd = dt.datetime(2025, 4, 25, tzinfo=dt.timezone(dt.timedelta(seconds=30)))
    with pytest.raises(dg.RequestValidationError):
        attrs.evolve(_message(), date=odd)


@pytest.mark.parametrize(
    ("tz", "text"),
    [
        (zoneinfo.ZoneInfo("Asia/Kathmandu"), "+05:45"),
        (zoneinfo.ZoneInfo("America/St_Johns"), "-02:30"),
        (dt.timezone(dt.timedelta(hours=-9, minutes=-30)), "-09:30"),
    ],
    ids=["kathmandu", "st-johns-dst", "marquesas"],
)
def test_whole_minute_offsets_are_sent_exactly(tz: dt.tzinfo, text: str) -> None:
    message = _message(date=dt.datetime(2025, 7, 1, 12, 0, tzinfo=tz))
    assert _sent(_request(messages=(message,)))["messages"][0]["date"].endswith(text)


# --- validation is linear in the input ------------------------------------------------


def _cpu(fn: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


def _duplicated_interests(n: int) -> Callable[[], object]:
    data = minimal_request()
    data["userProfile"]["features"] = {"interests": ["MUSIC", "ART"] * (n // 2)}

    def run() -> None:
        with pytest.raises(dg.RequestValidationError) as excinfo:
            dg.SuggestionRequest.from_dict(data)
        assert excinfo.value.problems[0].message == "items must be unique; repeated: ART, MUSIC"

    return run


def test_100k_duplicated_interests_are_reported_in_linear_time() -> None:
    half = _cpu(_duplicated_interests(50_000))
    full = _cpu(_duplicated_interests(100_000))
    assert full < 2.0, full  # quadratic took seconds for 20,000
    assert full < 3.5 * half + 0.05, (half, full)  # doubling the input about doubles the time


def test_100k_duplicated_interests_in_a_model_are_reported_quickly() -> None:
    items = [dg.Interest.MUSIC] * 100_000

    def build() -> None:
        with pytest.raises(dg.RequestValidationError, match="repeated: MUSIC"):
            dg.Features(interests=items)  # type: ignore[arg-type]

    assert _cpu(build) < 2.0


def test_10k_messages_sharing_one_id_are_reported_quickly() -> None:
    data = minimal_request()
    data["messages"] = data["messages"] * 10_000

    def run() -> None:
        with pytest.raises(dg.RequestValidationError) as excinfo:
            dg.SuggestionRequest.from_dict(data)
        assert len(excinfo.value.problems) == 9_999

    assert _cpu(run) < 4.0


def test_unknown_enum_values_do_not_grow_memory_without_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dumgum_async import _enums

    # A cache of our own: filling the process-wide one would change other tests.
    monkeypatch.setattr(_enums, "_UNKNOWN", {})
    values = [dg.Language.unknown(f"X{i:05d}") for i in range(_enums._MAX_UNKNOWN + 500)]
    assert len(_enums._UNKNOWN) == _enums._MAX_UNKNOWN
    # Past the bound, members are still equal to their value and to each other.
    last = values[-1]
    assert last == "X" + f"{_enums._MAX_UNKNOWN + 499:05d}"
    assert dg.Language.unknown(str(last)) == last
    assert not last.is_known


@pytest.mark.parametrize("strict", [True, False])
def test_an_unhashable_message_id_is_a_type_problem_not_a_type_error(strict: bool) -> None:
    # The duplicate-id check put every id in a set: a bytearray id raised TypeError
    # (found by the hostile-requests Hypothesis test).
    body = full_request(n_messages=2)
    body["messages"][0]["id"] = bytearray(b"m0")
    client = dg.DumGumClient(api_key=KEY, strict_enums=strict)
    with pytest.raises(dg.RequestValidationError) as info:
        client.prepare(body)
    assert [(p.loc, p.code) for p in info.value.problems] == [(("messages", 0, "id"), "type")]
