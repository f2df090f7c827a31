"""Every error dumgum_async raises, in one tree.

::

    DumGumError
    ├── ConfigurationError (ValueError)          bad client settings or per-call options
    │                                            (a bad header, a bad timeout), nothing sent
    ├── ClientClosedError (RuntimeError)         the client was closed (before or during the call)
    ├── RequestValidationError (ValueError)      the request breaks the spec; nothing was sent
    ├── RateLimiterUnavailableError              a shared (Redis) rate limiter cannot be reached
    ├── BudgetExhaustedError                     a batch's max_requests attempts are spent
    ├── BatchStoppedError                        a batch item not sent: a fatal error stopped
    │                                            the batch (.stopped_by) while it queued
    └── APIError                                 something went wrong talking to the API
        ├── APIConnectionError                   no usable HTTP response (DNS, refused, reset,
        │   │                                    TLS; .retryable False if it cannot heal)
        │   ├── APITimeoutError (TimeoutError)   an attempt or the call's deadline ran out
        │   └── CircuitOpenError                 the circuit breaker is open: nothing was sent
        ├── APIStatusError                       the API answered with a non-2xx status
        │   ├── BadRequestError                  400
        │   ├── AuthenticationError              401
        │   ├── PermissionDeniedError            403
        │   ├── NotFoundError                    404
        │   ├── ConflictError                    409
        │   ├── UnprocessableEntityError         422
        │   ├── RateLimitError                   429 (carries .retry_after)
        │   └── InternalServerError              >= 500
        └── ResponseDecodeError                  a 2xx body we cannot understand

Context travels as keyword arguments and stays on the exception as attributes, so
handlers never parse messages. Every :class:`APIError` carries ``attempts``: how many
HTTP attempts the call made before giving up, and ``request_id``: the server's id of
the last response (the first of the ``X-Request-Id``, ``Request-Id`` and
``X-Correlation-Id`` headers; the vendor documents none of them yet), None when no
response arrived or it had none.

This module is a leaf: it imports nothing else from the package, so any layer may
raise these. The API key never reaches an exception: status errors keep response
headers only, with credential headers removed (and an echoed key masked) by the
client before they get here.
"""

from __future__ import annotations

import copyreg
from collections.abc import Iterable, Mapping
from typing import Any, Final, TypedDict, Unpack

from multidict import CIMultiDict, CIMultiDictProxy, MultiDictProxy

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "BatchStoppedError",
    "BudgetExhaustedError",
    "CircuitOpenError",
    "ClientClosedError",
    "ConfigurationError",
    "ConflictError",
    "DumGumError",
    "InternalServerError",
    "NotFoundError",
    "PermissionDeniedError",
    "Problem",
    "RateLimitError",
    "RateLimiterUnavailableError",
    "RequestValidationError",
    "ResponseDecodeError",
    "UnprocessableEntityError",
    "status_error_class",
]

_EMPTY_HEADERS: Mapping[str, str] = {}


class SafeHeaders(CIMultiDictProxy[str]):
    """Response headers as errors and raw responses keep them: read-only and
    case-insensitive like aiohttp's, and, unlike aiohttp's proxy, picklable, so that
    an error carrying them can travel to another process."""

    __slots__ = ()


def _headers_of(items: list[tuple[str, str]]) -> SafeHeaders:
    return SafeHeaders(CIMultiDict(items))


# Registered rather than a __reduce__ method: the proxy's own is typed NoReturn.
copyreg.pickle(SafeHeaders, lambda h: (_headers_of, (list(h.items()),)))


class DumGumError(Exception):
    """Base class of every exception raised by dumgum_async.

    Every one can be pickled and copied with all its attributes (to hand it to another
    process or a job queue's result store), whatever keywords its constructor requires.
    """

    def __reduce__(self) -> tuple[Any, ...]:
        # Exception's own reduce calls ``cls(*args)``, which fails for a constructor
        # with required keywords; this one rebuilds without calling ``__init__``.
        state = self.__dict__
        if any(_is_bare_proxy(value) for value in state.values()):
            # Headers given as aiohttp's own proxy (an error built by the user around
            # a response), which cannot be pickled: kept as the picklable kind.
            state = {
                k: SafeHeaders(CIMultiDict(v.items())) if _is_bare_proxy(v) else v
                for k, v in state.items()
            }
        return (_rebuild, (type(self), self.args), state)


