"""A local HTTP server that records when each request reached its socket.

The times are the kernel's (``SO_TIMESTAMPNS``: when the bytes were queued on the
socket, which on loopback is when the client wrote them), not when a handler got
round to them: a server thread that lags (the GIL, a loaded machine) would otherwise
stamp a backlog all at once and report a burst the client never sent. So the times
are what any server's rate limit would count, and a limiter test can hold the client
to its promise exactly. Where the kernel gives no stamp (not Linux), a request is
stamped when it is read.

Each connection is served by a thread of its own with blocking sockets, as a remote
server is served by a process of its own: a stall of the client's event loop does not
stall it. Times are converted to ``time.monotonic()``, the limiter's default clock.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterator

#: (arrival index) -> (status, headers, seconds to stall before answering)
Behaviour = Callable[[int], tuple[int, dict[str, str], float]]

_OK = b'{"suggestions": ["one", "two", "three"]}'
_REFUSED = b'{"error": "slow down"}'
# Linux's SO_TIMESTAMPNS (also its SCM_ type): the socket module does not export it.
_SO_TIMESTAMPNS = 35
_TIMESPEC = struct.Struct("@qq")
_KERNEL_STAMPS = sys.platform == "linux"
_POLL = 0.1  # how often blocked threads look for the end of the server


def _always_ok(_: int) -> tuple[int, dict[str, str], float]:
    return 200, {}, 0.0


class ArrivalServer:
    """An HTTP/1.1 keep-alive server on 127.0.0.1, recording arrival times.

    Args:
        behaviour: Maps each request's arrival index to its status, headers and a
            stall before the answer.
    """

    def __init__(self, behaviour: Behaviour = _always_ok) -> None:
        self.behaviour = behaviour
        self.arrivals: list[float] = []
        self.url = ""
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        if _KERNEL_STAMPS:
            # Set on the listener, so that accepted sockets stamp from their first byte.
            self._listener.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
        self._listener.settimeout(_POLL)
        self._threads: list[threading.Thread] = []
        # The wall clock the kernel stamps with, minus the monotonic one.
        self._offset = time.time() - time.monotonic()

    def __enter__(self) -> ArrivalServer:
        port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self._spawn(self._accept)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        # The accept thread may start a connection's thread while we join the others.
        give_up = time.monotonic() + 10
        while (pending := [t for t in self._threads if t.is_alive()]) and (
            time.monotonic() < give_up
        ):
            pending[0].join(0.5)
        self._listener.close()
        if pending:
            raise RuntimeError(f"the arrival server left {len(pending)} threads running")

    @contextlib.contextmanager
    def lagging(self) -> Iterator[None]:
        """Hold every answer back meanwhile, as a server busy elsewhere would."""
        with self._lock:
            yield

    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, name="arrival-server", daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            conn.settimeout(_POLL)
            self._spawn(self._serve, conn)

    def _receive(self, conn: socket.socket) -> tuple[bytes, float] | None:
        # One read and the time its bytes arrived; None once the client has gone.
        while not self._stop.is_set():
            try:
                data, ancillary, _, _ = conn.recvmsg(65536, socket.CMSG_SPACE(_TIMESPEC.size))
            except TimeoutError:
                continue
            except OSError:
                return None
            if not data:
                return None
            for level, kind, payload in ancillary:
                if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS:
                    seconds, nanoseconds = _TIMESPEC.unpack(payload[: _TIMESPEC.size])
                    return data, seconds + nanoseconds / 1e9 - self._offset
            return data, time.monotonic()
        return None

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            buffer = b""
            started = last = 0.0  # when the request in ``buffer`` began, the last read
            while True:
                head_end = buffer.find(b"\r\n\r\n")
                if head_end >= 0:
                    length = _content_length(buffer[:head_end])
                    end = head_end + 4 + length
                    if len(buffer) >= end:
                        buffer = buffer[end:]
                        arrived, started = started, last
                        if not self._answer(conn, arrived):
                            return
                        continue
                got = self._receive(conn)
                if got is None:
                    return
                data, last = got
                if not buffer:
                    started = last
                buffer += data

    def _answer(self, conn: socket.socket, arrived: float) -> bool:
        with self._lock:
            index = len(self.arrivals)
            self.arrivals.append(arrived)
        status, headers, stall = self.behaviour(index)
        if stall:
            time.sleep(stall)
        body = _OK if status == 200 else _REFUSED
        lines = [
            f"HTTP/1.1 {status} {'OK' if status == 200 else 'Refused'}",
            "Content-Type: application/json",
            f"Content-Length: {len(body)}",
            *(f"{name}: {value}" for name, value in headers.items()),
        ]
        with contextlib.suppress(OSError):
            conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
            return True
        return False


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0
