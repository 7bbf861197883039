"""The websocket layer with real clients: strict RFC 6455 answers, binary
messages and subprotocols on the raw endpoint, permessage-deflate
(RFC 7692), and close frames that reach the client when a limit ends a
connection."""

import asyncio
import random
import socket
import struct
import time
import zlib
from typing import Any, List, Optional, Tuple

import pytest
import websocket
from conftest import router_app
from security_helpers import RawWS, client_frame, wait_for
from tornado.websocket import websocket_connect

from sockjs.tornado import SockJSConnection, wsdeflate, wsframes, wsnegotiate
from sockjs.tornado.settings import validate_settings


class Echo(SockJSConnection):
    """Echoes text as text and binary as binary; remembers what it got."""

    received: List[Any] = []

    def on_open(self, info: Any) -> None:
        Echo.received = []

    def on_message(self, message: Any) -> None:
        Echo.received.append(message)
        self.send(message, binary=isinstance(message, bytes))


class Frames:
    """Reads server frames from a raw socket, keeping RSV1 (compressed)."""

    def __init__(self, ws: RawWS) -> None:
        self.sock = ws.sock
        self.buf = ws._buf

    def _fill(self, timeout: float) -> bool:
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(1 << 20)
        except ConnectionResetError:
            raise AssertionError("connection reset instead of closed") from None
        self.buf += data
        return bool(data)

    def next(self, timeout: float = 5.0) -> Optional[Tuple[int, bool, bytes]]:
        """``(opcode, rsv1, payload)`` of the next frame, ``None`` at EOF."""
        deadline = time.monotonic() + timeout
        while True:
            b = self.buf
            if len(b) >= 2:
                n = b[1] & 0x7F
                pos = 2
                if n == 126 and len(b) >= 4:
                    n, pos = struct.unpack("!H", b[2:4])[0], 4
                elif n == 127 and len(b) >= 10:
                    n, pos = struct.unpack("!Q", b[2:10])[0], 10
                if n < 126 or pos > 2:
                    if len(b) >= pos + n:
                        self.buf = b[pos + n :]
                        return b[0] & 0x0F, bool(b[0] & 0x40), b[pos : pos + n]
            if not self._fill(max(0.01, deadline - time.monotonic())):
                return None

    def close_code(self, timeout: float = 5.0) -> Tuple[Optional[int], str]:
        """Skip to the close frame: its code and reason."""
        while True:
            frame = self.next(timeout)
            assert frame is not None, "EOF without a close frame"
            if frame[0] == wsframes.OP_CLOSE:
                return wsframes.parse_close_payload(frame[2])

    def at_eof(self, timeout: float = 5.0) -> bool:
        return self.next(timeout) is None


def raw_ws(srv: Any, path: str = "/echo/websocket", headers: str = "") -> RawWS:
    ws = RawWS(srv.port, path, extra_headers=headers)
    assert ws.status == 101
    return ws


# -- strict RFC 6455 ---------------------------------------------------------------


def test_messages_before_a_bad_frame_are_delivered_first(make_server):
    srv = make_server(router_app(Echo, "/echo"))
    ws = raw_ws(srv)
    bad = bytearray(client_frame(wsframes.OP_TEXT, b"c"))
    bad[0] |= 0x20  # RSV2: no extension defines it
    ws.sock.sendall(client_frame(wsframes.OP_TEXT, b"a") + client_frame(wsframes.OP_TEXT, b"b") + bytes(bad))
    frames = Frames(ws)
    assert frames.next()[2] == b"a"
    assert frames.next()[2] == b"b"
    assert frames.close_code() == (1002, "Reserved bits set")
    assert frames.at_eof()
    assert Echo.received == ["a", "b"]


def test_invalid_utf8_fails_at_its_fragment(make_server):
    srv = make_server(router_app(Echo, "/echo"))
    ws = raw_ws(srv)
    ws.send_frame(wsframes.OP_TEXT, "\u03ba\u1f79".encode(), fin=False)
    ws.send_frame(wsframes.OP_CONT, b"\xf4\x90\x80\x80", fin=False)
    # The message never ends: the bad fragment alone fails the connection.
    frames = Frames(ws)
    assert frames.close_code(timeout=3) == (1007, "Invalid UTF-8")
    assert Echo.received == []