def _is_bare_proxy(value: object) -> bool:
    return isinstance(value, MultiDictProxy) and not isinstance(value, SafeHeaders)


def _rebuild(cls: type[DumGumError], args: tuple[Any, ...]) -> DumGumError:
    error = cls.__new__(cls, *args)
    error.args = args  # OSError's __new__ (TimeoutError's) leaves them to __init__
    return error


class ConfigurationError(DumGumError, ValueError):
    """The client was given settings it cannot work with (missing key, insecure URL, ...)."""


class ClientClosedError(DumGumError, RuntimeError):
    """The client was closed: used after :meth:`~dumgum_async.DumGumClient.aclose`, or
    a call still in flight when it closed (cancelled by it); a closed client cannot
    be reopened."""


#: What each ``Problem.code`` counts as in ``Problem.kind``; any other code is "invalid".
_CATEGORY: Final[Mapping[str, str]] = {
    "required": "required",
    "type": "wrong type",
    "enum": "unknown value",
    "surrogate": "unencodable",
    "unencodable": "unencodable",
}

#: Every code the library gives a problem (``Problem.code``).
_PROBLEM_CODES: Final = frozenset(
    {
        "required",  # a required field is missing or null
        "type",  # a value of the wrong type (or shape)
        "null",  # a null item in a list
        "min_length",
        "max_length",
        "pattern",  # a string of the wrong form (a URL, a country code)
        "format",  # a date or date-time string that cannot be read
        "enum",  # a value the enumeration does not know
        "unique",  # repeated items in a list that must hold distinct ones
        "duplicate",  # two messages with the same id
        "range",  # an integer out of the 32-bit range
        "time_zone",  # not an IANA time zone name
        "utc_offset",  # a naive datetime, or an offset that is not whole minutes
        "any_required",  # neither of two fields (firstName, nickname) is given
        "surrogate",  # a lone surrogate in a string: cannot be sent as UTF-8
        "unencodable",  # another value that cannot be written as JSON
        "invalid",  # anything else
    }
)


def _code_of(message: str) -> str:
    # Only for a Problem built without a code (by a caller of the public class, as
    # before codes existed): the library always gives one.
    if message == "required":
        return "required"
    if message.startswith("expected"):
        return "type"
    if message.startswith("unknown value"):
        return "enum"
    if "surrogate" in message:
        return "surrogate"
    if "cannot be written as JSON" in message:
        return "unencodable"
    return "invalid"


