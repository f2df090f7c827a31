"""The emulator's decisions, free of any networking: request in, reply out.

:class:`Emulator` routes, authenticates, applies scripted responses, the rate limit and
random faults, validates the body and writes suggestions.  ``_server.py`` feeds it what
aiohttp received and performs the ``Reply`` (``_canned``) it returns (waiting, sending,
cutting the body or resetting the connection).

Order of the checks for each request:

1. path (404) and method (405);
2. ``Authorization: Bearer <api_key>`` (401);
3. the next scripted response, if any (returned as is);
4. the rate limit (429 with ``Retry-After``);
5. one random draw for faults;
6. ``Content-Type`` (415), JSON syntax and the spec's rules (400), else 200.

Every request is recorded, whatever its outcome.  The latency is added to the replies of
steps 4-6 (scripted responses have their own ``delay``); a stall adds ``stall_seconds``
before the reply of step 6.
"""

from __future__ import annotations

import datetime as _dt
import hmac
import math
import random
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from email.utils import format_datetime
from typing import Any

import orjson

from dumgum_async.testing._canned import (
    JSON,
    Action,
    Reply,
    canned_reply,
    error_reply,
    json_reply,
)
from dumgum_async.testing._constants import ENDPOINT_PATH, STRING_LIST_HEADER
from dumgum_async.testing._faults import (
    FaultKind,
    Faults,
    LatencySpec,
    ScriptedResponse,
    latency_sampler,
)
from dumgum_async.testing._rate_limit import AdmissionPolicy, ServerRateLimit, retry_after_seconds
from dumgum_async.testing._records import RecordedRequest, ServerStats
from dumgum_async.testing._replies import suggestions_for
from dumgum_async.testing._schema import RequestValidator, WireProblem, get_validator

__all__ = ["Emulator"]

_TRUTHY = frozenset({"1", "true", "yes", "on"})
_GIANT_HEADER_SIZE = 64 * 1024


