"""Clients for the protocol tests: a raw HTTP/1.x connection that shows the
wire as it is (status, headers, each chunk on its own), and small helpers
for session URLs."""

import socket
import uuid
from typing import Dict, List, Optional, Tuple

from waiting import poll

from sockjs.tornado import SockJSConnection

NO_CACHE = "no-store, no-cache, no-transform, must-revalidate, max-age=0"


def sid() -> str:
    """A fresh session id."""
    return uuid.uuid4().hex


class RawResponse:
    def __init__(self, version: str, status: int, headers: List[Tuple[str, str]]) -> None:
        self.version = version
        self.status = status
        self.header_list = headers
        self.headers: Dict[str, str] = {k.lower(): v for k, v in headers}

    def get(self, name: str) -> Optional[str]:
        return self.headers.get(name.lower())

    def __repr__(self) -> str:
        return "<RawResponse %s %d %r>" % (self.version, self.status, self.headers)


class RawHTTP:
    """One TCP connection to the server, spoken to byte by byte."""

    def __init__(self, port: int, timeout: float = 5.0) -> None:
        self.port = port
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "RawHTTP":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- sending ---------------------------------------------------------------

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def request(
        self,
        method: str,
        path: str,
        headers: Optional[Dict[str, str]] = None,
        body: Optional[bytes] = None,
        version: str = "1.1",
    ) -> RawResponse:
        """Send a request and read the response head."""
        lines = ["%s %s HTTP/%s" % (method, path, version), "Host: 127.0.0.1:%d" % self.port]
        for k, v in (headers or {}).items():
            lines.append("%s: %s" % (k, v))
        if body is not None or method == "POST":
            lines.append("Content-Length: %d" % len(body or b""))
        self.send(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b""))
        return self.read_head()

    # -- receiving -------------------------------------------------------------

    def _fill(self) -> bool:
        data = self.sock.recv(65536)
        if not data:
            return False
        self.buf += data
        return True

    def read_line(self) -> bytes:
        while b"\r\n" not in self.buf:
            if not self._fill():
                raise EOFError("connection closed mid-line")
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def read_head(self) -> RawResponse:
        status_line = self.read_line().decode("latin-1")
        version, status = status_line.split(" ", 2)[:2]
        headers: List[Tuple[str, str]] = []
        while True:
            line = self.read_line().decode("latin-1")
            if not line:
                break
            k, _, v = line.partition(":")
            headers.append((k.strip(), v.strip()))
        return RawResponse(version.split("/")[1], int(status), headers)

    def read_exactly(self, n: int) -> bytes:
        while len(self.buf) < n:
            if not self._fill():
                raise EOFError("connection closed after %d of %d bytes" % (len(self.buf), n))
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def read_chunk(self) -> bytes:
        """One HTTP chunk's data; b"" for the terminating chunk."""
        size = int(self.read_line().split(b";")[0], 16)
        data = self.read_exactly(size)
        assert self.read_exactly(2) == b"\r\n"
        return data

    def read_some(self) -> bytes:
        """Whatever is buffered, or the next recv (b"" at EOF)."""
        if not self.buf:
            self._fill()
        data, self.buf = self.buf, b""
        return data

    def read_to_eof(self) -> bytes:
        while self._fill():
            pass
        data, self.buf = self.buf, b""
        return data

    def at_eof(self, timeout: float = 2.0) -> bool:
        """True when the server closed the connection (and sent nothing
        more)."""
        if self.buf:
            return False
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(1) == b""
        except socket.timeout:
            return False
        except ConnectionResetError:
            return True

    def nothing_within(self, seconds: float) -> bool:
        """True when no byte arrives within ``seconds``."""
        if self.buf:
            return False
        self.sock.settimeout(seconds)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return True
        finally:
            self.sock.settimeout(5.0)
        self.buf += data
        return False


def read_body(conn: RawHTTP, resp: RawResponse) -> bytes:
    """The whole body of a response whose head was read."""
    if resp.status in (204, 304) or resp.status < 200:
        return b""
    if (resp.get("Transfer-Encoding") or "").lower() == "chunked":
        chunks = []
        while True:
            c = conn.read_chunk()
            if not c:
                return b"".join(chunks)
            chunks.append(c)
    length = resp.get("Content-Length")
    if length is not None:
        return conn.read_exactly(int(length))
    return conn.read_to_eof()


#: Polls until true; falsy after the timeout (``assert wait_for(...)``).
wait_for = poll


class Echo(SockJSConnection):
    def on_message(self, message: str) -> None:
        self.send(message)


class Recorder(SockJSConnection):
    """Echo that records its life for the test to inspect (lists are
    class-level: reset them per test with ``Recorder.reset()``)."""

    opened: List["Recorder"] = []
    closed: List["Recorder"] = []

    @classmethod
    def reset(cls) -> None:
        cls.opened = []
        cls.closed = []

    def on_open(self, info):  # type: ignore[no-untyped-def]
        Recorder.opened.append(self)

    def on_message(self, message: str) -> None:
        self.send(message)

    def on_close(self) -> None:
        Recorder.closed.append(self)


class CloseOnOpen(SockJSConnection):
    def on_open(self, info):  # type: ignore[no-untyped-def]
        self.close()

    def on_message(self, message: str) -> None:
        pass


def router_of(server, prefix: str):  # type: ignore[no-untyped-def]
    """The SockJSRouter serving ``prefix`` in a ServerThread's app."""
    for rule in server.app.wildcard_router.rules:
        router = getattr(rule.target, "server", None)
        if router is not None and router.prefix == prefix:
            return router
    raise LookupError(prefix)


def wait_attached(server, prefix: str, session_id: str, timeout: float = 5.0) -> None:
    """Wait until session ``session_id`` has a receiver attached."""
    router = router_of(server, prefix)

    def attached() -> bool:
        def check() -> bool:
            s = router.get_session(session_id)
            return s is not None and s.handler is not None

        return bool(server.call(check))

    assert wait_for(attached, timeout), "no receiver attached to %s" % session_id
