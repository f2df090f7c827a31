"""The spec's prose rules, and WireProblem, the 400 body's entries."""

from __future__ import annotations

import pytest

from dumgum_async.testing import WireProblem, validate_request
from tests.testing._bodies import full_request, minimal_request


def _paths(problems: list[WireProblem]) -> list[str]:
    return [p.path for p in problems]


def test_profile_without_first_name_or_nickname_is_rejected() -> None:
    body = minimal_request()
    del body["userProfile"]["firstName"]
    body["userProfile"]["nickname"] = "   "
    [problem] = validate_request(body)
    assert problem.path == "userProfile"
    assert "firstName or nickname" in problem.message


@pytest.mark.parametrize("field", ["mainPictureUrl", "pictures", "privatePictures"])
def test_picture_urls_must_be_https(field: str) -> None:
    body = full_request()
    url = "http://cdn.example.org/a.jpg"
    body["userProfile"][field] = url if field == "mainPictureUrl" else ["https://ok.org/", url]
    [problem] = validate_request(body)
    expected = f"userProfile.{field}" + ("" if field == "mainPictureUrl" else "[1]")
    assert problem.path == expected
    assert "https" in problem.message


@pytest.mark.parametrize("birthdate", ["1990-02-30", "1990-5-14", "14/05/1990", "1990-13-01"])
def test_birthdate_must_be_a_real_yyyy_mm_dd_date(birthdate: str) -> None:
    body = full_request()
    body["personaProfile"]["birthdate"] = birthdate
    assert _paths(validate_request(body)) == ["personaProfile.birthdate"]


@pytest.mark.parametrize(
    "value", ["2025-03-01T10:00:00", "2025-03-01", "2025-03-01T25:00:00Z", "yesterday"]
)
def test_dates_must_be_rfc3339_with_an_offset(value: str) -> None:
    body = full_request()
    body["messages"][0]["date"] = value
    body["userProfile"]["expiresAt"] = value
    assert _paths(validate_request(body)) == ["userProfile.expiresAt", "messages[0].date"]


@pytest.mark.parametrize(
    "value", ["2025-03-01T10:00:00Z", "2025-03-01T10:00:00.123456+05:30", "2025-03-01t10:00:00z"]
)
def test_rfc3339_date_times_with_offsets_are_accepted(value: str) -> None:
    body = minimal_request()
    body["messages"][0]["date"] = value
    assert validate_request(body) == []


def test_message_ids_must_be_unique() -> None:
    body = full_request()
    body["messages"][5]["id"] = body["messages"][2]["id"]
    [problem] = validate_request(body)
    assert problem.path == "messages[5].id"
    assert "messages[2]" in problem.message


def test_problem_serializes_to_the_400_body_shape() -> None:
    assert WireProblem("a.b", "bad").as_dict() == {"path": "a.b", "message": "bad"}


def test_the_old_name_problem_is_a_deprecated_alias_of_wire_problem() -> None:
    import dumgum_async.testing

    with pytest.warns(DeprecationWarning, match="testing.Problem is deprecated, use WireProblem"):
        old = dumgum_async.testing.Problem
    assert old is WireProblem