@pytest.mark.parametrize(
    "payload,code",
    [
        (b"\x03", 1002),
        (struct.pack("!H", 1004), 1002),
        (struct.pack("!H", 1016), 1002),
        (struct.pack("!H", 999), 1002),
        (struct.pack("!H", 5000), 1002),
        (struct.pack("!H", 1000) + b"\xff\xfe", 1007),
        (struct.pack("!H", 1012) + b"restart", 1012),
        (struct.pack("!H", 4001) + b"bye", 4001),
        (b"", 1000),
    ],
    ids=["1-byte", "1004", "1016", "999", "5000", "bad-utf8", "1012-echoed", "4001-echoed", "empty"],
)
def test_close_frames_are_checked(make_server, payload, code):
    srv = make_server(router_app(Echo, "/echo"))
    ws = raw_ws(srv)
    ws.send_frame(wsframes.OP_CLOSE, payload)
    frames = Frames(ws)
    assert frames.close_code()[0] == code
    assert frames.at_eof()


def test_message_too_big_close_frame_arrives_while_the_client_still_sends(make_server):
    srv = make_server(router_app(Echo, "/echo", {"max_message_size": 64 * 1024}))
    ws = raw_ws(srv)
    # 4 MiB more than the server takes: it answers 1009 after the header,
    # and keeps reading (dropping) so that the rest does not reset it.
    ws.sock.settimeout(10)
    ws.sock.sendall(client_frame(wsframes.OP_BINARY, b"x" * (4 << 20)))
    frames = Frames(ws)
    assert frames.close_code() == (1009, "Message too big")
    assert frames.at_eof()


def test_send_queue_overflow_close_frame_reaches_the_client(make_server):
    # A 16 MiB echo with the default 4 MiB max_queue_size, to a client that
    # reads only once it sent everything: the close frame follows the echo.
    srv = make_server(router_app(Echo, "/echo", {"max_message_size": 32 << 20}))
    ws = raw_ws(srv)
    ws.sock.settimeout(30)
    ws.sock.sendall(client_frame(wsframes.OP_TEXT, b"y" * (16 << 20)))
    frames = Frames(ws)
    assert frames.close_code(timeout=30) == (1013, "Send queue overflow")
    assert frames.at_eof()


def test_slow_reader_overflow_close_frame_follows_the_backlog(make_server):
    """A client that stops reading while the server keeps sending: the
    connection is closed with 1013, and once the client reads again it
    gets everything queued within the bound, then the close frame."""

    class Flood(SockJSConnection):
        def on_message(self, message: Any) -> None:
            for _ in range(200):
                self.send("z" * 65536)

    srv = make_server(router_app(Flood, "/flood", {"max_queue_size": 1 << 20}))
    ws = RawWS(srv.port, "/flood/websocket", rcvbuf=65536)
    ws.send_text("go")
    time.sleep(1.0)
    frames = Frames(ws)
    got = 0
    while True:
        frame = frames.next(timeout=10)
        assert frame is not None, "EOF without a close frame"
        if frame[0] == wsframes.OP_CLOSE:
            assert wsframes.parse_close_payload(frame[2]) == (1013, "Send queue overflow")
            break
        got += 1
    assert 0 < got < 200
    assert frames.at_eof()


# -- binary messages ----------------------------------------------------------------


def test_binary_messages_on_the_raw_endpoint(make_server):
    srv = make_server(router_app(Echo, "/echo"))
    ws = websocket.create_connection(srv.ws_url + "/echo/websocket", timeout=5)
    try:
        ws.send_binary(b"\x00\xff\xfe")
        assert ws.recv_data() == (websocket.ABNF.OPCODE_BINARY, b"\x00\xff\xfe")
        ws.send("text \u00e9")
        assert ws.recv_data() == (websocket.ABNF.OPCODE_TEXT, "text \u00e9".encode())
    finally:
        ws.close()
    assert Echo.received == [b"\x00\xff\xfe", "text \u00e9"]


def test_send_binary_true_on_the_raw_endpoint(make_server):
    class Sender(SockJSConnection):
        def on_message(self, message: Any) -> None:
            self.send(message, binary=True)  # str: as UTF-8
            self.send({"k": 1}, binary=True)  # JSON text, in a binary frame
            self.send(b"\x01\x02")  # bytes without binary: text

    srv = make_server(router_app(Sender, "/s"))
    ws = websocket.create_connection(srv.ws_url + "/s/websocket", timeout=5)
    try:
        ws.send("\u20ac")
        assert ws.recv_data() == (websocket.ABNF.OPCODE_BINARY, "\u20ac".encode())
        assert ws.recv_data() == (websocket.ABNF.OPCODE_BINARY, b'{"k":1}')
        assert ws.recv_data() == (websocket.ABNF.OPCODE_TEXT, b"\x01\x02")
    finally:
        ws.close()


