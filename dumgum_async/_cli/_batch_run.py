"""The items of one ``batch`` run: input lines in, requests to ``suggest_many`` out,
and each result written as its output line."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncGenerator, Iterable, Iterator
from typing import Any, Final

import dumgum_async as dg
from dumgum_async._cli._api import FATAL_ERRORS
from dumgum_async._cli._console import Console, Tally
from dumgum_async._cli._jsonl import LineWriter, SeenIds, id_key, read_line

#: ``type`` of the error line written for an input line that is not a request, or
#: whose id an earlier line already has.
INPUT_LINE_ERROR: Final = "InputLineError"
#: Bad input lines reported one by one on stderr; the rest are only counted.
_MAX_REPORTED_LINES: Final = 20


@dataclasses.dataclass(kw_only=True, eq=False)
class BatchRun:
    """Feeds input lines to ``suggest_many`` and writes each result as it comes.

    Lines that cannot become a request (not JSON, invalid, a duplicate id, strings
    with no UTF-8 form) get their error line here and are never sent. Once the API
    refuses the key (401/403) no new line is read: ``fatal`` holds that error.
    """

    name: str
    writer: LineWriter
    console: Console
    #: The ids the output already answers (--resume): skipped.
    answered: set[str]
    client: dg.DumGumClient
    tally: Tally = dataclasses.field(default_factory=Tally, init=False)
    #: Only items in flight are here: the batch keeps at most `concurrency` of them.
    pending: dict[int, Any] = dataclasses.field(default_factory=dict, init=False)
    #: The API's refusal of the key, once it came.
    fatal: dg.DumGumError | None = dataclasses.field(default=None, init=False)
    _next: int = dataclasses.field(default=0, init=False)
    # The line number of the first line with each id.
    _seen: SeenIds = dataclasses.field(default_factory=SeenIds, init=False)

    def requests(self, lines: Iterable[bytes]) -> Iterator[dg.SuggestionRequest]:
        """Requests of the input, lazily; lines that are not requests are written here."""
        for number, raw in enumerate(lines, 1):
            if self.fatal is not None:
                return
            request = self._line(number, raw)
            if request is not None:
                yield request

    async def arequests(self, lines: AsyncGenerator[bytes]) -> AsyncGenerator[dg.SuggestionRequest]:
        """Like :meth:`requests`, for lines that arrive asynchronously (a pipe)."""
        async with contextlib.aclosing(lines):
            number = 0
            async for raw in lines:
                number += 1
                if self.fatal is not None:
                    return
                request = self._line(number, raw)
                if request is not None:
                    yield request

    def _line(self, number: int, raw: bytes) -> dg.SuggestionRequest | None:
        """The request of one input line, to send; None if there is nothing to send."""
        read = read_line(number, raw)
        if read is None:
            return None
        item_id, body, problem = read
        key = id_key(item_id)
        first = self._seen.first(key, number)
        if first != number:
            # Sending it would answer one id twice, and --resume could not tell
            # the two apart; the first line's answer stands.
            self._bad_line(number, item_id, f"duplicate id {key}, first on line {first}")
            return None
        if key in self.answered:
            if problem is None:
                self.tally.skipped += 1
            return None
        if problem is not None:
            self._bad_line(number, item_id, str(problem))
            return None
        request = self._request(number, item_id, body)
        if request is not None:
            # suggest_many numbers the items it pulls 0, 1, 2...: that index finds the id.
            self.pending[self._next] = item_id
            self._next += 1
        return request

    def _request(
        self, number: int, item_id: Any, body: dict[str, Any]
    ) -> dg.SuggestionRequest | None:
        """The validated request of a line, or None once its error line is written."""
        try:
            request = dg.SuggestionRequest.from_dict(body)
            # The exact bytes are built again when it is sent (a few microseconds):
            # a line that cannot be encoded must fail here, as that line's error.
            self.client.prepare(request)
        except dg.RequestValidationError as exc:
            self._write_error(item_id, type(exc).__name__, str(exc), None)
            return None
        except (ValueError, TypeError, OverflowError, RecursionError) as exc:
            # Bad data the data layer did not turn into a RequestValidationError: still
            # this line's failure, never the whole batch's (nor every --resume's).
            self._bad_line(number, item_id, f"cannot be sent: {type(exc).__name__}: {exc}")
            return None
        return request

    def _bad_line(self, number: int, item_id: Any, problem: str) -> None:
        tally = self.tally
        tally.bad_lines += 1
        self._write_error(item_id, INPUT_LINE_ERROR, f"line {number}: {problem}", None)
        if tally.bad_lines <= _MAX_REPORTED_LINES:
            self.console.say(f"{self.name}:{number}: {problem}; written as an error line")
        elif tally.bad_lines == _MAX_REPORTED_LINES + 1:
            self.console.say(f"{self.name}: more bad lines; they are counted, not shown")

    def _write_error(self, item_id: Any, kind: str, message: str, status: int | None) -> None:
        self.writer.write(
            {"id": item_id, "error": {"type": kind, "message": message, "status": status}}
        )
        self.tally.failure(kind, message)

    def record(self, result: dg.BatchResult[dg.SuggestionRequest]) -> None:
        """Write the line of one finished item (none for an item refused with the key)."""
        item_id = self.pending.pop(result.index)
        error = result.error
        if error is None:
            self.writer.write({"id": item_id, "suggestions": list(result.suggestions)})
            self.tally.ok += 1
            return
        if isinstance(error, (dg.BudgetExhaustedError, dg.BatchStoppedError)):
            # Not the item's failure: the job's budget, or the batch stopped before
            # sending it. No line, --resume sends it.
            self.tally.unsent += 1
            return
        if isinstance(error, FATAL_ERRORS):
            # The key was refused, not the item: an error line would make --resume
            # think it answered. No line, so --resume with the right key sends it.
            self.tally.refused += 1
            if self.fatal is None:
                self.fatal = error
            return
        status = getattr(error, "status_code", None)
        self._write_error(
            item_id, type(error).__name__, str(error), status if isinstance(status, int) else None
        )
