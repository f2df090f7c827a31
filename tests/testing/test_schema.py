"""Request validation: the spec's JSON schema plus its prose rules."""

from __future__ import annotations

import copy
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from dumgum_async.testing import WireProblem, validate_request
from dumgum_async.testing._schema import (
    RequestValidator,
    compile_schema,
    get_validator,
    request_schema,
)
from tests.testing._bodies import full_request, minimal_request


def _paths(problems: list[WireProblem]) -> list[str]:
    return [p.path for p in problems]


def test_full_request_is_valid() -> None:
    assert validate_request(full_request()) == []


def test_minimal_request_is_valid() -> None:
    assert validate_request(minimal_request()) == []


def test_several_problems_are_reported_at_once_with_paths() -> None:
    body = full_request()
    body["userProfile"]["features"]["job"] = "x" * 40
    del body["personaProfile"]["gender"]
    body["language"] = "KLINGON"
    body["messages"][3]["sender"] = "BOT"
    body["messages"][4]["date"] = "2025-03-01 10:00:00"

    paths = _paths(validate_request(body))

    assert paths == [
        "userProfile.features.job",
        "personaProfile.gender",
        "language",
        "messages[3].sender",
        "messages[4].date",
    ]


def test_missing_required_top_level_fields_are_each_reported() -> None:
    problems = validate_request({})
    assert sorted(_paths(problems)) == [
        "language",
        "messages",
        "personaProfile",
        "userProfile",
    ]
    assert all(p.message == "is required" for p in problems)


def test_a_body_that_is_not_an_object_is_reported_at_the_root() -> None:
    assert _paths(validate_request([1, 2])) == ["$"]


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


def test_null_text_and_working_are_accepted_as_the_prose_says() -> None:
    body = full_request()
    body["messages"][0]["text"] = None
    body["userProfile"]["features"]["working"] = None
    assert validate_request(body) == []


def test_enum_problem_is_not_repeated_after_a_type_problem() -> None:
    body = minimal_request()
    body["messages"][0]["sender"] = 3
    [problem] = validate_request(body)
    assert problem.message == "must be of type string, got integer"


def test_problem_serializes_to_the_400_body_shape() -> None:
    assert WireProblem("a.b", "bad").as_dict() == {"path": "a.b", "message": "bad"}


def test_the_validator_is_built_once_per_process() -> None:
    assert get_validator() is get_validator()


def test_missing_jsonschema_raises_a_clear_import_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "jsonschema", None)
    with pytest.raises(ImportError, match=r"pip install 'dumgum-async\[testing\]'"):
        RequestValidator()


_WRONG_VALUES: tuple[Any, ...] = (None, True, 7, 2.5, "", "x" * 600, [], ["WOMAN", "WOMAN"], {})


def _mutations(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _mutations(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node[:2]):
            yield from _mutations(value, (*path, index))


def test_fast_check_never_accepts_what_jsonschema_rejects() -> None:
    from jsonschema import Draft202012Validator

    schema = request_schema()
    fast = compile_schema(schema)
    reference = Draft202012Validator(schema)
    base = full_request(messages=2)
    checked = 0
    for path in _mutations(base):
        if not path:
            continue
        for wrong in _WRONG_VALUES:
            body = copy.deepcopy(base)
            target = body
            for part in path[:-1]:
                target = target[part]
            target[path[-1]] = wrong
            # "valid" from the fast check must be right; "not sure" is always allowed.
            assert not fast(body) or reference.is_valid(body), (path, wrong)
            checked += 1
        body = copy.deepcopy(base)
        target = body
        for part in path[:-1]:
            target = target[part]
        if isinstance(target, dict):
            del target[path[-1]]
            assert not fast(body) or reference.is_valid(body), path
    assert checked > 1000
    assert fast(base)


def test_the_old_name_problem_is_a_deprecated_alias_of_wire_problem() -> None:
    import dumgum_async.testing

    with pytest.warns(DeprecationWarning, match="testing.Problem is deprecated, use WireProblem"):
        old = dumgum_async.testing.Problem
    assert old is WireProblem
