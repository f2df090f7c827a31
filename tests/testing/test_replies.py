"""The suggestions: language, determinism, and what they draw on."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from dumgum_async.testing._engine import Emulator
from dumgum_async.testing._replies import Phrasebook, keyword, phrasebooks
from tests.helpers.bodies import conversation_request, minimal_request, with_last_message
from tests.helpers.emulators import make_emulator

_HEADERS = {"Authorization": "Bearer test-key", "Content-Type": "application/json"}


def _suggest(body: Any, emulator: Emulator | None = None) -> list[str]:
    emulator = emulator or make_emulator()
    raw = json.dumps(body).encode() if not isinstance(body, bytes) else body
    reply = emulator.handle("POST", "/cs/v1/content_creation/suggestion", _HEADERS, raw)
    assert reply.status == 200, reply.body
    suggestions = json.loads(reply.body)["suggestions"]
    assert isinstance(suggestions, list)
    return [str(s) for s in suggestions]


def _normalize(text: str) -> str:
    return text.replace("ß", "ss").lower()


def _templates(book: Phrasebook) -> list[re.Pattern[str]]:
    groups = (
        book.opener,
        book.gift,
        book.poke,
        book.sticker,
        book.echo_word,
        book.echo_quote,
        book.shared_interest,
        book.user_interest,
        book.city,
        book.question,
    )
    patterns = []
    for template in (t for group in groups for t in group):
        parts = re.split(r"\{\w+\}", _normalize(template))
        patterns.append(re.compile(".+".join(re.escape(p) for p in parts), re.DOTALL))
    return patterns


def _written_in(suggestions: list[str], book: Phrasebook) -> bool:
    patterns = _templates(book)
    return all(any(p.fullmatch(_normalize(s)) for p in patterns) for s in suggestions)


@pytest.mark.parametrize(
    ("language", "book"),
    [
        ("EN", "EN"),
        ("EN_GB", "EN"),
        ("FR", "FR"),
        ("FR_BE", "FR"),
        ("FR_CA", "FR"),
        ("DE", "DE"),
        ("DE_CH", "DE"),
        ("DE_AT", "DE"),
        ("ES", "ES"),
        ("ES_LATAM", "ES"),
        ("IT", "IT"),
        ("PT_PT", "PT"),
        ("PT_BR", "PT_BR"),
        ("NL", "NL"),
        ("NL_BE", "NL"),
        ("RO", "EN"),
        ("JA", "EN"),
    ],
)
def test_suggestions_are_written_in_the_requested_language(language: str, book: str) -> None:
    suggestions = _suggest(conversation_request(language))
    assert _written_in(suggestions, phrasebooks()[book])
    if book != "EN":
        assert not _written_in(suggestions, phrasebooks()["EN"])


def test_french_request_gets_french_text() -> None:
    body = with_last_message(minimal_request("FR"), text="Je rentre de Marseille, épuisé")
    first, second, third = _suggest(body)
    assert body["userProfile"]["firstName"] in first
    assert "Marseille" in second
    assert any(word in " ".join((first, second, third)) for word in ("tu", "toi", "Tu"))


def test_swiss_german_writes_ss_for_sharp_s() -> None:
    for messages in range(1, 12):
        text = " ".join(_suggest(conversation_request("DE_CH", messages=messages)))
        assert "ß" not in text


def test_same_body_gets_the_same_suggestions() -> None:
    body = conversation_request()
    reordered = dict(reversed(list(body.items())))
    assert _suggest(body) == _suggest(body, make_emulator(seed=99)) == _suggest(reordered)


def test_different_conversations_get_varied_suggestions() -> None:
    seen = {tuple(_suggest(conversation_request(messages=n))) for n in range(2, 12)}
    assert len(seen) > 3


def test_suggestions_use_the_users_first_name() -> None:
    assert "Thomas" in _suggest(conversation_request())[0]


def test_suggestions_fall_back_to_the_nickname() -> None:
    body = minimal_request()
    del body["userProfile"]["firstName"]
    body["userProfile"]["nickname"] = "Sammy"
    assert "Sammy" in _suggest(body)[0]


def test_suggestions_pick_up_the_last_message() -> None:
    body = with_last_message(
        conversation_request(), text="I visited Lisbon with my sister last weekend, it was amazing"
    )
    assert "Lisbon" in _suggest(body)[1]


def test_keyword_prefers_names_and_places_over_common_words() -> None:
    assert keyword("That sounds lovely. I went to the Louvre last spring") == "Louvre"
    assert keyword("ok") is None


def test_suggestions_thank_for_a_gift() -> None:
    body = with_last_message(conversation_request(), gifts=[{"name": "Teddy Bear", "tier": "HIGH"}])
    first = _suggest(body)[0]
    assert "Teddy Bear" in first
    assert "Thomas" in first


def test_suggestions_react_to_a_poke() -> None:
    body = with_last_message(conversation_request(), poke=True)
    assert "poke" in _suggest(body)[0].lower()


def test_suggestions_react_to_a_sticker() -> None:
    body = with_last_message(conversation_request(), sticker="a cat blowing a kiss")
    assert "a cat blowing a kiss" in _suggest(body)[0]


def test_suggestions_mention_a_shared_interest() -> None:
    # The user likes HIKING, MUSIC and COOKING; the persona MUSIC, ART and TRAVELING.
    assert "music" in _suggest(conversation_request())[2]
    assert "la musique" in _suggest(conversation_request("FR"))[2]


def test_without_shared_interest_the_users_interest_or_city_is_used() -> None:
    body = conversation_request()
    body["personaProfile"]["features"]["interests"] = ["ASTRONOMY"]
    assert any(word in _suggest(body)[2] for word in ("hiking", "music", "cooking"))
    del body["userProfile"]["features"]["interests"]
    assert "Lyon" in _suggest(body)[2]
