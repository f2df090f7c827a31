"""The request body, fast: straight-line encoders and a memo of what was sent before.

``encode_request`` writes byte for byte what ``_converter.encode_request`` writes. That
cattrs road stays the reference, and the road for anything this one does not take on:
any exception here (a subclass of a model, a value of an unusual class, something orjson
refuses) hands the whole request to it, which then encodes it or names the problem.

Why it is faster. Real workloads send the same persona ``Profile`` in thousands of
chats, the same user ``Profile`` every turn, and a history of which all but the newest
message or two went out on the previous turn. Models are frozen and hold only immutable
values, so their JSON is the same every time. Three memos, each kept from an object's
second use on (the first use only marks it as seen: most objects, such as the body of a
one-off call, are never sent twice and keep nothing):

* a ``Profile``'s JSON, in its ``_Encoded`` slot, spliced into the next body as an
  ``orjson.Fragment`` instead of being built again;
* the messages array last sent to a user profile, in its ``_history`` slot
  (``_history``): the next turn's array is that one, cut and extended, in one copy;
* a ``SuggestionRequest``'s whole body, in its own slot, for a request sent again.

Messages are looked at only in a request whose user profile object was sent before (see
``_Source._seen_test``): a request built from scratch has nothing to splice.

What makes the spliced bytes right:

* they are ``orjson.dumps`` of the very dict that would be written inline, with the same
  option; compact JSON of a value does not depend on where it sits in the document;
* the dict is built like cattrs builds it: the same keys in the same order (required
  fields first, then the others in field order), the same leaf objects, a field left
  out exactly when cattrs' ``value != default`` test would leave it out. That test is
  replaced by ``is None`` / emptiness only for values of the exact expected class, for
  which the two are provably the same; a value of any other class (a ``str`` subclass
  that could redefine ``!=``) sends the request down the cattrs road;
* only an object of the exact model class is remembered (a subclass could compute its
  attributes), and only if its bytes cannot change later: every ``datetime`` in it has a
  fixed-offset ``datetime.timezone``. A ``ZoneInfo`` or custom ``tzinfo`` computes its
  offset on every call, so such objects are encoded afresh every time;
* a history is kept only of messages whose bytes cannot change, its elements are
  compared by identity (see ``_history``), and compact JSON of an array is ``[``, its
  elements' JSON joined by ``,``, and ``]``;
* the memo is a plain slot, not an attrs field: ``attrs.evolve``, ``copy.copy``,
  ``copy.deepcopy`` and pickling build new objects from the fields alone, so a copy
  starts empty and an object with other values never inherits bytes.

Memory: every memo is an exact-size copy (``bytes(memoryview(...))``, or a
``b"".join``): orjson's own output keeps its whole growth buffer (a 92-byte message
holds 4 KB), which ``sys.getsizeof`` does not show. A memo lives and dies with its
object; a history holds the messages tuple it was made of (one per user profile).
"""

from __future__ import annotations

import datetime as _dt
import operator
from collections.abc import Callable
from typing import Any, Final

import attrs
import orjson

from dumgum_async import _converter
from dumgum_async._constraints import compile_function
from dumgum_async._enums import WireEnum
from dumgum_async._models import Message, SuggestionRequest, _Encoded, _Holder
from dumgum_async._wire import optional_of, tuple_item

_OPTION: Final = orjson.OPT_UTC_Z
_Fragment: Final = orjson.Fragment
_is: Final = operator.is_
_set_history: Final = _Holder._history.__set__  # type: ignore[attr-defined]

#: The state of an object's memo slot after its first use (unset before it).
_SEEN: Final = "seen once"


class _Unusual(Exception):
    """A value the straight-line road does not handle: the converter's road does."""


def _is_leaf(t: Any) -> bool:
    # What cattrs' native unstructurer hands to orjson unchanged (identity hooks).
    return t in (str, int, bool, _dt.date, _dt.datetime) or (
        isinstance(t, type) and issubclass(t, WireEnum)
    )


