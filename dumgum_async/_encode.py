"""The request body, fast: straight-line encoders and a memo of encoded sub-objects.

``encode_request`` writes byte for byte what ``_converter.encode_request`` writes. That
cattrs road stays the reference, and the road for anything this one does not take on:
any exception here (a subclass of a model, a value of an unusual class, something orjson
refuses) hands the whole request to it, which then encodes it or names the problem.

Why it is faster. Real workloads send the same persona ``Profile`` in thousands of
chats, the same user ``Profile`` every turn, and a history of which all but the newest
``Message`` went out on the previous turn. Models are frozen and hold only immutable
values, so the JSON of a ``Profile`` or a ``Message`` is the same every time: from an
object's second use on, it is kept on the object (the ``_Encoded`` slot of the model)
and spliced into the next body as an ``orjson.Fragment`` instead of being built again.
The first use only marks the object as seen: most objects (a new request's fresh
messages, the body of a one-off call) are never sent twice and keep nothing. Messages
are looked at only in a request whose user profile object was sent before (see
``_Source._seen_test``): in a request built from scratch, counting twenty new messages
would cost more than the rest of the encoding.

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
* the memo is a plain slot, not an attrs field: ``attrs.evolve``, ``copy.copy``,
  ``copy.deepcopy`` and pickling build new objects from the fields alone, so a copy
  starts empty and an object with other values never inherits bytes.

Memory: the memo is an exact-size copy (``bytes(memoryview(...))``): orjson's own output
keeps its whole growth buffer (a 92-byte message holds 4 KB), which ``sys.getsizeof``
does not show. It lives and dies with its object.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from typing import Any, Final

import attrs
import orjson

from dumgum_async import _converter
from dumgum_async._enums import WireEnum
from dumgum_async._models import SuggestionRequest, _Encoded
from dumgum_async._wire import optional_of, tuple_item

_OPTION: Final = orjson.OPT_UTC_Z

#: The state of an object's memo slot after its first use (unset before it).
_SEEN: Final = "seen once"


class _Unusual(Exception):
    """A value the straight-line road does not handle: the converter's road does."""


def _is_leaf(t: Any) -> bool:
    # What cattrs' native unstructurer hands to orjson unchanged (identity hooks).
    return t in (str, int, bool, _dt.date, _dt.datetime) or (
        isinstance(t, type) and issubclass(t, WireEnum)
    )


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
            encode = self.model(item, memo=memo)
            if memo and issubclass(item, _Encoded):
                # part_<item>'s answer for a remembered object, inline: twenty
                # messages would otherwise cost twenty calls to splice.
                remembered = (
                    f"x.__class__ is {self.bind(item)}"
                    " and (w := _getattr(x, '_wire', None)).__class__ is _Fragment"
                )
                return f"[w if {remembered} else {encode}(x) for x in {var}]"
            return f"[{encode}(x) for x in {var}]"
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
                value = self._value(t, "o." + a.name, memo)
                item = tuple_item(t)
                if memo and item is not None and issubclass(item, _Encoded):
                    plain = self._value(t, "o." + a.name, False)
                    value = f"({value} if seen else {plain})"
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
        for a in attrs.fields(cls):
            if isinstance(a.type, type) and issubclass(a.type, _Encoded):
                return [f"    seen = _getattr(o.{a.name}, '_wire', None) is not None"]
        return ["    seen = True"]

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

    def compile(self) -> dict[str, Any]:
        exec("\n".join(self.lines), self.ns)  # straight-line functions, built once at import
        return self.ns


def _exact(data: bytes) -> bytes:
    # orjson's bytes keep its whole output buffer (a 92-byte message holds 4 KB);
    # this copy is the size of the text. (Slicing would return the same object.)
    return bytes(memoryview(data))


_Encoder = Callable[[SuggestionRequest], Any]


def _build() -> tuple[_Encoder, _Encoder, _Encoder]:
    source = _Source()
    plain = source.model(SuggestionRequest)
    source._encoder(SuggestionRequest, memo=True)
    stable = source.stable(SuggestionRequest)
    ns = source.compile()
    return ns[plain], ns["memo_SuggestionRequest"], ns[stable]


_PLAIN_REQUEST, _MEMO_REQUEST, _STABLE_REQUEST = _build()
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