class Problem:
    """One thing wrong with a request: where, what, and a machine-readable code.

    Args:
        loc: Where, as path segments: attribute or key names and list indices, e.g.
            ``("userProfile", "features", "job")`` or ``("messages", 3, "text")``.
            A request parsed from JSON (``from_dict`` or a mapping given to the
            client) is reported in the API's camelCase names; a model built in
            Python reports its snake_case attribute names.
        message: What is wrong, for people, e.g. ``at most 32 characters``.
        code: What is wrong, for programs: ``required``, ``type``, ``null``,
            ``min_length``, ``max_length``, ``pattern``, ``format``, ``enum``,
            ``unique``, ``duplicate``, ``range``, ``time_zone``, ``utc_offset``,
            ``any_required``, ``surrogate``, ``unencodable`` or ``invalid``. When not
            given it is inferred from ``message`` (for problems built by hand).

    Problems compare and hash by ``loc`` and ``message``.
    """

    __slots__ = ("code", "loc", "message")

    def __init__(self, loc: tuple[str | int, ...], message: str, code: str | None = None) -> None:
        self.loc: tuple[str | int, ...] = loc
        self.message: str = message
        self.code: str = _code_of(message) if code is None else code

    @property
    def path(self) -> str:
        """The location as a JSON path: ``userProfile.features.job``, ``messages[3].text``."""
        out: list[str] = []
        for seg in self.loc:
            if isinstance(seg, int):
                out.append(f"[{seg}]")
            else:
                out.append(f".{seg}" if out else seg)
        return "".join(out)

    @property
    def kind(self) -> str:
        """A stable label for counting problems of the same sort across requests.

        The path with list indices removed (``messages[].text``; ``(request)`` for
        the request itself), a colon, and a category of ``code``: ``required``,
        ``wrong type`` (code ``type``), ``unknown value`` (``enum``), ``unencodable``
        (``surrogate``, ``unencodable``) or ``invalid`` (every other code). E.g.
        ``messages[].date: wrong type``.
        """
        out: list[str] = []
        for seg in self.loc:
            if isinstance(seg, int):
                out.append("[]")
            else:
                out.append(f".{seg}" if out else seg)
        return f"{''.join(out) or '(request)'}: {_CATEGORY.get(self.code, 'invalid')}"

    def __str__(self) -> str:
        path = self.path
        return f"{path}: {self.message}" if path else self.message

    def __repr__(self) -> str:
        return f"Problem(loc={self.loc!r}, message={self.message!r}, code={self.code!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Problem):
            return NotImplemented
        return (self.loc, self.message) == (other.loc, other.message)

    def __hash__(self) -> int:
        return hash((self.loc, self.message))

    def __reduce__(self) -> tuple[type[Problem], tuple[tuple[str | int, ...], str, str]]:
        # Slots without a __dict__: pickle's protocols 0 and 1 need to be told how.
        return (Problem, (self.loc, self.message, self.code))


class RequestValidationError(DumGumError, ValueError):
    """The request breaks the API's rules; raised before any network call.

    All problems are reported at once, each with its JSON path.

    Args:
        problems: Every problem found, in document order.
    """

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        n = len(self.problems)
        head = f"{n} problem{'s' if n != 1 else ''} in the request"
        super().__init__(head + ":\n" + "\n".join(f"  {p}" for p in self.problems))


class RateLimiterUnavailableError(DumGumError):
    """A shared rate limiter (``RedisRateLimit``) could not reach its store, so no
    request may be sent; raised within the limiter's ``socket_timeout``, or at once
    while the store is known to be down. The store's error is named in the message,
    not chained (its frames hold credentials), and the password appears nowhere."""


class BudgetExhaustedError(DumGumError):
    """A batch's ``max_requests`` HTTP attempts (retries included) are all spent:
    no further attempt was started. Items in flight then fail with it; the batch
    iterator raises it once they are yielded. Items never started are not yielded.

    Args:
        message: What happened.
        max_requests: The budget: attempts the batch was allowed.
        attempts: Attempts the batch made (never more than ``max_requests``).
    """

    def __init__(self, message: str, *, max_requests: int, attempts: int) -> None:
        super().__init__(message)
        self.max_requests = max_requests
        self.attempts = attempts


class BatchStoppedError(DumGumError):
    """A batch item that was not sent: a fatal error (a refused key, a closed client)
    stopped the batch while the item waited for a concurrency slot, a rate-limit
    token or a retry (its earlier attempts, if any, got no answer worth keeping). It
    is yielded as the item's failure; the batch iterator then raises ``stopped_by``
    once the items in flight are yielded.

    Args:
        message: What happened.
        stopped_by: The error that stopped the batch.
    """

    def __init__(self, message: str, *, stopped_by: DumGumError) -> None:
        super().__init__(message)
        self.stopped_by = stopped_by


class _Where(TypedDict, total=False):
    """The keyword arguments of :class:`APIError`, passed on by its subclasses."""

    method: str
    url: str
    attempts: int
    request_id: str | None