def _history(holder: Any, messages: tuple[Any, ...]) -> Any:
    """The ``messages`` array of a request to ``holder`` (its user profile, sent before).

    A chat's next request repeats the history of the previous one, grown by a message
    or two and, in a window of the last N, slid by as many. The array last sent to
    ``holder`` is kept on it, whole (its ``_history``: the messages tuple, their JSON
    array, each element's length and a Fragment of the array), so that the next
    array is that one with its first elements cut off (or none) and the new
    messages' JSON appended: one contiguous copy, and no look at the old messages
    but a comparison of the two tuples' pointers. (Twenty memos scattered in memory,
    read one by one, cost more in cache misses than the rest of the encoding.)
    Elements are compared by identity, never ``==``: equal dates in two zones are
    equal but written differently. Only a history of messages whose bytes can never
    change is kept; otherwise this answers the array's elements, as the
    straight-line encoder writes them.
    """
    if messages.__class__ is not tuple:  # a list could change under the kept history
        raise _Unusual
    state = _getattr(holder, "_history", None)
    if state is not None:
        old, body, lengths, fragment = state
        if messages is old:
            return fragment
        # Where the old history's last message is now (looked for from the end: a
        # turn adds one message or two). Before it, the old messages must follow
        # in order, but for the first ``shift`` of them, which slid out.
        last = old[-1]
        keep = len(messages)
        while keep and messages[keep - 1] is not last:
            keep -= 1
        shift = len(old) - keep
        if keep and shift >= 0 and all(map(_is, messages[:keep], old[shift:])):
            added: list[Any] = [_message_bytes(x) for x in messages[keep:]]
            if None not in added:
                cut = 1 + sum(lengths[:shift]) + shift  # "[", the dropped ones, commas
                pieces: list[Any] = [b"[", memoryview(body)[cut:-1]]
                for part in added:
                    pieces += (b",", part)
                pieces.append(b"]")
                return _keep(holder, messages, pieces, lengths[shift:] + list(map(len, added)))
    return _fresh(holder, messages)


def _fresh(holder: Any, messages: tuple[Any, ...]) -> Any:
    # A history not spliced from the last one: encoded whole, and kept if it can be.
    parts: list[Any] = [_message_bytes(x) for x in messages]
    if None in parts or not parts:
        return [_ENC_MESSAGE(x) for x in messages]
    pieces: list[Any] = [b"[", parts[0]]
    for part in parts[1:]:
        pieces += (b",", part)
    pieces.append(b"]")
    return _keep(holder, messages, pieces, list(map(len, parts)))


def _keep(holder: Any, messages: tuple[Any, ...], pieces: list[Any], lengths: list[int]) -> Any:
    body = b"".join(pieces)  # exact size
    fragment = _Fragment(body)
    # One slot store of a new tuple: a thread reading the slot meanwhile sees the
    # old history or the new one, each consistent, never a mix.
    _set_history(holder, (messages, body, lengths, fragment))
    return fragment


def _message_bytes(message: Any) -> bytes | None:
    """The JSON of one message if it can never change, else None."""
    encoded = _ENC_MESSAGE(message)  # raises _Unusual for a subclass
    return _dumps(encoded, option=_OPTION) if _STABLE_MESSAGE(message) else None


