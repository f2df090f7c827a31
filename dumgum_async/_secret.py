"""A string that never shows itself: how the API key is held.

Error trackers (Sentry, Rollbar, ``traceback.TracebackException(capture_locals=True)``)
record the ``repr`` of every local of every frame of an exception's traceback, and
loggers format whatever they are given. So the key is wrapped in :class:`Secret` by
the first line of ours that sees it, and its text comes out only through
:meth:`Secret.reveal`, called where a plain ``str`` is unavoidable (the
``Authorization`` header, through :class:`SecretHeaders`). This module is at the
bottom layer: it imports nothing of the package.
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterator, KeysView, Mapping, ValuesView
from typing import TYPE_CHECKING, Any, Final, NoReturn

_MASK: Final = b"<redacted>"
_REDACTED: Final = "Secret('<redacted>')"


class Secret:
    """A value whose ``repr`` and ``str`` are redacted; :meth:`reveal` returns it.

    It cannot be pickled (a pickle is a way out of the process); copies are the
    object itself (it is immutable). Equality is identity: comparing two keys is
    not something this library does.

    Args:
        value: The secret text. Anything else is held just as safely, so that a
            caller's mistake (a key given as bytes, say) can be reported without
            showing it; :attr:`is_text` tells.
    """

    __slots__ = ("_needle", "_value")

    def __init__(self, value: object) -> None:
        self._value = value
        # What redact() looks for, encoded on first use: every response is redacted.
        self._needle: bytes | None = None

    @classmethod
    def wrap(cls, value: object) -> Secret | None:
        """``value`` as a :class:`Secret`: None stays None, a :class:`Secret` stays itself."""
        if value is None or isinstance(value, Secret):
            return value
        return cls(value)

    @property
    def is_text(self) -> bool:
        """True if the value is a ``str``."""
        return isinstance(self._value, str)

    @property
    def type_name(self) -> str:
        """The name of the value's type, which is safe to show."""
        return type(self._value).__name__

    def reveal(self) -> str:
        """The secret text itself: call it only where a plain ``str`` is required.

        Raises:
            TypeError: The value is not a ``str`` (see :attr:`is_text`).
        """
        # No local holds the value: this frame may be in a traceback.
        if not isinstance(self._value, str):
            raise TypeError(f"the secret is a {self.type_name}, not a str")
        return self._value

    def redact(self, data: bytes) -> bytes:
        """``data`` with every occurrence of the value (UTF-8) replaced by ``<redacted>``.

        For what a server sends back: an error page or a proxy may echo the
        request's ``Authorization`` header.
        """
        needle = self._needle
        if needle is None:
            value = self._value
            needle = self._needle = value.encode() if isinstance(value, str) else b""
        if needle:
            return data.replace(needle, _MASK)
        return data

    def redact_text(self, text: str) -> str:
        """``text`` with every occurrence of the value replaced by ``<redacted>``."""
        value = self._value
        if isinstance(value, str) and value and value in text:
            return text.replace(value, "<redacted>")
        return text

    def __repr__(self) -> str:
        return _REDACTED

    __str__ = __repr__

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Secret cannot be pickled")

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: object) -> Secret:
        return self


AUTHORIZATION: Final = "Authorization"

if TYPE_CHECKING:
    _HeadersBase = Mapping[str, str]
else:
    # Deliberately not a Mapping at run time; see SecretHeaders.
    _HeadersBase = object


class SecretHeaders(_HeadersBase):
    """Request headers whose ``Authorization`` value is kept in a :class:`Secret`.

    They offer the read-only mapping interface aiohttp reads (``keys``, ``items``,
    ``[name]``, ``in``, ``len``), but are deliberately not a
    ``collections.abc.Mapping`` (nor a dict): error trackers serialise a Mapping
    found in a frame's locals item by item, whatever its ``repr``, and the HTTP
    layer holds these headers in a local while it sends them. Anything that is
    not a Mapping they show by its ``repr``, which is redacted. The key is
    revealed only while aiohttp reads the items.

    Args:
        authorization: The whole ``Authorization`` value (``Bearer <key>``).
        others: The other headers, none of them secret.
    """

    __slots__ = ("_authorization", "_others")

    def __init__(self, authorization: Secret, others: Mapping[str, str]) -> None:
        self._authorization = authorization
        self._others = {k: v for k, v in others.items() if k.lower() != "authorization"}

    def __getitem__(self, name: str) -> str:
        if name == AUTHORIZATION:
            return self._authorization.reveal()
        return self._others[name]

    def __iter__(self) -> Iterator[str]:
        yield AUTHORIZATION
        yield from self._others

    def __len__(self) -> int:
        return 1 + len(self._others)

    def __contains__(self, name: object) -> bool:
        return name == AUTHORIZATION or name in self._others

    def keys(self) -> KeysView[str]:
        """The header names."""
        return KeysView(self)

    def items(self) -> ItemsView[str, str]:
        """The ``(name, value)`` pairs, the key revealed."""
        return _Items(self)

    def values(self) -> ValuesView[str]:
        """The header values, the key revealed."""
        return ValuesView(self)

    def get(self, name: str, default: Any = None) -> Any:
        """The value of ``name``, else ``default``."""
        if name == AUTHORIZATION:
            return self._authorization.reveal()
        return self._others.get(name, default)

    def public(self) -> dict[str, str]:
        """Every header but ``Authorization``: nothing secret."""
        return dict(self._others)

    def merged(self, extra: Mapping[str, str]) -> SecretHeaders:
        """A copy with ``extra`` added (for one request's trace headers); never the key."""
        return SecretHeaders(self._authorization, {**self._others, **extra})

    def __repr__(self) -> str:
        return f"SecretHeaders({ {AUTHORIZATION: '<redacted>', **self._others}!r})"

    __str__ = __repr__

    def __reduce__(self) -> NoReturn:
        raise TypeError("SecretHeaders cannot be pickled")


class _Items(ItemsView[str, str]):
    """``SecretHeaders.items()``: aiohttp copies every request's headers through it,
    so the pairs come straight from the dict, not through ``__getitem__`` per name."""

    __slots__ = ("_headers",)

    def __init__(self, headers: SecretHeaders) -> None:
        super().__init__(headers)
        self._headers = headers

    def __iter__(self) -> Iterator[tuple[str, str]]:
        headers = self._headers
        yield AUTHORIZATION, headers._authorization.reveal()
        yield from headers._others.items()
