"""The fast request encoder (``_encode``): the converter's bytes, and a memo that cannot lie.

The cattrs road (``_converter.encode_request``) is the reference: every body is compared
with it byte for byte, on an object's first use (nothing remembered), second use (the
memo written) and later uses (the memo spliced in).
"""

from __future__ import annotations

import copy
import datetime as dt
import gc
import pickle
import string
import threading
import traceback
import tracemalloc
import zoneinfo
from collections.abc import Callable
from typing import Any

import attrs
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dumgum_async as dg
from dumgum_async import _converter, _encode
from dumgum_async.exceptions import RequestValidationError
from dumgum_async.testing import FakeDumGumServer, sample_requests
from tests.helpers.bodies import full_request, minimal_request

Profile = dg.Profile
Message = dg.Message
SuggestionRequest = dg.SuggestionRequest

PROPERTY = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def reference(request: SuggestionRequest) -> bytes:
    return _converter.encode_request(request)


def fast_road(request: SuggestionRequest) -> bytes:
    """The memo road with no fallback: what valid input must take."""
    return orjson.dumps(_encode._MEMO_REQUEST(request), option=orjson.OPT_UTC_Z)


def memo_of(obj: object) -> object:
    return getattr(obj, "_wire", None)


def history_of(profile: Profile) -> Any:
    """The (messages, array bytes, lengths, Fragment) kept on a user profile, or None."""
    return getattr(profile, "_history", None)


def array_of(request: SuggestionRequest) -> bytes:
    """The request's messages array as the converter writes it."""
    return orjson.dumps(orjson.loads(reference(request))["messages"])


# --- strategies: models built directly, unusual but valid values included -------------

_TEXT = st.characters(exclude_categories=["Cs"])  # a lone surrogate cannot be sent
ZONES: list[dt.tzinfo] = [
    dt.UTC,
    dt.timezone(dt.timedelta(hours=5, minutes=30)),
    dt.timezone(-dt.timedelta(hours=3)),
    zoneinfo.ZoneInfo("Europe/Paris"),
    zoneinfo.ZoneInfo("America/New_York"),
]


def text(max_size: int, min_size: int = 0) -> st.SearchStrategy[str]:
    return st.text(_TEXT, min_size=min_size, max_size=max_size)


def member(cls: type[dg.WireEnum]) -> st.SearchStrategy[Any]:
    """A member, or now and then an unknown one (what ``strict_enums=False`` keeps)."""
    unknown = st.text(string.ascii_uppercase + "_", min_size=1, max_size=12).map(cls.unknown)
    return st.one_of(st.sampled_from(list(cls)), unknown)


def optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


def unique(cls: type[dg.WireEnum]) -> st.SearchStrategy[tuple[Any, ...]]:
    return st.lists(st.sampled_from(list(cls)), max_size=4, unique=True).map(tuple)


INT32 = st.integers(-(2**31), 2**31 - 1)
# From 1970: before that, zoneinfo offsets include local mean time (+00:09:21 in Paris),
# which a model refuses (RFC 3339 has no seconds in an offset).
DATETIMES = st.datetimes(min_value=dt.datetime(1970, 1, 1), timezones=st.sampled_from(ZONES))
HTTPS = st.text(string.ascii_letters + string.digits + "/.", min_size=1, max_size=20).map(
    lambda tail: "https://" + tail
)
NAME = optional(text(32, min_size=1))

FEATURES = st.builds(
    dg.Features,
    ethnicity=optional(member(dg.Ethnicity)),
    height=optional(INT32),
    job=optional(text(32)),
    working=optional(st.booleans()),
    interests=unique(dg.Interest),
    sports=unique(dg.Sport),
    smoking=optional(member(dg.Smoking)),
    children_count=optional(INT32),
)