class _Source:
    """The generated source of every encoder, and the names it refers to."""

    def __init__(self) -> None:
        self.ns: dict[str, Any] = {
            "_Unusual": _Unusual,
            "_getattr": getattr,
            "_set": _Encoded._wire.__set__,  # type: ignore[attr-defined]
            "_Fragment": orjson.Fragment,
            "_dumps": orjson.dumps,
            "_OPTION": _OPTION,
            "_SEEN": _SEEN,
            "_exact": _exact,
            "_tz": _dt.timezone,
            "_history": _history,
        }
        self.lines: list[str] = []
        self.done: set[type] = set()

    def bind(self, value: object) -> str:
        for key, held in self.ns.items():
            if held is value:
                return key
        key = f"_v{len(self.ns)}"
        self.ns[key] = value
        return key

    def model(self, cls: type, *, memo: bool = False) -> str:
        """The name of the function writing a ``cls``: a dict, or with ``memo`` a Fragment."""
        if cls not in self.done:
            self.done.add(cls)
            attrs.resolve_types(cls)
            self._encoder(cls)
            # The request itself is remembered whole, as its body (encode_request).
            if issubclass(cls, _Encoded) and cls is not SuggestionRequest:
                self._memo(cls)
        return f"{'part' if memo and issubclass(cls, _Encoded) else 'enc'}_{cls.__name__}"

    def _value(self, t: Any, var: str, memo: bool) -> str:
        """How a present value of type ``t`` held in ``var`` is written."""
        if _is_leaf(t):
            return var
        if attrs.has(t):
            return f"{self.model(t, memo=memo)}({var})"
        item = tuple_item(t)
        if item is not None and _is_leaf(item):
            return var  # cattrs passes such a tuple as it is; orjson writes an array
        if item is not None and attrs.has(item):
            return f"[{self.model(item, memo=memo)}(x) for x in {var}]"
        raise TypeError(f"no straight-line encoding for {t!r}")

    def _encoder(self, cls: type, *, memo: bool = False) -> None:
        """``enc_<cls>``: the dict cattrs would build (``memo_<cls>``: memos spliced in)."""
        head: list[str] = []
        rest: list[str] = []
        prelude: list[str] = []
        if memo:
            prelude = self._seen_test(cls)
        for a in attrs.fields(cls):
            key = _converter.camel(a.name)
            inner = optional_of(a.type)
            t = a.type if inner is None else inner
            if a.default is attrs.NOTHING:
                # cattrs writes every required field first, in one dict display.
                item = tuple_item(t)
                if memo and item is Message:
                    # Spliced from the history last sent to the same user profile
                    # (_history), once that profile was sent before.
                    plain = self._value(t, "o." + a.name, False)
                    holder = f"o.{self._holder(cls)}"
                    value = f"(_history({holder}, o.{a.name}) if seen else {plain})"
                else:
                    value = self._value(t, "o." + a.name, memo)
                head.append(f"{key!r}: {value}")
                continue
            rest.append(f"    v = o.{a.name}")
            if a.default is None:
                rest.append("    if v is not None:")
                if not attrs.has(t):  # a model's own encoder checks its class
                    rest.append(f"        if v.__class__ is not {self.bind(t)}: raise _Unusual")
            elif a.default == () and tuple_item(t) is not None:
                rest.append("    if v.__class__ is not tuple: raise _Unusual")
                rest.append("    if v:")
            else:
                raise TypeError(f"{cls.__name__}.{a.name}: no straight-line encoding")
            rest.append(f"        d[{key!r}] = {self._value(t, 'v', memo)}")
        self.lines += [
            f"def {'memo' if memo else 'enc'}_{cls.__name__}(o):",
            f"    if o.__class__ is not {self.bind(cls)}: raise _Unusual",
            *prelude,
            "    d = {" + ", ".join(head) + "}",
            *rest,
            "    return d",
            "",
        ]

    def _seen_test(self, cls: type) -> list[str]:
        """``seen``: whether the first remembered object of ``cls`` was sent before.

        Lists of remembered objects (the messages) are looked up only then. A request
        whose user profile is a new object was built from scratch, so its messages are
        new too, and reading the never-written slot of each would cost more than the
        whole encoding saves (an AttributeError raised and caught inside ``getattr``).
        Skipping them is never wrong, only slower for a history kept with new profiles.
        """
        return [f"    seen = _getattr(o.{self._holder(cls)}, '_wire', None) is not None"]

    @staticmethod
    def _holder(model: type) -> str:
        """The field of ``model`` that holds the history: its first (the user) profile."""
        for a in attrs.fields(model):
            if isinstance(a.type, type) and issubclass(a.type, _Holder):
                name: str = a.name
                return name
        raise TypeError(f"{model.__name__} has no profile to hold its history")

    def _memo(self, cls: type) -> None:
        name = cls.__name__
        stable = self._stable(cls, "o")
        # The memo write is a plain slot store, so threads (or loops in threads)
        # encoding one object at once race harmlessly: each writes either the marker
        # or the Fragment of that same immutable object. The worst outcome is a
        # Fragment overwritten by the marker of a slower first use, which only means
        # encoding it once more; no interleaving can store bytes of other values.
        self.lines += [
            f"def part_{name}(o):",
            # The class first: a subclass could answer for the slot's name itself.
            f"    if o.__class__ is not {self.bind(cls)}: raise _Unusual",
            "    m = _getattr(o, '_wire', None)",
            "    if m.__class__ is _Fragment: return m",
            f"    d = enc_{name}(o)",
            "    if m is None:",
            "        _set(o, _SEEN)",
            f"    elif {stable}:",
            "        m = _Fragment(_exact(_dumps(d, option=_OPTION)))",
            "        _set(o, m)",
            "        return m",
            "    return d",
            "",
        ]

    def _stable(self, cls: type, var: str, depth: int = 0) -> str:
        """An expression, true when the bytes of ``var`` (a ``cls``) can never change."""
        tests: list[str] = []
        for a in attrs.fields(cls):
            inner = optional_of(a.type)
            t = a.type if inner is None else inner
            value = f"{var}.{a.name}"
            item = tuple_item(t)
            if t is _dt.datetime:
                test = f"{value}.tzinfo.__class__ is _tz"
            elif attrs.has(t):
                test = self._stable(t, value, depth + 1)
            elif item is not None and attrs.has(item):
                x = f"x{depth}"
                nested = self._stable(item, x, depth + 1)
                test = "True" if nested == "True" else f"all({nested} for {x} in {value})"
            else:
                continue
            if test == "True":
                continue
            tests.append(f"({value} is None or {test})" if inner is not None else f"({test})")
        return " and ".join(tests) or "True"

    def stable(self, cls: type) -> str:
        """``stable_<cls>``: whether the bytes of a ``cls`` can never change."""
        self.lines += [f"def stable_{cls.__name__}(o):", f"    return {self._stable(cls, 'o')}", ""]
        return f"stable_{cls.__name__}"

    def compile(self, name: str) -> dict[str, Any]:
        """Every function written (``name`` among them), by name; built once, at import.

        Their source is kept in linecache, as the validators' is: a traceback through
        an encoder shows its lines.
        """
        compile_function("\n".join(self.lines), name, self.ns, "encoders")
        return self.ns


