"""DumGum suggestions behind an aiohttp.web backend.

The same service as :mod:`examples.fastapi_app`: one :class:`DumGumClient` per
process, opened and closed by a ``cleanup_ctx`` entry, stored on the application
under an :class:`aiohttp.web.AppKey`, and a middleware turning failed calls into HTTP
answers (see :mod:`examples.http_errors`).

Run it, here against the local emulator::

    dumgum-async serve --port 8080 --api-key demo-key &
    export DUMGUM_BASE_URL=http://127.0.0.1:8080 DUMGUM_API_KEY=demo-key
    python -m examples.aiohttp_app            # serves on 127.0.0.1:8000
    curl -s 127.0.0.1:8000/suggestions -H 'Content-Type: application/json' -d @request.json

``request.json`` is one request body in the API's JSON shape; the README ("Many
conversations at once") shows how to write sample ones with the emulator's generator.

Routes:
    POST /suggestions: the body is a request in the API's JSON shape; answers
        ``{"suggestions": [...]}`` (400 if the body is not JSON).
    GET /stats: the client's counters (``client.stats``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web

import dumgum_async as dg
from examples.http_errors import answer_for, stats_body

__all__ = ["CLIENT", "create_app"]

#: Where the application keeps its client.
CLIENT = web.AppKey("dumgum", dg.DumGumClient)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def suggestions(request: web.Request) -> web.Response:
    """Three suggested replies for the conversation in the request body."""
    try:
        body = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text="the body must be JSON") from None
    response = await request.app[CLIENT].suggest(body)
    return web.json_response({"suggestions": list(response.suggestions)})


async def stats(request: web.Request) -> web.Response:
    """The client's counters: calls, attempts, retries, 429s, failures, latencies."""
    return web.json_response(stats_body(request.app[CLIENT]))


@web.middleware
async def dumgum_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer a failed DumGum call as :func:`examples.http_errors.answer_for` says."""
    try:
        return await handler(request)
    except (dg.RequestValidationError, dg.APIError) as exc:
        answer = answer_for(exc)
        return web.json_response(answer.body, status=answer.status, headers=answer.headers)


def create_app(**client_options: Any) -> web.Application:
    """The application; its client is built with ``client_options`` at startup.

    Args:
        client_options: :class:`DumGumClient` arguments; none reads the key and base
            URL from ``DUMGUM_API_KEY`` and ``DUMGUM_BASE_URL``.
    """

    async def dumgum_client(app: web.Application) -> AsyncIterator[None]:
        async with dg.DumGumClient(**client_options) as client:
            app[CLIENT] = client
            yield

    app = web.Application(middlewares=[dumgum_errors])
    app.cleanup_ctx.append(dumgum_client)
    app.router.add_post("/suggestions", suggestions)
    app.router.add_get("/stats", stats)
    return app


if __name__ == "__main__":
    web.run_app(create_app(), host="127.0.0.1", port=8000)
