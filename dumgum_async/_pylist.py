"""Read a Python-style list of string literals, e.g. ``['a', "b\\n"]``, in linear time.

The vendor's older documentation sends ``suggestions`` as one string holding such a
list. This is a single forward scan: every token is decided by its first character and
nothing is ever re-read, so a hostile body costs time proportional to its length (the
regular expression it replaces backtracked quadratically on runs of spaces). Nothing
is evaluated. It accepts exactly the prefix-less literals whose escapes Python accepts
without a warning, as ``ast.literal_eval`` would read them.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

__all__ = ["InvalidEscapeError", "NotAListError", "parse"]


class NotAListError(ValueError):
    """The text is not a list of quoted string literals."""


class InvalidEscapeError(ValueError):
    """A list of literals, but an escape (or character) Python refuses inside one."""


# Each matches a run of one class only: no alternatives, so no backtracking.
_SPACE: Final = re.compile(r"\s*")
_PLAIN: Final = {"'": re.compile(r"[^'\\\n]*"), '"': re.compile(r'[^"\\\n]*')}
_NAME: Final = re.compile(r"\{([A-Za-z0-9 \-]+)\}")
_HEX: Final = frozenset("0123456789abcdefABCDEF")
_OCTAL: Final = frozenset("01234567")
_SIMPLE: Final = {
    "\\": "\\",
    "'": "'",
    '"': '"',
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\n": "",  # a backslash-newline continues the literal
}
_HEX_DIGITS: Final = {"x": 2, "u": 4, "U": 8}


def parse(text: str) -> list[str]:
    """Return the strings of ``text``, a bracketed, comma-separated list of literals.

    Whitespace (as ``str.isspace``) may surround every token; one trailing comma is
    allowed; each literal is single- or double-quoted, on one line (save for
    backslash-newline), with Python's escapes.

    Raises:
        NotAListError: ``text`` is not such a list.
        InvalidEscapeError: It is, but an escape names no character (``\\N{NO SUCH}``,
            ``\\U00110000``, a lone surrogate) or a literal holds a bare CR or NUL.
    """
    end = len(text)
    pos = _skip_space(text)
    if pos == end or text[pos] != "[":
        raise NotAListError("no opening bracket")
    pos = _skip_space(text, pos + 1)
    items: list[str] = []
    invalid = False  # reported only if the whole text is a list, as before
    if pos < end and text[pos] != "]":
        while True:
            item, pos, ok = _literal(text, pos)
            items.append(item)
            invalid = invalid or not ok
            pos = _skip_space(text, pos)
            if pos < end and text[pos] == ",":
                pos = _skip_space(text, pos + 1)
                if pos < end and text[pos] == "]":
                    break
                continue
            break
    if pos == end or text[pos] != "]":
        raise NotAListError("no closing bracket")
    if _skip_space(text, pos + 1) != end:
        raise NotAListError("text after the closing bracket")
    if invalid:
        raise InvalidEscapeError("an escape or character Python refuses")
    for item in items:
        try:
            item.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate (\ud800) is no text
            raise InvalidEscapeError("a lone surrogate") from None
    return items


def _skip_space(text: str, pos: int = 0) -> int:
    match = _SPACE.match(text, pos)
    assert match is not None  # \s* matches the empty string
    return match.end()


def _literal(text: str, pos: int) -> tuple[str, int, bool]:
    """Read one literal starting at ``pos``: (its value, the position after it, valid)."""
    end = len(text)
    quote = text[pos] if pos < end else ""
    plain = _PLAIN.get(quote)
    if plain is None:
        raise NotAListError("expected a quoted string")
    pos += 1
    parts: list[str] = []
    ok = True
    # Python's tokenizer ends a line at a bare CR and refuses NUL in source: checked below.
    while True:
        run = plain.match(text, pos)
        assert run is not None  # a starred class matches the empty string
        chunk = run.group()
        if chunk:
            if ok and ("\r" in chunk or "\x00" in chunk):
                ok = False
            parts.append(chunk)
        pos = run.end()
        if pos == end or text[pos] == "\n":
            raise NotAListError("unterminated string")
        if text[pos] == quote:
            return "".join(parts), pos + 1, ok
        value, pos = _escape(text, pos + 1)
        if value is None:
            ok = False
        else:
            parts.append(value)


def _escape(text: str, pos: int) -> tuple[str | None, int]:
    """Decode the escape whose backslash precedes ``pos``: (value or None if refused, next)."""
    end = len(text)
    if pos == end:
        raise NotAListError("a backslash at the end")
    c = text[pos]
    simple = _SIMPLE.get(c)
    if simple is not None:
        return simple, pos + 1
    if c in _OCTAL:
        if pos + 1 == end or text[pos + 1] not in _OCTAL:  # the common \0
            return chr(ord(c) - 48), pos + 1
        stop = pos + 1
        # \0-\3 take up to three digits; \4-\7 at most two, and a third digit would make
        # a value above 0o377, which Python warns about: refused.
        limit = pos + (3 if c in "0123" else 2)
        limit = min(limit, end)
        while stop < limit and text[stop] in _OCTAL:
            stop += 1
        if c not in "0123" and stop == limit and stop < end and text[stop] in _OCTAL:
            raise NotAListError("an octal escape above \\377")
        return chr(int(text[pos:stop], 8)), stop
    digits = _HEX_DIGITS.get(c)
    if digits is not None:
        hexa = text[pos + 1 : pos + 1 + digits]
        if len(hexa) != digits or not all(h in _HEX for h in hexa):
            raise NotAListError("a short hexadecimal escape")
        code = int(hexa, 16)
        return (chr(code) if code <= 0x10FFFF else None), pos + 1 + digits
    if c == "N":
        named = _NAME.match(text, pos + 1)
        if named is None:
            raise NotAListError("a malformed \\N{...} escape")
        try:
            value = unicodedata.lookup(named.group(1))
        except KeyError:
            value = None
        # lookup() also knows named sequences (several characters); Python's \N does not.
        return (value if value is not None and len(value) == 1 else None), named.end()
    raise NotAListError("an unknown escape")
