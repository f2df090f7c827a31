"""One table of constraints per model; the fast path and the full problem list agree."""

from __future__ import annotations

import ast
import datetime as dt
import json
import subprocess
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dumgum_async as dg
from dumgum_async import _rules, _structure, _wire
from dumgum_async._converter import decode_response
from dumgum_async._models import MODELS
from dumgum_async.exceptions import _PROBLEM_CODES
from tests.helpers.bodies import full_request, minimal_request
from tests.helpers.misbehaving import RaisingTZ, StrOffsetTZ, UnhashableStr

ROOT = Path(__file__).resolve().parent.parent

# --- generated values ------------------------------------------------------------------

_BASE = dg.SuggestionRequest.from_dict(full_request(n_messages=4))
_GIFT = dg.Gift(name="rose", tier=next(iter(dg.GiftTier)))


def _instances() -> dict[type, list[Any]]:
    found: dict[type, list[Any]] = {dg.Gift: [_GIFT]}

    def walk(value: Any) -> None:
        cls: Any = type(value)
        if attrs.has(cls):
            found.setdefault(cls, []).append(value)
            for a in attrs.fields(cls):
                walk(getattr(value, a.name))
        elif isinstance(value, tuple):
            for item in value:
                walk(item)

    walk(_BASE)
    walk(dg.SuggestionResponse(suggestions=("a", "b")))
    return found


INSTANCES = _instances()

_STRINGS = st.sampled_from(
    [
        "",
        " ",
        "x",
        "Léa",
        "bad \ud800 text",
        "\udfff",
        "x" * 33,
        "x" * 65,
        "x" * 161,
        "x" * 513,
        "https://example.org/a.jpg",
        "HTTPS://example.org/a.jpg",
        "http://example.org/a.jpg",
        "HTTP://x",
        "https://",
        "ftp://x",
        "FR",
        "fr",
        "FRA",
        "F1",
        "Europe/Paris",
        "Europe",
        "Nope/Zone",
        "m0",
    ]
)
_ENUMS = st.sampled_from([m for cls in dg.WireEnum.__subclasses__() for m in cls])
_ZONES = st.sampled_from(
    [
        None,
        dt.UTC,
        dt.timezone(dt.timedelta(hours=5, minutes=30)),
        dt.timezone(dt.timedelta(hours=-3, seconds=15)),
    ]
)
_LEAVES = st.one_of(
    st.none(),
    _STRINGS,
    st.text(max_size=20),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.booleans(),
    st.floats(allow_nan=True),
    _ENUMS,
    st.dates(),
    st.builds(lambda d, tz: d.replace(tzinfo=tz), st.datetimes(), _ZONES),
    st.sampled_from([v for vs in INSTANCES.values() for v in vs]),
    # A caller's objects whose methods fail: the fast path must say no, the full
    # path must say why (an exception out of either is neither). Built, not sampled:
    # sampled_from and just hash what they hold.
    st.builds(UnhashableStr, st.just("Europe/Paris")),
    st.builds(
        lambda tz: dt.datetime(2025, 1, 1, tzinfo=tz),
        st.one_of(st.builds(RaisingTZ), st.builds(StrOffsetTZ)),
    ),
)
#: Small pools, so that repeated items (``unique``, duplicate ids) come up often.
_REPEATS = st.one_of(
    st.sampled_from(
        [
            next(iter(dg.Interest)),
            next(iter(dg.Sport)),
            "https://example.org/a.jpg",
            None,
            *INSTANCES[dg.Message][:2],
            *INSTANCES[dg.Child][:1],
        ]
    ),
    st.builds(UnhashableStr, st.just("m0")),
)
VALUES = st.one_of(
    _LEAVES,
    st.lists(_LEAVES, max_size=4).map(tuple),
    st.lists(_REPEATS, max_size=4).map(tuple),
    st.lists(_LEAVES, max_size=3),
)


def _unchecked(cls: Any, values: dict[str, Any]) -> Any:
    """An instance holding ``values`` as they are: no ``__init__``, no check."""
    obj: Any = object.__new__(cls)
    for a in attrs.fields(cls):
        object.__setattr__(obj, a.name, values[a.name])
    return obj


@st.composite
def _objects(draw: st.DrawFn, cls: type) -> Any:
    base = draw(st.sampled_from(INSTANCES[cls]))
    values = {a.name: getattr(base, a.name) for a in attrs.fields(cls)}
    # A few fields changed at most, so that valid objects come up as well as invalid.
    for name in draw(st.lists(st.sampled_from(sorted(values)), max_size=3)):
        values[name] = draw(VALUES)
    return _unchecked(cls, values)


