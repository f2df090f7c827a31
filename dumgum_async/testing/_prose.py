"""The rules the vendor's spec states in prose rather than in its schema.

Checked by the emulator after the schema (:mod:`dumgum_async.testing._schema`): a
``firstName`` or ``nickname``, real dates, RFC 3339 date-times, https URLs, country
codes, unique message ids. Also :class:`WireProblem`, one entry of the emulator's
400 body, which both checks report.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["WireProblem", "prose_problems", "short"]


@dataclass(frozen=True, slots=True)
class WireProblem:
    """One reason the emulator rejected a request, as its 400 body lists it.

    Not the client's :class:`dumgum_async.Problem`, which locates a problem by path
    segments (``loc``) in Python's or the API's names: this one is the server's view,
    a JSON path string and a message, exactly what goes on the wire (:meth:`as_dict`).
    (It was ``dumgum_async.testing.Problem``, a name that stays as a deprecated alias.)

    Attributes:
        path: Where in the body, dotted with list indices in brackets, e.g.
            ``"userProfile.features.job"`` or ``"messages[3].date"``; ``"$"`` is the body
            itself.
        message: What is wrong, for a human.
    """

    path: str
    message: str

    def as_dict(self) -> dict[str, str]:
        """Return the problem as the JSON object sent in 400 responses."""
        return {"path": self.path, "message": self.message}


def short(value: Any, limit: int = 60) -> str:
    """``repr(value)``, cut to ``limit`` characters for a message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# Ranges are checked by the patterns; only days 29-31 need a calendar check.
_DATE = r"([0-9]{4})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
_DATE_RE = re.compile(_DATE)
_DATETIME_RE = re.compile(
    _DATE + r"[Tt]([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(?:\.[0-9]+)?"
    r"(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
)
# https://, optional user info, a host (name, IPv4 or [IPv6]), optional port, then a path,
# query or fragment; no whitespace anywhere.
_HTTPS_RE = re.compile(
    r"[Hh][Tt][Tt][Pp][Ss]://(?:[^/?#@\s]*@)?(?:\[[0-9A-Fa-f:.]+\]|[^/?#:@\s\[\]]+)"
    r"(?::[0-9]*)?(?:[/?#]\S*)?"
)
_COUNTRY_RE = re.compile(r"[A-Za-z]{2}")


def _real_day(match: re.Match[str]) -> bool:
    if match[3] <= "28":
        return True
    try:
        _dt.date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return False
    return True


def _is_date(value: str) -> bool:
    match = _DATE_RE.fullmatch(value)
    return match is not None and _real_day(match)


def _is_rfc3339(value: str) -> bool:
    match = _DATETIME_RE.fullmatch(value)
    return match is not None and _real_day(match)


def _is_https(value: str) -> bool:
    return _HTTPS_RE.fullmatch(value) is not None


def _check_date_time(value: Any, path: str, out: list[WireProblem]) -> None:
    """A problem at ``path`` if ``value`` is a string but not an RFC 3339 date-time."""
    if isinstance(value, str) and not _is_rfc3339(value):
        out.append(
            WireProblem(
                path, f"{short(value)} is not an RFC 3339 date-time with a time zone offset"
            )
        )


def _profile_problems(profile: Mapping[str, Any], where: str, out: list[WireProblem]) -> None:
    names = (profile.get("firstName"), profile.get("nickname"))
    if not any(isinstance(n, str) and n.strip() for n in names):
        out.append(WireProblem(where, "must have a non-empty firstName or nickname"))
    birthdate = profile.get("birthdate")
    if isinstance(birthdate, str) and not _is_date(birthdate):
        out.append(
            WireProblem(f"{where}.birthdate", f"{short(birthdate)} is not a real yyyy-MM-dd date")
        )
    country = profile.get("countryCode")
    if isinstance(country, str) and len(country) == 2 and not _COUNTRY_RE.fullmatch(country):
        out.append(
            WireProblem(f"{where}.countryCode", "must be a two-letter ISO 3166-1 alpha-2 code")
        )
    _check_date_time(profile.get("expiresAt"), f"{where}.expiresAt", out)
    main = profile.get("mainPictureUrl")
    if isinstance(main, str) and not _is_https(main):
        out.append(WireProblem(f"{where}.mainPictureUrl", f"{short(main)} is not an https URL"))
    for key in ("pictures", "privatePictures"):
        urls = profile.get(key)
        if isinstance(urls, list):
            for index, url in enumerate(urls):
                if isinstance(url, str) and not _is_https(url):
                    out.append(
                        WireProblem(f"{where}.{key}[{index}]", f"{short(url)} is not an https URL")
                    )


def prose_problems(body: Any) -> list[WireProblem]:
    """Check the rules the spec states in prose rather than in its schema.

    Each profile has a non-blank ``firstName`` or ``nickname``; ``mainPictureUrl``,
    ``pictures`` and ``privatePictures`` are https URLs; ``birthdate`` is a real
    ``yyyy-MM-dd`` date; ``countryCode`` is two letters; ``expiresAt`` and message
    ``date`` values are RFC 3339 date-times with an offset (``Z`` or ``+hh:mm``); message
    ids are unique within the request.  Parts of the body with the wrong JSON type are
    skipped (the schema reports those).

    Args:
        body: The parsed request body.

    Returns:
        The problems found, in body order (empty when the rules hold).
    """
    out: list[WireProblem] = []
    if not isinstance(body, dict):
        return out
    for key in ("userProfile", "personaProfile"):
        profile = body.get(key)
        if isinstance(profile, dict):
            _profile_problems(profile, key, out)
    messages = body.get("messages")
    if isinstance(messages, list):
        first_use: dict[str, int] = {}
        for index, message in enumerate(messages):
            if not isinstance(message, dict):
                continue
            message_id = message.get("id")
            if isinstance(message_id, str):
                if message_id in first_use:
                    out.append(
                        WireProblem(
                            f"messages[{index}].id",
                            f"duplicate message id {short(message_id)} "
                            f"(already used by messages[{first_use[message_id]}])",
                        )
                    )
                else:
                    first_use[message_id] = index
            _check_date_time(message.get("date"), f"messages[{index}].date", out)
    return out
