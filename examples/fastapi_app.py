"""DumGum suggestions behind a FastAPI backend.

One :class:`DumGumClient` per process, opened in the app's ``lifespan`` and closed at
shutdown, handed to the routes through a dependency: every request shares its
connection pool, rate limit, retry budget and ``stats``.  Failed calls become HTTP
answers (see :mod:`examples.http_errors`): 422 with the problems, 429 with
``Retry-After``, 503, 504 or 502.

Run it from the repository root (``pip install -e '.[examples]'``: the examples are
not part of the installed package), here against the local emulator::

    dumgum-async serve --port 8080 --api-key demo-key &
    export DUMGUM_BASE_URL=http://127.0.0.1:8080 DUMGUM_API_KEY=demo-key
    uvicorn examples.fastapi_app:app --host 127.0.0.1 --port 8000
    curl -s 127.0.0.1:8000/suggestions -H 'Content-Type: application/json' -d @request.json
    curl -s 127.0.0.1:8000/stats

``request.json`` is one request body in the API's JSON shape; the README ("Many
conversations at once") shows how to write sample ones with the emulator's generator.

Routes:
    POST /suggestions: the body is a request in the API's JSON shape; answers
        ``{"suggestions": [...]}`` (a body that is not JSON gets FastAPI's own 422,
        ``json_invalid``, before the route runs).
    GET /stats: the client's counters (``client.stats``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Body, Depends, FastAPI, Request
from fastapi.responses import JSONResponse

import dumgum_async as dg
from examples.http_errors import answer_for, stats_body

__all__ = ["app", "create_app", "get_client"]


def get_client(request: Request) -> dg.DumGumClient:
    """The dependency: the app's client, opened by its lifespan."""
    client: dg.DumGumClient = request.app.state.dumgum
    return client


Client = Annotated[dg.DumGumClient, Depends(get_client)]


async def suggestions(
    body: Annotated[dict[str, Any], Body()], client: Client
) -> dict[str, list[str]]:
    """Three suggested replies for the conversation in ``body``."""
    response = await client.suggest(body)
    return {"suggestions": list(response.suggestions)}


async def stats(client: Client) -> dict[str, Any]:
    """The client's counters: calls, attempts, retries, 429s, failures, latencies."""
    return stats_body(client)


async def _dumgum_error(_: Request, exc: Exception) -> JSONResponse:
    # Registered for RequestValidationError and APIError only (see create_app).
    assert isinstance(exc, dg.RequestValidationError | dg.APIError)
    answer = answer_for(exc)
    return JSONResponse(answer.body, status_code=answer.status, headers=answer.headers)


def create_app(**client_options: Any) -> FastAPI:
    """The FastAPI app; its client is built with ``client_options`` at startup.

    Args:
        client_options: :class:`DumGumClient` arguments; none reads the key and base
            URL from ``DUMGUM_API_KEY`` and ``DUMGUM_BASE_URL``.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with dg.DumGumClient(**client_options) as client:
            app.state.dumgum = client
            yield

    app = FastAPI(title="DumGum suggestions", lifespan=lifespan)
    app.add_api_route("/suggestions", suggestions, methods=["POST"])
    app.add_api_route("/stats", stats, methods=["GET"])
    # dg.RequestValidationError, not FastAPI's own class of the same name.
    app.add_exception_handler(dg.RequestValidationError, _dumgum_error)
    app.add_exception_handler(dg.APIError, _dumgum_error)
    return app


#: For ``uvicorn examples.fastapi_app:app``; nothing is opened before startup.
app = create_app()
