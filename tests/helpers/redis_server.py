"""A real, throwaway ``redis-server`` on a free loopback port, for tests.

No persistence (``--save "" --appendonly no``), so it leaves no files behind. Tests
can kill it, freeze it (SIGSTOP) or start it again on the same port.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    pass

#: Where CI says "this must run": there a missing redis-server fails instead of skipping.
IN_CI = os.environ.get("CI", "").lower() == "true"


def redis_server_path() -> str:
    """The ``redis-server`` executable, else skip the test (fail it under ``CI=true``)."""
    path = shutil.which("redis-server")
    if path is None:
        reason = "redis-server is not installed (apt-get install redis-server)"
        if IN_CI:
            pytest.fail(f"{reason}; CI=true, so this is an error, not a skip")
        pytest.skip(f"{reason}; set CI=true to make this a failure")
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """One ``redis-server`` process; :meth:`start` it, :meth:`stop` it when done.

    Args:
        executable: Path of ``redis-server``.
        workdir: Where its log goes (a test's ``tmp_path``).
        port: The port; a free one when omitted.
    """

    def __init__(self, executable: str, workdir: Path, port: int | None = None) -> None:
        self.executable = executable
        self.workdir = workdir
        self.port = port if port is not None else _free_port()
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:PORT/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> None:
        """Start the server and wait until it answers PING.

        Raises:
            RuntimeError: It exited or did not answer within ``timeout``.
        """
        log = self.workdir / f"redis-{self.port}.log"
        self._proc = subprocess.Popen(
            [
                self.executable,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
                "--logfile",
                str(log),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while not _answers_ping(self.port):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                text = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                raise RuntimeError(f"redis-server on port {self.port} did not start:\n{text}")
            time.sleep(0.02)

    def kill(self) -> None:
        """SIGKILL: Redis vanishes at once, mid-conversation, as in a crash."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            os.kill(proc.pid, signal.SIGCONT)  # a frozen process dies only once resumed
            proc.kill()
            proc.wait(timeout=10)

    def freeze(self) -> None:
        """SIGSTOP: connections stay open but nothing answers (a hung server)."""
        if self._proc is not None:
            os.kill(self._proc.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        """SIGCONT: undo :meth:`freeze`."""
        if self._proc is not None:
            os.kill(self._proc.pid, signal.SIGCONT)

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 5 s); safe to call twice."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGCONT)
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


# --- shared by the Redis test modules -------------------------------------------------


def require(module: str) -> None:
    """Skip without the Python package ``module``; fail under CI=true, never skip."""
    try:
        __import__(module)
    except ImportError:
        reason = f"the {module!r} package is not installed (pip install -e '.[dev]')"
        if IN_CI:
            pytest.fail(f"{reason}; CI=true, so this is an error, not a skip")
        pytest.skip(reason)


def new_key() -> str:
    """A Redis key no other test uses."""
    return f"test:{uuid.uuid4().hex[:8]}"
