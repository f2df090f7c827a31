"""The settings one call runs with: the client's, a view's, or those given to the call.

A client and each of its views hold one :class:`CallOptions`, built (headers merged,
values checked) when the client or view is made, so that a call given no option
uses it as it is: no dictionary is merged and no object is made per call.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any, Final

import attrs

from dumgum_async._config import NOT_GIVEN, RetryPolicy, Timeout, attempt_timeout
from dumgum_async._secret import Secret, SecretHeaders
from dumgum_async._throttle import Limiter
from dumgum_async.exceptions import ConfigurationError

# Set by the HTTP layer from the body and the connection, or the key's own header:
# a caller's value would be wrong (a broken body frame) or, for the key, a silent swap.
_RESERVED: Final = {
    "authorization": "pass api_key= to with_options() to send another key",
    "content-length": "the HTTP layer sets it from the body",
    "content-type": "the body is always JSON",
    "host": "the HTTP layer sets it from base_url",
    "transfer-encoding": "the HTTP layer frames the body",
}
# RFC 9110 token characters.
_TOKEN: Final = frozenset(
    "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)


class Capture:
    """What a raw-response call learns from its attempts: how many, and the last answer."""

    __slots__ = ("attempts", "headers", "status")

    def __init__(self) -> None:
        self.attempts = 0
        self.status = 0
        self.headers: Mapping[str, str] = {}


# eq=False: compared (and hashed) by identity, as a client's or view's own object.
@attrs.define(kw_only=True, eq=False)
class CallOptions:
    """The settings of one call: retry policy, per-attempt timeout, request headers
    (the key in them), the key itself (to redact echoes of it) and the limiters
    applied on top of the client's."""

    retry: RetryPolicy | None
    timeout: float | Timeout
    headers: SecretHeaders
    api_key: Secret
    limiters: tuple[Limiter, ...] = ()
    capture: Capture | None = None

    def _copy(self, **changes: Any) -> CallOptions:
        # Not attrs.evolve, which costs half a microsecond more: a call given its
        # own options makes one.
        values: dict[str, Any] = {
            "retry": self.retry,
            "timeout": self.timeout,
            "headers": self.headers,
            "api_key": self.api_key,
            "limiters": self.limiters,
            "capture": self.capture,
        }
        values.update(changes)
        return CallOptions(**values)

    def for_call(
        self, retry: object, timeout: object, extra_headers: object, *, stacklevel: int
    ) -> CallOptions:
        """These options with a call's own: each given one replaces (headers: merges
        over) the setting; :data:`NOT_GIVEN` keeps it.

        Raises:
            ConfigurationError: A bad retry policy, timeout or header.
        """
        changes: dict[str, Any] = {}
        if retry is not NOT_GIVEN:
            changes["retry"] = check_retry(retry)
        if timeout is None:
            # 0.x: None meant "the client's" before NOT_GIVEN existed; kept one release.
            warnings.warn(
                "timeout=None is deprecated and will be refused in the next release: "
                "omit timeout (or pass dumgum_async.NOT_GIVEN) for the client's timeout",
                DeprecationWarning,
                # A capturing call came through with_raw_response's wrapper (in
                # _raw): its caller is one frame further up.
                stacklevel=stacklevel + 1 + (self.capture is not None),
            )
        elif timeout is not NOT_GIVEN:
            changes["timeout"] = attempt_timeout(timeout)
        if extra_headers is not NOT_GIVEN and extra_headers is not None:
            changes["headers"] = merge_headers(
                self.headers, extra_headers, "extra_headers", self.api_key
            )
        return self._copy(**changes) if changes else self

    def for_view(
        self,
        *,
        retry: object,
        timeout: object,
        headers: object,
        limiter: Limiter | None,
        api_key: Secret | None,
    ) -> CallOptions:
        """The options of a view made from these (see ``DumGumClient.with_options``)."""
        changes: dict[str, Any] = {}
        if retry is not NOT_GIVEN:
            changes["retry"] = check_retry(retry)
        if timeout is not NOT_GIVEN:
            changes["timeout"] = attempt_timeout(timeout)
        merged = self.headers
        key = self.api_key
        if api_key is not None:
            changes["api_key"] = key = api_key
            merged = SecretHeaders(Secret("Bearer " + key.reveal()), _others(merged))
        if headers is not NOT_GIVEN and headers is not None:
            merged = merge_headers(merged, headers, "headers", key)
        if merged is not self.headers:
            changes["headers"] = merged
        if limiter is not None:
            changes["limiters"] = (limiter, *self.limiters)
        return self._copy(**changes) if changes else self

    def capturing(self, capture: Capture) -> CallOptions:
        """These options, the call's attempts recorded in ``capture``."""
        return self._copy(capture=capture)


def check_retry(retry: object) -> RetryPolicy | None:
    """``retry`` if it is a policy or None.

    Raises:
        ConfigurationError: Anything else.
    """
    if retry is None or isinstance(retry, RetryPolicy):
        return retry
    raise ConfigurationError(f"retry must be a RetryPolicy or None, got {retry!r}")


def _others(headers: SecretHeaders) -> dict[str, str]:
    return {name: headers[name] for name in headers if name != "Authorization"}


def merge_headers(base: SecretHeaders, extra: object, field: str, api_key: Secret) -> SecretHeaders:
    """``base`` with ``extra`` merged over it, names compared case-insensitively;
    ``Authorization`` carries ``api_key``.

    Raises:
        ConfigurationError: ``extra`` is not a mapping of str to str, names a header
            the client sets itself (``Authorization`` among them), or holds a name
            or value that cannot go in a header (CR, LF or another control
            character: a header injection). The message names the header, never
            the value.
    """
    if not isinstance(extra, Mapping):
        raise ConfigurationError(f"{field} must be a mapping of header names to values")
    merged = _others(base)
    for name, value in extra.items():
        check_header(name, value, field)
        lowered = name.lower()
        why = _RESERVED.get(lowered)
        if why is not None:
            raise ConfigurationError(f"{field} may not set {name}: {why}")
        for existing in [k for k in merged if k.lower() == lowered]:
            del merged[existing]
        merged[name] = value
    return SecretHeaders(Secret("Bearer " + api_key.reveal()), merged)


def check_header(name: object, value: object, field: str) -> None:
    """Refuse a header name that is not an RFC 9110 token, or a value with a control
    character (tab excepted) or outside Latin-1.

    Raises:
        ConfigurationError: Naming the header (and ``field``), not quoting the value.
    """
    if not isinstance(name, str) or not name or not _TOKEN.issuperset(name):
        raise ConfigurationError(
            f"{field}: {name!r} is not a valid header name (letters, digits and !#$%&'*+-.^_`|~)"
        )
    if not isinstance(value, str):
        raise ConfigurationError(
            f"{field}: the value of {name} must be a str, got {type(value).__name__}"
        )
    for index, char in enumerate(value):
        code = ord(char)
        if (code < 0x20 and char != "\t") or code == 0x7F or code > 0xFF:
            raise ConfigurationError(
                f"{field}: the value of {name} has a forbidden character (U+{code:04X}) "
                f"at index {index}: no control characters (CR, LF, ...), Latin-1 only"
            )
