"""``dg.validate``: the problems of a request as a value, never an exception."""

from __future__ import annotations

import copy
from typing import Any

import pytest

import dumgum_async as dg
from tests.helpers.bodies import full_request, minimal_request
from tests.helpers.misbehaving import RaisingMapping, UnhashableStr


def test_a_valid_mapping_has_no_problems() -> None:
    assert dg.validate(full_request()) == ()


def test_a_valid_model_has_no_problems() -> None:
    assert dg.validate(dg.SuggestionRequest.from_dict(minimal_request())) == ()


def test_an_invalid_mapping_gets_the_same_problems_the_client_raises() -> None:
    body: dict[str, Any] = minimal_request()
    body["messages"][0]["date"] = 12
    del body["userProfile"]["gender"]
    body["language"] = ["EN"]
    with pytest.raises(dg.RequestValidationError) as raised:
        dg.DumGumClient(api_key="k").prepare(body)
    problems = dg.validate(body)
    assert problems == raised.value.problems
    assert {p.path for p in problems} == {"messages[0].date", "userProfile.gender", "language"}


@pytest.mark.parametrize("value", [42, None, "a string", ["a", "list"], b"bytes"])
def test_anything_else_is_one_problem_at_the_root(value: object) -> None:
    (problem,) = dg.validate(value)
    assert problem.loc == ()
    assert type(value).__name__ in problem.message


def test_a_mapping_that_raises_is_a_problem_at_the_root() -> None:
    assert dg.validate(RaisingMapping()) == (
        dg.Problem((), "invalid value (RuntimeError: iter boom)", "invalid"),
    )


def test_a_mapping_that_raises_is_the_same_problem_at_the_root_as_nested() -> None:
    nested = minimal_request()
    nested["userProfile"] = RaisingMapping()
    (inner,) = dg.validate(nested)
    (outer,) = dg.validate(RaisingMapping())
    assert (inner.loc, outer.loc) == (("userProfile",), ())
    assert (inner.message, inner.code) == (outer.message, outer.code)


def test_a_time_zone_whose_hash_raises_is_a_problem_at_its_path() -> None:
    body = minimal_request()
    body["userProfile"]["timeZone"] = UnhashableStr("Europe/Paris")
    assert [(p.path, p.code) for p in dg.validate(body)] == [("userProfile.timeZone", "invalid")]


def test_an_unknown_enum_value_is_a_problem_only_when_strict() -> None:
    body = minimal_request()
    body["userProfile"]["gender"] = "SOMETHING_NEW"
    (problem,) = dg.validate(body)
    assert problem.path == "userProfile.gender"
    assert problem.kind == "userProfile.gender: unknown value"
    assert dg.validate(body, strict_enums=False) == ()


def test_a_lone_surrogate_that_cannot_be_sent_is_named_by_its_path() -> None:
    body = minimal_request()
    body["messages"][0]["text"] = "bad \ud800 text"
    (problem,) = dg.validate(body)
    assert problem.path == "messages[0].text"
    assert problem.kind == "messages[].text: unencodable"


def test_a_lone_surrogate_in_an_ignored_key_is_not_a_problem() -> None:
    # The fast check on the raw mapping fails; the model itself encodes fine.
    body: dict[str, Any] = copy.deepcopy(minimal_request())
    body["somethingExtra"] = "\udfff"
    assert dg.validate(body) == ()


def test_validate_does_not_touch_its_input() -> None:
    body = full_request()
    before = copy.deepcopy(body)
    dg.validate(body)
    assert body == before


@pytest.mark.parametrize(
    ("loc", "message", "kind"),
    [
        (("messages", 3, "text"), "at most 1000 characters", "messages[].text: invalid"),
        (("userProfile", "gender"), "required", "userProfile.gender: required"),
        (("messages",), "expected an array, got a number", "messages: wrong type"),
        ((), "expected a SuggestionRequest", "(request): wrong type"),
        (("a", 0, 1, "b"), "not valid Unicode text: a lone surrogate", "a[][].b: unencodable"),
    ],
)
def test_problem_kind_drops_list_indices_and_names_a_category(
    loc: tuple[str | int, ...], message: str, kind: str
) -> None:
    assert dg.Problem(loc, message).kind == kind