def test_binary_true_on_a_sockjs_session_sends_text(make_server):
    class Sender(SockJSConnection):
        def on_message(self, message: Any) -> None:
            self.send(message.encode(), binary=True)

    srv = make_server(router_app(Sender, "/s"))
    ws = websocket.create_connection(srv.ws_url + "/s/000/abc/websocket", timeout=5)
    try:
        assert ws.recv() == "o"
        ws.send('["h\u00e9"]')
        assert ws.recv_data() == (websocket.ABNF.OPCODE_TEXT, 'a["h\u00e9"]'.encode())
    finally:
        ws.close()


# -- subprotocols --------------------------------------------------------------------


class Chat(SockJSConnection):
    offered: List[List[str]] = []

    @classmethod
    def select_subprotocol(cls, subprotocols: List[str], request: Any) -> Optional[str]:
        cls.offered.append(list(subprotocols))
        assert request.path == "/chat/websocket"
        return "chat.v2" if "chat.v2" in subprotocols else None

    def on_open(self, info: Any) -> None:
        self.send("protocol=%s" % self.selected_subprotocol)

    def on_message(self, message: Any) -> None:
        pass


def test_subprotocol_chosen_by_the_application(make_server):
    Chat.offered = []
    srv = make_server(router_app(Chat, "/chat"))
    ws = websocket.create_connection(srv.ws_url + "/chat/websocket", timeout=5, subprotocols=["chat.v1", "chat.v2"])
    try:
        assert ws.getsubprotocol() == "chat.v2"
        assert ws.recv() == "protocol=chat.v2"
    finally:
        ws.close()
    assert Chat.offered == [["chat.v1", "chat.v2"]]


def test_no_subprotocol_chosen_means_no_header(make_server):
    Chat.offered = []
    srv = make_server(router_app(Chat, "/chat"))
    for headers in ("Sec-WebSocket-Protocol: other\r\n", ""):
        ws = raw_ws(srv, "/chat/websocket", headers)
        assert "sec-websocket-protocol" not in ws.headers
        assert Frames(ws).next()[2] == b"protocol=None"
        ws.close()
    assert Chat.offered == [["other"], []]


def test_subprotocol_not_offered_is_an_application_error(make_server, server_errors):
    class Wrong(SockJSConnection):
        @classmethod
        def select_subprotocol(cls, subprotocols: List[str], request: Any) -> Optional[str]:
            return "mine"

    srv = make_server(router_app(Wrong, "/w"))
    ws = RawWS(srv.port, "/w/websocket", extra_headers="Sec-WebSocket-Protocol: theirs\r\n")
    assert ws.status == 500
    assert any("select_subprotocol" in str(r.exc_info[1]) for r in server_errors.records if r.exc_info)


# -- permessage-deflate --------------------------------------------------------------


def compress(payload: bytes, obj: Any = None) -> bytes:
    obj = obj or zlib.compressobj(6, zlib.DEFLATED, -15)
    data = obj.compress(payload) + obj.flush(zlib.Z_SYNC_FLUSH)
    assert data.endswith(b"\x00\x00\xff\xff")
    return data[:-4]


def compressed_frame(opcode: int, payload: bytes, obj: Any = None) -> bytes:
    frame = bytearray(client_frame(opcode, compress(payload, obj)))
    frame[0] |= 0x40
    return bytes(frame)


def test_compression_is_off_by_default(make_server):
    srv = make_server(router_app(Echo, "/echo"))
    ws = raw_ws(srv, headers="Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n")
    assert "sec-websocket-extensions" not in ws.headers
    frame = bytearray(client_frame(wsframes.OP_TEXT, b"x"))
    frame[0] |= 0x40
    ws.sock.sendall(bytes(frame))
    assert Frames(ws).close_code() == (1002, "Reserved bits set")


