"""The request streams of ``bench_client.py``: how a caller's model objects arrive.

Each scenario hands out ``SuggestionRequest`` objects, built through the public API
before a measured block starts (building them is the caller's work, not the client's,
and is not timed). They differ in which objects a request shares with the previous
ones, which is what a client that caches work per object would notice:

* ``same``: one ``SuggestionRequest`` (``full_request()``: two full profiles, 20
  messages) passed on every call;
* ``warm``: a chat backend. One persona ``Profile`` shared by every conversation, one
  user ``Profile`` per conversation (64 conversations, taken in turn), and a history of
  the last 20 ``Message`` objects that slides by one per turn: the 19 older messages
  are the same objects as in the conversation's previous request, the newest one is
  built with the ``Message`` constructor. The ``SuggestionRequest`` itself is new per
  turn (models are frozen);
* ``cold``: nothing shared. Every request is ``SuggestionRequest.from_dict`` of a new
  dict (the full request with its user id and message ids made unique), as when each
  request arrives as JSON: every model object in it is new.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from typing import Any

import _common

import dumgum_async as dg

SCENARIOS = ("same", "warm", "cold")
CONVERSATIONS = 64
HISTORY = 20
_LINES = (
    "Hi! How was your weekend?",
    "Pretty good, I went hiking near Annecy. You?",
    "I cooked for friends, a huge risotto 😄",
    "Now I'm hungry. What's your secret ingredient?",
    "A splash of white wine and patience.",
)
_NAMES = ("Marc", "Paul", "Hugo", "Louis", "Noah", "Jules", "Adam", "Leo")


class Scenario:
    """An endless stream of requests; ``take(n)`` builds the next ``n``."""

    def __init__(self, name: str) -> None:
        if name not in SCENARIOS:
            raise ValueError(f"unknown scenario {name!r}")
        self.name = name
        self._stream: Iterator[dg.SuggestionRequest] = {
            "same": _same,
            "warm": _warm,
            "cold": _cold,
        }[name]()

    def take(self, n: int) -> list[dg.SuggestionRequest]:
        return list(itertools.islice(self._stream, n))


def _same() -> Iterator[dg.SuggestionRequest]:
    return itertools.repeat(dg.SuggestionRequest.from_dict(_common.full_request()))


class _Conversation:
    """One user talking to the shared persona; ``turn()`` is the next request."""

    def __init__(self, index: int, persona: dg.Profile, template: dict[str, Any]) -> None:
        user = dict(template["userProfile"])
        user["id"] = f"u-{index}"
        user["firstName"] = _NAMES[index % len(_NAMES)]
        self.index = index
        self.user = dg.Profile.from_dict(user)
        self.persona = persona
        self.start = dt.datetime(2025, 4, 25, 10, 0, tzinfo=dt.UTC)
        self.count = 0
        self.history: tuple[dg.Message, ...] = ()
        while self.count < HISTORY - 1:  # the first turn completes a full window
            self.history = (*self.history, self._message())

    def _message(self) -> dg.Message:
        i = self.count
        self.count += 1
        return dg.Message(
            id=f"c{self.index}-m{i}",
            sender=dg.Sender.USER if i % 2 == 0 else dg.Sender.PERSONA,
            date=self.start + dt.timedelta(minutes=i),
            text=_LINES[i % len(_LINES)],
        )

    def turn(self) -> dg.SuggestionRequest:
        self.history = (*self.history[-(HISTORY - 1) :], self._message())
        return dg.SuggestionRequest(
            user_profile=self.user,
            persona_profile=self.persona,
            language=dg.Language.EN,
            messages=self.history,
        )


def _warm() -> Iterator[dg.SuggestionRequest]:
    template = _common.full_request()
    persona = dg.Profile.from_dict(template["personaProfile"])
    conversations = [_Conversation(k, persona, template) for k in range(CONVERSATIONS)]
    for conversation in itertools.cycle(conversations):
        yield conversation.turn()


def _cold() -> Iterator[dg.SuggestionRequest]:
    template = _common.full_request()
    for i in itertools.count():
        data = dict(template)
        data["userProfile"] = {**template["userProfile"], "id": f"u-{i}"}
        data["messages"] = [{**m, "id": f"r{i}-m{j}"} for j, m in enumerate(template["messages"])]
        yield dg.SuggestionRequest.from_dict(data)
