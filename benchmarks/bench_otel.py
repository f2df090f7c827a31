"""Cost of the OpenTelemetry instrumentation: CPU per request with it on and off.

The method of ``bench_client.py`` (same server, request, pool, warm-up and paired
rounds in rotating order), with these contenders, all ``client.suggest(model)``:

* ``off``: ``DumGumClient(telemetry=False)``: the code path of a client without
  opentelemetry installed (the client holds None; tests/test_otel.py checks that
  nothing of OpenTelemetry is imported then): the baseline;
* ``api``: telemetry on, with the API's no-op providers: opentelemetry-api installed
  and no SDK configured (what a library user gets by default);
* ``sdk``: telemetry on with the real SDK: every span sampled and sent through a
  ``BatchSpanProcessor`` to an exporter that drops it, metrics aggregated for an
  ``InMemoryMetricReader`` (no export cost: the instrumentation's own cost);
* ``raw_aiohttp``: context, to compare ``off`` with figure 1 of the README.

    python benchmarks/bench_otel.py            # 7 rounds, 3000 requests per run
    python benchmarks/bench_otel.py --quick    # a few seconds, for the smoke test

Ratios are per round against ``off`` (median over rounds). No target: the figures
say what turning telemetry on costs.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import _common
from bench_client import POOL, One, drive, raw_aiohttp
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

import dumgum_async as dg

CONTENDERS = ("off", "api", "sdk", "raw_aiohttp")


class _Drop(SpanExporter):
    """Takes every span and keeps none."""

    def __init__(self) -> None:
        self.spans = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.spans += len(spans)
        return SpanExportResult.SUCCESS


@asynccontextmanager
async def contender(name: str, url: str) -> AsyncIterator[One]:
    if name == "raw_aiohttp":
        async with raw_aiohttp(url) as send:
            yield lambda: send(None)
        return
    options: dict[str, Any] = {}
    providers: tuple[TracerProvider, MeterProvider] | None = None
    if name == "off":
        options["telemetry"] = False
    elif name == "api":
        options["tracer_provider"] = trace.NoOpTracerProvider()
        options["meter_provider"] = metrics.NoOpMeterProvider()
    elif name == "sdk":
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(BatchSpanProcessor(_Drop()))
        meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
        providers = tracer_provider, meter_provider
        options["tracer_provider"], options["meter_provider"] = providers
    else:
        raise ValueError(name)
    model = dg.SuggestionRequest.from_dict(_common.full_request())
    client = dg.DumGumClient(api_key=_common.API_KEY, base_url=url, max_concurrency=POOL, **options)
    try:
        async with client:

            async def one() -> dg.SuggestionResponse:
                return await client.suggest(model)

            yield one
    finally:
        if providers is not None:
            providers[0].shutdown()
            providers[1].shutdown()


async def measure(
    name: str, server: _common.Server, concurrency: int, n: int, warmup: int
) -> dict[str, float]:
    async with contender(name, server.url) as one:
        await drive(one, concurrency, max(warmup, concurrency))
        gc.collect()
        cpu, wall = time.process_time(), time.perf_counter()
        await drive(one, concurrency, n)
        wall = time.perf_counter() - wall
        cpu = time.process_time() - cpu
    return {"cpu_us_per_req": cpu / n * 1e6, "rps": n / wall}


async def bench(args: argparse.Namespace, server: _common.Server) -> dict[str, Any]:
    runs: dict[str, dict[int, list[dict[str, float]]]] = {
        name: {c: [] for c in args.concurrency} for name in args.contenders
    }
    for r in range(args.rounds):
        for c in args.concurrency:
            shift = (r + c) % len(args.contenders)
            for name in args.contenders[shift:] + args.contenders[:shift]:
                got = await measure(name, server, c, args.n, args.warmup)
                runs[name][c].append(got)
                if not args.quiet:
                    print(
                        f"  round {r + 1} c={c:<3} {name:<12} "
                        f"{got['cpu_us_per_req']:8.1f} us/req {got['rps']:8.0f} req/s",
                        file=sys.stderr,
                        flush=True,
                    )
    results: dict[str, Any] = {}
    for name, by_c in runs.items():
        results[name] = {}
        for c, rounds in by_c.items():
            entry: dict[str, Any] = {k: _common.median([x[k] for x in rounds]) for k in rounds[0]}
            for base in ("off", "raw_aiohttp"):
                if name != base and base in runs:
                    pairs = zip(rounds, runs[base][c], strict=True)
                    entry[f"cpu_vs_{base}"] = _common.median(
                        [x["cpu_us_per_req"] / b["cpu_us_per_req"] for x, b in pairs]
                    )
            entry["rounds"] = rounds
            results[name][str(c)] = entry
    return {"results": results}


def print_table(out: dict[str, Any], args: argparse.Namespace) -> None:
    print(f"\nmedians of {args.rounds} rounds, {args.n} requests per run, loop={args.loop}")
    header = ("contender", "conc", "us CPU/req", "x off", "x raw", "req/s")
    print("{:<12} {:>4} {:>11} {:>6} {:>6} {:>8}".format(*header))
    for name, by_c in out["results"].items():
        for c, e in by_c.items():
            print(
                f"{name:<12} {c:>4} {e['cpu_us_per_req']:11.1f} "
                f"{e.get('cpu_vs_off', 1.0):6.3f} {e.get('cpu_vs_raw_aiohttp', 1.0):6.2f} "
                f"{e['rps']:8.0f}"
            )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=3000, help="requests per measured run")
    parser.add_argument("--warmup", type=int, default=200, help="requests before each run")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--contenders", nargs="+", choices=CONTENDERS, default=list(CONTENDERS))
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    parser.add_argument("--quick", action="store_true", help="tiny run (smoke test)")
    parser.add_argument("--quiet", action="store_true", help="no per-run lines")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.warmup, args.rounds = 40, 10, 1
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with _common.minimal_server() as server:
        results = _common.run(bench(args, server), args.loop)
    return _common.publish("otel", args, results, print_table)


if __name__ == "__main__":
    sys.exit(main())
