"""The emulator answers any body without crashing, validated or not."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers.bodies import conversation_request
from tests.helpers.emulators import make_emulator

_HEADERS = {"Authorization": "Bearer test-key", "Content-Type": "application/json"}
_PATH = "/cs/v1/content_creation/suggestion"
_VALIDATING = make_emulator(max_recorded=1)
_LENIENT = make_emulator(validate=False, max_recorded=1)

_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["userProfile", "messages", "text", "sender", "gifts", "name", "x"])
            | st.text(max_size=8),
            children,
            max_size=4,
        )
    ),
    max_leaves=20,
)


def _mutated(body: dict[str, Any], path: list[str | int], value: Any) -> dict[str, Any]:
    target: Any = body
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return body


_PATHS: list[list[str | int]] = [
    ["language"],
    ["userProfile"],
    ["userProfile", "features"],
    ["userProfile", "features", "interests"],
    ["personaProfile", "pictures"],
    ["messages"],
    ["messages", 19],
    ["messages", 19, "gifts"],
    ["messages", 19, "text"],
    ["messages", 19, "date"],
]


@settings(max_examples=100, deadline=None)
@given(body=_json)
def test_any_json_body_gets_200_or_400(body: Any) -> None:
    raw = json.dumps(body).encode()
    for emulator in (_VALIDATING, _LENIENT):
        reply = emulator.handle("POST", _PATH, _HEADERS, raw)
        assert reply.status in (200, 400)


@settings(max_examples=100, deadline=None)
@given(where=st.sampled_from(_PATHS), value=_json)
def test_a_realistic_body_with_one_odd_part_gets_200_or_400(
    where: list[str | int], value: Any
) -> None:
    raw = json.dumps(_mutated(conversation_request(), where, value)).encode()
    for emulator in (_VALIDATING, _LENIENT):
        reply = emulator.handle("POST", _PATH, _HEADERS, raw)
        assert reply.status in (200, 400)
        if reply.status == 200:
            assert len(json.loads(reply.body)["suggestions"]) == 3