@pytest.mark.parametrize(
    "offer",
    [
        "permessage-deflate; client_max_window_bits",  # Chrome, Edge
        "permessage-deflate",  # Firefox, Safari
    ],
)
def test_compressed_echo_with_a_browser_offer(make_server, offer):
    srv = make_server(router_app(Echo, "/echo", {"websocket_compression": {}}))
    ws = raw_ws(srv, headers="Sec-WebSocket-Extensions: %s\r\n" % offer)
    assert ws.headers["sec-websocket-extensions"] == "permessage-deflate"
    frames = Frames(ws)
    client = zlib.compressobj(6, zlib.DEFLATED, -15)
    server = zlib.decompressobj(-15)
    text = "compressible \u00e9 " * 200
    for _ in range(3):
        # Context takeover both ways: later messages refer to earlier ones.
        ws.sock.sendall(compressed_frame(wsframes.OP_TEXT, text.encode(), client))
        opcode, rsv1, payload = frames.next()
        assert (opcode, rsv1) == (wsframes.OP_TEXT, True)
        assert len(payload) < len(text) // 10
        assert server.decompress(payload + b"\x00\x00\xff\xff").decode() == text
    ws.sock.sendall(compressed_frame(wsframes.OP_BINARY, b"\x00\x01" * 100, client))
    opcode, rsv1, payload = frames.next()
    assert (opcode, rsv1) == (wsframes.OP_BINARY, True)
    assert server.decompress(payload + b"\x00\x00\xff\xff") == b"\x00\x01" * 100
    # Uncompressed messages stay allowed.
    ws.send_text("plain")
    assert frames.next()[0] == wsframes.OP_TEXT
    assert Echo.received == [text] * 3 + [b"\x00\x01" * 100, "plain"]


def test_compressed_echo_with_tornado_client(make_server):
    srv = make_server(router_app(Echo, "/echo", {"websocket_compression": {"compression_level": 9}}))

    async def run() -> List[Any]:
        conn = await websocket_connect(srv.ws_url + "/echo/websocket", compression_options={})
        assert conn.headers["Sec-WebSocket-Extensions"].startswith("permessage-deflate")
        got = []
        for message in ("hello " * 100, b"\x00" * 1000, ""):
            await conn.write_message(message, binary=isinstance(message, bytes))
            got.append(await conn.read_message())
        conn.close()
        return got

    assert asyncio.run(run()) == ["hello " * 100, b"\x00" * 1000, ""]


def test_compressed_message_size_is_bounded_after_decompression(make_server):
    srv = make_server(router_app(Echo, "/echo", {"websocket_compression": {}, "max_message_size": 100000}))
    ws = raw_ws(srv, headers="Sec-WebSocket-Extensions: permessage-deflate\r\n")
    # 1 MB of zeros is ~1 KB on the wire: refused for what it inflates to.
    ws.sock.sendall(compressed_frame(wsframes.OP_BINARY, b"\x00" * 1000000))
    assert Frames(ws).close_code() == (1009, "Message too big")


def test_no_context_takeover_and_broadcast_compressed_once(make_server, monkeypatch):
    clients: List[SockJSConnection] = []

    class Room(SockJSConnection):
        def on_open(self, info: Any) -> None:
            clients.append(self)

        def on_message(self, message: Any) -> None:
            self.broadcast(clients, message)

    srv = make_server(router_app(Room, "/room", {"websocket_compression": {"server_no_context_takeover": True}}))
    socks = [raw_ws(srv, "/room/websocket", "Sec-WebSocket-Extensions: permessage-deflate\r\n") for _ in range(3)]
    for ws in socks:
        assert ws.headers["sec-websocket-extensions"] == "permessage-deflate; server_no_context_takeover"
    assert wait_for(lambda: len(clients) == 3)
    calls = []
    real = wsdeflate.Deflater.compress
    monkeypatch.setattr(wsdeflate.Deflater, "compress", lambda self, p: calls.append(p) or real(self, p))
    text = "news for everyone " * 50
    for _ in range(2):
        socks[0].send_text(text)
        payloads = []
        for ws in socks:
            opcode, rsv1, payload = Frames(ws).next()
            assert rsv1
            # Each message stands alone: a fresh decompressor reads it.
            assert zlib.decompressobj(-15).decompress(payload + b"\x00\x00\xff\xff").decode() == text
            payloads.append(payload)
        assert payloads[0] == payloads[1] == payloads[2]
    assert len(calls) == 2  # once per broadcast, not per connection


