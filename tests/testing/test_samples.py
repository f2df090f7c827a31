"""``dumgum_async.testing.sample_requests``: varied, valid, reproducible conversations."""

from __future__ import annotations

import datetime as _dt
import itertools
from collections import Counter
from typing import Any

import pytest

import dumgum_async as dg
from dumgum_async.testing import sample_requests, validate_request
from dumgum_async.testing._samples import DEFAULT_SAMPLE_LANGUAGES

N = 400


@pytest.fixture(scope="module")
def samples() -> list[dict[str, Any]]:
    """A few hundred conversations of one seed."""
    return list(sample_requests(N, seed=5))


def _messages(samples: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for s in samples for m in s["messages"]]


def test_every_sample_passes_the_emulators_validation(samples: list[dict[str, Any]]) -> None:
    for sample in samples:
        assert validate_request(sample) == [], sample


def test_every_sample_passes_the_clients_validation(samples: list[dict[str, Any]]) -> None:
    for sample in samples:
        assert dg.SuggestionRequest.from_dict(sample).to_dict() is not None


def test_the_same_seed_gives_the_same_conversations_whatever_n() -> None:
    assert list(sample_requests(30, seed=9)) == list(sample_requests(60, seed=9))[:30]


def test_another_seed_gives_other_conversations() -> None:
    assert list(sample_requests(10, seed=1)) != list(sample_requests(10, seed=2))


def test_messages_alternate_and_end_with_the_user(samples: list[dict[str, Any]]) -> None:
    counts = Counter(len(s["messages"]) for s in samples)
    assert set(counts) == set(range(1, 13))
    for sample in samples:
        senders = [m["sender"] for m in sample["messages"]]
        assert senders[-1] == "USER"
        assert all(a != b for a, b in itertools.pairwise(senders))


def test_message_ids_are_unique_across_conversations(samples: list[dict[str, Any]]) -> None:
    ids = [m["id"] for m in _messages(samples)]
    assert len(ids) == len(set(ids))


def test_dates_are_utc_with_a_z_and_increase(samples: list[dict[str, Any]]) -> None:
    for sample in samples:
        dates = [m["date"] for m in sample["messages"]]
        assert all(d.endswith("Z") for d in dates)
        parsed = [_dt.datetime.fromisoformat(d.replace("Z", "+00:00")) for d in dates]
        assert all(p.utcoffset() == _dt.timedelta(0) for p in parsed)
        assert parsed == sorted(parsed)
        assert len(set(parsed)) == len(parsed)


def test_every_default_language_is_used(samples: list[dict[str, Any]]) -> None:
    assert {s["language"] for s in samples} == set(DEFAULT_SAMPLE_LANGUAGES)


def test_only_the_requested_languages_are_used() -> None:
    assert {s["language"] for s in sample_requests(50, languages=["FR", "JA"])} == {"FR", "JA"}


def test_text_is_in_the_conversations_language() -> None:
    french = {m.get("text") for s in sample_requests(50, languages=["FR"]) for m in s["messages"]}
    english = {m.get("text") for s in sample_requests(50, languages=["EN"]) for m in s["messages"]}
    assert not (french - {None}) & (english - {None})


def test_a_language_without_phrases_gets_valid_english_text() -> None:
    sample = next(sample_requests(1, languages=["JA"]))
    assert sample["language"] == "JA"
    assert validate_request(sample) == []


def test_profiles_are_varied(samples: list[dict[str, Any]]) -> None:
    names = {s["userProfile"].get("firstName") for s in samples}
    genders = Counter(s[p]["gender"] for s in samples for p in ("userProfile", "personaProfile"))
    interests = {i for s in samples for i in s["userProfile"]["features"]["interests"]}
    assert len(names) > 40
    assert {"WOMAN", "MAN"} <= set(genders)
    assert len(genders) > 2
    assert len(interests) > 20
    assert any(
        s["userProfile"].get("nickname") and "firstName" not in s["userProfile"] for s in samples
    )


def test_some_messages_carry_gifts_pokes_and_stickers(samples: list[dict[str, Any]]) -> None:
    messages = _messages(samples)
    assert sum("gifts" in m for m in messages) >= 10
    assert sum(m.get("poke") is True for m in messages) >= 10
    assert sum("sticker" in m for m in messages) >= 10
    assert all(m["sender"] == "USER" for m in messages if "gifts" in m or "poke" in m)


def test_user_and_persona_have_different_names(samples: list[dict[str, Any]]) -> None:
    for sample in samples:
        user = sample["userProfile"].get("firstName")
        assert user is None or user != sample["personaProfile"].get("firstName")


def test_generation_is_lazy() -> None:
    huge = sample_requests(10**12)
    assert next(huge)["messages"]


@pytest.mark.parametrize(
    ("n", "languages", "match"),
    [
        (-1, DEFAULT_SAMPLE_LANGUAGES, "n must be"),
        (3, (), "must not be empty"),
        (3, ("EN", "XX"), "'XX'"),
    ],
)
def test_bad_arguments_raise_value_error(n: int, languages: tuple[str, ...], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        sample_requests(n, languages=languages)
