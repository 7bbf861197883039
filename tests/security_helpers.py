"""Raw-socket clients for the security tests: a websocket client that does
exactly what a test tells it (never reads, never answers pings, vanishes
mid-frame), and small HTTP helpers."""

import base64
import os
import socket
import ssl
import struct
import time
from typing import Dict, List, Optional, Tuple

from waiting import poll

from sockjs.tornado import wsframes


def connect(port: int, rcvbuf: Optional[int] = None, timeout: float = 5.0) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf is not None:
        # Before connect, so the window is small from the start.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(timeout)
    s.connect(("127.0.0.1", port))
    return s


def read_head(sock: socket.socket) -> Tuple[int, Dict[str, str], bytes]:
    """Status, headers (lower-cased names) and whatever followed them."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the response head: %r" % buf)
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, rest


class RawWS:
    """A websocket client on a raw socket (RFC 6455, client frames masked)."""

    def __init__(
        self,
        port: int,
        path: str,
        origin: Optional[str] = None,
        rcvbuf: Optional[int] = None,
        extra_headers: str = "",
        tls: bool = False,
    ) -> None:
        self.sock = connect(port, rcvbuf)
        if tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            self.sock = ctx.wrap_socket(self.sock)
        key = base64.b64encode(os.urandom(16)).decode()
        req = (
            "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n" % (path, port, key)
        )
        if origin is not None:
            req += "Origin: %s\r\n" % origin
        req += extra_headers + "\r\n"
        self.sock.sendall(req.encode("latin-1"))
        self.status, self.headers, self._buf = read_head(self.sock)
        self._parser = _ClientFrameParser()

    def send_frame(self, opcode: int, payload: bytes, fin: bool = True) -> None:
        self.sock.sendall(client_frame(opcode, payload, fin))

    def send_text(self, text: str) -> None:
        self.send_frame(wsframes.OP_TEXT, text.encode("utf-8"))

    def recv_frames(self, timeout: float = 5.0) -> List[Tuple[int, bytes]]:
        """At least one frame (or [] once the server closed the socket)."""
        deadline = time.monotonic() + timeout
        while True:
            if self._buf:
                data, self._buf = self._buf, b""
            else:
                self.sock.settimeout(max(0.01, deadline - time.monotonic()))
                data = self.sock.recv(65536)
                if not data:
                    return []
            frames = self._parser.feed(data)
            if frames:
                return frames
            if time.monotonic() > deadline:
                raise TimeoutError("no frame")

    def recv_until(self, pred, timeout: float = 5.0) -> List[Tuple[int, bytes]]:
        """Frames up to and including the first one ``pred`` accepts."""
        got: List[Tuple[int, bytes]] = []
        deadline = time.monotonic() + timeout
        while True:
            frames = self.recv_frames(max(0.05, deadline - time.monotonic()))
            if not frames:
                return got
            for f in frames:
                got.append(f)
                if pred(f):
                    return got

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def client_frame(opcode: int, payload: bytes, fin: bool = True, mask: bool = True) -> bytes:
    n = len(payload)
    b0 = (0x80 if fin else 0) | opcode
    mbit = 0x80 if mask else 0
    if n < 126:
        head = struct.pack("!BB", b0, mbit | n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        head = struct.pack("!BBQ", b0, mbit | 127, n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    masked = bytes(b ^ key[i % 4] for i, b in enumerate(payload)) if n < 4096 else _mask_fast(key, payload)
    return head + key + masked


def _mask_fast(key: bytes, data: bytes) -> bytes:
    n = len(data)
    k = int.from_bytes((key * (n // 4 + 1))[:n], "little")
    return (int.from_bytes(data, "little") ^ k).to_bytes(n, "little")


class _ClientFrameParser:
    """Server frames are unmasked."""

    def __init__(self) -> None:
        self.buf = b""

    def feed(self, data: bytes) -> List[Tuple[int, bytes]]:
        self.buf += data
        out = []
        while True:
            b = self.buf
            if len(b) < 2:
                return out
            n = b[1] & 0x7F
            pos = 2
            if n == 126:
                if len(b) < 4:
                    return out
                n = struct.unpack("!H", b[2:4])[0]
                pos = 4
            elif n == 127:
                if len(b) < 10:
                    return out
                n = struct.unpack("!Q", b[2:10])[0]
                pos = 10
            if len(b) < pos + n:
                return out
            out.append((b[0] & 0x0F, b[pos : pos + n]))
            self.buf = b[pos + n :]


#: Polls until true; falsy after the timeout (``assert wait_for(...)``).
wait_for = poll
