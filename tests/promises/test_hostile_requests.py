"""Generated hostile request mappings: only ``RequestValidationError`` ever comes out.

Each example takes a valid request and breaks it at random places (wrong types at
every level, huge strings and integers, lone surrogates, NaN and infinities, bools for
ints, nested junk, enormous lists, keys that are not strings), or is junk from the top.
``SuggestionRequest.from_dict`` and ``client.prepare`` must accept it and produce a body,
or raise ``RequestValidationError`` whose every problem has a path and whose text can
itself be written as UTF-8 (a CLI or a log line must never choke on it), within a CPU
time and memory bound.
"""

from __future__ import annotations

import copy
import gc
import math
import time
import tracemalloc
from collections.abc import Iterator
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dumgum_async as dg
from tests.helpers.bodies import full_request

MAX_CPU_SECONDS = 1.0
MAX_PEAK_BYTES = 64 * 2**20
EXAMPLES = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Any code point, lone surrogates (category Cs) included.
ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=40)
HUGE_TEXT = st.sampled_from([1, 33, 513, 70_000, 1_000_000]).map(lambda n: "é" * n)
NUMBERS = st.one_of(
    st.integers(),
    st.integers(min_value=-(2**200), max_value=2**200),
    # 10**4000: under the 4,300 digits past which even repr() fails (see test_bad_requests).
    st.sampled_from([10**4000, -(2**31) - 1, 2**31, 170.0, -0.0, 1e300]),
    st.floats(allow_nan=True, allow_infinity=True),
)
ODD_OBJECTS = st.sampled_from([b"bytes", bytearray(b"x"), object(), {1, 2}, (1, "a"), math.pi])
LEAVES = st.one_of(st.none(), st.booleans(), NUMBERS, ANY_TEXT, HUGE_TEXT, ODD_OBJECTS)
KEYS = st.one_of(ANY_TEXT, st.integers(), st.none(), st.tuples(st.integers()))
JUNK = st.recursive(
    LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(KEYS, inner, max_size=4),
        st.dictionaries(ANY_TEXT, inner, max_size=4),
    ),
    max_leaves=12,
)
# Sized for the traced, bounded run (tracemalloc costs about 4x); 100,000 items are
# timed untraced in test_bad_requests.
ENORMOUS = st.tuples(st.sampled_from([1_000, 5_000]), LEAVES).map(lambda t: [t[1]] * t[0])
VALUES = st.integers(0, 9).flatmap(lambda i: ENORMOUS if i == 0 else JUNK)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every key and index of a valid request: the places to break."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield (*prefix, key)
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield (*prefix, i)
            yield from _paths(value, (*prefix, i))


BASE = full_request(n_messages=6)  # message 3 has pictureUrls, 4 gifts, 5 a sticker
PLACES = sorted(set(_paths(BASE)), key=repr)


@st.composite
def hostile_requests(draw: st.DrawFn) -> Any:
    if draw(st.integers(0, 9)) == 0:
        return draw(st.one_of(JUNK, st.dictionaries(KEYS, VALUES, max_size=5)))
    data = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(PLACES))
        target: Any = data
        for seg in path[:-1]:
            if not isinstance(target, dict | list):
                break
            try:
                target = target[seg]
            except (KeyError, IndexError, TypeError):
                break
        else:
            if isinstance(target, dict) and path[-1] in target and draw(st.integers(0, 7)) == 0:
                del target[path[-1]]
                continue
            last = path[-1]
            if isinstance(target, dict) or (
                isinstance(target, list) and isinstance(last, int) and last < len(target)
            ):
                target[last] = draw(VALUES)
    return data


def _check_outcome(data: Any, call: Any) -> None:
    error: dg.RequestValidationError | None = None
    result: object = None
    try:
        result = call(data)
    except dg.RequestValidationError as exc:  # anything else fails the test
        error = exc
    if error is not None:
        assert error.problems, "an error without problems"
        for problem in error.problems:
            assert isinstance(problem.message, str)
            assert problem.message
            if isinstance(data, dict):
                assert problem.loc, f"problem without a path: {problem!r}"
        str(error).encode("utf-8")  # printable by the CLI, loggable
        return
    if isinstance(result, bytes):
        orjson.loads(result)  # what would be sent is JSON
    else:
        assert isinstance(result, dg.SuggestionRequest)


def _bounded(data: Any, call: Any) -> None:
    # No cyclic GC inside the measurement: a pass over earlier examples' garbage is
    # not this example's time (and without it the peak can only be higher).
    gc.disable()
    tracemalloc.start()
    start = time.process_time()
    try:
        _check_outcome(data, call)
    finally:
        cpu = time.process_time() - start
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        gc.enable()
    assert cpu < MAX_CPU_SECONDS, f"{cpu:.2f} s of CPU"
    assert peak < MAX_PEAK_BYTES, f"{peak / 2**20:.1f} MiB at peak"


@EXAMPLES
@given(data=hostile_requests())
def test_from_dict_raises_only_request_validation_errors_with_paths(data: Any) -> None:
    _bounded(data, dg.SuggestionRequest.from_dict)


@EXAMPLES
@given(data=hostile_requests(), strict=st.booleans())
def test_prepare_raises_only_request_validation_errors_with_paths(data: Any, strict: bool) -> None:
    client = dg.DumGumClient(api_key="k", base_url="http://127.0.0.1:9", strict_enums=strict)
    _bounded(data, client.prepare)


def test_the_hostile_strategy_reaches_every_field_of_the_request() -> None:
    # The breakage is only as thorough as the places it can pick.
    leaves = {path[-1] for path in PLACES if isinstance(path[-1], str)}
    assert {"firstName", "height", "interests", "date", "pictureUrls", "tier"} <= leaves
    assert any(len(p) >= 5 for p in PLACES)  # e.g. userProfile.features.interests[0]
