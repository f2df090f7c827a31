"""The proxy the environment names for a URL, and its credentials, held as a secret.

Beside ``_http`` rather than in it: reading ``HTTP(S)_PROXY`` and ``NO_PROXY`` is a
matter of URLs and the environment, not of aiohttp, which only receives the route.
"""

from __future__ import annotations

import base64
import urllib.request
from collections.abc import Mapping
from typing import Literal

from yarl import URL

from dumgum_async._secret import Secret
from dumgum_async.exceptions import ConfigurationError


class ProxyRoute:
    """The proxy requests go through; its credentials are held as a :class:`Secret`.

    ``url`` never carries them, so it is safe to show.
    """

    __slots__ = ("_authorization", "url")

    def __init__(self, url: URL, authorization: Secret | None) -> None:
        self.url = url
        self._authorization = authorization

    # The credentials go in Proxy-Authorization: of the CONNECT for https, of the
    # request itself for http (aiohttp sends proxy_headers only with a CONNECT).
    # Built per request and never kept, so that outside a Secret no object of ours
    # holds them for longer than the call.

    def request_headers(self, url: str, headers: Mapping[str, str]) -> Mapping[str, str]:
        """The headers of a request to ``url`` through this proxy."""
        if self._authorization is None or url.startswith("https:"):
            return headers
        return {**headers, "Proxy-Authorization": self._authorization.reveal()}

    def connect_headers(self, url: str) -> dict[str, str] | None:
        """The headers of the CONNECT that tunnels to ``url``, if any."""
        if self._authorization is None or not url.startswith("https:"):
            return None
        return {"Proxy-Authorization": self._authorization.reveal()}

    def __repr__(self) -> str:
        return f"<ProxyRoute {self.url}>"


def proxy_from_env(url: str) -> ProxyRoute | None:
    """The proxy the environment names for ``url``, as curl, requests and httpx read it.

    ``HTTP_PROXY`` for http, ``HTTPS_PROXY`` for https (lowercase names win, as in
    ``urllib``), unless ``NO_PROXY`` covers the host. Credentials in the proxy URL
    (``http://user:pass@proxy:3128``) are sent to the proxy; ``.netrc`` is not read.

    Raises:
        ConfigurationError: The variable does not hold a usable http(s) proxy URL
            (its value is not shown: it may hold credentials).
    """
    target = URL(url)
    route = _proxy_in_env(target)
    if route is False:  # the variable holds no usable proxy URL
        # Raised here, where no local holds the value: tracebacks record locals.
        name = f"{target.scheme.upper()}_PROXY"
        raise ConfigurationError(
            f"{name} (or {name.lower()}) is not an http:// or https:// proxy URL with a "
            "host; its value is not shown as it may hold credentials"
        )
    return route


def _proxy_in_env(target: URL) -> ProxyRoute | Literal[False] | None:
    raw = urllib.request.getproxies().get(target.scheme)
    if not raw or target.host is None or urllib.request.proxy_bypass(target.host):
        return None
    if "://" not in raw:
        raw = "http://" + raw  # "proxy:3128", as curl reads it
    # yarl parses lazily: a bad port, or a host that is not valid IDNA ("xn--"), raises
    # only when read, so every part is read in here (UnicodeError is a ValueError).
    try:
        proxy = URL(raw)
        proxy.port  # noqa: B018 - raises ValueError for a port that is not one
        if proxy.scheme not in ("http", "https") or not proxy.host:
            return False
        user, password = proxy.user, proxy.password
        bare = proxy.with_user(None)
    except (ValueError, TypeError):
        return False
    authorization = None
    if user is not None:
        pair = f"{user}:{password or ''}".encode()
        authorization = Secret("Basic " + base64.b64encode(pair).decode("ascii"))
    return ProxyRoute(bare, authorization)
