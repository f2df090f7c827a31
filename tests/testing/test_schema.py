"""Request validation: the spec's JSON schema plus its prose rules."""

from __future__ import annotations

import sys

import pytest

from dumgum_async.testing import WireProblem, validate_request
from dumgum_async.testing._schema import (
    RequestValidator,
    get_validator,
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


def test_the_validator_is_built_once_per_process() -> None:
    assert get_validator() is get_validator()


def test_missing_jsonschema_raises_a_clear_import_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "jsonschema", None)
    with pytest.raises(ImportError, match=r"pip install 'dumgum-async\[testing\]'"):
        RequestValidator()
