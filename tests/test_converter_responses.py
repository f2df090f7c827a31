"""Response bodies: the suggestion list in every shape the vendor sends, and garbage refused."""

from __future__ import annotations

import json
import os
import pathlib
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dumgum_async as dg
from dumgum_async._converter import BodyError, decode_response, parse_string_list

VENDOR_EXAMPLE = (
    "['Lorem ipsum dolor sit amet.', 'Consectetur adipiscing elit.', "
    "'Sed do eiusmod tempor incididunt ut labore et dolore magna aliqua.']"
)


def _body(suggestions: Any, **extra: Any) -> bytes:
    return orjson.dumps({"suggestions": suggestions, **extra})


# --- accepted shapes ------------------------------------------------------------------


def test_a_json_array_of_strings_is_read() -> None:
    response = decode_response(_body(["Hi!", "How are you?", "Salut"]))
    assert response == dg.SuggestionResponse(suggestions=("Hi!", "How are you?", "Salut"))


def test_the_result_holds_a_tuple() -> None:
    assert type(decode_response(_body(["a"])).suggestions) is tuple


def test_an_empty_json_array_is_read() -> None:
    assert decode_response(_body([])).suggestions == ()


def test_the_vendor_example_python_list_string_is_read() -> None:
    assert decode_response(_body(VENDOR_EXAMPLE)).suggestions == (
        "Lorem ipsum dolor sit amet.",
        "Consectetur adipiscing elit.",
        "Sed do eiusmod tempor incididunt ut labore et dolore magna aliqua.",
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (r"['It\'s me', 'say \"hi\"']", ["It's me", 'say "hi"']),
        (r"""["It's me", "say \"hi\""]""", ["It's me", 'say "hi"']),
        (r"""["it\'s"]""", ["it's"]),
        ("""["double", 'single']""", ["double", "single"]),
        (r"['caf\u00e9', '\N{SNOWMAN}', '\U0001F600', '\x41']", ["café", "☃", "😀", "A"]),
        ("['café ☃ 😀']", ["café ☃ 😀"]),
        (r"['line one\nline two', 'tab\there']", ["line one\nline two", "tab\there"]),
        (r"['back\\slash']", ["back\\slash"]),
        (r"['\0', '\101\1010']", ["\0", "AA0"]),
        ("['a', 'b',]", ["a", "b"]),
        ("['a', 'b' , ]", ["a", "b"]),
        ("[]", []),
        ("[ ]", []),
        ("  ['padded']  \n", ["padded"]),
        ("[\n  'one',\n  'two'\n]", ["one", "two"]),
        ("['']", [""]),
        ("['[not, a, list]', ']']", ["[not, a, list]", "]"]),
    ],
    ids=[
        "escaped-quotes",
        "double-quoted-items",
        "escaped-single-quote-in-double-quotes",
        "mixed-quotes",
        "unicode-escapes",
        "raw-unicode",
        "newline-and-tab-escapes",
        "escaped-backslash",
        "octal-escapes",
        "trailing-comma",
        "trailing-comma-spaced",
        "empty",
        "empty-spaced",
        "surrounding-whitespace",
        "multi-line",
        "empty-item",
        "brackets-inside-items",
    ],
)
def test_a_python_list_string_is_read(text: str, expected: list[str]) -> None:
    assert parse_string_list(text) == expected
    assert decode_response(_body(text)).suggestions == tuple(expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('["a", "b", "c"]', ["a", "b", "c"]),
        (r'["caf\u00e9", "\ud83d\ude00"]', ["café", "😀"]),
        (r'["a\/b"]', ["a/b"]),
        ('[ "spaced" ]', ["spaced"]),
        ("[]", []),
    ],
    ids=["plain", "json-unicode-escapes", "json-only-escape", "spaced", "empty"],
)
def test_a_json_list_string_is_read(text: str, expected: list[str]) -> None:
    assert decode_response(_body(text)).suggestions == tuple(expected)


def test_extra_response_fields_are_ignored() -> None:
    body = _body(["a", "b", "c"], id="r-1", model="v9", usage={"tokens": 3}, suggestionsCount=3)
    assert decode_response(body) == dg.SuggestionResponse(suggestions=("a", "b", "c"))


def test_a_body_with_surrounding_whitespace_is_read() -> None:
    assert decode_response(b'\n  {"suggestions": ["a"]}  \n').suggestions == ("a",)


@settings(max_examples=200, deadline=None)
@given(items=st.lists(st.text(max_size=20), max_size=4))
def test_any_python_repr_of_a_string_list_is_read_back(items: list[str]) -> None:
    assert parse_string_list(repr(items)) == items


@settings(max_examples=150, deadline=None)
@given(items=st.lists(st.text(max_size=20), max_size=4), ascii_only=st.booleans())
def test_any_json_string_list_is_read_back(items: list[str], ascii_only: bool) -> None:
    assert parse_string_list(json.dumps(items, ensure_ascii=ascii_only)) == items