@st.composite
def profiles(draw: st.DrawFn) -> Profile:
    first, nickname = draw(
        st.sampled_from([("Léa", None), (None, "jules"), ("Marc", "m_92"), ("Zoé", "")])
    )
    return Profile(
        id=draw(text(20)),
        gender=draw(member(dg.Gender)),
        first_name=first,
        nickname=nickname,
        version=draw(optional(text(20))),
        description=draw(optional(text(60))),
        birthdate=draw(optional(st.dates())),
        country_code=draw(optional(st.sampled_from(["FR", "us", "De"]))),
        city=draw(optional(text(64))),
        time_zone=draw(optional(st.sampled_from(["Europe/Paris", "UTC", "Asia/Tokyo"]))),
        features=draw(optional(FEATURES)),
        personality=draw(optional(member(dg.Personality))),
        main_picture_url=draw(optional(HTTPS)),
        pictures=tuple(draw(st.lists(HTTPS, max_size=2))),
        expires_at=draw(optional(DATETIMES)),
        children=tuple(
            draw(st.lists(st.builds(dg.Child, name=NAME, age=optional(INT32)), max_size=2))
        ),
        pets=tuple(draw(st.lists(st.builds(dg.Pet, name=NAME, type=NAME), max_size=2))),
    )


@st.composite
def messages(draw: st.DrawFn, message_id: str) -> Message:
    return Message(
        id=message_id,
        sender=draw(member(dg.Sender)),
        date=draw(DATETIMES),
        text=draw(optional(text(80))),
        picture_urls=tuple(draw(st.lists(HTTPS, max_size=2))),
        poke=draw(optional(st.booleans())),
        gifts=tuple(
            draw(st.lists(st.builds(dg.Gift, name=text(10), tier=member(dg.GiftTier)), max_size=2))
        ),
        sticker=draw(optional(text(40))),
    )


@st.composite
def histories(draw: st.DrawFn) -> tuple[Profile, Profile, dg.Language, list[Message]]:
    """Two profiles, a language and a history of messages with unique ids."""
    n = draw(st.integers(0, 8))
    history = [draw(messages(f"m{i}")) for i in range(n)]
    return draw(profiles()), draw(profiles()), draw(member(dg.Language)), history


# --- the same bytes as the converter ---------------------------------------------------


@PROPERTY
@given(parts=histories())
def test_every_use_of_a_generated_request_writes_the_converters_bytes(
    parts: tuple[Profile, Profile, dg.Language, list[Message]],
) -> None:
    user, persona, language, history = parts
    request = SuggestionRequest(
        user_profile=user, persona_profile=persona, language=language, messages=tuple(history)
    )
    expected = reference(request)
    assert [fast_road(request) for _ in range(3)] == [expected] * 3


@PROPERTY
@given(parts=histories())
def test_a_history_sliding_over_shared_objects_writes_the_converters_bytes(
    parts: tuple[Profile, Profile, dg.Language, list[Message]],
) -> None:
    user, persona, language, history = parts
    for end in range(len(history) + 1):  # each turn: the objects of the turns before
        request = SuggestionRequest(
            user_profile=user,
            persona_profile=persona,
            language=language,
            messages=tuple(history[max(0, end - 3) : end]),
        )
        assert fast_road(request) == reference(request)


@PROPERTY
@given(parts=histories())
def test_the_unshared_road_writes_the_converters_bytes(
    parts: tuple[Profile, Profile, dg.Language, list[Message]],
) -> None:
    user, persona, language, history = parts
    request = SuggestionRequest(
        user_profile=user, persona_profile=persona, language=language, messages=tuple(history)
    )
    assert _encode.encode_unshared(request) == reference(request)
    assert memo_of(user) is None


@pytest.mark.parametrize("seed", [0, 1])
def test_realistic_samples_write_the_converters_bytes_on_every_use(seed: int) -> None:
    for data in sample_requests(100, seed=seed):
        request = SuggestionRequest.from_dict(data)
        expected = reference(request)
        assert [fast_road(request) for _ in range(3)] == [expected] * 3