# --- the fast path and the full path agree -----------------------------------------------


@pytest.mark.parametrize("cls", MODELS, ids=lambda c: c.__name__)
@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_fast_path_accepts_exactly_when_the_full_path_finds_no_problem(
    cls: type, data: st.DataObject
) -> None:
    obj = data.draw(_objects(cls))
    table = cls._table  # type: ignore[attr-defined]
    fast_ok = cls._fast_ok  # type: ignore[attr-defined]
    # What a friendly caller meant (a list for a tuple, None for an empty list) is
    # made so first, by the full path only: the fast path never accepts it as given.
    normalised = {f.name: f.check.normalise(getattr(obj, f.name), f.required) for f in table.fields}
    if any(v is not getattr(obj, k) for k, v in normalised.items()):
        assert fast_ok(obj) is False
        obj = _unchecked(
            cls, {a.name: getattr(obj, a.name) for a in attrs.fields(cls)} | normalised
        )
    problems = table.problems(obj)
    assert fast_ok(obj) is (not problems), problems
    assert {p.code for p in problems} <= _PROBLEM_CODES


def _paths(value: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _paths(item, (*path, i))


_BODY_PATHS = [p for p in _paths(full_request(n_messages=3)) if p]
_JSON_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=False),
    st.just(170.0),
    _STRINGS,
    st.sampled_from(["MAN", "WOMAN", "TRAVELING", "USER", "1990-05-14", "1990-02-30"]),
    st.sampled_from(
        ["2025-04-25T10:00:00Z", "2025-04-25T10:00:00z", "2025-04-25T10:00:00", "2025-04-25"]
    ),
)
_JSON = st.recursive(
    _JSON_LEAVES,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=4,
)


@st.composite
def _bodies(draw: st.DrawFn) -> dict[str, Any]:
    body = full_request(n_messages=3)
    for path in draw(st.lists(st.sampled_from(_BODY_PATHS), max_size=3)):
        parent: Any = body
        for seg in path[:-1]:
            if not isinstance(parent, dict | list):
                break
            try:
                parent = parent[seg]  # type: ignore[index]
            except (KeyError, IndexError, TypeError):
                break
        else:
            last = path[-1]
            if isinstance(parent, dict) and draw(st.booleans()) and draw(st.booleans()):
                parent.pop(last, None)
            elif isinstance(parent, dict) or (
                isinstance(parent, list) and isinstance(last, int) and last < len(parent)
            ):
                container: Any = parent
                container[last] = draw(_JSON)
    return body


@settings(max_examples=300, deadline=None)
@given(body=_bodies())
def test_the_fast_road_from_json_builds_only_what_the_detailed_road_builds(
    body: dict[str, Any],
) -> None:
    fast = _structure._fast_constructor(dg.SuggestionRequest)(body)
    try:
        detailed = _wire.STRICT.structure(body, dg.SuggestionRequest)
    except _wire.ERRORS:
        assert fast is _structure.REJECTED
        with pytest.raises(dg.RequestValidationError) as raised:
            dg.SuggestionRequest.from_dict(body)
        assert raised.value.problems
        assert {p.code for p in raised.value.problems} <= _PROBLEM_CODES
        return
    assert fast is _structure.REJECTED or fast == detailed
    assert dg.SuggestionRequest.from_dict(body) == detailed


# --- every problem has a code -------------------------------------------------------------


