"""Varied, valid sample conversations in the API's JSON shape, for demos and load tests.

Every conversation is built from its own random generator seeded with ``(seed, index)``:
conversation ``i`` is the same whatever ``n`` is, so a longer run extends a shorter one
and a failing item can be regenerated on its own.  Nothing reads the clock, so the
output depends on the arguments only.  What people say (names, places, lines, gifts) is
data, read on first use from ``data/samples.json``.
"""

from __future__ import annotations

import datetime as _dt
import functools
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dumgum_async import Gender, GiftTier, Interest, Language, MusicGenre, Personality, Sport

# Every default lives in the client's _config (a leaf of plain values).
from dumgum_async._config import DEFAULT_SAMPLE_LANGUAGES
from dumgum_async.testing._data import DataFileError, document, mapping, strings, tuples, where

__all__ = ["DEFAULT_SAMPLE_LANGUAGES", "sample_requests"]

MAX_MESSAGES = 12


@dataclass(frozen=True, slots=True)
class _Phrases:
    """What people say in one language.  ``{name}`` is the recipient's name."""

    women: tuple[str, ...]
    men: tuple[str, ...]
    places: tuple[tuple[str, ...], ...]  # country code, city, time zone, postal code
    greetings: tuple[str, ...]
    lines: tuple[str, ...]
    stickers: tuple[str, ...]
    gifts: tuple[tuple[str, ...], ...]  # name, tier
    jobs: tuple[tuple[str, ...], ...]  # as a woman, as a man
    descriptions: tuple[str, ...]


_FILE = "samples.json"


def _phrases_of(raw: Any, path: str) -> _Phrases:
    entry = mapping(raw, _FILE, path)

    def texts(field: str) -> tuple[str, ...]:
        return strings(entry.get(field), _FILE, f"{path}.{field}")

    def rows(field: str, width: int) -> tuple[tuple[str, ...], ...]:
        return tuples(entry.get(field), _FILE, f"{path}.{field}", width)

    return _Phrases(
        women=texts("women"),
        men=texts("men"),
        places=rows("places", 4),
        greetings=texts("greetings"),
        lines=texts("lines"),
        stickers=texts("stickers"),
        gifts=rows("gifts", 2),
        jobs=rows("jobs", 2),
        descriptions=texts("descriptions"),
    )


@functools.cache
def _table() -> tuple[Mapping[str, _Phrases], tuple[str, ...]]:
    """The phrases by language and the nicknames, read once from ``data/samples.json``."""
    data = document(_FILE)
    table = mapping(data.get("phrases"), _FILE, "phrases")
    phrases = {code: _phrases_of(raw, f"phrases.{code}") for code, raw in table.items()}
    if "EN" not in phrases:
        raise DataFileError(f"{where(_FILE)}: phrases.EN is required (the fallback)")
    return phrases, strings(data.get("nicknames"), _FILE, "nicknames")


_WOMEN = (Gender.WOMAN, Gender.TRANS_WOMAN, Gender.TRANSFEMININE)
_MEN = (Gender.MAN, Gender.TRANS_MAN, Gender.TRANSMASCULINE)
# Conversations start somewhere in the first half of 2025, whatever the day it is run.
_EPOCH = _dt.datetime(2025, 1, 1, tzinfo=_dt.UTC)


def _phrases(language: str) -> _Phrases:
    # Languages without phrases of their own borrow those of their base language, else
    # English ("PT" holds Brazilian Portuguese, the default PT_BR's).
    table = _table()[0]
    return table.get(language) or table.get(language.split("_", 1)[0], table["EN"])


