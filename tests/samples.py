"""Request bodies for tests: a full one (every field, 20 messages) and a minimal one."""

from __future__ import annotations

from typing import Any


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