@pytest.mark.parametrize("sample", [full_request, minimal_request], ids=["full", "minimal"])
def test_valid_requests_never_take_the_converters_road(
    sample: Callable[[], dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    request = SuggestionRequest.from_dict(sample())
    expected = reference(request)

    def refused(request: object) -> bytes:
        raise AssertionError("the fast road fell back to the converter")

    monkeypatch.setattr(_converter, "encode_request", refused)
    assert [_encode.encode_request(request) for _ in range(3)] == [expected] * 3
    assert _encode.encode_unshared(request) == expected


# --- the memo: from the second use, exact size, right bytes ---------------------------


def test_the_first_use_only_counts_the_profiles() -> None:
    request = SuggestionRequest.from_dict(full_request())
    _encode.encode_request(request)
    assert memo_of(request.persona_profile) == _encode._SEEN
    assert {memo_of(m) for m in request.messages} == {None}


def test_the_history_is_kept_once_its_user_profile_was_sent_before() -> None:
    request = SuggestionRequest.from_dict(full_request())
    _encode.encode_request(request)
    assert history_of(request.user_profile) is None
    # A new request of the same objects, as the next turn of a conversation.
    _encode.encode_request(attrs.evolve(request))
    kept, body, lengths, fragment = history_of(request.user_profile)
    assert kept is request.messages
    assert body == array_of(request) == orjson.dumps(fragment)
    assert sum(lengths) + len(lengths) + 1 == len(body)  # the elements, commas, brackets
    assert all(memo_of(m) is None for m in request.messages)  # no memo per message


def test_the_second_use_keeps_the_objects_own_json() -> None:
    request = SuggestionRequest.from_dict(full_request())
    _encode.encode_request(request)
    _encode.encode_request(request)
    profile = request.persona_profile
    memo = memo_of(profile)
    assert isinstance(memo, orjson.Fragment)
    assert orjson.dumps(memo) == orjson.dumps(
        _converter._ENCODE.unstructure(profile, Profile), option=orjson.OPT_UTC_Z
    )


def test_a_memo_is_an_exact_size_copy() -> None:
    # sys.getsizeof cannot see it: orjson's bytes report their length but keep the
    # whole output buffer (4 KB for a small message), which tracemalloc does see.
    requests = [SuggestionRequest.from_dict(full_request()) for _ in range(50)]
    for request in requests:
        _encode.encode_request(request)
    tracemalloc.start()
    try:
        for request in requests:  # new requests of the same parts: the parts' memos
            _encode.encode_request(attrs.evolve(request))
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    text = sum(
        len(orjson.dumps(memo_of(o))) for r in requests for o in (r.user_profile, r.persona_profile)
    )
    text += sum(len(history_of(r.user_profile)[1]) for r in requests)
    # The bytes themselves plus, per profile, a bytes header, a Fragment, and for the
    # user's history its tuple and the list of 20 lengths (~300 B).
    assert held < text + 50 * 2 * 160 + 50 * 400


def test_a_requests_own_memo_is_an_exact_size_copy() -> None:
    requests = [SuggestionRequest.from_dict(full_request()) for _ in range(50)]
    for request in requests:
        _encode.encode_request(request)
    tracemalloc.start()
    try:
        bodies = [_encode.encode_request(request) for request in requests]
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert all(memo_of(r) is body for r, body in zip(requests, bodies, strict=True))
    # The bodies, plus per request a bytes header, the list, and what this second use
    # made besides: the two profiles' memos and the user's history.
    profiles = sum(len(orjson.dumps(memo_of(r.user_profile))) * 2 for r in requests)
    histories = sum(len(history_of(r.user_profile)[1]) for r in requests)
    assert held < sum(map(len, bodies)) + profiles + histories + 50 * 800


def test_an_object_in_a_fixed_offset_zone_is_remembered() -> None:
    when = dt.datetime(2025, 4, 25, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    message = Message(id="m1", sender=dg.Sender.USER, date=when, text="hi")
    request = SuggestionRequest(
        user_profile=Profile(id="u", gender=dg.Gender.MAN, first_name="Marc"),
        persona_profile=Profile(id="p", gender=dg.Gender.WOMAN, nickname="jules"),
        language=dg.Language.FR,
        messages=(message,),
    )
    for _ in range(3):
        _encode.encode_request(attrs.evolve(request))
    assert history_of(request.user_profile)[0] is request.messages


class _MovingZone(dt.tzinfo):
    """A tzinfo whose offset can change: the bytes of a date in it are not fixed."""

    def __init__(self) -> None:
        self.hours = 1

    def utcoffset(self, _: dt.datetime | None) -> dt.timedelta:
        return dt.timedelta(hours=self.hours)

    def dst(self, _: dt.datetime | None) -> dt.timedelta:
        return dt.timedelta(0)

    def tzname(self, _: dt.datetime | None) -> str:
        return "moving"


def test_a_date_whose_zone_can_change_is_never_served_stale() -> None:
    zone = _MovingZone()
    message = Message(
        id="m1", sender=dg.Sender.USER, date=dt.datetime(2025, 4, 25, 10, 0, tzinfo=zone)
    )
    request = SuggestionRequest.from_dict(minimal_request())
    request = attrs.evolve(request, messages=(message,))
    for _ in range(3):
        _encode.encode_request(request)
    assert history_of(request.user_profile) is None
    zone.hours = 4
    assert _encode.encode_request(request) == reference(request)
    assert b"+04:00" in _encode.encode_request(request)


def test_a_zoneinfo_date_is_encoded_afresh_every_time() -> None:
    paris = dt.datetime(2025, 4, 25, 10, 0, tzinfo=zoneinfo.ZoneInfo("Europe/Paris"))
    profile = Profile(id="u", gender=dg.Gender.MAN, first_name="Marc", expires_at=paris)
    request = attrs.evolve(SuggestionRequest.from_dict(minimal_request()), user_profile=profile)
    assert [fast_road(request) for _ in range(3)] == [reference(request)] * 3
    assert memo_of(profile) == _encode._SEEN


def test_a_request_sent_before_is_answered_from_its_own_memo() -> None:
    request = SuggestionRequest.from_dict(full_request())
    first = _encode.encode_request(request)
    assert memo_of(request) == _encode._SEEN
    second = _encode.encode_request(request)
    assert memo_of(request) == second == first == reference(request)
    assert _encode.encode_request(request) is memo_of(request)


def test_a_request_whose_dates_can_change_never_keeps_its_body() -> None:
    zone = _MovingZone()
    message = Message(
        id="m1", sender=dg.Sender.USER, date=dt.datetime(2025, 4, 25, 10, 0, tzinfo=zone)
    )
    request = attrs.evolve(SuggestionRequest.from_dict(minimal_request()), messages=(message,))
    for _ in range(3):
        _encode.encode_request(request)
    assert memo_of(request) == _encode._SEEN
    zone.hours = 4
    assert b"+04:00" in _encode.encode_request(request)


@PROPERTY
@given(parts=histories())
def test_every_use_of_one_request_object_writes_the_converters_bytes(
    parts: tuple[Profile, Profile, dg.Language, list[Message]],
) -> None:
    user, persona, language, history = parts
    request = SuggestionRequest(
        user_profile=user, persona_profile=persona, language=language, messages=tuple(history)
    )
    expected = reference(request)
    assert [_encode.encode_request(request) for _ in range(3)] == [expected] * 3


# --- the history kept on a user profile ----------------------------------------------


@st.composite
def conversations(
    draw: st.DrawFn,
) -> tuple[list[Profile], Profile, list[Message], list[tuple[int, int, int]]]:
    """Two user profiles, a persona, a pool of messages, and turns: (user, start, end)."""
    pool = [draw(messages(f"m{i}")) for i in range(draw(st.integers(1, 10)))]
    bounds = st.integers(0, len(pool))
    turns = draw(st.lists(st.tuples(st.integers(0, 1), bounds, bounds), min_size=1, max_size=12))
    return [draw(profiles()), draw(profiles())], draw(profiles()), pool, turns


@PROPERTY
@given(parts=conversations())
def test_any_sequence_of_histories_over_shared_messages_writes_the_converters_bytes(
    parts: tuple[list[Profile], Profile, list[Message], list[tuple[int, int, int]]],
) -> None:
    # Windows that slide, grow, shrink, jump and come back, for two users in turn.
    users, persona, pool, turns = parts
    for user, start, end in turns:
        request = SuggestionRequest(
            user_profile=users[user],
            persona_profile=persona,
            language=dg.Language.FR,
            messages=tuple(pool[min(start, end) : max(start, end)]),
        )
        assert _encode.encode_request(request) == reference(request)


def _turns(history: list[Message], user: Profile) -> list[SuggestionRequest]:
    base = SuggestionRequest.from_dict(full_request())
    return [
        attrs.evolve(base, user_profile=user, messages=tuple(history[max(0, end - 4) : end]))
        for end in range(1, len(history) + 1)
    ]


def _counting_fresh(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    fresh = _encode._fresh

    def counted(holder: Any, kept: tuple[Any, ...]) -> Any:
        calls.append(len(kept))
        return fresh(holder, kept)

    monkeypatch.setattr(_encode, "_fresh", counted)
    return calls


def test_a_window_sliding_by_one_or_two_is_spliced_not_encoded_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    request = SuggestionRequest.from_dict(full_request(n_messages=12))
    history, user = list(request.messages), request.user_profile
    _encode.encode_request(request)  # the profile is sent once: the next are seen
    calls = _counting_fresh(monkeypatch)
    turns = [history[0:4], history[1:5], history[3:7], history[3:8], history[4:8]]
    for window in turns:
        turn = attrs.evolve(request, messages=tuple(window))
        assert _encode.encode_request(turn) == reference(turn)
        assert history_of(user)[0] is turn.messages
    assert calls == [4]  # the first window only: every later one was spliced


def test_an_equal_message_that_is_another_object_is_never_spliced_in() -> None:
    # Equal instants in two zones: equal messages, written differently.
    utc = dt.datetime(2025, 4, 25, 10, 0, tzinfo=dt.UTC)
    paris = utc.astimezone(dt.timezone(dt.timedelta(hours=2)))
    first = Message(id="m1", sender=dg.Sender.USER, date=utc, text="hi")
    twin = attrs.evolve(first, date=paris)
    second = Message(id="m2", sender=dg.Sender.PERSONA, date=utc, text="hello")
    third = Message(id="m3", sender=dg.Sender.USER, date=utc, text="again")
    assert twin == first
    request = SuggestionRequest.from_dict(full_request())
    _encode.encode_request(request)
    for window in [(first, second), (twin, second), (twin, second, third), (second, third)]:
        turn = attrs.evolve(request, messages=window)
        assert _encode.encode_request(turn) == reference(turn)
    assert b"+02:00" in _encode.encode_request(attrs.evolve(request, messages=(twin, second)))


def test_a_message_whose_date_can_change_keeps_the_history_out_of_the_cache() -> None:
    zone = _MovingZone()
    moving = Message(
        id="mz", sender=dg.Sender.USER, date=dt.datetime(2025, 4, 25, 10, 0, tzinfo=zone)
    )
    request = SuggestionRequest.from_dict(full_request())
    _encode.encode_request(request)
    turn = attrs.evolve(request, messages=(*request.messages, moving))
    _encode.encode_request(attrs.evolve(request))  # a history kept...
    assert _encode.encode_request(turn) == reference(turn)  # ...not extended by it
    assert history_of(request.user_profile)[0] is request.messages
    zone.hours = 5
    assert b"+05:00" in _encode.encode_request(attrs.evolve(turn))


# --- what a memo may never reach ------------------------------------------------------


def _remembered() -> SuggestionRequest:
    request = SuggestionRequest.from_dict(full_request())
    for _ in range(3):
        _encode.encode_request(attrs.evolve(request))
    assert isinstance(memo_of(request.user_profile), orjson.Fragment)
    assert history_of(request.user_profile)[0] is request.messages
    return request


def test_models_are_frozen_so_a_memo_cannot_outlive_its_values() -> None:
    profile = _remembered().user_profile
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        profile.first_name = "Other"  # type: ignore[misc]


def test_evolve_starts_without_a_memo_and_writes_the_new_values() -> None:
    request = _remembered()
    renamed = attrs.evolve(request.user_profile, first_name="Paul")
    assert memo_of(renamed) is None
    evolved = attrs.evolve(request, user_profile=renamed)
    assert _encode.encode_request(evolved) == reference(evolved)
    assert b'"firstName":"Paul"' in _encode.encode_request(evolved)


def test_an_evolved_message_does_not_carry_the_old_text() -> None:
    request = _remembered()
    edited = attrs.evolve(request.messages[0], text="edited")
    evolved = attrs.evolve(request, messages=(edited, *request.messages[1:]))
    for _ in range(3):
        assert _encode.encode_request(evolved) == reference(evolved)
    assert b'"text":"edited"' in _encode.encode_request(evolved)


@pytest.mark.parametrize("duplicate", [copy.copy, copy.deepcopy], ids=["copy", "deepcopy"])
def test_copies_start_without_a_memo(duplicate: Callable[[Any], Any]) -> None:
    request = _remembered()
    twin = duplicate(request.user_profile)
    assert memo_of(twin) is None
    assert history_of(twin) is None
    evolved = attrs.evolve(request, user_profile=twin)
    assert _encode.encode_request(evolved) == reference(request)


@pytest.mark.parametrize(
    "duplicate",
    [copy.copy, copy.deepcopy, attrs.evolve, lambda r: pickle.loads(pickle.dumps(r))],
    ids=["copy", "deepcopy", "evolve", "pickle"],
)
def test_copies_of_a_remembered_request_start_without_its_body(
    duplicate: Callable[[Any], Any],
) -> None:
    request = SuggestionRequest.from_dict(full_request())
    _encode.encode_request(request)
    _encode.encode_request(request)
    assert isinstance(memo_of(request), bytes)
    twin = duplicate(request)
    assert twin == request
    assert memo_of(twin) is None


def test_pickling_a_remembered_object_works_and_does_not_carry_the_memo() -> None:
    profile = _remembered().user_profile
    back = pickle.loads(pickle.dumps(profile))
    assert back == profile
    assert memo_of(back) is None
    assert history_of(back) is None


def test_a_subclass_takes_the_converters_road_and_keeps_no_memo() -> None:
    @attrs.frozen(kw_only=True)
    class Persona(Profile):
        pass

    persona = Persona(id="p", gender=dg.Gender.WOMAN, nickname="jules")
    request = attrs.evolve(SuggestionRequest.from_dict(minimal_request()), persona_profile=persona)
    assert [_encode.encode_request(request) for _ in range(3)] == [reference(request)] * 3
    assert memo_of(persona) is None


class _Odd(str):
    """A str subclass that cattrs' ``value != None`` test would see differently."""

    def __ne__(self, other: object) -> bool:
        return False


def test_a_value_of_an_unusual_class_takes_the_converters_road() -> None:
    profile = Profile(id="u", gender=dg.Gender.MAN, first_name="Marc", city=_Odd("Lyon"))
    request = attrs.evolve(SuggestionRequest.from_dict(minimal_request()), user_profile=profile)
    assert _encode.encode_request(request) == reference(request)
    assert b"Lyon" not in _encode.encode_request(request)  # cattrs left it out
    with pytest.raises(_encode._Unusual):
        fast_road(request)


def test_a_history_that_is_a_list_is_never_kept() -> None:
    # Models make it a tuple; forced in, a list could change under a kept history.
    request = SuggestionRequest.from_dict(full_request())
    _encode.encode_request(request)
    forced = attrs.evolve(request)
    object.__setattr__(forced, "messages", list(request.messages))
    assert _encode.encode_request(forced) == reference(request)
    assert history_of(request.user_profile) is None


def test_an_unsendable_value_is_named_as_the_converter_names_it() -> None:
    request = _remembered()
    bad = attrs.evolve(request, language=dg.Language.unknown("X\ud800"))
    with pytest.raises(RequestValidationError) as ours:
        _encode.encode_request(bad)
    with pytest.raises(RequestValidationError) as theirs:
        reference(bad)
    assert ours.value.problems == theirs.value.problems


def test_a_json_key_cannot_fill_the_memo() -> None:
    data = full_request()
    data["userProfile"]["_wire"] = "forged"
    data["userProfile"]["Wire"] = "forged"
    assert memo_of(SuggestionRequest.from_dict(data).user_profile) is None


# --- the slot is invisible ----------------------------------------------------------


def test_a_remembered_object_looks_like_a_fresh_one() -> None:
    used = _remembered().user_profile
    fresh = SuggestionRequest.from_dict(full_request()).user_profile
    assert used == fresh
    assert hash(used) == hash(fresh)
    assert repr(used) == repr(fresh)
    assert attrs.asdict(used) == attrs.asdict(fresh)
    assert used.to_dict() == fresh.to_dict() == full_request()["userProfile"]
    assert "_wire" not in attrs.fields_dict(Profile)
    assert "_history" not in attrs.fields_dict(Profile)


# --- memory and threads ----------------------------------------------------------


def test_distinct_objects_leave_nothing_behind() -> None:
    def turn() -> None:
        request = SuggestionRequest.from_dict(full_request())
        for _ in range(3):  # a memo on every object
            _encode.encode_request(request)

    for _ in range(50):
        turn()
    gc.collect()
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        for _ in range(500):
            turn()
        gc.collect()
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert after - before < 64 * 1024  # 500 requests' memos would be ~3.5 MB


def test_threads_encoding_the_same_objects_all_write_the_right_bytes() -> None:
    request = SuggestionRequest.from_dict(full_request())
    expected = reference(request)
    seen: list[bytes] = []

    def work() -> None:
        for i in range(200):
            fresh = attrs.evolve(request, messages=request.messages[i % 5 :])
            if _encode.encode_request(fresh) != reference(fresh):
                seen.append(b"wrong")
        seen.append(_encode.encode_request(request))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == [expected] * 4


# --- what the server saw --------------------------------------------------------


async def test_the_server_receives_the_converters_bytes_turn_after_turn() -> None:
    base = SuggestionRequest.from_dict(full_request(n_messages=25))
    async with (
        FakeDumGumServer(api_key="k") as server,
        dg.DumGumClient(api_key="k", base_url=server.url, retry=None) as client,
    ):
        sent = []
        for turn in range(5):
            request = attrs.evolve(base, messages=base.messages[turn : turn + 20])
            sent.append(reference(request))
            await client.suggest(request)
        await client.suggest(full_request())
    assert [r.body for r in server.requests[:5]] == sent
    assert server.requests[5].body == reference(SuggestionRequest.from_dict(full_request()))


def test_a_traceback_through_a_generated_encoder_shows_its_source_line() -> None:
    with pytest.raises(_encode._Unusual) as raised:
        _encode._ENC_MESSAGE(object())  # type: ignore[arg-type]
    text = "".join(traceback.format_exception(raised.value))
    assert "<dumgum generated encoders>" in text
    assert "if o.__class__ is not" in text
