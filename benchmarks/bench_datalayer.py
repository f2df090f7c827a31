"""Data layer: encoding a request to JSON bytes, and building a validated request model.

The request is ``_common.full_request()`` (every profile field, 20 messages).
The baseline is the same request in pydantic v2 (``pydantic_models.py``):

* encode: ``dumgum_async._converter.encode_request(model)`` vs
  ``model.model_dump_json(by_alias=True, exclude_none=True)``;
* from_dict: ``SuggestionRequest.from_dict(d)`` (with every check the models make) vs
  ``SuggestionRequest.model_validate(d)``;
* encode scenarios (``--scenario-n`` requests each): the road ``prepare`` sends
  (``_encode.encode_request``: straight-line, with the memo of profiles and messages
  sent before) vs the cattrs road (``_converter.encode_request``, the reference), on
  *cold* requests (every object new), *warm* ones (one persona shared by every
  conversation, one user profile per conversation, a 20-message history sliding by
  one message per turn, conversations interleaved) and the *same* request object
  again and again; cold also with ``encode_unshared`` (what a mapping is sent with);
* for context: the library's cattrs road (``_converter._STRICT.structure``, what
  ``from_dict`` falls back to on bad input to report every problem), a plain cattrs
  converter over the same models, and JSON bytes to a model on both sides.

Each figure is CPU time per call (``timeit`` with ``time.process_time``), the median
of several rounds; contenders alternate within each round and every ratio is taken
within a round.

    python benchmarks/bench_datalayer.py
    python benchmarks/bench_datalayer.py --quick

Targets: encode <= 0.7x pydantic; from_dict <= 1.5x pydantic.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import sys
import time
import timeit
from collections.abc import Callable
from typing import Any

import _common
import attrs
import cattrs
import orjson
import pydantic_models as pm
from cattrs.gen import make_dict_structure_fn, override

import dumgum_async as dg

# No public equivalent: ``encode_request`` is the body the client sends (``to_dict``
# is a different road), ``_STRICT`` the converter ``from_dict`` falls back to on bad
# input; ``_encode`` is the road ``prepare`` sends. They are what this benchmark
# measures, so it reaches in, knowingly.
from dumgum_async import _converter, _encode  # private, see above

# (group, contender) -> baseline contender of the group (None: the baseline itself).
BASELINE = {"encode": "pydantic", "from_dict": "pydantic", "from_json": "pydantic"}
TARGETS = {("encode", "dumgum"): 0.7, ("from_dict", "dumgum"): 1.5}


def _camel(name: str) -> str:
    """``first_name`` -> ``firstName``, as the API spells attribute names."""
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def plain_cattrs() -> cattrs.Converter:
    """A stock cattrs converter over the same attrs models (camelCase renames only)."""
    conv = cattrs.Converter(forbid_extra_keys=False, detailed_validation=False)
    conv.register_structure_hook(dt.datetime, lambda v, _: dt.datetime.fromisoformat(v))
    conv.register_structure_hook(dt.date, lambda v, _: dt.date.fromisoformat(v))

    def model(cls: Any, c: cattrs.Converter) -> Any:
        renames = {a.name: override(rename=_camel(a.name)) for a in attrs.fields(cls)}
        return make_dict_structure_fn(cls, c, _cattrs_detailed_validation=False, **renames)

    conv.register_structure_hook_factory(attrs.has, model)
    return conv


def contenders() -> dict[str, dict[str, Callable[[], Any]]]:
    data = _common.full_request()
    model = dg.SuggestionRequest.from_dict(data)
    pmodel = pm.SuggestionRequest.model_validate(data)
    ours_json = _converter.encode_request(model)
    theirs_json = pmodel.model_dump_json(by_alias=True, exclude_none=True).encode()
    plain = plain_cattrs()
    assert plain.structure(data, dg.SuggestionRequest) == model
    assert _converter._STRICT.structure(data, dg.SuggestionRequest) == model
    strict = _converter._STRICT
    encode = _converter.encode_request
    unshared = _encode.encode_unshared
    from_dict = dg.SuggestionRequest.from_dict
    validate = pm.SuggestionRequest.model_validate
    validate_json = pm.SuggestionRequest.model_validate_json
    loads = orjson.loads
    req = dg.SuggestionRequest
    return {
        "encode": {
            "dumgum": lambda: encode(model),
            # The same object again and again would hit the memo: no memo here.
            "dumgum_unshared (straight-line, no memo)": lambda: unshared(model),
            "pydantic": lambda: pmodel.model_dump_json(by_alias=True, exclude_none=True),
        },
        "from_dict": {
            "dumgum": lambda: from_dict(data),
            "pydantic": lambda: validate(data),
            "cattrs_detailed (library's error road)": lambda: strict.structure(data, req),
            "cattrs_plain": lambda: plain.structure(data, req),
        },
        "from_json": {
            "dumgum": lambda: from_dict(loads(ours_json)),
            "pydantic": lambda: validate_json(theirs_json),
        },
    }


def calibrate(fn: Callable[[], Any], seconds: float) -> int:
    """Loops per measurement so that one measurement takes about ``seconds`` of CPU."""
    number = 1
    while True:
        took = timeit.Timer(fn, timer=time.process_time).timeit(number)
        if took >= seconds / 10 or number >= 1_000_000:
            return max(1, int(number * seconds / max(took, 1e-9)))
        number *= 10


def bench(args: argparse.Namespace) -> dict[str, Any]:
    groups = contenders()
    numbers = {
        (g, name): (args.number or calibrate(fn, args.seconds))
        for g, fns in groups.items()
        for name, fn in fns.items()
    }
    samples: dict[tuple[str, str], list[float]] = {key: [] for key in numbers}
    for r in range(args.rounds):
        for g, fns in groups.items():
            names = list(fns)
            shift = r % len(names)
            for name in names[shift:] + names[:shift]:
                number = numbers[g, name]
                took = timeit.Timer(fns[name], timer=time.process_time).timeit(number)
                samples[g, name].append(took / number * 1e6)
    results: dict[str, Any] = {}
    targets = []
    for (g, name), values in samples.items():
        entry: dict[str, Any] = {"us_per_call": _common.median(values), "rounds": values}
        base = BASELINE.get(g)
        if base is not None and name != base:
            entry["ratio"] = _common.median(
                [v / b for v, b in zip(values, samples[g, base], strict=True)]
            )
            limit = TARGETS.get((g, name))
            if limit is not None:
                targets.append(
                    {
                        "figure": f"{g} vs pydantic v2",
                        "value": entry["ratio"],
                        "target": f"<= {limit}",
                        "met": entry["ratio"] <= limit,
                    }
                )
        results.setdefault(g, {})[name] = entry
    return {"results": results, "targets": targets}


ENCODERS: dict[str, Callable[[dg.SuggestionRequest], bytes]] = {
    "cattrs": _converter.encode_request,
    "fast": _encode.encode_request,
    "fast_unshared": _encode.encode_unshared,
}
SCENARIOS = {
    "cold": ("cattrs", "fast", "fast_unshared"),
    "warm": ("cattrs", "fast"),
    "same": ("cattrs", "fast"),
}


def scenario_requests(kind: str, n: int) -> list[dg.SuggestionRequest]:
    """``n`` requests of a scenario, new objects (no memo yet) every time it is called."""
    data = _common.full_request()
    if kind == "cold":
        return [dg.SuggestionRequest.from_dict(data) for _ in range(n)]
    if kind == "same":
        return [dg.SuggestionRequest.from_dict(data)] * n
    persona = dg.Profile.from_dict(data["personaProfile"])
    turns = 50
    conversations = max(1, n // turns)
    users, histories = [], []
    for c in range(conversations):
        users.append(dg.Profile.from_dict({**data["userProfile"], "id": f"u{c}"}))
        lines = data["messages"]
        histories.append(
            [
                dg.Message.from_dict({**lines[i % len(lines)], "id": f"c{c}m{i}"})
                for i in range(turns + 19)
            ]
        )
    language = dg.Language(data["language"])
    out = []
    for turn in range(turns):
        for c in range(conversations):
            out.append(
                dg.SuggestionRequest(
                    user_profile=users[c],
                    persona_profile=persona,
                    language=language,
                    messages=tuple(histories[c][turn : turn + 20]),
                )
            )
    return out[:n]


def bench_scenarios(args: argparse.Namespace) -> dict[str, Any]:
    samples = {(k, e): [] for k, names in SCENARIOS.items() for e in names}
    for r in range(args.rounds):
        for kind, names in SCENARIOS.items():
            shift = r % len(names)
            for name in names[shift:] + names[:shift]:
                requests = scenario_requests(kind, args.scenario_n)
                encode = ENCODERS[name]
                gc.disable()  # as timeit does for the other figures
                try:
                    start = time.process_time()
                    for request in requests:
                        encode(request)
                    took = time.process_time() - start
                finally:
                    gc.enable()
                samples[kind, name].append(took / len(requests) * 1e6)
    out: dict[str, Any] = {}
    for (kind, name), values in samples.items():
        base = samples[kind, "cattrs"]
        out.setdefault(kind, {})[name] = {
            "us_per_call": _common.median(values),
            "rounds": values,
            "x_cattrs": _common.median([v / b for v, b in zip(values, base, strict=True)]),
        }
    return out


def print_table(out: dict[str, Any], args: argparse.Namespace) -> None:
    print(f"\nCPU per call, median of {args.rounds} rounds")
    print(f"{'operation':<10} {'contender':<40} {'us/call':>9} {'x pydantic':>10}")
    for g, by_name in out["results"].items():
        for name, e in by_name.items():
            ratio = f"{e['ratio']:10.2f}" if "ratio" in e else f"{'':>10}"
            print(f"{g:<10} {name:<40} {e['us_per_call']:9.1f} {ratio}")
    print(f"\nencode scenarios, {args.scenario_n} requests each, median of {args.rounds} rounds")
    print(f"{'scenario':<10} {'encoder':<40} {'us/request':>10} {'x cattrs':>9}")
    for kind, by_name in out["scenarios"].items():
        for name, e in by_name.items():
            print(f"{kind:<10} {name:<40} {e['us_per_call']:10.1f} {e['x_cattrs']:9.2f}")
    _common.print_targets(out["targets"], digits=2)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--seconds", type=float, default=0.3, help="CPU per measurement")
    parser.add_argument("--number", type=int, default=0, help="calls per measurement (0: auto)")
    parser.add_argument("--scenario-n", type=int, default=2000, help="requests per scenario")
    parser.add_argument("--quick", action="store_true", help="tiny run (smoke test)")
    parser.add_argument("--quiet", action="store_true", help="(no per-run lines anyway)")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.number, args.scenario_n = 1, 20, 50
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results = bench(args)
    results["scenarios"] = bench_scenarios(args)
    return _common.publish("datalayer", args, results, print_table)


if __name__ == "__main__":
    sys.exit(main())
