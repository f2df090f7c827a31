"""The Python-style string-list parser: what the old regex accepted, in linear time."""

from __future__ import annotations

import ast
import contextlib
import re
import time

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dumgum_async import _pylist
from dumgum_async._converter import BodyError, decode_response

# The parser this module replaced (regex + ast.literal_eval), kept as the oracle of
# what is accepted; it backtracks quadratically, so it only sees short texts here.
_ESC = (
    r"""\\(?:[\\'"abfnrtv\n]|[0-3][0-7]{0,2}|[4-7][0-7]?(?![0-7])"""
    r"""|x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|N\{[A-Za-z0-9 \-]+\})"""
)
_STR = rf"""(?:'(?:[^'\\\n]|{_ESC})*'|"(?:[^"\\\n]|{_ESC})*")"""
_LIST = re.compile(rf"\s*\[\s*(?:{_STR}\s*(?:,\s*{_STR}\s*)*,?\s*)?\]\s*\Z")
_ITEM = re.compile(_STR)


def _oracle(text: str) -> list[str] | str:
    if not _LIST.match(text):
        return "not a list"
    try:
        items = [ast.literal_eval(m.group()) for m in _ITEM.finditer(text)]
        for item in items:
            item.encode("utf-8")
    except (SyntaxError, ValueError):
        return "invalid escape"
    return items


def _parsed(text: str) -> list[str] | str:
    try:
        return _pylist.parse(text)
    except _pylist.NotAListError:
        return "not a list"
    except _pylist.InvalidEscapeError:
        return "invalid escape"


_ALPHABET = "[]'\", \t\n\r\x00\u00a0\u3000\\abfnrtvxuUN{}0123456789ABCDEFabcdef-\u2603"
_ESCAPE = st.tuples(
    st.sampled_from(list("\\'\"abfnrtvxuUN01234567\n8q")),
    st.text("0123456789abcdefABCDEF{} -SNOWMAN", max_size=10),
).map(lambda parts: "\\" + "".join(parts))
_BODY = st.lists(st.one_of(_ESCAPE, st.text(_ALPHABET, max_size=3)), max_size=5).map("".join)
_LISTS = st.lists(
    st.tuples(st.sampled_from(["'", '"']), _BODY, st.sampled_from(["", " ", "\t", "\u00a0"])),
    max_size=4,
).map(lambda items: "[" + ",".join(f"{ws}{q}{b}{q}{ws}" for q, b, ws in items) + "]")


@settings(max_examples=600, deadline=None)
@given(text=st.one_of(st.text(_ALPHABET, max_size=30), _LISTS, _LISTS.map(lambda s: s[:-1] + ",]")))
def test_the_parser_accepts_and_refuses_exactly_what_the_old_regex_did(text: str) -> None:
    assert _parsed(text) == _oracle(text)


@pytest.mark.parametrize(
    "text",
    [
        r"['\N{snowman}', '\N{LATIN SMALL LETTER GHA}', '\N{BYTE ORDER MARK}']",
        r"['\N{LATIN CAPITAL LETTER A WITH MACRON AND GRAVE}']",  # a named sequence
        r"['\N{CJK UNIFIED IDEOGRAPH-4E00}', '\N{HANGUL SYLLABLE GA}']",
        r"['\47', '\477', '\3777', '\4', '\48', '\0', '\08', '\400']",
        "['a\rb']",
        "['a\x00b']",
        "['a\x0bb', 'a\x85b', 'a\u2028b']",
        "\u3000['a'\u00a0,\u2003'b' ,]\n",
        "['a\\\nb']",
        "['\\",
        "['a'",
        "[,]",
        "[]",
    ],
)
def test_edge_cases_match_the_old_parser(text: str) -> None:
    assert _parsed(text) == _oracle(text)


_MIB = 1 << 20
_HOSTILE = {
    # The shapes that made the old regex backtrack (runs of spaces between tokens).
    "spaces-after-an-item": "['a'" + " " * _MIB + "x",
    "spaces-around-commas": "['a'" + " , 'a'" * (_MIB // 6) + " x",
    "spaces-before-the-end": "['a', 'b'" + " " * _MIB + ",x",
    # Valid but heavy: many items, many escapes.
    "many-empty-items": "[" + "''," * (_MIB // 3) + "]",
    "many-escapes": "['" + "\\x41" * (_MIB // 4) + "']",
}


@pytest.mark.parametrize("text", list(_HOSTILE.values()), ids=list(_HOSTILE))
def test_a_one_mib_crafted_suggestions_string_is_decided_in_well_under_a_second(
    text: str,
) -> None:
    body = orjson.dumps({"suggestions": text})
    started = time.perf_counter()
    with contextlib.suppress(BodyError):
        decode_response(body)
    # The backtracking shapes take milliseconds; the heavy valid ones a few tenths on
    # an idle machine, so they get a margin for a busy 2-core CI box.
    bound = 3.0 if text.startswith(("[''", "['\\x")) else 0.75
    assert time.perf_counter() - started < bound
