"""The smallest server the client benchmarks can talk to.

Any POST (any path) gets ``200 {"suggestions": [...]}`` after its body is read; no
authentication, no validation, no logging. It prints
``minimal server listening on http://127.0.0.1:PORT`` and serves until SIGTERM/SIGINT.

    python benchmarks/minimal_server.py --port 0 [--loop uvloop|asyncio|auto]

``auto`` (the default) uses uvloop where it is installed, so that the server is as
cheap as possible and the client is what is being measured.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import signal
import sys

from aiohttp import web

BODY = (
    b'{"suggestions": ["Sounds lovely! Where did you go?", '
    b'"Ha, tell me more about that risotto.", "What are you up to tonight?"]}'
)


async def handle(request: web.BaseRequest) -> web.StreamResponse:
    if request.method != "POST":
        return web.Response(status=405)
    await request.read()
    return web.Response(body=BODY, content_type="application/json")


async def serve(port: int) -> None:
    server = web.Server(handle, access_log=None)
    runner = web.ServerRunner(server, handle_signals=False)
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        site = web.TCPSite(runner, "127.0.0.1", port, backlog=1024)
        await site.start()
        host, bound = runner.addresses[0][:2]
        print(f"minimal server listening on http://{host}:{bound}", flush=True)
        await stop.wait()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--loop", choices=("auto", "uvloop", "asyncio"), default="auto")
    args = parser.parse_args(argv)
    use_uvloop = args.loop == "uvloop" or (
        args.loop == "auto" and importlib.util.find_spec("uvloop") is not None
    )
    if use_uvloop:
        import uvloop

        uvloop.run(serve(args.port))
    else:
        asyncio.run(serve(args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