def _set(path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    body = full_request(n_messages=3)
    target: Any = body
    for seg in path[:-1]:
        target = target[seg]
    target[path[-1]] = value
    return body


def _without(*paths: tuple[str, ...]) -> dict[str, Any]:
    body = full_request(n_messages=3)
    for path in paths:
        target: Any = body
        for seg in path[:-1]:
            target = target[seg]
        del target[path[-1]]
    return body


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (_without(("language",)), "required"),
        (_set(("userProfile", "gender"), 5), "type"),
        (_set(("userProfile", "gender"), "SOMETHING_NEW"), "enum"),
        (_set(("userProfile", "features", "job"), "x" * 40), "max_length"),
        (_set(("userProfile", "children", 0, "name"), ""), "min_length"),
        (_set(("userProfile", "countryCode"), "FRA"), "pattern"),
        (_set(("userProfile", "birthdate"), "1990-02-30"), "format"),
        (_set(("userProfile", "features", "height"), 2**40), "range"),
        (_set(("userProfile", "timeZone"), "Nope/Zone"), "time_zone"),
        (_set(("userProfile", "expiresAt"), "2026-01-01T12:34:20"), "utc_offset"),
        (_set(("userProfile", "features", "sports"), ["YOGA", "YOGA"]), "unique"),
        (_set(("messages", 1, "id"), "m0"), "duplicate"),
        (_set(("messages", 0, "text"), "bad \ud800"), "surrogate"),
        (_set(("messages", 0, "pictureUrls"), [None]), "null"),
        (_without(("userProfile", "firstName"), ("userProfile", "nickname")), "any_required"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_each_kind_of_problem_has_its_code(body: dict[str, Any], code: str) -> None:
    (problem,) = dg.validate(body)
    assert problem.code == code


def test_a_model_built_in_python_gives_codes_too() -> None:
    with pytest.raises(dg.RequestValidationError) as raised:
        dg.Message(id="m", sender=dg.Sender.USER, date=dt.datetime(2025, 1, 1))
    assert [p.code for p in raised.value.problems] == ["utc_offset"]


def test_a_problem_built_without_a_code_keeps_working() -> None:
    by_position = dg.Problem(("language",), "required")
    by_keyword = dg.Problem(loc=("language",), message="required")
    assert by_position == by_keyword
    assert by_position.code == "required"
    assert dg.Problem(("a",), "expected a string, got int 5").code == "type"


def test_kind_is_derived_from_the_code_not_the_message() -> None:
    assert dg.Problem(("a", 0), "no such thing", "enum").kind == "a[]: unknown value"
    assert dg.Problem(("a",), "expected a miracle", "max_length").kind == "a: invalid"


def test_problems_compare_by_place_and_message() -> None:
    assert dg.Problem(("a",), "bad", "type") == dg.Problem(("a",), "bad", "invalid")


# --- generated code is visible --------------------------------------------------------------


def test_a_traceback_through_generated_code_shows_its_source_line() -> None:
    # One rule's test alone (fast_ok answers False when a test raises, so it cannot
    # show this): the length of an int, which the type rule before it would stop.
    length = _rules.string(max_len=7).predicates[1]
    with pytest.raises(TypeError) as raised:
        length(5)
    text = "".join(traceback.format_exception(raised.value))
    assert "<dumgum generated check str" in text
    assert "return (len(v) <= 7)" in text


def test_the_fast_constructor_from_json_is_in_linecache() -> None:
    code = _structure._fast_constructor(dg.Gift).__code__
    assert "dumgum_async._models.Gift" in code.co_filename
    import linecache

    assert "def fast(o):" in linecache.getline(code.co_filename, code.co_firstlineno)


# --- layers -------------------------------------------------------------------------------

_FRESH = """
import json, sys, types
# The package without its __init__: only what _models itself imports gets loaded.
pkg = types.ModuleType("dumgum_async")
pkg.__path__ = [sys.argv[1]]
sys.modules["dumgum_async"] = pkg
from dumgum_async._models import SuggestionRequest
request = SuggestionRequest.from_dict(json.loads(sys.argv[2]))
assert SuggestionRequest.from_dict(request.to_dict()) == request
print(json.dumps(sorted(m for m in sys.modules if m.startswith("dumgum_async"))))
"""


def test_models_build_from_dicts_without_the_converter_or_the_package() -> None:
    body = json.dumps(minimal_request())
    out = subprocess.run(
        [sys.executable, "-c", _FRESH, str(ROOT / "dumgum_async"), body],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    loaded = json.loads(out.stdout)
    assert "dumgum_async._models" in loaded
    assert "dumgum_async._converter" not in loaded
    assert "dumgum_async._client" not in loaded


# --- the response is checked once -----------------------------------------------------------


def test_a_decoded_response_is_not_checked_again_by_the_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def fail(_: object) -> bool:
        raise AssertionError("checked twice")

    monkeypatch.setattr(dg.SuggestionResponse, "_fast_ok", staticmethod(fail))
    response = decode_response(b'{"suggestions": ["a", "b", "c"]}')
    assert response.suggestions == ("a", "b", "c")


# --- no problem is swallowed ----------------------------------------------------------------

_DATA_LAYER = (
    "_constraints",
    "_rules",
    "_wire",
    "_structure",
    "_models",
    "_converter",
    "_validate",
)


@pytest.mark.parametrize("module", _DATA_LAYER)
def test_the_data_layer_swallows_no_exception(module: str) -> None:
    tree = ast.parse((ROOT / "dumgum_async" / f"{module}.py").read_text(encoding="utf-8"))
    broad = {"Exception", "BaseException"}
    swallowed = [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.ExceptHandler)
        and (node.type is None or (isinstance(node.type, ast.Name) and node.type.id in broad))
        and all(isinstance(stmt, ast.Pass) for stmt in node.body)
    ]
    assert swallowed == []
