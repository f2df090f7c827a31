"""Checking a request against the spec without sending it: problems, not exceptions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from dumgum_async import _converter
from dumgum_async._models import SuggestionRequest
from dumgum_async.exceptions import Problem, RequestValidationError

__all__ = ["validate"]


def validate(request: object, *, strict_enums: bool = True) -> tuple[Problem, ...]:
    """Every problem that would stop ``request`` from being sent; empty if none.

    The same checks as :meth:`DumGumClient.prepare` (the spec's rules, and that the
    body can be written as JSON), without sending anything and without raising.

    Args:
        request: A :class:`SuggestionRequest`, a mapping in the API's JSON shape,
            or anything else (which is one problem, not an exception).
        strict_enums: Reject enum values this release does not know, as the client
            does by default; False lets them pass (``DumGumClient(strict_enums=False)``).

    Returns:
        The problems, in document order, each with its path; ``()`` when valid.
    """
    try:
        if isinstance(request, SuggestionRequest):
            _converter.encode_request(request)
            return ()
        if not isinstance(request, Mapping):
            return (
                Problem(
                    (),
                    "expected a SuggestionRequest or a mapping in the API's JSON shape, "
                    f"got {type(request).__name__}",
                    "type",
                ),
            )
        model = _converter.from_dict(SuggestionRequest, request, strict_enums=strict_enums)
        if _writable(request):
            # Every string and number of the input can be written, and the model is
            # made of them: encoding it cannot fail (encoding it would cost more
            # than parsing did).
            return ()
        _converter.encode_request(model)
    except RequestValidationError as exc:
        return exc.problems
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        # Bad data the data layer did not turn into problems: still a problem.
        code = "unencodable" if isinstance(exc, UnicodeError) else "invalid"
        return (Problem((), f"cannot be sent: {type(exc).__name__}: {exc}", code),)
    return ()


def _writable(data: Mapping[str, Any]) -> bool:
    try:
        orjson.dumps(data)
    except (orjson.JSONEncodeError, TypeError):
        return False
    return True
