"""Proxies from the environment and TLS trust, over real sockets on 127.0.0.1.

A small forwarding proxy written here (absolute-URI requests for http targets,
CONNECT tunnels for https) records what it saw; a CA made with the openssl CLI signs
the TLS server's certificate, as a corporate CA would.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from yarl import URL

import dumgum_async as dg
from dumgum_async.testing import FakeDumGumServer
from tests.helpers.bodies import minimal_request
from tests.helpers.hostile_server import HostileServer, hostile_server, http_response, listening
from tests.promises.test_secrets import leaks

KEY = "sk-network-5d4c3b2a1f0e"
LOGIN = "proxyuser"
PASSWORD = "proxy-canary-Wq7Ez3Rt"
QUICK = dg.RetryPolicy(max_attempts=3, initial_backoff=0.01, max_backoff=0.02, budget=None)
GOOD = orjson.dumps({"suggestions": ["a", "b", "c"]})
_PROXY_VARS = ("http_proxy", "https_proxy", "no_proxy", "all_proxy")


@pytest.fixture(autouse=True)
def _no_proxy_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test sets the proxy variables it is about; the developer's own are gone."""
    for name in _PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


class Proxy:
    """A forwarding HTTP proxy that records each request line and its headers."""

    def __init__(self, *, reply: bytes | None = None) -> None:
        self.seen: list[tuple[str, str, dict[str, str]]] = []
        self.port = 0
        self._reply = reply  # answer this instead of forwarding
        self._tasks: set[asyncio.Task[None]] = set()

    def url(self, credentials: str = "") -> str:
        return f"http://{credentials}127.0.0.1:{self.port}"

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            line, *fields = head.split("\r\n")
            method, target, _ = line.split(" ")
            headers = {
                name.strip().lower(): value.strip()
                for name, _, value in (f.partition(":") for f in fields if f)
            }
            self.seen.append((method, target, headers))
            if self._reply is not None:
                writer.write(self._reply)
            elif method == "CONNECT":
                await self._tunnel(target, reader, writer)
            else:
                await self._forward(target, fields, reader, writer)
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _forward(
        self,
        target: str,
        fields: list[str],
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        url = URL(target)
        assert url.host is not None
        assert url.port is not None
        length = 0
        kept = []
        for field in filter(None, fields):
            name = field.partition(":")[0].strip().lower()
            if name == "content-length":
                length = int(field.partition(":")[2])
            if name not in ("proxy-authorization", "proxy-connection", "connection"):
                kept.append(field)
        body = await reader.readexactly(length)
        up_reader, up_writer = await asyncio.open_connection(url.host, url.port)
        request = f"POST {url.raw_path_qs} HTTP/1.1\r\n" + "\r\n".join(kept)
        up_writer.write(request.encode("latin-1") + b"\r\nConnection: close\r\n\r\n" + body)
        writer.write(await up_reader.read())  # until the server closes
        up_writer.close()
        await up_writer.wait_closed()

    async def _tunnel(
        self, target: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        host, _, port = target.rpartition(":")
        up_reader, up_writer = await asyncio.open_connection(host, int(port))
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            with contextlib.suppress(OSError):
                dst.write_eof()

        try:
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        finally:
            up_writer.close()


@contextlib.asynccontextmanager
async def running(proxy: Proxy) -> AsyncIterator[Proxy]:
    async with listening(proxy.serve, proxy._tasks) as port:
        proxy.port = port
        yield proxy


def _client(base_url: str, **options: Any) -> dg.DumGumClient:
    options.setdefault("retry", QUICK)
    options.setdefault("timeout", 3.0)
    return dg.DumGumClient(api_key=KEY, base_url=base_url, **options)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- http: absolute-URI requests through the proxy ---------------------------------


async def test_a_request_goes_through_the_proxy_http_proxy_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with running(Proxy()) as proxy, FakeDumGumServer(api_key=KEY) as fake:
        monkeypatch.setenv("HTTP_PROXY", proxy.url())
        async with _client(fake.url) as client:
            result = await client.suggest(minimal_request())
    assert len(result.suggestions) >= 1
    assert [(m, t) for m, t, _ in proxy.seen] == [
        ("POST", fake.url + "/cs/v1/content_creation/suggestion")
    ]
    assert len(fake.requests) == 1
    assert fake.requests[0].header("Authorization") == f"Bearer {KEY}"


async def test_no_proxy_bypasses_the_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    async with running(Proxy()) as proxy, FakeDumGumServer(api_key=KEY) as fake:
        monkeypatch.setenv("HTTP_PROXY", proxy.url())
        monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
        async with _client(fake.url) as client:
            await client.suggest(minimal_request())
    assert proxy.seen == []
    assert len(fake.requests) == 1


async def test_trust_env_false_connects_directly(monkeypatch: pytest.MonkeyPatch) -> None:
    async with running(Proxy()) as proxy, FakeDumGumServer(api_key=KEY) as fake:
        monkeypatch.setenv("HTTP_PROXY", proxy.url())
        async with _client(fake.url, trust_env=False) as client:
            await client.suggest(minimal_request())
    assert proxy.seen == []
    assert len(fake.requests) == 1


async def test_a_callers_session_keeps_its_own_proxy_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with (
        running(Proxy()) as proxy,
        FakeDumGumServer(api_key=KEY) as fake,
        aiohttp.ClientSession() as session,  # trust_env=False, aiohttp's default
    ):
        monkeypatch.setenv("HTTP_PROXY", proxy.url())
        async with _client(fake.url, session=session) as client:
            await client.suggest(minimal_request())
    assert proxy.seen == []
    assert len(fake.requests) == 1


async def test_credentials_in_the_proxy_url_go_to_the_proxy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with running(Proxy()) as proxy, FakeDumGumServer(api_key=KEY) as fake:
        monkeypatch.setenv("HTTP_PROXY", proxy.url(f"{LOGIN}:{PASSWORD}@"))
        async with _client(fake.url) as client:
            await client.suggest(minimal_request())
    expected = "Basic " + base64.b64encode(f"{LOGIN}:{PASSWORD}".encode()).decode()
    assert [h.get("proxy-authorization") for _, _, h in proxy.seen] == [expected]
    assert fake.requests[0].header("Authorization") == f"Bearer {KEY}"


async def test_netrc_is_never_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # aiohttp's own trust_env would send these as Basic credentials (to the proxy, and
    # for the API host clash with the bearer header: every request a ValueError).
    netrc = tmp_path / "netrc"
    netrc.write_text(
        "machine 127.0.0.1 login netrc-user password netrc-canary-Pp0\n", encoding="utf-8"
    )
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    async with running(Proxy()) as proxy, FakeDumGumServer(api_key=KEY) as fake:
        monkeypatch.setenv("HTTP_PROXY", proxy.url())
        async with _client(fake.url) as client:
            await client.suggest(minimal_request())
    assert [h.get("proxy-authorization") for _, _, h in proxy.seen] == [None]
    assert fake.requests[0].header("Authorization") == f"Bearer {KEY}"


@pytest.mark.parametrize(
    "value",
    [
        f"http://{LOGIN}:{PASSWORD}@127.0.0.1:notaport",
        f"socks5://{LOGIN}:{PASSWORD}@127.0.0.1:1080",
        f"http://{LOGIN}:{PASSWORD}@",
        # Not valid IDNA: yarl raises UnicodeError only when the host is read.
        f"http://{LOGIN}:{PASSWORD}@xn--:3128",
    ],
)
def test_an_unusable_proxy_url_is_a_configuration_error_that_hides_it(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", value)
    with pytest.raises(dg.ConfigurationError, match="HTTPS_PROXY") as info:
        dg.DumGumClient(api_key=KEY, base_url="https://api.example.com")
    assert leaks(info.value, PASSWORD, LOGIN) == []


async def _proxy_failure(kind: str, monkeypatch: pytest.MonkeyPatch) -> dg.DumGumError:
    credentials = f"{LOGIN}:{PASSWORD}@"
    reply = b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n"
    async with running(Proxy(reply=reply)) as proxy:
        if kind == "refused":
            monkeypatch.setenv("HTTP_PROXY", f"http://{credentials}127.0.0.1:{_closed_port()}")
            base_url = "http://127.0.0.1:9"
        elif kind == "407 to a request":
            monkeypatch.setenv("HTTP_PROXY", proxy.url(credentials))
            base_url = "http://127.0.0.1:9"
        else:  # 407 to a CONNECT
            monkeypatch.setenv("HTTPS_PROXY", proxy.url(credentials))
            base_url = "https://api.example.com"
        client = _client(base_url)
        assert PASSWORD not in repr(client)
        async with client:
            with pytest.raises(dg.DumGumError) as info:
                await client.suggest(minimal_request())
    return info.value


@pytest.mark.parametrize("kind", ["refused", "407 to a request", "407 to a CONNECT"])
async def test_proxy_credentials_never_show_in_errors_or_logs(
    kind: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    encoded = base64.b64encode(f"{LOGIN}:{PASSWORD}".encode()).decode()
    with caplog.at_level(logging.DEBUG):
        error = await _proxy_failure(kind, monkeypatch)
    assert leaks(error, PASSWORD, encoded) == []
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert caplog.records
    assert PASSWORD not in logged
    assert encoded not in logged


# --- TLS: a corporate CA -------------------------------------------------------------


@pytest.fixture(scope="module")
def corporate_ca(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str, str]:
    """A CA no trust store knows, and a certificate for 127.0.0.1 it signed: (CA, cert, key)."""
    where = tmp_path_factory.mktemp("ca")
    ca, ca_key = where / "ca.pem", where / "ca.key"
    cert, key, csr = where / "server.pem", where / "server.key", where / "server.csr"
    ext = where / "server.ext"
    ext.write_text(
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
        "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
        "authorityKeyIdentifier=keyid\n",
        encoding="utf-8",
    )
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    commands = [
        [
            *("openssl", "req", "-x509", *ec, "-keyout", ca_key, "-out", ca, "-days", "1"),
            *("-subj", "/CN=dumgum-test Corporate CA"),
            *("-addext", "basicConstraints=critical,CA:TRUE"),
            *("-addext", "keyUsage=critical,keyCertSign,cRLSign"),
        ],
        ["openssl", "req", *ec, "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1"],
        [
            *("openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key),
            *("-CAcreateserial", "-out", cert, "-days", "1", "-extfile", ext),
        ],
    ]
    for command in commands:
        subprocess.run(
            [str(c) for c in command], check=True, capture_output=True, timeout=30, cwd=where
        )
    return str(ca), str(cert), str(key)


def _server_tls(corporate_ca: tuple[str, str, str]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(corporate_ca[1], corporate_ca[2])
    return context


async def _answer(
    server: HostileServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    while True:
        await server.read_request(reader)
        head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(GOOD)}"
        writer.write(head.encode() + b"\r\n\r\n" + GOOD)
        await writer.drain()


async def test_a_client_trusting_the_ca_in_ssl_reaches_the_server(
    corporate_ca: tuple[str, str, str],
) -> None:
    trust = ssl.create_default_context(cafile=corporate_ca[0])
    async with (
        hostile_server(_answer, tls=_server_tls(corporate_ca)) as server,
        _client(f"https://127.0.0.1:{server.port}", ssl=trust) as client,
    ):
        result = await client.suggest(minimal_request())
    assert result.suggestions == ("a", "b", "c")
    assert len(server.requests) == 1


async def test_without_the_ca_the_certificate_fails_at_once_without_retry(
    corporate_ca: tuple[str, str, str],
) -> None:
    async with (
        hostile_server(_answer, tls=_server_tls(corporate_ca)) as server,
        _client(f"https://127.0.0.1:{server.port}") as client,
    ):
        with pytest.raises(dg.APIConnectionError) as info:
            await client.suggest(minimal_request())
    assert info.value.retryable is False
    assert info.value.attempts == 1
    assert "certificate verify failed" in str(info.value)
    assert server.connections == 1
    assert server.requests == []


async def test_https_goes_through_a_connect_tunnel_verified_with_the_ca(
    corporate_ca: tuple[str, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    trust = ssl.create_default_context(cafile=corporate_ca[0])
    async with (
        running(Proxy()) as proxy,
        hostile_server(_answer, tls=_server_tls(corporate_ca)) as server,
    ):
        monkeypatch.setenv("HTTPS_PROXY", proxy.url())
        async with _client(f"https://127.0.0.1:{server.port}", ssl=trust) as client:
            result = await client.suggest(minimal_request())
    assert result.suggestions == ("a", "b", "c")
    assert [(m, t) for m, t, _ in proxy.seen] == [("CONNECT", f"127.0.0.1:{server.port}")]
    assert len(server.requests) == 1


async def test_ssl_false_with_allow_insecure_http_skips_verification(
    corporate_ca: tuple[str, str, str],
) -> None:
    async with hostile_server(_answer, tls=_server_tls(corporate_ca)) as server:
        url = f"https://127.0.0.1:{server.port}"
        async with _client(url, ssl=False, allow_insecure_http=True) as client:
            await client.suggest(minimal_request())
    assert len(server.requests) == 1


def test_ssl_false_alone_is_a_configuration_error() -> None:
    with pytest.raises(dg.ConfigurationError, match="allow_insecure_http"):
        dg.DumGumClient(api_key=KEY, ssl=False)


@pytest.mark.parametrize("value", [None, "/etc/ssl/certs/ca.pem", 0])
def test_ssl_of_another_kind_is_a_configuration_error(value: object) -> None:
    with pytest.raises(dg.ConfigurationError, match="ssl must be"):
        dg.DumGumClient(api_key=KEY, ssl=value)  # type: ignore[arg-type]


def test_trust_env_must_be_a_bool() -> None:
    with pytest.raises(dg.ConfigurationError, match="trust_env"):
        dg.DumGumClient(api_key=KEY, trust_env="yes")  # type: ignore[arg-type]


def _slow_redirects(hop: float, hops: int) -> object:
    """Each answer takes ``hop`` seconds: ``hops`` same-origin 307s, then a 200."""

    async def respond(
        server: HostileServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        while True:
            await server.read_request(reader)
            await asyncio.sleep(hop)
            if len(server.requests) > hops:
                writer.write(http_response("200 OK", GOOD, "Content-Type: application/json"))
            else:
                writer.write(http_response("307 Temporary Redirect", b"", "Location: /moved"))
            await writer.drain()

    return respond


async def test_an_attempts_total_timeout_covers_its_redirects() -> None:
    # Four answers of 0.5 s each: every one fits in the 1.2 s total, their sum does not.
    async with (
        hostile_server(_slow_redirects(0.5, 3)) as server,  # type: ignore[arg-type]
        dg.DumGumClient(
            api_key=KEY, base_url=f"http://127.0.0.1:{server.port}", retry=None, timeout=1.2
        ) as client,
    ):
        with pytest.raises(dg.APITimeoutError):
            await client.suggest(minimal_request())
