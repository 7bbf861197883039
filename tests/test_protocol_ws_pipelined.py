"""Bytes a client sends right behind its websocket handshake, in the same
TCP segment, are delivered: the hand-off from the HTTP server to the
websocket connection must not lose or re-read them, on every Tornado
release the package supports and on every event loop.

Each test writes the upgrade request and one or more masked frames with a
single ``send()`` on a raw socket, then reads the server's frames back.
"""

import os
import struct
from typing import List, Optional, Tuple

import pytest
from protocol_helpers import RawHTTP, sid

KEY = "dGhlIHNhbXBsZSBub25jZQ=="
ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="  # RFC 6455, section 1.3


def upgrade_request(port: int, path: str) -> bytes:
    return (
        "GET %s HTTP/1.1\r\n"
        "Host: 127.0.0.1:%d\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        "Sec-WebSocket-Key: %s\r\n"
        "Sec-WebSocket-Version: 13\r\n"
        "\r\n" % (path, port, KEY)
    ).encode("latin-1")


def client_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """One final, masked client frame (RFC 6455 section 5.2)."""
    mask = os.urandom(4)
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + masked


def read_server_frame(c: RawHTTP) -> Tuple[int, bytes]:
    """(opcode, payload) of the next unmasked server frame."""
    b0, b1 = c.read_exactly(2)
    assert not b1 & 0x80, "server frames are never masked"
    n = b1 & 0x7F
    if n == 126:
        (n,) = struct.unpack("!H", c.read_exactly(2))
    elif n == 127:
        (n,) = struct.unpack("!Q", c.read_exactly(8))
    return b0 & 0x0F, c.read_exactly(n)


def read_texts(c: RawHTTP, count: int) -> List[str]:
    """The next ``count`` text frames; a close frame fails with its code."""
    texts: List[str] = []
    while len(texts) < count:
        opcode, payload = read_server_frame(c)
        if opcode == 0x8:
            code: Optional[int] = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
            pytest.fail("server closed with %r %r after %r" % (code, payload[2:], texts))
        if opcode == 0x1:
            texts.append(payload.decode("utf-8"))
    return texts


def handshake_then(c: RawHTTP, path: str, frames: bytes) -> None:
    """Send the upgrade request and ``frames`` in one write; check the 101."""
    c.send(upgrade_request(c.port, path) + frames)
    resp = c.read_head()
    assert resp.status == 101
    assert resp.get("Sec-WebSocket-Accept") == ACCEPT


# Tornado keeps what it read past the head in its read buffer; a message
# shorter than the head and one longer than it are laid out differently
# there, so both sizes are tried.
SIZES = pytest.mark.parametrize("text", ["hello", "y" * 2000], ids=["short", "longer-than-head"])


@SIZES
def test_sockjs_websocket_first_frame_in_handshake_packet(test_server, text):
    with RawHTTP(test_server.port) as c:
        handshake_then(c, "/echo/000/%s/websocket" % sid(), client_frame(b'["%s"]' % text.encode()))
        assert read_texts(c, 2) == ["o", 'a["%s"]' % text]


@SIZES
def test_raw_websocket_first_frame_in_handshake_packet(test_server, text):
    with RawHTTP(test_server.port) as c:
        handshake_then(c, "/echo/websocket", client_frame(text.encode()))
        assert read_texts(c, 1) == [text]


def test_several_frames_in_handshake_packet_arrive_in_order(test_server):
    frames = b"".join(client_frame(('"m%d"' % i).encode()) for i in range(5))
    big = "x" * 70000  # a 64-bit length, larger than one read
    with RawHTTP(test_server.port) as c:
        handshake_then(c, "/echo/websocket", frames + client_frame(big.encode()))
        assert read_texts(c, 6) == ['"m%d"' % i for i in range(5)] + [big]


def test_frame_split_across_handshake_packet_and_next(test_server):
    """Half a frame behind the head, the rest in a later write."""
    frame = client_frame(b'["split"]')
    with RawHTTP(test_server.port) as c:
        handshake_then(c, "/echo/000/%s/websocket" % sid(), frame[:5])
        c.send(frame[5:])
        assert read_texts(c, 2) == ["o", 'a["split"]']