def _stamp(moment: _dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _gender(rng: random.Random) -> Gender:
    # Mostly women and men, with transgender profiles now and then.
    if rng.random() < 0.08:
        return rng.choice((*_WOMEN[1:], *_MEN[1:]))
    return rng.choice((Gender.WOMAN, Gender.MAN))


def _name(rng: random.Random, phrases: _Phrases, gender: Gender, taken: str | None) -> str:
    names = phrases.women if gender in _WOMEN else phrases.men
    return rng.choice([name for name in names if name != taken])


def _profile(
    rng: random.Random,
    phrases: _Phrases,
    pid: str,
    gender: Gender,
    interests: list[str],
    *,
    persona: bool,
    taken: str | None = None,
) -> dict[str, Any]:
    name = _name(rng, phrases, gender, taken)
    profile: dict[str, Any] = {"id": pid, "gender": gender.value}
    roll = rng.random()
    if roll < 0.1:
        profile["nickname"] = f"{rng.choice(_table()[1])}_{rng.randint(10, 99)}"
    else:
        profile["firstName"] = name
        if roll > 0.7:
            profile["nickname"] = f"{name.lower()}{rng.randint(1, 99)}"
    if rng.random() < 0.7:
        born = _dt.date(1965, 1, 1) + _dt.timedelta(days=rng.randint(0, 36 * 365))
        profile["birthdate"] = born.isoformat()
    if rng.random() < 0.75:
        country, city, zone, postal = rng.choice(phrases.places)
        profile.update(countryCode=country, city=city, timeZone=zone)
        if rng.random() < 0.4:
            profile["postalCode"] = postal
    if rng.random() < 0.4:
        profile["description"] = rng.choice(phrases.descriptions)
    features: dict[str, Any] = {"interests": interests}
    if rng.random() < 0.5:
        as_woman, as_man = rng.choice(phrases.jobs)
        features["job"] = as_woman if gender in _WOMEN else as_man
    if rng.random() < 0.4:
        features["sports"] = rng.sample([s.value for s in Sport], rng.randint(1, 3))
    if rng.random() < 0.4:
        features["musicGenres"] = rng.sample([g.value for g in MusicGenre], rng.randint(1, 3))
    if rng.random() < 0.3:
        features["height"] = rng.randint(155, 195)
    profile["features"] = features
    if persona:
        profile["personality"] = rng.choice(list(Personality)).value
        if rng.random() < 0.5:
            profile["mainPictureUrl"] = f"https://example.org/personas/{pid}.jpg"
    return profile


def _interests(rng: random.Random) -> tuple[list[str], list[str]]:
    """Interests of the user and the persona; most pairs share one or two."""
    pool = [i.value for i in Interest]
    user = rng.sample(pool, rng.randint(1, 5))
    persona = rng.sample([i for i in pool if i not in user], rng.randint(1, 4))
    if rng.random() < 0.6:
        persona[: rng.randint(1, min(2, len(user)))] = user[:2]
    return user, list(dict.fromkeys(persona))


def _messages(
    rng: random.Random,
    phrases: _Phrases,
    conversation: str,
    user_name: str,
    persona_name: str,
) -> list[dict[str, Any]]:
    count = rng.randint(1, MAX_MESSAGES)
    # The last message is the user's: that is when a reply suggestion is wanted.
    first_sender = "USER" if count % 2 == 1 else "PERSONA"
    moment = _EPOCH + _dt.timedelta(seconds=rng.randint(0, 180 * 86_400))
    lines = rng.sample(phrases.lines, min(count, len(phrases.lines)))
    messages: list[dict[str, Any]] = []
    for k in range(count):
        sender = first_sender if k % 2 == 0 else ("PERSONA" if first_sender == "USER" else "USER")
        to = persona_name if sender == "USER" else user_name
        template = rng.choice(phrases.greetings) if k == 0 else lines[k % len(lines)]
        message: dict[str, Any] = {
            "id": f"{conversation}-m{k + 1}",
            "sender": sender,
            "date": _stamp(moment),
            "text": template.format(name=to),
        }
        if sender == "USER" and k > 0:
            roll = rng.random()
            if roll < 0.08:
                name, tier = rng.choice(phrases.gifts)
                message["gifts"] = [{"name": name, "tier": GiftTier(tier).value}]
                if rng.random() < 0.5:
                    del message["text"]  # a gift on its own says enough
            elif roll < 0.14:
                message["sticker"] = rng.choice(phrases.stickers)
            elif roll < 0.19:
                message["poke"] = True
                del message["text"]
            elif roll < 0.22:
                message["pictureUrls"] = [f"https://example.org/chat/{conversation}-{k}.jpg"]
        messages.append(message)
        moment += _dt.timedelta(seconds=rng.randint(20, 3 * 3600))
    return messages


def _conversation(seed: int, index: int, languages: Sequence[str]) -> dict[str, Any]:
    # A string seed is hashed the same way on every platform and Python version.
    rng = random.Random(f"dumgum-samples:{seed}:{index}")
    language = rng.choice(languages)
    phrases = _phrases(language)
    conversation = f"s{seed}-c{index + 1}"
    user_gender = _gender(rng)
    persona_gender = _gender(rng)
    user_interests, persona_interests = _interests(rng)
    user = _profile(rng, phrases, f"{conversation}-u", user_gender, user_interests, persona=False)
    persona = _profile(
        rng,
        phrases,
        f"{conversation}-p",
        persona_gender,
        persona_interests,
        persona=True,
        taken=user.get("firstName"),
    )
    if rng.random() < 0.8:
        user["features"]["lookingFor"] = ["WOMAN" if persona_gender in _WOMEN else "MAN"]
    messages = _messages(
        rng,
        phrases,
        conversation,
        user.get("firstName") or user["nickname"],
        persona.get("firstName") or persona["nickname"],
    )
    return {
        "userProfile": user,
        "personaProfile": persona,
        "language": language,
        "messages": messages,
    }


def sample_requests(
    n: int,
    *,
    seed: int = 0,
    languages: Sequence[str] = DEFAULT_SAMPLE_LANGUAGES,
) -> Iterator[dict[str, Any]]:
    """Generate ``n`` varied, valid request bodies in the API's JSON shape.

    Each conversation has a user and a persona with names, genders, interests (often
    shared), places and other details fitting its language, and 1 to 12 messages
    alternating between them and ending with the user's, in natural short sentences of
    that language; some carry gifts, stickers, pokes or pictures.  Message ids are unique
    across all conversations of a seed; dates are UTC (``...Z``) and increase.  Languages
    without phrases of their own (``JA``, say) get English text.

    Generation is lazy and deterministic: conversation ``i`` depends only on ``seed`` and
    ``i``, never on ``n`` or the clock.

    Args:
        n: How many conversations.
        seed: Selects the set of conversations.
        languages: Language codes (``Language`` values) to choose from, uniformly.

    Yields:
        One new ``dict`` per conversation, safe to modify.

    Raises:
        ValueError: ``n`` is negative, ``languages`` is empty or holds an unknown code.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be an integer >= 0, got {n!r}")
    chosen = tuple(languages)
    if not chosen:
        raise ValueError("languages must not be empty")
    known = {language.value for language in Language}
    unknown = [code for code in chosen if code not in known]
    if unknown:
        raise ValueError(f"unknown language code(s): {', '.join(map(repr, unknown))}")
    return (_conversation(seed, index, chosen) for index in range(n))
