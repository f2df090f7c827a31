"""Plausible, deterministic chat suggestions for the emulator's 200 answers.

The three suggestions are what the *persona* could send to the *user* next.  They draw on
the conversation:

1. a reaction to the most recent gift, sticker or poke among the last three messages from
   the user (in that order of preference), otherwise a warm opener; always addressed to
   the user by ``firstName`` (or ``nickname``);
2. a comeback on the last user message: it quotes the message when it is short, otherwise
   its longest meaningful word; a question when there is no text;
3. a remark on an interest both profiles share (``features.interests``), else on one of
   the user's interests, else on the user's city, else a question.

Choices among the templates are made from a BLAKE2b hash of the canonical request body,
so the same body always gets the same suggestions.  Templates are data, read on first use
from ``data/phrasebooks.json``: one :class:`Phrasebook` per language, plus small spelling
variants (``DE_CH`` writes "ss" for "ß", British-style English spells "favourite").
Languages without a phrasebook use English.  The words never echoed are in
``data/stopwords.json``.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dumgum_async.testing._data import (
    DataFileError,
    document,
    load_json,
    mapping,
    string,
    strings,
    tuples,
    where,
)

__all__ = [
    "Phrasebook",
    "keyword",
    "phrasebook_for",
    "phrasebooks",
    "suggestions_for",
]


@dataclass(frozen=True, slots=True)
class Phrasebook:
    """The templates of one language.

    Placeholders: ``{name}`` the user's name, ``{gift}`` a gift name, ``{sticker}`` a
    sticker description, ``{word}`` a word of the last message, ``{quote}`` the whole last
    message, ``{interest}`` a localized interest, ``{city}`` the user's city.
    """

    opener: tuple[str, ...]  # {name}
    gift: tuple[str, ...]  # {name} {gift}
    poke: tuple[str, ...]  # {name}
    sticker: tuple[str, ...]  # {name} {sticker}
    echo_word: tuple[str, ...]  # {word}
    echo_quote: tuple[str, ...]  # {quote}
    shared_interest: tuple[str, ...]  # {interest}
    user_interest: tuple[str, ...]  # {interest}
    city: tuple[str, ...]  # {city}
    question: tuple[str, ...]
    interests: Mapping[str, str]  # features.interests value -> phrase fitting the templates
    nameless: str  # used when the profile has no usable name (validation off)


_FILE = "phrasebooks.json"
_STOPWORDS_FILE = "stopwords.json"


def _phrasebook(raw: Any, path: str) -> Phrasebook:
    entry = mapping(raw, _FILE, path)

    def templates(field: str) -> tuple[str, ...]:
        return strings(entry.get(field), _FILE, f"{path}.{field}")

    interests = mapping(entry.get("interests"), _FILE, f"{path}.interests")
    return Phrasebook(
        opener=templates("opener"),
        gift=templates("gift"),
        poke=templates("poke"),
        sticker=templates("sticker"),
        echo_word=templates("echo_word"),
        echo_quote=templates("echo_quote"),
        shared_interest=templates("shared_interest"),
        user_interest=templates("user_interest"),
        city=templates("city"),
        question=templates("question"),
        interests={
            key: string(label, _FILE, f"{path}.interests.{key}") for key, label in interests.items()
        },
        nameless=string(entry.get("nameless"), _FILE, f"{path}.nameless"),
    )


@functools.cache
def phrasebooks() -> Mapping[str, Phrasebook]:
    """Phrasebooks by language code, read once from ``data/phrasebooks.json``.

    A code not listed uses the phrasebook of its prefix, then ``EN`` (see
    :func:`phrasebook_for`).

    Raises:
        DataFileError: The file is missing or malformed (the message names the entry).
    """
    books = mapping(document(_FILE).get("phrasebooks"), _FILE, "phrasebooks")
    out = {code: _phrasebook(raw, f"phrasebooks.{code}") for code, raw in books.items()}
    if "EN" not in out:
        raise DataFileError(f"{where(_FILE)}: phrasebooks.EN is required (the fallback)")
    return out


@functools.cache
def _variants() -> Mapping[str, tuple[tuple[str, ...], ...]]:
    """Spelling variants applied to the finished text, by exact language code."""
    table = mapping(document(_FILE).get("spelling_variants"), _FILE, "spelling_variants")
    return {
        code: tuples(pairs, _FILE, f"spelling_variants.{code}", 2) for code, pairs in table.items()
    }


@functools.cache
def _stopwords() -> frozenset[str]:
    """Words too common to be worth echoing (all languages together)."""
    return frozenset(strings(load_json(_STOPWORDS_FILE), _STOPWORDS_FILE, "the list"))


_WORD_RE = re.compile("[^\\W\\d_]+(?:['\u2019-][^\\W\\d_]+)*")
_SENTENCE_END_RE = re.compile(r"[.!?\u2026]+")
_QUOTE_MAX = 60
_EVENT_LOOKBACK = 3


def phrasebook_for(language: Any) -> Phrasebook:
    """Return the phrasebook for a request ``language`` (e.g. ``"FR_CA"`` uses ``"FR"``).

    Unknown or non-string languages get English.
    """
    books = phrasebooks()
    if not isinstance(language, str):
        return books["EN"]
    book = books.get(language)
    if book is None:
        book = books.get(language.split("_", 1)[0], books["EN"])
    return book


@functools.lru_cache(maxsize=4096)
def keyword(text: str) -> str | None:
    """Return the word of ``text`` a reply would pick up on, or None.

    Candidates have at least four letters and are not common words; the longest wins,
    a capitalized word inside a sentence (a name, a place) counting three letters more;
    the first one wins ties.
    """
    best: str | None = None
    best_score = 0
    for sentence in _SENTENCE_END_RE.split(text):
        for position, word in enumerate(_WORD_RE.findall(sentence)):
            if len(word) < 4 or word.lower() in _stopwords():
                continue
            score = len(word) + 3 if position and word[0].isupper() else len(word)
            if score > best_score:
                best, best_score = word, score
    return best


def _str(mapping: Any, key: str) -> str | None:
    if isinstance(mapping, dict):
        value = mapping.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _interest_list(profile: Any) -> list[str]:
    features = profile.get("features") if isinstance(profile, dict) else None
    interests = features.get("interests") if isinstance(features, dict) else None
    if not isinstance(interests, list):
        return []
    return [i for i in interests if isinstance(i, str)]


def _last_event(messages: Sequence[Any]) -> tuple[str, str] | None:
    """The most recent gift, sticker or poke from the user among the last messages."""
    for message in reversed(messages[-_EVENT_LOOKBACK:]):
        if not isinstance(message, dict) or message.get("sender") != "USER":
            continue
        gifts = message.get("gifts")
        if isinstance(gifts, list):
            for gift in gifts:
                name = _str(gift, "name")
                if name is not None:
                    return "gift", name
        sticker = _str(message, "sticker")
        if sticker is not None:
            return "sticker", sticker
        if message.get("poke") is True:
            return "poke", ""
    return None


def _last_text(messages: Sequence[Any]) -> str | None:
    """The text of the last user message that has one (else of the last message with text)."""
    fallback: str | None = None
    for message in reversed(messages):
        text = _str(message, "text")
        if text is None:
            continue
        if message.get("sender") == "USER":
            return text
        if fallback is None:
            fallback = text
    return fallback


def _capitalize(text: str) -> str:
    return text[:1].upper() + text[1:] if text[:1].islower() else text


def suggestions_for(body: Mapping[str, Any], canonical: bytes) -> list[str]:
    """Write three suggestions the persona could send next.

    Args:
        body: The parsed request (validated or not: odd shapes are tolerated).
        canonical: A canonical serialization of ``body`` (sorted keys); its BLAKE2b hash
            drives every choice, so equal requests get equal suggestions.

    Returns:
        Three distinct strings in the request's language.
    """
    digest = hashlib.blake2b(canonical, digest_size=16).digest()

    def pick(slot: int, options: Sequence[str]) -> str:
        return options[digest[slot] % len(options)]

    language = body.get("language")
    book = phrasebook_for(language)
    user = body.get("userProfile")
    persona = body.get("personaProfile")
    raw_messages = body.get("messages")
    messages: Sequence[Any] = raw_messages if isinstance(raw_messages, list) else ()
    name = _str(user, "firstName") or _str(user, "nickname") or book.nameless

    # 1. React to a gift / sticker / poke, or open warmly; always uses the name.
    event = _last_event(messages)
    if event is None:
        first = pick(0, book.opener).format(name=name)
    elif event[0] == "gift":
        first = pick(0, book.gift).format(name=name, gift=event[1])
    elif event[0] == "sticker":
        first = pick(0, book.sticker).format(name=name, sticker=event[1])
    else:
        first = pick(0, book.poke).format(name=name)

    # 2. Pick up on the last message.
    questions = list(book.question)
    text = _last_text(messages)
    word = keyword(text) if text is not None else None
    if text is not None and len(text) <= _QUOTE_MAX and "\n" not in text and digest[1] & 1:
        second = pick(2, book.echo_quote).format(quote=text)
    elif word is not None:
        second = pick(2, book.echo_word).format(word=word)
    else:
        second = questions.pop(digest[2] % len(questions))

    # 3. A shared interest, the user's interest, the user's city, or a question.
    user_interests = _interest_list(user)
    persona_interests = set(_interest_list(persona))
    shared = [i for i in user_interests if i in persona_interests]
    city = _str(user, "city")
    if shared or user_interests:
        chosen = pick(4, shared or user_interests)
        label = book.interests.get(chosen, chosen.lower().replace("_", " "))
        third = pick(3, book.shared_interest if shared else book.user_interest)
        third = third.format(interest=label)
    elif city is not None:
        third = pick(3, book.city).format(city=city)
    else:
        third = questions[digest[3] % len(questions)]

    out = [_capitalize(s) for s in (first, second, third)]
    variants = _variants().get(language) if isinstance(language, str) else None
    if variants:
        for old, new in variants:
            out = [s.replace(old, new) for s in out]
    return out
