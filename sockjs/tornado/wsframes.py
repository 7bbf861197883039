"""WebSocket framing (RFC 6455, and the legacy hixie-76), without I/O.

:class:`FrameParser` takes whatever bytes arrived and yields every complete
message in them at once; :func:`build_frame` makes server frames (never
masked), so a broadcast can build one frame and write the same bytes to
every connection. The handshake helpers compute the accept values.

Parsing whole buffers, instead of awaiting each frame piecewise as
``tornado.websocket`` does, is what lets the websocket path run several
times faster than Tornado's own handler (bench/README.md).
"""
import base64
import hashlib
import struct
from typing import List, Optional, Tuple

try:
    from tornado.speedups import websocket_mask as _mask  # type: ignore[import-not-found,unused-ignore]
except ImportError:  # pragma: no cover - Tornado built without its C speedups
    def _mask(mask: bytes, data: bytes) -> bytes:
        n = len(data)
        key = int.from_bytes((mask * (n // 4 + 1))[:n], "little")
        return (int.from_bytes(data, "little") ^ key).to_bytes(n, "little")

__all__ = [
    "OP_CONT", "OP_TEXT", "OP_BINARY", "OP_CLOSE", "OP_PING", "OP_PONG",
    "ProtocolError", "FrameParser", "Hixie76Parser", "build_frame",
    "close_payload", "parse_close_payload", "accept_key", "hixie76_answer",
]

OP_CONT = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class ProtocolError(Exception):
    """The peer broke the framing rules; ``code`` is the close code to send
    (1002 protocol error, 1007 bad UTF-8, 1009 message too big)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def accept_key(key: str) -> str:
    """``Sec-WebSocket-Accept`` for a client's ``Sec-WebSocket-Key``."""
    digest = hashlib.sha1(key.encode("ascii") + _GUID).digest()
    return base64.b64encode(digest).decode("ascii")


def _hixie_key_number(key: str) -> int:
    digits = int("".join(c for c in key if c.isdigit()) or "0")
    spaces = key.count(" ")
    if spaces == 0 or digits % spaces:
        raise ProtocolError(1002, "Invalid hixie-76 key")
    return digits // spaces


def hixie76_answer(key1: str, key2: str, key3: bytes) -> bytes:
    """The 16-byte MD5 answer of the hixie-76 handshake."""
    data = struct.pack(">II", _hixie_key_number(key1), _hixie_key_number(key2)) + key3
    return hashlib.md5(data).digest()


def build_frame(opcode: int, payload: bytes) -> bytes:
    """One final, unmasked frame as a server sends it."""
    n = len(payload)
    if n < 126:
        header = bytes((0x80 | opcode, n))
    elif n < 65536:
        header = struct.pack("!BBH", 0x80 | opcode, 126, n)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 127, n)
    return header + payload


def close_payload(code: int, reason: str = "") -> bytes:
    """Payload of a close frame: the code, then the UTF-8 reason (at most
    123 bytes, as the RFC allows)."""
    return struct.pack("!H", code) + reason.encode("utf-8")[:123]


def parse_close_payload(payload: bytes) -> Tuple[Optional[int], str]:
    """Code and reason of a received close frame (``None`` when absent)."""
    if len(payload) < 2:
        return None, ""
    code = struct.unpack("!H", payload[:2])[0]
    return code, payload[2:].decode("utf-8", "replace")


Message = Tuple[int, bytes]


class FrameParser:
    """Incremental RFC 6455 parser for frames sent by a client.

    :meth:`feed` returns every complete message (opcode, payload) found in
    the bytes given so far; fragments are joined, control frames come out
    as they arrive. Client frames must be masked. A message larger than
    ``max_message_size`` raises :class:`ProtocolError` (1009) before it is
    buffered whole.
    """

    __slots__ = ("_buf", "_frag_op", "_frag", "_frag_size", "max_message_size")

    def __init__(self, max_message_size: int) -> None:
        self._buf = b""
        self._frag_op: Optional[int] = None
        self._frag: List[bytes] = []
        self._frag_size = 0
        self.max_message_size = max_message_size

    def feed(self, data: bytes) -> List[Message]:
        buf = self._buf + data if self._buf else data
        out: List[Message] = []
        pos = 0
        end = len(buf)
        limit = self.max_message_size
        while end - pos >= 2:
            b0 = buf[pos]
            b1 = buf[pos + 1]
            if b0 & 0x70:
                raise ProtocolError(1002, "Reserved bits set")
            if not b1 & 0x80:
                raise ProtocolError(1002, "Client frame not masked")
            n = b1 & 0x7F
            hdr = 6
            if n == 126:
                if end - pos < 8:
                    break
                n = (buf[pos + 2] << 8) | buf[pos + 3]
                hdr = 8
            elif n == 127:
                if end - pos < 14:
                    break
                n = struct.unpack_from("!Q", buf, pos + 2)[0]
                hdr = 14
            opcode = b0 & 0x0F
            fin = b0 & 0x80
            if opcode >= 0x8:
                if n > 125 or not fin:
                    raise ProtocolError(1002, "Bad control frame")
            elif n + self._frag_size > limit:
                raise ProtocolError(1009, "Message too big")
            if end - pos < hdr + n:
                break
            mask = buf[pos + hdr - 4:pos + hdr]
            payload = _mask(mask, buf[pos + hdr:pos + hdr + n]) if n else b""
            pos += hdr + n
            if opcode >= 0x8:
                if opcode not in (OP_CLOSE, OP_PING, OP_PONG):
                    raise ProtocolError(1002, "Unknown opcode")
                out.append((opcode, payload))
            elif opcode == OP_CONT:
                if self._frag_op is None:
                    raise ProtocolError(1002, "Continuation without a start")
                self._frag.append(payload)
                self._frag_size += n
                if fin:
                    out.append((self._frag_op, b"".join(self._frag)))
                    self._frag_op = None
                    self._frag = []
                    self._frag_size = 0
            elif opcode in (OP_TEXT, OP_BINARY):
                if self._frag_op is not None:
                    raise ProtocolError(1002, "Expected a continuation frame")
                if fin:
                    out.append((opcode, payload))
                else:
                    self._frag_op = opcode
                    self._frag = [payload]
                    self._frag_size = n
            else:
                raise ProtocolError(1002, "Unknown opcode")
        self._buf = buf[pos:] if pos < end else b""
        return out

    @property
    def buffered(self) -> int:
        """Bytes held for an incomplete frame."""
        return len(self._buf) + self._frag_size


class Hixie76Parser:
    """Parser for hixie-76 frames: ``0x00 <utf-8> 0xFF``; ``0xFF 0x00``
    closes. Yields the same ``(opcode, payload)`` pairs as
    :class:`FrameParser`."""

    __slots__ = ("_buf", "max_message_size")

    def __init__(self, max_message_size: int) -> None:
        self._buf = b""
        self.max_message_size = max_message_size

    def feed(self, data: bytes) -> List[Message]:
        buf = self._buf + data
        out: List[Message] = []
        pos = 0
        while pos < len(buf):
            kind = buf[pos]
            if kind == 0x00:
                stop = buf.find(b"\xff", pos + 1)
                if stop < 0:
                    if len(buf) - pos > self.max_message_size:
                        raise ProtocolError(1009, "Message too big")
                    break
                out.append((OP_TEXT, buf[pos + 1:stop]))
                pos = stop + 1
            elif kind == 0xFF:
                if len(buf) - pos < 2:
                    break
                out.append((OP_CLOSE, b""))
                pos = len(buf)
            else:
                raise ProtocolError(1002, "Bad hixie-76 frame")
        self._buf = buf[pos:]
        return out

    @property
    def buffered(self) -> int:
        return len(self._buf)


def build_hixie76_frame(payload: bytes) -> bytes:
    """A hixie-76 text frame."""
    return b"\x00" + payload + b"\xff"