def _exact(data: bytes) -> bytes:
    # orjson's bytes keep its whole output buffer (a 92-byte message holds 4 KB);
    # this copy is the size of the text. (Slicing would return the same object.)
    return bytes(memoryview(data))


_Encoder = Callable[[SuggestionRequest], Any]
_OfMessage = Callable[[Message], Any]


def _build() -> tuple[_Encoder, _Encoder, _Encoder, _OfMessage, _OfMessage]:
    source = _Source()
    plain = source.model(SuggestionRequest)
    source._encoder(SuggestionRequest, memo=True)
    stable = source.stable(SuggestionRequest)
    stable_message = source.stable(Message)
    ns = source.compile(plain)
    return (
        ns[plain],
        ns["memo_SuggestionRequest"],
        ns[stable],
        ns[source.model(Message)],
        ns[stable_message],
    )


_PLAIN_REQUEST, _MEMO_REQUEST, _STABLE_REQUEST, _ENC_MESSAGE, _STABLE_MESSAGE = _build()
_dumps: Final = orjson.dumps
_getattr: Final = getattr
_set_body: Final = _Encoded._wire.__set__  # type: ignore[attr-defined]


def encode_request(request: SuggestionRequest) -> bytes:
    """The request body as sent: compact UTF-8 JSON, the same bytes as the converter's.

    A request sent before is answered from its own memo, the whole body; in a new
    one, profiles and messages sent before are spliced in from theirs (see the module
    docstring). Anything unusual goes through ``_converter.encode_request``.

    Raises:
        RequestValidationError: Something in ``request`` cannot be written as JSON
            (a lone surrogate in an unknown enum value, say), named by its path.
    """
    try:
        # The class first: a subclass could answer for the slot's name itself.
        if request.__class__ is not SuggestionRequest:
            raise _Unusual
        memo: Any = _getattr(request, "_wire", None)
        if memo.__class__ is bytes:
            return memo
        body = _dumps(_MEMO_REQUEST(request), option=_OPTION)
        if memo is None:
            _set_body(request, _SEEN)
        elif _STABLE_REQUEST(request):
            body = _exact(body)
            _set_body(request, body)
        return body
    except Exception:
        # The reference road decides: it encodes what is merely unusual, and names
        # what cannot be sent.
        return _converter.encode_request(request)


def encode_unshared(request: SuggestionRequest) -> bytes:
    """:func:`encode_request` for a request nobody else holds (just built from a mapping).

    No memo is read or written: its objects die with the call, so counting them would
    be work for nothing (reading a memo slot never written costs more than the rest).

    Raises:
        RequestValidationError: As :func:`encode_request`.
    """
    try:
        return _dumps(_PLAIN_REQUEST(request), option=_OPTION)
    except Exception:
        return _converter.encode_request(request)
