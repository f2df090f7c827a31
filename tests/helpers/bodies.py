"""Request bodies for every test: one home.

``full_request`` (every field, ``n_messages`` messages) and ``minimal_request`` (required
fields only) serve the client's tests; ``conversation_request`` is a coherent chat (two
profiles with interests, alternating lines ending on the user) for the emulator's reply
engine, and ``with_last_message`` extends a body by one user message. ``profile_model``
and ``message_model`` build the typed models with only the required fields defaulted.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import dumgum_async as dg

#: The date of every message a test builds without one.
WHEN = dt.datetime(2025, 4, 25, 10, 0, tzinfo=dt.UTC)


def profile_model(**kwargs: Any) -> dg.Profile:
    """A ``Profile`` with ``kwargs``, the required fields defaulted."""
    kwargs.setdefault("id", "u-1")
    kwargs.setdefault("gender", dg.Gender.MAN)
    kwargs.setdefault("first_name", "Marc")
    return dg.Profile(**kwargs)


def message_model(**kwargs: Any) -> dg.Message:
    """A ``Message`` with ``kwargs``, the required fields defaulted."""
    kwargs.setdefault("id", "m1")
    kwargs.setdefault("sender", dg.Sender.USER)
    kwargs.setdefault("date", WHEN)
    return dg.Message(**kwargs)


def _profile(pid: str, gender: str, name: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": pid,
        "gender": gender,
        "version": "2025-01-01T12:34:20Z",
        "firstName": name,
        "nickname": name.lower() + "_92",
        "description": f"{name} loves long walks, good books and better coffee.",
        "birthdate": "1990-05-14",
        "countryCode": "FR",
        "city": "Lyon",
        "postalCode": "69001",
        "timeZone": "Europe/Paris",
        "features": {
            "ethnicity": "MEDITERRANEAN",
            "height": 172,
            "weight": 64,
            "eyesColor": "GREEN",
            "hairColor": "BROWN",
            "hairLength": "LONG",
            "maritalStatus": "SINGLE",
            "job": "Architect",
            "working": True,
            "interests": ["TRAVELING", "COOKING", "PHOTOGRAPHY", "MUSIC"],
            "bdsmInterests": ["BDSM_SOFT"],
            "sexualInterests": ["KISSING", "CUDDLING"],
            "lookingFor": ["MAN"],
            "sexualOrientation": "HETEROSEXUAL",
            "childrenCount": 1,
            "wantsChildren": "MAYBE",
            "surgeryStatus": "UNKNOWN",
            "unitSystem": "METRIC",
            "livingWith": "KIDS",
            "education": "MASTERS_DEGREE",
            "religion": "AGNOSTIC",
            "smoking": "NEVER",
            "bodyShape": "ATHLETIC",
            "sports": ["RUNNING", "YOGA"],
            "musicGenres": ["JAZZ", "INDIE_FOLK"],
        },
        "personality": "ROMANTIC",
        "mainPictureUrl": "https://example.org/images/public.jpg",
        "pictures": ["https://example.org/images/public.jpg", "https://example.org/images/2.jpg"],
        "privatePictures": ["https://example.org/images/private.jpg"],
        "expiresAt": "2026-01-01T12:34:20Z",
        "children": [{"name": "Léa", "gender": "WOMAN", "age": 6}],
        "pets": [{"name": "Moka", "sex": "FEMALE", "age": 3, "breed": "Beagle", "type": "dog"}],
    }
    body.update(extra)
    return body


_LINES = [
    "Hi! How was your weekend?",
    "Pretty good, I went hiking near Annecy. You?",
    "I cooked for friends, a huge risotto 😄",
    "Now I'm hungry. What's your secret ingredient?",
    "A splash of white wine and patience.",
]


def full_request(n_messages: int = 20, language: str = "EN") -> dict[str, Any]:
    """A request with every profile field set and ``n_messages`` messages."""
    messages: list[dict[str, Any]] = []
    for i in range(n_messages):
        m: dict[str, Any] = {
            "id": f"m{i}",
            "sender": "USER" if i % 2 == 0 else "PERSONA",
            "date": f"2025-04-25T10:{i:02d}:00Z",
            "text": _LINES[i % len(_LINES)],
        }
        if i % 7 == 3:
            m["pictureUrls"] = ["https://example.org/p/1.jpg"]
        if i % 9 == 4:
            m["gifts"] = [{"name": "Teddy Bear", "tier": "LOW"}]
        if i % 11 == 5:
            m["sticker"] = "a cat waving"
        if i % 13 == 6:
            m["poke"] = True
        messages.append(m)
    return {
        "userProfile": _profile("u-1", "MAN", "Marc"),
        "personaProfile": _profile("p-1", "WOMAN", "Julie"),
        "language": language,
        "messages": messages,
    }


def minimal_request(language: str = "EN") -> dict[str, Any]:
    """The smallest valid request: required fields only, one message."""
    return {
        "userProfile": {"id": "u-1", "gender": "MAN", "firstName": "Marc"},
        "personaProfile": {"id": "p-1", "gender": "WOMAN", "nickname": "jules"},
        "language": language,
        "messages": [
            {"id": "m1", "sender": "USER", "date": "2025-04-25T10:00:00Z", "text": "Hello!"}
        ],
    }


# --- a coherent conversation, for the emulator's reply engine -----------------------

_USER_LINES = (
    "Hi Chloé! Your profile made me smile",
    "I just got back from a hike near Annecy, the lake was gorgeous",
    "Not much, cooking a risotto tonight. Do you cook?",
    "Haha, I'd love to taste your lasagna one day",
    "I play guitar in a small band, mostly covers",
    "We're playing at a bar in Lyon next Saturday",
    "You should come! I'll dedicate a song to you",
    "My favourite? Probably Wonderwall, cliché I know",
    "What about you, any plans this weekend?",
    "That sounds lovely. I went to the Louvre last spring",
)
_PERSONA_LINES = (
    "Hey Thomas, thanks! How is your evening going?",
    "Wow, Annecy is beautiful. I've never been there",
    "I do! My lasagna is legendary 😄",
    "Only if you bring dessert",
    "A musician! What kind of music do you play?",
    "Oh nice, where do you play?",
    "Maybe... what would you play for me?",
    "Ha, a classic. I love it though",
    "Probably a museum on Sunday, I need some culture",
    "Nice! Which painting did you prefer?",
)


def _conversation_profile(
    profile_id: str,
    first_name: str,
    nickname: str,
    gender: str,
    interests: list[str],
    city: str,
) -> dict[str, Any]:
    return {
        "id": profile_id,
        "gender": gender,
        "version": "2025-01-01T12:34:20Z",
        "firstName": first_name,
        "nickname": nickname,
        "description": f"{first_name} from {city}. Coffee first, then adventures.",
        "birthdate": "1990-05-14",
        "countryCode": "FR",
        "city": city,
        "postalCode": "69001",
        "timeZone": "Europe/Paris",
        "features": {
            "ethnicity": "CAUCASIAN",
            "height": 178,
            "weight": 72,
            "eyesColor": "GREEN",
            "hairColor": "BROWN",
            "hairLength": "SHORT",
            "maritalStatus": "SINGLE",
            "job": "Sound engineer",
            "working": True,
            "interests": interests,
            "bdsmInterests": ["BDSM_SOFT"],
            "sexualInterests": ["KISSING", "CUDDLING"],
            "lookingFor": ["WOMAN" if gender == "MAN" else "MAN"],
            "sexualOrientation": "HETEROSEXUAL",
            "childrenCount": 0,
            "wantsChildren": "MAYBE",
            "surgeryStatus": "PREFER_NOT_TO_SAY",
            "unitSystem": "METRIC",
            "livingWith": "ROOMMATE",
            "education": "BACHELORS_DEGREE",
            "religion": "AGNOSTIC",
            "smoking": "NEVER",
            "bodyShape": "ATHLETIC",
            "sports": ["RUNNING", "CYCLING"],
            "musicGenres": ["ROCK", "INDIE_FOLK"],
        },
        "personality": "ROMANTIC",
        "mainPictureUrl": f"https://cdn.example.org/{profile_id}/main.jpg",
        "pictures": [f"https://cdn.example.org/{profile_id}/{n}.jpg" for n in range(3)],
        "privatePictures": [f"https://cdn.example.org/{profile_id}/private.jpg"],
        "expiresAt": "2025-01-08T12:34:20+01:00",
        "children": [{"name": "Léa", "gender": "WOMAN", "age": 6}],
        "pets": [{"name": "Moka", "sex": "FEMALE", "age": 3, "breed": "Beagle", "type": "dog"}],
    }


def conversation_request(language: str = "EN", messages: int = 20) -> dict[str, Any]:
    """A valid request using every field: two complete profiles and ``messages`` messages
    alternating PERSONA/USER (the last one from the user, ending the conversation)."""
    user = _conversation_profile(
        "user-42", "Thomas", "Tom", "MAN", ["HIKING", "MUSIC", "COOKING"], "Lyon"
    )
    persona = _conversation_profile(
        "persona-7", "Chloé", "Clo", "WOMAN", ["MUSIC", "ART", "TRAVELING"], "Paris"
    )
    history: list[dict[str, Any]] = []
    for index in range(messages):
        from_user = (messages - index) % 2 == 1
        lines = _USER_LINES if from_user else _PERSONA_LINES
        message: dict[str, Any] = {
            "id": f"msg-{index:03d}",
            "sender": "USER" if from_user else "PERSONA",
            "date": f"2025-03-01T{10 + index // 60:02d}:{index % 60:02d}:00Z",
            "text": lines[(index // 2) % len(lines)],
        }
        if index == 2:
            message["pictureUrls"] = ["https://cdn.example.org/chat/annecy.jpg"]
        if index == 5:
            message["poke"] = False
        if index == 7:
            message["gifts"] = [{"name": "Red Rose", "tier": "LOW"}]
        if index == 9:
            message["sticker"] = "a cat playing guitar"
        history.append(message)
    return {
        "userProfile": user,
        "personaProfile": persona,
        "language": language,
        "messages": history,
    }


def with_last_message(body: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A deep copy of ``body`` with one more USER message carrying ``fields``."""
    out = copy.deepcopy(body)
    out["messages"].append(
        {
            "id": f"msg-extra-{len(out['messages'])}",
            "sender": "USER",
            "date": "2025-03-01T12:00:00Z",
            **fields,
        }
    )
    return out
