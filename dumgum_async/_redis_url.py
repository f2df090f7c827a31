"""A Redis URL, its password and redis-py's options, for :mod:`dumgum_async._redis`.

The password is the one secret here: from the first line that sees the URL it lives
in a :class:`SecretURL` (``repr`` shows ``***``) and then in :class:`Credentials`,
handed to redis-py only when it authenticates. Nothing here raises with the URL in
its frames: every failure is a message that names the problem only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final, Literal, TypedDict
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from dumgum_async._secret import Secret
from dumgum_async.exceptions import ConfigurationError

__all__ = [
    "Credentials",
    "SecretURL",
    "SharingOptions",
    "check_limiter_options",
    "redact",
    "refuse_unknown_sharing_options",
]


class SharingOptions(TypedDict, total=False):
    """How a limiter talks to Redis: ``RedisRateLimit``'s keywords past the rate.

    Only names and types: the defaults live once, in ``RedisRateLimit.__init__``,
    and the type checkers hold this list to it where ``RedisRateLimit.adaptive``
    forwards it.
    """

    margin: float
    on_redis_error: Literal["raise", "local"]
    socket_timeout: float
    recheck_interval: float


_SHARING_KEYS: Final = frozenset(SharingOptions.__annotations__)


def refuse_unknown_sharing_options(options: Mapping[str, object]) -> None:
    """Refuse, in ``adaptive()``'s name, a keyword ``RedisRateLimit.adaptive`` does not
    forward: else ``__init__`` would silently take its own ``burst`` (an adaptive rate
    is evenly spaced) or blame itself for a typo.

    Raises:
        TypeError: A keyword that is not one of :class:`SharingOptions`.
    """
    unexpected = sorted(options.keys() - _SHARING_KEYS)
    if unexpected:
        raise TypeError(f"adaptive() got an unexpected keyword argument {unexpected[0]!r}")


def redact(url: str) -> str:
    """``url`` with any password (``user:password@`` or ``?password=``) shown as ``***``."""
    parts = urlsplit(url)
    if parts.password is not None:
        host = parts.hostname or ""
        if ":" in host:  # an IPv6 literal lost its brackets in hostname
            host = f"[{host}]"
        port = f":{parts.port}" if parts.port is not None else ""
        parts = parts._replace(netloc=f"{parts.username or ''}:***@{host}{port}")
    if parts.query:
        query = [(k, "***" if k == "password" else v) for k, v in parse_qsl(parts.query, True)]
        parts = parts._replace(query=urlencode(query, safe="*"))
    text = urlunsplit(parts)
    if not parts.netloc and url.startswith(f"{parts.scheme}://"):  # keep unix:///path
        text = text.replace(":", "://", 1)
    return text


class Credentials:
    """Redis's username and password, given to redis-py only when it authenticates.

    A redis-py ``CredentialProvider`` by duck typing (redis is imported lazily).
    Neither its ``repr`` nor redis-py's keyword dictionaries ever hold the
    password, so neither do tracebacks, frame locals or messages.
    """

    __slots__ = ("_password", "_username")

    def __init__(self, username: str | None, password: str | None) -> None:
        self._username = username
        # A Secret too, so that serialisers walking attributes find nothing either.
        self._password = Secret(password or "")

    def __repr__(self) -> str:
        return "<redis credentials>"

    def get_credentials(self) -> tuple[str] | tuple[str, str]:
        """``(password,)`` or ``(username, password)``, as redis-py's AUTH wants."""
        if self._username:
            return (self._username, self._password.reveal())
        return (self._password.reveal(),)

    async def get_credentials_async(self) -> tuple[str] | tuple[str, str]:
        """:meth:`get_credentials`, for redis-py 5.1 and later."""
        return self.get_credentials()

    def scrub(self, text: str) -> str:
        """``text`` with the password, raw or percent-encoded, replaced by ``***``."""
        password = self._password.reveal()
        if password:
            for form in {password, quote(password, safe=""), unquote(password)}:
                text = text.replace(form, "***")
        return text


class SecretURL:
    """A Redis URL that never shows its password (``repr``, ``str``, frame locals)."""

    __slots__ = ("_url",)

    def __init__(self, url: object) -> None:
        self._url = url

    def __repr__(self) -> str:
        return repr(self.shown()) if isinstance(self._url, str) else "<not a URL>"

    __str__ = __repr__

    def shown(self) -> str:
        """The URL with its password replaced by ``***``."""
        try:
            return redact(self._url) if isinstance(self._url, str) else "<not a URL>"
        except ValueError:
            return "<unreadable URL>"

    def parse(self) -> tuple[dict[str, Any], Credentials | None, str | None]:
        """redis-py connection options, the credentials apart, and a problem or None.

        Never raises: an exception raised here would carry the URL in its frames'
        locals, so every failure becomes a message that names the problem only.
        """
        url = self._url
        bad = "url must be a redis://, rediss:// or unix:// URL with a valid port"
        if not isinstance(url, str):
            return {}, None, "url must be a string"
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises ValueError for a port that is not one
        except ValueError:
            return {}, None, bad
        if parts.scheme not in ("redis", "rediss", "unix"):
            return {}, None, bad
        from redis.asyncio.connection import Connection, parse_url

        try:
            options: dict[str, Any] = dict(parse_url(url))
            username, password = options.pop("username", None), options.pop("password", None)
            connection_class = options.pop("connection_class", Connection)
            # Built only to check the options (no I/O): an unknown one is a TypeError
            # that names it, here rather than at the first request.
            connection_class(**options)
        except Exception as exc:  # any failure: its frames hold the password
            # redis-py names the option ("Invalid value for 'socket_timeout' in
            # connection URL.", "unexpected keyword argument 'foo'"), not its value;
            # the password is scrubbed all the same.
            problem = f"url: {type(exc).__name__}: {exc}"
            raw = parts.password
            return {}, None, Credentials(None, unquote(raw)).scrub(problem) if raw else problem
        options["connection_class"] = connection_class
        credentials = Credentials(username, password) if username or password else None
        return options, credentials, None


def check_limiter_options(
    key: object,
    margin: object,
    time_period: float,
    on_redis_error: object,
    socket_timeout: object,
    recheck_interval: object,
) -> None:
    """Refuse a :class:`~dumgum_async._redis.RedisRateLimit` setting out of range.

    Raises:
        ConfigurationError: Naming the setting and the value given.
    """
    if not isinstance(key, str) or not key:
        raise ConfigurationError(f"key must be a non-empty string, got {key!r}")
    if isinstance(margin, bool) or not isinstance(margin, int | float):
        raise ConfigurationError(f"margin must be a number of seconds, got {margin!r}")
    if not 0 <= margin < time_period:
        raise ConfigurationError(f"margin must be in [0, time_period), got {margin!r}")
    if on_redis_error not in ("raise", "local"):
        raise ConfigurationError(
            f"on_redis_error must be 'raise' or 'local', got {on_redis_error!r}"
        )
    for name, value in (("socket_timeout", socket_timeout), ("recheck_interval", recheck_interval)):
        if isinstance(value, bool) or not (isinstance(value, int | float) and 0 < value < math.inf):
            raise ConfigurationError(f"{name} must be positive, got {value!r}")