@pytest.mark.parametrize(
    "offer,answer",
    [
        ("permessage-deflate; server_max_window_bits=10", "permessage-deflate; server_max_window_bits=10"),
        (
            "permessage-deflate; server_max_window_bits=8; client_no_context_takeover",
            "permessage-deflate; client_no_context_takeover; server_max_window_bits=8",
        ),
        (
            "permessage-deflate; server_no_context_takeover; client_max_window_bits=9",
            "permessage-deflate; server_no_context_takeover",
        ),
        # An offer we cannot take is skipped for the next one.
        (
            "permessage-deflate; server_max_window_bits=16, permessage-deflate; client_no_context_takeover",
            "permessage-deflate; client_no_context_takeover",
        ),
        ("x-webkit-deflate-frame, permessage-deflate", "permessage-deflate"),
    ],
)
def test_negotiated_parameters_are_used(make_server, offer, answer):
    srv = make_server(router_app(Echo, "/echo", {"websocket_compression": {}}))
    ws = raw_ws(srv, headers="Sec-WebSocket-Extensions: %s\r\n" % offer)
    assert ws.headers["sec-websocket-extensions"] == answer
    params = dict(p.strip().partition("=")[::2] for p in answer.split(";")[1:])
    bits = int(params.get("server_max_window_bits") or 15)
    frames = Frames(ws)
    # Text that compresses by references further back than the window:
    # the server may only use those within the agreed one.
    rnd = random.Random(1)
    text = "".join(rnd.choice("abcdefgh") for _ in range(3000)) * 2
    client = zlib.compressobj(6, zlib.DEFLATED, -15)
    server = zlib.decompressobj(-max(bits, 9))
    for _ in range(2):
        ws.sock.sendall(compressed_frame(wsframes.OP_TEXT, text.encode(), client))
        if "client_no_context_takeover" in params:
            client = zlib.compressobj(6, zlib.DEFLATED, -15)
        opcode, rsv1, payload = frames.next()
        assert opcode == wsframes.OP_TEXT and rsv1
        if "server_no_context_takeover" in params:
            server = zlib.decompressobj(-max(bits, 9))
        assert server.decompress(payload + b"\x00\x00\xff\xff").decode() == text
    assert Echo.received == [text, text]


@pytest.mark.parametrize("bits", [8, 9, 12])
def test_deflater_stays_within_small_windows(bits):
    rnd = random.Random(bits)
    payload = "".join(rnd.choice("abcd") for _ in range(4 << bits)).encode()
    params = wsdeflate.DeflateParams(server_max_window_bits=bits)
    data = params.deflater().compress(payload) + b"\x00\x00\xff\xff"
    # zlib decodes no raw stream with a 256-byte window; for 8 bits the
    # compressor uses 512 bytes, whose matches reach back at most 250.
    assert zlib.decompressobj(-max(bits, 9)).decompress(data) == payload


# -- negotiation, settings ---------------------------------------------------------------


def test_negotiate_pure():
    chosen = wsnegotiate.negotiate(
        ["permessage-deflate; client_max_window_bits"], ["a, b", "c"], {}, lambda offered: offered[-1]
    )
    assert chosen.subprotocol == "c"
    assert chosen.header_lines == ("Sec-WebSocket-Protocol: c\r\nSec-WebSocket-Extensions: permessage-deflate\r\n")
    assert chosen.deflate == wsdeflate.DeflateParams()
    off = wsnegotiate.negotiate(["permessage-deflate"], [], None, lambda offered: None)
    assert off == wsnegotiate.Negotiated()
    assert wsnegotiate.parse_extensions(['permessage-deflate; server_max_window_bits="10", foo; bar=1']) == [
        ("permessage-deflate", [("server_max_window_bits", "10")]),
        ("foo", [("bar", "1")]),
    ]
    for bad in (
        "permessage-deflate; server_max_window_bits=010",
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; client_max_window_bits=7",
        "permessage-deflate; unknown",
        "permessage-deflate; server_no_context_takeover=1",
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
    ):
        assert wsnegotiate.negotiate_deflate(wsnegotiate.parse_extensions([bad]), {}) is None, bad


@pytest.mark.parametrize(
    "value,error",
    [
        ("yes", TypeError),
        ({"compression_level": "9"}, TypeError),
        ({"compression_level": 10}, ValueError),
        ({"mem_level": 0}, ValueError),
        ({"window": 9}, ValueError),
        ({"server_no_context_takeover": 1}, TypeError),
    ],
)
def test_websocket_compression_setting_is_checked(value, error):
    with pytest.raises(error, match="websocket_compression"):
        validate_settings({"websocket_compression": value})
    assert validate_settings({"websocket_compression": {"compression_level": 1, "mem_level": 9}})
    assert validate_settings({})["websocket_compression"] is None


def test_close_handshake_leaves_no_reset(make_server):
    """A client that closes normally sees the server's close frame and a
    clean EOF."""
    srv = make_server(router_app(Echo, "/echo"))
    ws = raw_ws(srv)
    ws.send_frame(wsframes.OP_CLOSE, wsframes.close_payload(1000, "done"))
    frames = Frames(ws)
    assert frames.close_code() == (1000, "done")
    assert frames.at_eof()
    ws.sock.shutdown(socket.SHUT_RDWR)
    ws.close()
