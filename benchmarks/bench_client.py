"""Client overhead: CPU per request and requests/s of ``client.suggest(model)``.

The server is ``minimal_server.py`` in its own process (fixed answer, no validation),
so the client process's CPU time (``time.process_time()``) is the client's cost alone.
Contenders, each with its own session and connection pool of 64, run one after the
other in every round, in a rotating order, at each concurrency:

* ``raw_aiohttp``: aiohttp posting the pre-encoded body and reading the answer's bytes,
  nothing else: the physical limit of an aiohttp-based client;
* ``raw_codec`` (breakdown): ``raw_aiohttp`` plus the library's own codec on each call,
  ``encode_request(model)`` and ``decode_response(body)``: so ``raw_codec - raw_aiohttp``
  is the codec's cost and ``dumgum - raw_codec`` the rest of the client's machinery;
* ``dumgum``: ``DumGumClient.suggest(SuggestionRequest)``: encode, post, status check,
  decode into a ``SuggestionResponse``, stats, retry machinery (not triggered);
* ``httpx``: ``httpx.AsyncClient`` posting the pre-encoded body (transport comparison);
* ``handwritten``: what users write themselves with aiohttp: ``json.dumps`` of the
  dict, post, status check, ``json.loads``, a 3-attempt retry loop on 429/5xx/errors.

    python benchmarks/bench_client.py            # 7 rounds, 3000 requests per run
    python benchmarks/bench_client.py --quick    # a few seconds, for the smoke test

Targets: dumgum CPU per request <= 1.3x raw_aiohttp; requests/s at concurrency 64
>= 0.85x raw_aiohttp (both as the median of per-round ratios).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import _common
import aiohttp

import dumgum_async as dg

CONTENDERS = ("raw_aiohttp", "raw_codec", "dumgum", "httpx", "handwritten")
POOL = 64
HEADERS = {
    "Authorization": f"Bearer {_common.API_KEY}",
    "Content-Type": "application/json",
    "Accept": "application/json",
}
PATH = "/cs/v1/content_creation/suggestion"

One = Callable[[], Awaitable[Any]]


class Contender:
    """An async context manager giving ``one()``: send one request, read the answer."""

    def __init__(self, name: str, url: str, data: dict[str, Any]) -> None:
        self.name = name
        self.url = url + PATH
        self.base_url = url
        self.data = data
        self.body = dg.SuggestionRequest.from_dict(data).to_dict()  # canonical dict
        self.model = dg.SuggestionRequest.from_dict(data)
        self.encoded = dg._converter.encode_request(self.model)
        self._close: Callable[[], Awaitable[Any]] | None = None

    async def __aenter__(self) -> One:
        if self.name == "raw_aiohttp":
            return self._raw()
        if self.name == "raw_codec":
            return self._raw_codec()
        if self.name == "handwritten":
            return self._handwritten()
        if self.name == "dumgum":
            return await self._dumgum()
        if self.name == "httpx":
            return self._httpx()
        raise ValueError(self.name)

    async def __aexit__(self, *exc: object) -> None:
        if self._close is not None:
            await self._close()

    def _session(self) -> aiohttp.ClientSession:
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=POOL))
        self._close = session.close
        return session

    def _raw(self) -> One:
        session, url, body = self._session(), self.url, self.encoded

        async def one() -> bytes:
            async with session.post(url, data=body, headers=HEADERS) as resp:
                raw = await resp.read()
                if resp.status != 200:
                    raise RuntimeError(resp.status)
                return raw

        return one

    def _raw_codec(self) -> One:
        session, url, model = self._session(), self.url, self.model
        encode, decode = dg._converter.encode_request, dg._converter.decode_response

        async def one() -> dg.SuggestionResponse:
            async with session.post(url, data=encode(model), headers=HEADERS) as resp:
                raw = await resp.read()
                if resp.status != 200:
                    raise RuntimeError(resp.status)
            return decode(raw)

        return one

    def _handwritten(self) -> One:
        session, url, data = self._session(), self.url, self.body
        retryable = {429, 500, 502, 503, 504}

        async def one() -> list[str]:
            payload = json.dumps(data)
            for attempt in range(3):
                try:
                    async with session.post(url, data=payload, headers=HEADERS) as resp:
                        if resp.status == 200:
                            return json.loads(await resp.read())["suggestions"]  # type: ignore[no-any-return]
                        if resp.status not in retryable or attempt == 2:
                            raise RuntimeError(f"HTTP {resp.status}")
                except aiohttp.ClientConnectionError:
                    if attempt == 2:
                        raise
                await asyncio.sleep(0.5 * 2**attempt)
            raise AssertionError("unreachable")

        return one

    async def _dumgum(self) -> One:
        client = dg.DumGumClient(
            api_key=_common.API_KEY, base_url=self.base_url, max_concurrency=POOL
        )
        await client.__aenter__()
        self._close = client.aclose
        model = self.model

        async def one() -> dg.SuggestionResponse:
            return await client.suggest(model)

        return one

    def _httpx(self) -> One:
        import httpx

        client = httpx.AsyncClient(
            limits=httpx.Limits(max_connections=POOL, max_keepalive_connections=POOL),
            timeout=30.0,
        )
        self._close = client.aclose
        url, body = self.url, self.encoded

        async def one() -> bytes:
            resp = await client.post(url, content=body, headers=HEADERS)
            if resp.status_code != 200:
                raise RuntimeError(resp.status_code)
            return resp.content

        return one


async def drive(one: One, concurrency: int, n: int) -> None:
    """``n`` calls of ``one()`` by ``concurrency`` workers."""
    remaining = n

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await one()

    await asyncio.gather(*(worker() for _ in range(concurrency)))


# httpx costs ~10x more per request at high concurrency: fewer of its requests per
# run keep a round short (its figures are per request, so still comparable).
SHARE = {"httpx": 0.25}


async def measure(
    name: str, server: _common.Server, concurrency: int, n: int, warmup: int
) -> dict[str, float]:
    n = max(int(n * SHARE.get(name, 1.0)), concurrency)
    async with Contender(name, server.url, _common.full_request()) as one:
        await drive(one, concurrency, max(warmup, concurrency))  # connections, caches
        gc.collect()
        server_cpu = server.cpu_seconds()
        cpu, wall = time.process_time(), time.perf_counter()
        await drive(one, concurrency, n)
        wall = time.perf_counter() - wall
        cpu = time.process_time() - cpu
        server_cpu = server.cpu_seconds() - server_cpu
    return {
        "cpu_us_per_req": cpu / n * 1e6,
        "rps": n / wall,
        "client_cpu_share": cpu / wall,
        "server_cpu_share": server_cpu / wall,
    }


async def bench(args: argparse.Namespace, server: _common.Server) -> dict[str, Any]:
    runs: dict[str, dict[int, list[dict[str, float]]]] = {
        name: {c: [] for c in args.concurrency} for name in args.contenders
    }
    for r in range(args.rounds):
        for c in args.concurrency:
            shift = (r + c) % len(args.contenders)
            order = args.contenders[shift:] + args.contenders[:shift]
            for name in order:
                got = await measure(name, server, c, args.n, args.warmup)
                runs[name][c].append(got)
                if not args.quiet:
                    print(
                        f"  round {r + 1} c={c:<3} {name:<12} "
                        f"{got['cpu_us_per_req']:8.1f} us/req {got['rps']:8.0f} req/s "
                        f"(client cpu {got['client_cpu_share']:.2f}, "
                        f"server cpu {got['server_cpu_share']:.2f})",
                        file=sys.stderr,
                        flush=True,
                    )
    return summarize(runs, args)


def summarize(
    runs: dict[str, dict[int, list[dict[str, float]]]], args: argparse.Namespace
) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for name, by_c in runs.items():
        results[name] = {}
        for c, rounds in by_c.items():
            entry: dict[str, Any] = {
                key: _common.median([x[key] for x in rounds]) for key in rounds[0]
            }
            if name != "raw_aiohttp" and "raw_aiohttp" in runs:
                base = runs["raw_aiohttp"][c]
                entry["cpu_ratio"] = _common.median(
                    [
                        x["cpu_us_per_req"] / b["cpu_us_per_req"]
                        for x, b in zip(rounds, base, strict=True)
                    ]
                )
                entry["rps_ratio"] = _common.median(
                    [x["rps"] / b["rps"] for x, b in zip(rounds, base, strict=True)]
                )
            entry["rounds"] = rounds
            results[name][str(c)] = entry
    targets = []
    if "dumgum" in results and "raw_aiohttp" in results:
        for c in args.concurrency:
            ratio = results["dumgum"][str(c)]["cpu_ratio"]
            targets.append(
                {
                    "figure": f"CPU/request vs raw aiohttp, concurrency {c}",
                    "value": ratio,
                    "target": "<= 1.3",
                    "met": ratio <= 1.3,
                }
            )
        if 64 in args.concurrency:
            ratio = results["dumgum"]["64"]["rps_ratio"]
            targets.append(
                {
                    "figure": "requests/s vs raw aiohttp, concurrency 64",
                    "value": ratio,
                    "target": ">= 0.85",
                    "met": ratio >= 0.85,
                }
            )
    return {"results": results, "targets": targets}


def print_table(out: dict[str, Any], args: argparse.Namespace) -> None:
    print(f"\nmedians of {args.rounds} rounds, {args.n} requests per run, loop={args.loop}")
    print(
        f"{'contender':<12} {'conc':>4} {'us CPU/req':>11} {'x raw':>6} "
        f"{'req/s':>8} {'x raw':>6} {'client cpu':>10} {'server cpu':>10}"
    )
    for name, by_c in out["results"].items():
        for c, e in by_c.items():
            print(
                f"{name:<12} {c:>4} {e['cpu_us_per_req']:11.1f} "
                f"{e.get('cpu_ratio', 1.0):6.2f} {e['rps']:8.0f} {e.get('rps_ratio', 1.0):6.2f} "
                f"{e['client_cpu_share']:10.2f} {e['server_cpu_share']:10.2f}"
            )
    _common.print_targets(out["targets"], digits=2)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=3000, help="requests per measured run")
    parser.add_argument("--warmup", type=int, default=200, help="requests before each run")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--contenders", nargs="+", choices=CONTENDERS, default=list(CONTENDERS))
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    parser.add_argument("--server-loop", choices=("auto", "asyncio", "uvloop"), default="auto")
    parser.add_argument("--quick", action="store_true", help="tiny run (smoke test)")
    parser.add_argument("--quiet", action="store_true", help="no per-run lines")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.warmup, args.rounds = 40, 10, 1
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with _common.minimal_server(loop=args.server_loop) as server:
        results = _common.run(bench(args, server), args.loop)
    return _common.publish("client", args, results, print_table)


if __name__ == "__main__":
    sys.exit(main())