def _copy_headers(headers: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """Return (a copy with names as sent, the same keyed by lower-case name)."""
    copy: dict[str, str] = {}
    lowered: dict[str, str] = {}
    items = headers.items()
    for name, value in items:
        key = str(name)
        low = key.lower()
        if low in lowered:  # a repeated header
            lowered[low] = f"{lowered[low]}, {value}"
            for existing in copy:
                if existing.lower() == low:
                    copy[existing] = lowered[low]
                    break
        else:
            copy[key] = value
            lowered[low] = value
    return copy, lowered


class Emulator:
    """The DumGum emulator's behaviour; see :class:`FakeDumGumServer` for the arguments.

    Every option is required: their defaults live only in ``FakeDumGumServer``'s
    signature, which passes them all.

    Raises:
        ImportError: ``validate`` is on and jsonschema or PyYAML is missing.
        ValueError: ``max_recorded`` below 1.
    """

    def __init__(
        self,
        *,
        api_key: str | None,
        validate: bool,
        faults: Faults | None,
        rate_limit: ServerRateLimit | None,
        latency: LatencySpec,
        seed: int | None,
        string_list: bool,
        max_recorded: int | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_recorded is not None and max_recorded < 1:
            raise ValueError(f"max_recorded must be >= 1 or None, got {max_recorded!r}")
        self.api_key = api_key
        self.string_list = string_list
        self._validator: RequestValidator | None = get_validator() if validate else None
        self._faults = faults or Faults()
        self._rate_limit = rate_limit
        self._limiter: AdmissionPolicy | None = rate_limit.limiter() if rate_limit else None
        self.latency = latency
        self.seed = seed
        self._fault_rng = random.Random(seed) if seed is not None else random.Random()
        self._latency_rng = (
            random.Random(f"{seed}/latency") if seed is not None else random.Random()
        )
        self._clock = clock
        self._script: deque[ScriptedResponse] = deque()
        self._records: deque[RecordedRequest] = deque(maxlen=max_recorded)
        self._by_status: Counter[int] = Counter()
        self._by_fault: Counter[FaultKind] = Counter()
        self._total = 0
        self._rate_limited = 0
        self._scripted = 0
        self.in_flight = 0

    # ----------------------------------------------------------------- configuration

    @property
    def validate(self) -> bool:
        """Whether request bodies are validated."""
        return self._validator is not None

    @property
    def faults(self) -> Faults:
        """The random faults in effect (assignable, e.g. to degrade mid-test)."""
        return self._faults

    @faults.setter
    def faults(self, faults: Faults | None) -> None:
        self._faults = faults or Faults()

    @property
    def latency(self) -> LatencySpec:
        """The added response time, as given (assignable, e.g. to slow the API mid-test)."""
        return self._latency_spec

    @latency.setter
    def latency(self, latency: LatencySpec) -> None:
        self._latency = latency_sampler(latency)  # checks it
        self._latency_spec = latency

    @property
    def rate_limit(self) -> ServerRateLimit | None:
        """The rate limit in effect (assignable; assigning starts a fresh bucket/window)."""
        return self._rate_limit

    @rate_limit.setter
    def rate_limit(self, rate_limit: ServerRateLimit | None) -> None:
        self._rate_limit = rate_limit
        self._limiter = rate_limit.limiter() if rate_limit else None

    # -------------------------------------------------------------------- scripting

    def script(self, *responses: ScriptedResponse) -> None:
        """Queue responses for the next requests (FIFO)."""
        for response in responses:
            if not isinstance(response, ScriptedResponse):
                raise TypeError(f"expected ScriptedResponse, got {response!r}")
        self._script.extend(responses)

    @property
    def scripted_remaining(self) -> int:
        """How many scripted responses are still queued."""
        return len(self._script)

    # -------------------------------------------------------------------- recording

    @property
    def requests(self) -> list[RecordedRequest]:
        """The recorded requests, oldest first (at most ``max_recorded``)."""
        return list(self._records)

    def attempts_for(self, body: bytes | bytearray | memoryview | str | Any) -> int:
        """Count recorded requests whose body equals ``body``.

        Bytes (or str, encoded as UTF-8) are compared with the raw bodies; any other value
        is compared with the parsed JSON bodies (so key order and spacing do not matter).
        """
        if isinstance(body, (bytes, bytearray, memoryview)):
            raw = bytes(body)
            return sum(1 for r in self._records if r.body == raw)
        if isinstance(body, str):
            raw = body.encode("utf-8")
            return sum(1 for r in self._records if r.body == raw)
        return sum(1 for r in self._records if r.json is not None and r.json == body)

    def clear(self) -> None:
        """Forget recorded requests and reset the counters (not the script or limiter)."""
        self._records.clear()
        self._by_status.clear()
        self._by_fault.clear()
        self._total = self._rate_limited = self._scripted = 0

    @property
    def stats(self) -> ServerStats:
        """A snapshot of the counters."""
        return ServerStats(
            total=self._total,
            by_status=dict(self._by_status),
            by_fault=dict(self._by_fault),
            rate_limited=self._rate_limited,
            scripted=self._scripted,
            in_flight=self.in_flight,
        )

    # --------------------------------------------------------------------- handling

    def handle(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str],
        body: bytes,
        *,
        too_large: bool = False,
    ) -> Reply:
        """Decide the reply to one request and record it.

        Args:
            method: HTTP method.
            path: URL path (no query string).
            headers: Request headers (any mapping; names are matched case-insensitively).
            body: Raw request body.
            too_large: The body exceeded the server's limit and was not read (413).
        """
        now = self._clock()
        copy, lowered = _copy_headers(headers)
        parsed: Any = None
        parse_error: str | None = None
        if too_large:
            parse_error = "body too large"
        elif not body:
            parse_error = "the request body is empty"
        else:
            try:
                parsed = orjson.loads(body)
            except orjson.JSONDecodeError as exc:
                parse_error = f"the body is not valid JSON: {exc}"

        fault: FaultKind | None = None
        scripted = False
        if path != ENDPOINT_PATH:
            reply = error_reply(404, "not_found", f"no route for {path}")
        elif method != "POST":
            reply = error_reply(405, "method_not_allowed", f"use POST, not {method}")
            reply.headers["Allow"] = "POST"
        elif (unauthorized := self._check_auth(lowered)) is not None:
            reply = unauthorized
        elif too_large:
            reply = error_reply(413, "payload_too_large", "the request body is too large")
        else:
            item = self._script.popleft() if self._script else None
            if item is not None and not item.normal:
                scripted = True
                fault = item.fault
                reply = self._scripted_reply(item, lowered, parsed, parse_error)
            else:
                reply, fault = self._process(now, lowered, parsed, parse_error)
            if not scripted and self._latency is not None:
                reply.delay += self._latency(self._latency_rng)

        self._total += 1
        if reply.status is not None:
            self._by_status[reply.status] += 1
        if fault is not None:
            self._by_fault[fault] += 1
        if scripted:
            self._scripted += 1
        self._records.append(
            RecordedRequest(
                method=method,
                path=path,
                headers=copy,
                body=body,
                received_at=now,
                status=reply.status,
                fault=fault,
                scripted=scripted,
            )
        )
        return reply

    def _check_auth(self, lowered: Mapping[str, str]) -> Reply | None:
        if self.api_key is None:
            return None
        header = lowered.get("authorization")
        if header is None:
            message = "missing Authorization header (expected 'Bearer <api key>')"
            challenge = 'Bearer realm="DumGum"'
        else:
            scheme, _, token = header.strip().partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                message = "the Authorization header must be 'Bearer <api key>'"
                challenge = 'Bearer realm="DumGum", error="invalid_request"'
            elif not hmac.compare_digest(token.strip().encode(), self.api_key.encode()):
                message = "invalid API key"
                challenge = 'Bearer realm="DumGum", error="invalid_token"'
            else:
                return None
        return error_reply(401, "unauthorized", message, headers={"WWW-Authenticate": challenge})

    def _process(
        self, now: float, lowered: Mapping[str, str], parsed: Any, parse_error: str | None
    ) -> tuple[Reply, FaultKind | None]:
        if self._limiter is not None:
            wait = self._limiter.acquire(now)
            if wait is not None:
                self._rate_limited += 1
                seconds = retry_after_seconds(wait)
                reply = error_reply(
                    429,
                    "rate_limited",
                    "too many requests; retry later",
                    retryAfter=seconds,
                    headers={"Retry-After": str(seconds)},
                )
                return reply, None
        fault: FaultKind | None = None
        faults = self._faults
        if faults.total > 0:
            fault = faults.pick(self._fault_rng.random())
        if fault is None:
            return self._answer(lowered, parsed, parse_error), None
        return self._fault_reply(fault, faults, None, lowered, parsed, parse_error), fault

    def _retry_after(self, faults: Faults) -> str:
        seconds = math.ceil(faults.retry_after)
        http_date = faults.retry_after_http_date
        if http_date and (http_date >= 1.0 or self._fault_rng.random() < http_date):
            when = _dt.datetime.fromtimestamp(math.ceil(time.time()) + seconds, _dt.UTC)
            return format_datetime(when, usegmt=True)
        return str(seconds)

    def _fault_reply(
        self,
        fault: FaultKind,
        faults: Faults,
        stall_seconds: float | None,
        lowered: Mapping[str, str],
        parsed: Any,
        parse_error: str | None,
    ) -> Reply:
        canned = canned_reply(fault, lambda: self._retry_after(faults))
        if canned is not None:
            return canned
        reply = self._answer(lowered, parsed, parse_error)
        if fault is FaultKind.STALL:
            reply.delay += stall_seconds if stall_seconds is not None else faults.stall_seconds
            return reply
        # The rest spoil a success: an invalid request is answered as if it were valid.
        if reply.status != 200:
            reply = self._success(parsed if isinstance(parsed, dict) else {}, lowered)
        if fault is FaultKind.TRUNCATED:
            reply.action = Action.TRUNCATE
        elif fault is FaultKind.TRICKLE:
            reply.action, reply.interval = Action.TRICKLE, faults.trickle_interval
        elif fault is FaultKind.CUT:
            reply.action = Action.CUT
        else:  # FaultKind.GIANT_HEADER
            reply.headers["X-DumGum-Padding"] = "x" * _GIANT_HEADER_SIZE
        return reply

    def _scripted_reply(
        self,
        item: ScriptedResponse,
        lowered: Mapping[str, str],
        parsed: Any,
        parse_error: str | None,
    ) -> Reply:
        if item.fault is not None:
            reply = self._fault_reply(
                item.fault, self._faults, item.stall_seconds, lowered, parsed, parse_error
            )
        else:
            headers = dict(item.headers)
            if item.has_json:
                body = orjson.dumps(item.json)
                if not any(name.lower() == "content-type" for name in headers):
                    headers["Content-Type"] = JSON
            else:
                body = item.body or b""
            reply = Reply(item.status, headers, body)
        reply.delay += item.delay
        return reply

    def _answer(self, lowered: Mapping[str, str], parsed: Any, parse_error: str | None) -> Reply:
        validator = self._validator
        if validator is not None:
            content_type = lowered.get("content-type", "")
            mime = content_type.split(";", 1)[0].strip().lower()
            if mime != JSON and not mime.endswith("+json"):
                return error_reply(
                    415,
                    "unsupported_media_type",
                    f"Content-Type must be application/json, got {content_type or 'none'!r}",
                )
        if parse_error is not None:
            return self._invalid([WireProblem("$", parse_error)])
        if validator is not None:
            problems = validator.problems(parsed)
            if problems:
                return self._invalid(problems)
        elif not isinstance(parsed, dict):
            return self._invalid([WireProblem("$", "the body must be a JSON object")])
        return self._success(parsed, lowered)

    @staticmethod
    def _invalid(problems: list[WireProblem]) -> Reply:
        return json_reply(
            400,
            {
                "error": "invalid_request",
                "message": f"the request has {len(problems)} problem(s)",
                "problems": [p.as_dict() for p in problems],
            },
        )

    def _success(self, body: dict[str, Any], lowered: Mapping[str, str]) -> Reply:
        try:
            canonical = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
        except (TypeError, orjson.JSONEncodeError):  # pragma: no cover - parsed JSON dumps
            canonical = repr(body).encode()
        suggestions = suggestions_for(body, canonical)
        as_string = self.string_list
        if not as_string:
            flag = lowered.get(STRING_LIST_HEADER.lower())
            as_string = flag is not None and flag.strip().lower() in _TRUTHY
        payload = {"suggestions": repr(suggestions) if as_string else suggestions}
        return json_reply(200, payload)
