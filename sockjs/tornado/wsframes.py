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
import codecs
import hashlib
import struct
from typing import TYPE_CHECKING, Callable, List, Optional, Tuple, Union

if TYPE_CHECKING:  # pragma: no cover
    from typing_extensions import Protocol
else:
    from typing import Protocol


def _py_mask(mask: bytes, data: bytes) -> bytes:
    """``data`` XOR the repeated 4-byte ``mask``, in pure Python."""
    n = len(data)
    key = int.from_bytes((mask * (n // 4 + 1))[:n], "little")
    return (int.from_bytes(data, "little") ^ key).to_bytes(n, "little")


# Tornado's C version when it has one. Tornado before 6.2 ships it without
# type stubs: the annotation keeps the name typed there too.
_mask: Callable[[bytes, bytes], bytes] = _py_mask
try:
    from tornado.speedups import websocket_mask  # type: ignore[import-not-found,unused-ignore]
except ImportError:  # pragma: no cover - Tornado built without its C speedups
    pass
else:
    _mask = websocket_mask


__all__ = [
    "OP_CONT",
    "OP_TEXT",
    "OP_BINARY",
    "OP_CLOSE",
    "OP_PING",
    "OP_PONG",
    "ProtocolError",
    "FrameParser",
    "Hixie76Parser",
    "build_frame",
    "close_payload",
    "parse_close_payload",
    "check_close_payload",
    "valid_close_code",
    "accept_key",
    "hixie76_answer",
    "Inflater",
    "Message",
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
    (1002 protocol error, 1007 bad UTF-8, 1009 message too big).

    ``messages`` holds the complete messages that arrived before the bad
    frame, in order: they are the peer's, and are delivered before the
    connection fails."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.messages: "List[Message]" = []


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


def build_frame(opcode: int, payload: bytes, compressed: bool = False) -> bytes:
    """One final, unmasked frame as a server sends it; ``compressed`` sets
    RSV1, which marks a compressed message under permessage-deflate."""
    n = len(payload)
    b0 = 0xC0 | opcode if compressed else 0x80 | opcode
    if n < 126:
        header = bytes((b0, n))
    elif n < 65536:
        header = struct.pack("!BBH", b0, 126, n)
    else:
        header = struct.pack("!BBQ", b0, 127, n)
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


def valid_close_code(code: int) -> bool:
    """Whether a peer may send ``code`` in a close frame (RFC 6455 section
    7.4 and the IANA registry): 1000-1003, 1007-1014, 3000-4999. 1004 is
    reserved; 1005, 1006 and 1015 never go on the wire."""
    return 1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999


def check_close_payload(payload: bytes) -> None:
    """Raise :class:`ProtocolError` for a close frame a peer may not send:
    a 1-byte payload or an invalid code (1002), a reason that is not UTF-8
    (1007)."""
    if not payload:
        return
    if len(payload) == 1:
        raise ProtocolError(1002, "Close frame with a 1-byte payload")
    code = (payload[0] << 8) | payload[1]
    if not valid_close_code(code):
        raise ProtocolError(1002, "Invalid close code %d" % code)
    try:
        payload[2:].decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError(1007, "Close reason is not UTF-8") from None


#: ``(opcode, payload)``: a text message's payload is its ``str``, every
#: other payload ``bytes``.
Message = Tuple[int, Union[str, bytes]]


class Inflater(Protocol):
    """Decompresses the messages a client compressed (an extension such as
    permessage-deflate, negotiated at the handshake)."""

    def decompress(self, data: bytes, limit: int) -> bytes:
        """Decompress one more piece of the current message. Raises
        :class:`ProtocolError` (1009) when the output would pass ``limit``
        bytes, (1002) when the data is corrupt."""

    def finish(self, limit: int) -> bytes:
        """The current message is complete: the rest of its output."""


def _unmask_at(mask: bytes, offset: int, data: bytes) -> bytes:
    """``data`` unmasked as the bytes at ``offset`` of a frame's payload."""
    offset &= 3
    if offset:
        mask = mask[offset:] + mask[:offset]
    return _mask(mask, data)


_Utf8Decoder = codecs.getincrementaldecoder("utf-8")


class _Message:
    """A message that is not one whole frame in one read: fragmented, or a
    frame whose payload is still arriving. Made when such a message
    starts and dropped when it ends, so the common case (a whole message
    in one frame) never makes one, and an idle parser holds none."""

    __slots__ = (
        "op",
        "compressed",
        "parts",
        "size",
        "out_size",
        "decoder",
        "rest",
        "rest_mask",
        "rest_offset",
        "rest_fin",
    )

    def __init__(self, op: int, compressed: bool) -> None:
        self.op = op
        self.compressed = compressed
        self.parts: List[Union[str, bytes]] = []
        self.size = 0  # its bytes on the wire so far
        self.out_size = 0  # its decompressed bytes so far
        # Text is checked as it arrives, across fragment boundaries.
        self.decoder: Optional[codecs.IncrementalDecoder] = _Utf8Decoder() if op == OP_TEXT else None
        # The data frame whose payload is still arriving (``rest`` bytes).
        self.rest = 0
        self.rest_mask = b""
        self.rest_offset = 0
        self.rest_fin = False


class FrameParser:
    """Incremental RFC 6455 parser for frames sent by a client.

    :meth:`feed` returns every complete message (opcode, payload) found in
    the bytes given so far; fragments are joined, control frames come out
    as they arrive, a close frame ends the parsing. Client frames must be
    masked. Text messages come out as ``str``, checked as they arrive: the
    fragment or the partial frame that makes the UTF-8 invalid fails the
    connection (1007), without waiting for the end of the message. A data
    frame that arrives in pieces is consumed piece by piece, so a large
    message is never copied per read.

    A message larger than ``max_message_size`` raises
    :class:`ProtocolError` (1009) as soon as a frame header says so. Any
    :class:`ProtocolError` carries the messages completed before the bad
    frame. With an ``inflater`` (permessage-deflate), a message whose first
    frame has RSV1 set is decompressed, and ``max_message_size`` bounds
    its decompressed size too.
    """

    # Few slots, one per connection: what only a message in several
    # frames or reads needs lives in a _Message made for it.
    __slots__ = ("_buf", "max_message_size", "_inflater", "_msg", "_done")

    def __init__(self, max_message_size: int, inflater: Optional[Inflater] = None) -> None:
        self._buf = b""
        self.max_message_size = max_message_size
        self._inflater = inflater
        # The message in progress, if any.
        self._msg: Optional[_Message] = None
        # A close frame, or a protocol error, ended the parsing.
        self._done = False

    def feed(self, data: bytes) -> List[Message]:
        out: List[Message] = []
        if self._done:
            return out
        try:
            msg = self._msg
            if msg is not None and msg.rest:
                data = self._continue_frame(msg, data, out)
                if not data:
                    return out
            buf = self._buf + data if self._buf else data
            pos = 0
            end = len(buf)
            limit = self.max_message_size
            while end - pos >= 2:
                b0 = buf[pos]
                b1 = buf[pos + 1]
                opcode = b0 & 0x0F
                rsv = b0 & 0x70
                if rsv and (rsv != 0x40 or self._inflater is None or opcode not in (OP_TEXT, OP_BINARY)):
                    raise ProtocolError(1002, "Reserved bits set")
                if not b1 & 0x80:
                    raise ProtocolError(1002, "Client frame not masked")
                fin = b0 & 0x80
                msg = self._msg
                if opcode >= 0x8:
                    if opcode not in (OP_CLOSE, OP_PING, OP_PONG):
                        raise ProtocolError(1002, "Unknown opcode")
                    if not fin:
                        raise ProtocolError(1002, "Fragmented control frame")
                elif opcode == OP_CONT:
                    if msg is None:
                        raise ProtocolError(1002, "Continuation without a start")
                elif opcode == OP_TEXT or opcode == OP_BINARY:
                    if msg is not None:
                        raise ProtocolError(1002, "Expected a continuation frame")
                else:
                    raise ProtocolError(1002, "Unknown opcode")
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
                if opcode >= 0x8:
                    if n > 125:
                        raise ProtocolError(1002, "Control frame too long")
                    if end - pos < hdr + n:
                        break
                    mask = buf[pos + hdr - 4 : pos + hdr]
                    payload = _mask(mask, buf[pos + hdr : pos + hdr + n]) if n else b""
                    pos += hdr + n
                    if opcode == OP_CLOSE:
                        check_close_payload(payload)
                        out.append((opcode, payload))
                        # Nothing may follow a close frame.
                        self._done = True
                        pos = end
                        break
                    out.append((opcode, payload))
                    continue
                if (n + msg.size if msg is not None else n) > limit:
                    raise ProtocolError(1009, "Message too big")
                if end - pos < hdr:
                    break
                avail = end - pos - hdr
                if fin and msg is None and avail >= n:
                    # The common case: a whole message in one whole frame.
                    payload = _mask(buf[pos + hdr - 4 : pos + hdr], buf[pos + hdr : pos + hdr + n]) if n else b""
                    pos += hdr + n
                    if rsv:
                        payload = self._inflate_whole(payload)
                    if opcode == OP_TEXT:
                        try:
                            out.append((OP_TEXT, payload.decode("utf-8")))
                        except UnicodeDecodeError:
                            raise ProtocolError(1007, "Invalid UTF-8") from None
                    else:
                        out.append((opcode, payload))
                    continue
                if msg is None:
                    msg = self._msg = _Message(opcode, bool(rsv))
                mask = buf[pos + hdr - 4 : pos + hdr]
                start = pos + hdr
                msg.size += n
                if avail >= n:
                    pos = start + n
                    self._add(msg, _mask(mask, buf[start:pos]) if n else b"", bool(fin), out)
                    continue
                # The payload is still arriving: take what there is now.
                msg.rest = n - avail
                msg.rest_mask = mask
                msg.rest_offset = avail
                msg.rest_fin = bool(fin)
                if avail:
                    self._add(msg, _mask(mask, buf[start:end]), False, out)
                pos = end
                break
            self._buf = buf[pos:] if pos < end else b""
        except ProtocolError as e:
            e.messages = out
            self._done = True
            self._buf = b""
            self._msg = None
            raise
        return out

    def _inflate_whole(self, payload: bytes) -> bytes:
        """A whole compressed message, decompressed."""
        inflater = self._inflater
        assert inflater is not None
        room = self.max_message_size
        data = inflater.decompress(payload, room)
        return data + inflater.finish(room - len(data))

    def _continue_frame(self, msg: _Message, data: bytes, out: List[Message]) -> bytes:
        """Take the next piece of the frame in progress from ``data``;
        return what follows it."""
        take = min(msg.rest, len(data))
        chunk = data[:take] if take < len(data) else data
        msg.rest -= take
        offset = msg.rest_offset
        msg.rest_offset = offset + take
        self._add(msg, _unmask_at(msg.rest_mask, offset, chunk), msg.rest_fin and not msg.rest, out)
        return data[take:] if take < len(data) else b""

    def _add(self, msg: _Message, chunk: bytes, final: bool, out: List[Message]) -> None:
        """One more piece of the message in progress; ``final``: its last."""
        if msg.compressed:
            inflater = self._inflater
            assert inflater is not None
            room = self.max_message_size - msg.out_size
            chunk = inflater.decompress(chunk, room)
            if final:
                chunk += inflater.finish(room - len(chunk))
            msg.out_size += len(chunk)
        parts = msg.parts
        decoder = msg.decoder
        if decoder is not None:
            try:
                text = decoder.decode(chunk, final)
            except UnicodeDecodeError:
                raise ProtocolError(1007, "Invalid UTF-8") from None
            if text:
                parts.append(text)
            if final:
                out.append((OP_TEXT, "".join(parts)))  # type: ignore[arg-type]
        else:
            if chunk:
                parts.append(chunk)
            if final:
                out.append((OP_BINARY, b"".join(parts)))  # type: ignore[arg-type]
        if final:
            self._msg = None

    @property
    def buffered(self) -> int:
        """Bytes held for an incomplete frame or message."""
        msg = self._msg
        return len(self._buf) + (msg.size if msg is not None else 0)


class Hixie76Parser:
    """Parser for hixie-76 frames: ``0x00 <utf-8> 0xFF``; ``0xFF 0x00``
    closes. Yields the same ``(opcode, payload)`` pairs as
    :class:`FrameParser` (text as ``str``)."""

    __slots__ = ("_buf", "max_message_size")

    def __init__(self, max_message_size: int) -> None:
        self._buf = b""
        self.max_message_size = max_message_size

    def feed(self, data: bytes) -> List[Message]:
        buf = self._buf + data
        out: List[Message] = []
        pos = 0
        try:
            while pos < len(buf):
                kind = buf[pos]
                if kind == 0x00:
                    stop = buf.find(b"\xff", pos + 1)
                    if stop < 0:
                        if len(buf) - pos > self.max_message_size:
                            raise ProtocolError(1009, "Message too big")
                        break
                    try:
                        out.append((OP_TEXT, buf[pos + 1 : stop].decode("utf-8")))
                    except UnicodeDecodeError:
                        raise ProtocolError(1007, "Invalid UTF-8") from None
                    pos = stop + 1
                elif kind == 0xFF:
                    if len(buf) - pos < 2:
                        break
                    out.append((OP_CLOSE, b""))
                    pos = len(buf)
                else:
                    raise ProtocolError(1002, "Bad hixie-76 frame")
        except ProtocolError as e:
            e.messages = out
            raise
        self._buf = buf[pos:]
        return out

    @property
    def buffered(self) -> int:
        return len(self._buf)


def build_hixie76_frame(payload: bytes) -> bytes:
    """A hixie-76 text frame."""
    return b"\x00" + payload + b"\xff"