# --- refused bodies -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "response body is not valid JSON"),
        (b"{", "response body is not valid JSON"),
        (b"suggestions: a, b, c", "response body is not valid JSON"),
        (b"\xff\xfe{}", "response body is not valid JSON"),
        (b"{'suggestions': ['a']}", "response body is not valid JSON"),
        (b'["a", "b", "c"]', "expected a JSON object, got an array"),
        (b'"a"', "expected a JSON object, got a string"),
        (b"3", "expected a JSON object, got a number"),
        (b"null", "expected a JSON object, got null"),
        (b"{}", "response has no 'suggestions' field"),
        (b'{"suggestion": ["a"]}', "response has no 'suggestions' field"),
        (b'{"Suggestions": ["a"]}', "response has no 'suggestions' field"),
        (b'{"suggestions": null}', "'suggestions' must be an array of strings, got null"),
        (b'{"suggestions": 3}', "'suggestions' must be an array of strings, got a number"),
        (b'{"suggestions": true}', "'suggestions' must be an array of strings, got a boolean"),
        (
            b'{"suggestions": {"0": "a"}}',
            "'suggestions' must be an array of strings, got an object",
        ),
        (b'{"suggestions": ["a", 1]}', "'suggestions' must hold only strings"),
        (b'{"suggestions": ["a", null]}', "'suggestions' must hold only strings"),
        (b'{"suggestions": [["a"]]}', "'suggestions' must hold only strings"),
        (b'{"suggestions": [{"text": "a"}]}', "'suggestions' must hold only strings"),
    ],
    ids=[
        "empty-body",
        "truncated",
        "plain-text",
        "not-utf8",
        "python-dict",
        "top-level-array",
        "top-level-string",
        "top-level-number",
        "top-level-null",
        "empty-object",
        "misspelt-key",
        "wrong-case-key",
        "null",
        "number",
        "boolean",
        "object",
        "list-with-a-number",
        "list-with-null",
        "list-with-a-list",
        "list-with-an-object",
    ],
)
def test_a_malformed_body_is_refused(body: bytes, message: str) -> None:
    with pytest.raises(BodyError) as excinfo:
        decode_response(body)
    assert str(excinfo.value) == message


HTML_PAGE = b"""<!DOCTYPE html>
<html><head><title>502 Bad Gateway</title></head>
<body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body>
</html>
"""


def test_an_html_page_is_refused() -> None:
    with pytest.raises(BodyError, match="not valid JSON"):
        decode_response(HTML_PAGE)


def test_body_error_is_a_value_error() -> None:
    assert issubclass(BodyError, ValueError)


NOT_A_LIST = "'suggestions' is a string but not a list of quoted strings"
NOT_ALL_STRINGS = "'suggestions' string holds a list that is not all strings"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Hello there!", NOT_A_LIST),
        ("", NOT_A_LIST),
        ("'a'", NOT_A_LIST),
        ("['a'", NOT_A_LIST),
        ("'a']", NOT_A_LIST),
        ("['a\nb']", NOT_A_LIST),
        ("[,]", NOT_A_LIST),
        ("['a',,'b']", NOT_A_LIST),
        ("['a' 'b']", NOT_A_LIST),
        ("['''a''']", NOT_A_LIST),
        ("('a', 'b')", NOT_A_LIST),
        ("{'a', 'b'}", NOT_A_LIST),
        ("['a']['b']", NOT_A_LIST),
        ("['a'] + ['b']", NOT_A_LIST),
        ("[['a']]", NOT_A_LIST),
        ('[["a"]]', NOT_ALL_STRINGS),
        ("[1, 2]", NOT_ALL_STRINGS),
        ('["a", null]', NOT_ALL_STRINGS),
        ("[None]", NOT_A_LIST),
        ("[True]", NOT_A_LIST),
        ("['a', 1]", NOT_A_LIST),
        ("[b'bytes']", NOT_A_LIST),
        ("[r'raw']", NOT_A_LIST),
        ("[u'unicode']", NOT_A_LIST),
        ("['a'.upper()]", NOT_A_LIST),
        (r"['\d']", NOT_A_LIST),
        (r"['\q']", NOT_A_LIST),
        (r"['\x4']", NOT_A_LIST),
        (r"['\u00e']", NOT_A_LIST),
        ("['unterminated\\']", NOT_A_LIST),
    ],
    ids=[
        "prose",
        "empty-string",
        "bare-string",
        "unclosed",
        "unopened",
        "raw-newline-in-item",
        "lone-comma",
        "double-comma",
        "implicit-concatenation",
        "triple-quoted",
        "tuple",
        "set",
        "subscript",
        "list-addition",
        "nested-python-list",
        "nested-json-list",
        "numbers",
        "json-null-item",
        "python-none",
        "python-true",
        "mixed-types",
        "bytes-literal",
        "raw-literal",
        "u-prefix",
        "method-call",
        "invalid-escape-d",
        "invalid-escape-q",
        "short-hex-escape",
        "short-unicode-escape",
        "escaped-closing-quote",
    ],
)
def test_a_string_that_is_not_a_list_of_string_literals_is_refused(text: str, message: str) -> None:
    with pytest.raises(BodyError) as excinfo:
        decode_response(_body(text))
    assert str(excinfo.value) == message


