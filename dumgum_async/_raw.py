"""A call's answer with the HTTP details around it (``client.with_raw_response``)."""

from __future__ import annotations

from collections.abc import Mapping

from dumgum_async._models import SuggestionResponse


class RawResponse:
    """The last HTTP response of a successful call, and the parsed suggestions.

    Returned by ``await client.with_raw_response.suggest(request)``, the shape
    openai-python users know (``status_code``, ``headers``, ``parse()``), without
    its lazy parsing: the body was read and checked during the call, so a body
    that cannot be read failed the call (and was retried) as it does without
    ``with_raw_response``. Errors are raised exactly as :meth:`DumGumClient.suggest`
    raises them; their ``request_id`` and ``headers`` say the same for a failure.

    Attributes:
        status_code: The HTTP status of the last attempt (a 2xx).
        headers: Its response headers, case-insensitive, credential headers
            (``Set-Cookie`` and the like) removed.
        request_id: The server's id of the response: the first of the
            ``X-Request-Id``, ``Request-Id`` and ``X-Correlation-Id`` headers (the
            vendor documents none yet), or None.
        attempts: HTTP attempts the call made, this one included.
        elapsed: Seconds the whole call took: every attempt, the waits between them
            and for slots and rate-limit tokens.
    """

    __slots__ = ("_parsed", "attempts", "elapsed", "headers", "request_id", "status_code")

    def __init__(
        self,
        *,
        status_code: int,
        headers: Mapping[str, str],
        request_id: str | None,
        attempts: int,
        elapsed: float,
        parsed: SuggestionResponse,
    ) -> None:
        self.status_code: int = status_code
        self.headers: Mapping[str, str] = headers
        self.request_id: str | None = request_id
        self.attempts: int = attempts
        self.elapsed: float = elapsed
        self._parsed = parsed

    def parse(self) -> SuggestionResponse:
        """The suggestions, as :meth:`DumGumClient.suggest` returns them."""
        return self._parsed

    def __repr__(self) -> str:
        return (
            f"<RawResponse status_code={self.status_code} request_id={self.request_id!r} "
            f"attempts={self.attempts} elapsed={self.elapsed:.3f}>"
        )
