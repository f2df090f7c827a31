"""The fast compiled check: it never says "valid" where jsonschema says "invalid"."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from dumgum_async.testing._compiled import compile_schema
from dumgum_async.testing._schema import request_schema
from tests.testing._bodies import full_request

_WRONG_VALUES: tuple[Any, ...] = (None, True, 7, 2.5, "", "x" * 600, [], ["WOMAN", "WOMAN"], {})


def _mutations(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _mutations(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node[:2]):
            yield from _mutations(value, (*path, index))


def test_fast_check_never_accepts_what_jsonschema_rejects() -> None:
    from jsonschema import Draft202012Validator

    schema = request_schema()
    fast = compile_schema(schema)
    reference = Draft202012Validator(schema)
    base = full_request(messages=2)
    checked = 0
    for path in _mutations(base):
        if not path:
            continue
        for wrong in _WRONG_VALUES:
            body = copy.deepcopy(base)
            target = body
            for part in path[:-1]:
                target = target[part]
            target[path[-1]] = wrong
            # "valid" from the fast check must be right; "not sure" is always allowed.
            assert not fast(body) or reference.is_valid(body), (path, wrong)
            checked += 1
        body = copy.deepcopy(base)
        target = body
        for part in path[:-1]:
            target = target[part]
        if isinstance(target, dict):
            del target[path[-1]]
            assert not fast(body) or reference.is_valid(body), path
    assert checked > 1000
    assert fast(base)
