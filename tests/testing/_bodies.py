"""Realistic request bodies for the emulator's tests."""

from __future__ import annotations

import copy
from typing import Any

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


def _profile(
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


def full_request(language: str = "EN", messages: int = 20) -> dict[str, Any]:
    """A valid request using every field: two complete profiles and ``messages`` messages
    alternating PERSONA/USER (the last one from the user, ending the conversation)."""
    user = _profile("user-42", "Thomas", "Tom", "MAN", ["HIKING", "MUSIC", "COOKING"], "Lyon")
    persona = _profile("persona-7", "Chloé", "Clo", "WOMAN", ["MUSIC", "ART", "TRAVELING"], "Paris")
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


def minimal_request(language: str = "EN") -> dict[str, Any]:
    """The smallest valid request: required fields only, a single message."""
    return {
        "userProfile": {"id": "u1", "gender": "MAN", "firstName": "Sam"},
        "personaProfile": {"id": "p1", "gender": "WOMAN", "nickname": "Lou"},
        "language": language,
        "messages": [
            {"id": "m1", "sender": "USER", "date": "2025-03-01T10:00:00Z", "text": "Hello!"}
        ],
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