class APIError(DumGumError):
    """Something went wrong while talking to the API.

    Args:
        message: Human-readable description.
        method: HTTP method of the failed request.
        url: URL of the failed request (never contains credentials).
        attempts: How many HTTP attempts the call made, this one included.
        request_id: The id the server gave its last response, for its support;
            None when no response arrived or it named none.
    """

    def __init__(
        self,
        message: str,
        *,
        method: str = "POST",
        url: str = "",
        attempts: int = 1,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.method = method
        self.url = url
        self.attempts = attempts
        self.request_id = request_id

    def __str__(self) -> str:
        text = self.message
        if self.attempts > 1:
            text += f" (after {self.attempts} attempts)"
        if self.request_id is not None:
            text += f" [request id {self.request_id}]"
        return text


class APIConnectionError(APIError):
    """No usable HTTP response arrived: DNS failure, refused or reset connection, TLS error.

    Attributes:
        retryable: False when another attempt would fail the same way (a certificate
            that does not verify, a TLS protocol version the server refuses); such
            errors are raised at once, without retries.
    """

    retryable: bool = True


class APITimeoutError(APIConnectionError, TimeoutError):
    """An attempt took longer than the configured timeout, or the call's deadline ran out."""


class CircuitOpenError(APIConnectionError):
    """The client's circuit breaker is open after repeated failures: nothing was sent.

    Args:
        message: Human-readable description.
        retry_after: Seconds until the breaker lets a probe through (0 when a probe is
            in flight already).
        retry_at: The same moment on the ``time.monotonic()`` clock.
        **kwargs: As for :class:`APIError`.
    """

    def __init__(
        self,
        message: str,
        *,
        retry_after: float,
        retry_at: float,
        method: str = "POST",
        url: str = "",
        attempts: int = 1,
    ) -> None:
        super().__init__(message, method=method, url=url, attempts=attempts)
        self.retry_after = retry_after
        self.retry_at = retry_at


class APIStatusError(APIError):
    """The API answered with a status code outside 2xx.

    Args:
        message: Human-readable description.
        status_code: The HTTP status code.
        body: The response body as text (possibly truncated to the size cap).
        headers: Response headers, credential headers removed.
        retry_after: Seconds the server asked us to wait (``Retry-After``, in
            seconds or as an HTTP date), or None.
        method: HTTP method of the failed request.
        url: URL of the failed request.
        attempts: How many HTTP attempts the call made.
        request_id: The server's id of the response, if it sent one.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        body: str = "",
        headers: Mapping[str, str] | None = None,
        retry_after: float | None = None,
        method: str = "POST",
        url: str = "",
        attempts: int = 1,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message, method=method, url=url, attempts=attempts, request_id=request_id)
        self.status_code = status_code
        self.body = body
        self.headers: Mapping[str, str] = _EMPTY_HEADERS if headers is None else headers
        self.retry_after = retry_after


class BadRequestError(APIStatusError):
    """HTTP 400: the API rejected the request."""


class AuthenticationError(APIStatusError):
    """HTTP 401: the API key is missing, wrong or expired."""


class PermissionDeniedError(APIStatusError):
    """HTTP 403: the key is valid but may not use this endpoint."""


class NotFoundError(APIStatusError):
    """HTTP 404: wrong base URL or path."""


class ConflictError(APIStatusError):
    """HTTP 409."""


class UnprocessableEntityError(APIStatusError):
    """HTTP 422: well-formed but semantically rejected."""


class RateLimitError(APIStatusError):
    """HTTP 429: too many requests; ``retry_after`` says how long the server wants us to wait."""


class InternalServerError(APIStatusError):
    """HTTP 5xx: the API failed."""


class ResponseDecodeError(APIError):
    """A 2xx response whose body cannot be understood (not JSON, wrong shape, too large).

    Args:
        message: What was wrong.
        body_excerpt: The start of the body, for diagnosis.
        status_code: The HTTP status code of the response.
        **kwargs: As for :class:`APIError`.
    """

    def __init__(
        self,
        message: str,
        *,
        body_excerpt: str = "",
        status_code: int = 200,
        **where: Unpack[_Where],
    ) -> None:
        super().__init__(message, **where)
        self.body_excerpt = body_excerpt
        self.status_code = status_code


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def status_error_class(status_code: int) -> type[APIStatusError]:
    """Return the exception class for an HTTP status code outside 2xx."""
    if status_code >= 500:
        return InternalServerError
    return _BY_STATUS.get(status_code, APIStatusError)