@pytest.mark.parametrize(
    "text",
    [
        r"['\777']",
        r"['\400']",
        r"['\4777']",
        r"['\N{NO SUCH CHARACTER NAME}']",
        r"['\U00110000']",
        r"['\UFFFFFFFF']",
    ],
    ids=[
        "octal-over-255",
        "octal-256",
        "octal-over-255-then-digit",
        "unknown-character-name",
        "code-point-over-max",
        "code-point-far-over-max",
    ],
)
def test_an_escape_python_would_reject_or_warn_about_is_refused(text: str) -> None:
    # Warnings are errors in this suite: a warning from the parser fails the test too.
    with pytest.raises(BodyError, match=r"not a list of quoted strings|invalid escape sequence"):
        parse_string_list(text)


# --- nothing is ever evaluated ---------------------------------------------------------

EXPRESSIONS = [
    "[__import__('os').system('echo hi')]",
    "['a' + 'b']",
    "[f'x']",
    "[f'{1 + 1}']",
    "['a' * 3]",
    "[chr(97)]",
    "[str(1)]",
    "[x]",
    "[(lambda: 'a')()]",
    "[('a')]",
    "['a' if True else 'b']",
    "[*['a']]",
    "[exec('1')]",
    "[eval('1')]",
    "['a'][::-1]",
    "[__builtins__]",
    "[globals()]",
    "['a' for _ in range(3)]",
]


@pytest.mark.parametrize("text", EXPRESSIONS)
def test_a_python_expression_is_refused(text: str) -> None:
    with pytest.raises(BodyError, match="not a list of quoted strings"):
        decode_response(_body(text))


def test_a_payload_with_side_effects_is_never_run(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []

    def fake_system(command: str) -> int:
        calls.append(command)
        return 0

    monkeypatch.setattr(os, "system", fake_system)
    marker = tmp_path / "pwned"
    payloads = [
        f"[__import__('os').system('touch {marker}')]",
        f"[open('{marker}', 'w').write('x')]",
        f"[__import__('pathlib').Path('{marker}').touch()]",
        f"['a', __import__('os').system('touch {marker}')]",
        f"[f\"{{__import__('os').system('touch {marker}')}}\"]",
    ]
    for payload in payloads:
        with pytest.raises(BodyError):
            decode_response(_body(payload))
    assert calls == []
    assert not marker.exists()


def test_the_parser_never_calls_eval(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args: object, **kwargs: object) -> object:
        raise AssertionError("evaluated")

    monkeypatch.setattr("builtins.eval", forbidden)
    monkeypatch.setattr("builtins.exec", forbidden)
    assert parse_string_list(VENDOR_EXAMPLE)[0] == "Lorem ipsum dolor sit amet."
    with pytest.raises(BodyError):
        parse_string_list("[__import__('os').getcwd()]")


# --- the parser is total: a list of strings or BodyError, never a warning -----------------

# Characters that make up lists, literals and escapes, so that the fuzzing reaches them.
_LITERAL_ALPHABET = "[]'\",\\ \nabfnrtvxuUN{}0123478eEAF_+fb()"
_ESCAPES = st.tuples(
    st.sampled_from(["", "x", "u", "U", "N{"]),
    st.text("0123456789abcdefABCDEF", max_size=8),
    st.sampled_from(["", "}"]),
).map(lambda parts: "\\" + "".join(parts))
_ITEMS = st.lists(st.one_of(_ESCAPES, st.text("ab '\"", max_size=2)), max_size=4).map("".join)


@settings(max_examples=400, deadline=None)
@given(
    text=st.one_of(
        st.text(_LITERAL_ALPHABET, max_size=24),
        _ITEMS.map(lambda s: f"['{s}']"),
        _ITEMS.map(lambda s: f"[\"{s}\", '{s}']"),
        st.text(max_size=24),
    )
)
def test_parse_string_list_returns_strings_or_raises_body_error(text: str) -> None:
    # Warnings are errors in this suite, so this also proves the parser never warns.
    try:
        result = parse_string_list(text)
    except BodyError:
        return
    assert isinstance(result, list)
    assert all(isinstance(item, str) for item in result)


def test_a_lone_surrogate_in_a_string_list_is_refused() -> None:
    # Not encodable as UTF-8: the same value as a real JSON array is refused too.
    with pytest.raises(BodyError, match="invalid escape"):
        parse_string_list("['\\ud800']")
