"""The SockJS websocket transport (RFC 6455 and
hixie-76), its handshake errors, and the raw ``/websocket`` endpoint."""

import struct

import pytest
import websocket
from conftest import router_app
from protocol_helpers import Echo, RawHTTP, read_body, sid

from sockjs.tornado import wsframes


def ws_connect(srv, path, **kw):
    return websocket.create_connection(srv.ws_url + path, timeout=5, **kw)


def read_close(ws):
    """Skip to the close frame; return (code, reason)."""
    while True:
        opcode, data = ws.recv_data(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            return wsframes.parse_close_payload(data)


def at_eof(sock, timeout=3.0):
    sock.settimeout(timeout)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


# -- handshake errors -----------------------------------------------------------


@pytest.mark.parametrize("path", ["/echo/0/0/websocket", "/echo/websocket"])
def test_get_without_upgrade_is_400(test_server, path):
    with RawHTTP(test_server.port) as c:
        resp = c.request("GET", path)
        assert resp.status == 400
        assert read_body(c, resp) == b'Can "Upgrade" only to "WebSocket".'


@pytest.mark.parametrize("path", ["/echo/0/0/websocket", "/echo/websocket"])
def test_connection_without_upgrade_is_400(test_server, path):
    with RawHTTP(test_server.port) as c:
        resp = c.request("GET", path, {"Upgrade": "WebSocket", "Connection": "close"})
        assert resp.status == 400
        assert read_body(c, resp) == b'"Connection" must be "Upgrade".'


@pytest.mark.parametrize("path", ["/echo/0/0/websocket", "/echo/websocket"])
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "OPTIONS"])
@pytest.mark.parametrize("upgrade", [True, False])
def test_other_methods_are_405(test_server, path, method, upgrade):
    headers = {"Upgrade": "WebSocket", "Connection": "Upgrade"} if upgrade else {}
    with RawHTTP(test_server.port) as c:
        resp = c.request(method, path, headers, body=b"")
        assert resp.status == 405
        assert resp.get("Allow") == "GET"
        assert resp.get("Content-Type") is None
        assert read_body(c, resp) == b""


#: A version 13 handshake request (RFC 6455's own example key is the other
#: one used below).
UPGRADE = {
    "Upgrade": "websocket",
    "Connection": "Upgrade",
    "Sec-WebSocket-Version": "13",
    "Sec-WebSocket-Key": "x3JJHMbDL1EzLkh9GBhXDw==",
}


# Stable ids: the session id is random, and pytest-xdist's workers must
# collect the same names.
@pytest.mark.parametrize("path", ["/echo/000/%s/websocket" % sid(), "/echo/websocket"], ids=["sockjs", "raw"])
def test_101_answer(test_server, path):
    with RawHTTP(test_server.port) as c:
        resp = c.request(
            "GET",
            path,
            dict(UPGRADE, **{"Sec-WebSocket-Origin": "http://asd"}),
        )
        assert resp.status == 101
        assert resp.get("Sec-WebSocket-Accept") == "HSmrc0sMlYUkAGmm5OPpG2HaGWk="
        assert resp.get("Connection").lower() == "upgrade"
        assert resp.get("Upgrade").lower() == "websocket"
        assert resp.get("Content-Length") is None
        assert resp.get("Transfer-Encoding") is None


@pytest.mark.parametrize("path", ["/disabled_websocket_echo/0/0/websocket", "/disabled_websocket_echo/websocket"])
def test_disabled_websocket_is_404(test_server, path):
    with RawHTTP(test_server.port) as c:
        resp = c.request(
            "GET",
            path,
            UPGRADE,
        )
        assert resp.status == 404


# -- the SockJS websocket transport --------------------------------------------------


def test_echo_and_message_forms(test_server):
    ws = ws_connect(test_server, "/echo/000/%s/websocket" % sid())
    try:
        assert ws.recv() == "o"
        ws.send('["a"]')
        assert ws.recv() == 'a["a"]'
        # A bare JSON string is a message too; empty frames are ignored.
        ws.send('"b"')
        assert ws.recv() == 'a["b"]'
        ws.send("")
        ws.send("[]")
        ws.send('["c","d"]')
        assert ws.recv() == 'a["c","d"]'
        ws.send('["\\u2028\\ud800\u00e9"]')
        assert ws.recv() == 'a["\\u2028\\ud800\u00e9"]'
    finally:
        ws.close()


def test_reused_session_id_gives_independent_sessions(test_server):
    path = "/echo/000/%s/websocket" % sid()
    ws1 = ws_connect(test_server, path)
    ws2 = ws_connect(test_server, path)
    try:
        assert ws1.recv() == "o"
        assert ws2.recv() == "o"
        ws1.send('["a"]')
        ws2.send('["b"]')
        assert ws1.recv() == 'a["a"]'
        assert ws2.recv() == 'a["b"]'
        ws1.close()
        ws2.send('["c"]')
        assert ws2.recv() == 'a["c"]'
    finally:
        ws2.close()
    ws3 = ws_connect(test_server, path)
    try:
        assert ws3.recv() == "o"
        ws3.send('["d"]')
        assert ws3.recv() == 'a["d"]'
    finally:
        ws3.close()


@pytest.mark.parametrize("bad", ['["a', "{}", "1", "[1]"])
def test_broken_json_ends_the_connection(test_server, bad):
    ws = ws_connect(test_server, "/echo/000/%s/websocket" % sid())
    try:
        assert ws.recv() == "o"
        ws.send(bad)
        with pytest.raises((websocket.WebSocketConnectionClosedException, ConnectionError)):
            ws.recv()
            ws.recv()
    finally:
        ws.close()


def test_close_frame_then_websocket_close_then_eof(test_server):
    ws = ws_connect(test_server, "/close/000/%s/websocket" % sid())
    try:
        assert ws.recv() == "o"
        assert ws.recv() == 'c[3000,"Go away!"]'
        code, _ = read_close(ws)
        assert code == 1000
        assert at_eof(ws.sock)
    finally:
        ws.close()


def test_websocket_heartbeats(make_server):
    srv = make_server(router_app(Echo, "/echo", {"heartbeat_delay": 0.15, "session_check_interval": 0.05}))
    ws = ws_connect(srv, "/echo/000/%s/websocket" % sid())
    try:
        assert ws.recv() == "o"
        for _ in range(3):
            assert ws.recv() == "h"
        ws.send('["x"]')
        frame = ws.recv()
        while frame == "h":
            frame = ws.recv()
        assert frame == 'a["x"]'
    finally:
        ws.close()


# -- hixie-76 ---------------------------------------------------------------------------


def hixie_handshake(port, path, origin="http://127.0.0.1"):
    c = RawHTTP(port)
    # No key bytes yet: the server must answer the head before they come.
    resp = c.request(
        "GET",
        path,
        {
            "Connection": "Upgrade",
            "Upgrade": "WebSocket",
            "Origin": origin,
            "Sec-WebSocket-Key1": "4 @1  46546xW%0l 1 5",
            "Sec-WebSocket-Key2": "12998 5 Y3 1  .P00",
        },
    )
    return c, resp


def test_hixie76_handshake_and_frames(test_server):
    path = "/echo/000/%s/websocket" % sid()
    c, resp = hixie_handshake(test_server.port, path)
    with c:
        assert resp.status == 101
        assert resp.get("Upgrade").lower() == "websocket"
        assert resp.get("Connection").lower() == "upgrade"
        assert resp.get("Sec-WebSocket-Origin") == "http://127.0.0.1"
        assert resp.get("Sec-WebSocket-Location") == "ws://127.0.0.1:%d%s" % (test_server.port, path)
        assert resp.get("Content-Length") is None
        # Nothing else comes before the key bytes were sent.
        assert c.nothing_within(0.3)
        c.send(b"aaaaaaaa")
        assert c.read_exactly(16) == b"\xca4\x00\xd8\xa5\x08G\x97,\xd5qZ\xba\xbfC{"
        assert c.read_exactly(3) == b"\x00o\xff"
        # Two frames in one packet: handled as one batch, echoed in one frame.
        c.send(b'\x00["a"]\xff\x00"\xc3\xa9"\xff')
        assert c.read_exactly(13) == b'\x00a["a","\xc3\xa9"]\xff'


def test_hixie76_key_split_and_close(test_server):
    c, resp = hixie_handshake(test_server.port, "/close/000/%s/websocket" % sid())
    with c:
        assert resp.status == 101
        c.send(b"aaa")
        assert c.nothing_within(0.2)
        c.send(b"aaaaa")
        assert c.read_exactly(16) == b"\xca4\x00\xd8\xa5\x08G\x97,\xd5qZ\xba\xbfC{"
        assert c.read_exactly(3) == b"\x00o\xff"
        assert c.read_exactly(20) == b'\x00c[3000,"Go away!"]\xff'
        assert c.read_exactly(2) == b"\xff\x00"
        assert c.at_eof()


# -- raw /websocket ------------------------------------------------------------------------


def test_raw_websocket_round_trip(test_server):
    ws = ws_connect(test_server, "/echo/websocket")
    try:
        for text in ("Hello world!\uffff", "", "\u00e9\u4e2d\U0001f600", '["not", "sockjs"]'):
            ws.send(text)
            assert ws.recv() == text
    finally:
        ws.close()


def test_raw_websocket_close_frame_carries_code_and_reason(test_server):
    ws = ws_connect(test_server, "/close/websocket")
    try:
        assert read_close(ws) == (3000, "Go away!")
        assert at_eof(ws.sock)
    finally:
        ws.close()


def test_raw_websocket_has_no_sockjs_framing(make_server):
    srv = make_server(
        router_app(Echo, "/echo", {"heartbeat_delay": 0.2, "session_check_interval": 0.1, "ping_timeout": None})
    )
    ws = ws_connect(srv, "/echo/websocket")
    try:
        ws.settimeout(0.8)
        # No "o", and no "h" even after several heartbeat periods.
        with pytest.raises(websocket.WebSocketTimeoutException):
            ws.recv()
        ws.settimeout(5)
        ws.send("x")
        assert ws.recv() == "x"
    finally:
        ws.close()


def test_raw_hixie76(test_server):
    c, resp = hixie_handshake(test_server.port, "/echo/websocket")
    with c:
        assert resp.status == 101
        c.send(b"aaaaaaaa")
        assert c.read_exactly(16) == b"\xca4\x00\xd8\xa5\x08G\x97,\xd5qZ\xba\xbfC{"
        c.send(b"\x00plain \xef\xbf\xbf\xff")
        assert c.read_exactly(11) == b"\x00plain \xef\xbf\xbf\xff"


def test_raw_socket_ping_gets_pong(test_server):
    # Below the client library: a masked ping straight on the socket.
    c = RawHTTP(test_server.port)
    with c:
        resp = c.request(
            "GET",
            "/echo/websocket",
            dict(UPGRADE, **{"Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}),
        )
        assert resp.status == 101
        mask = b"\x01\x02\x03\x04"
        payload = b"hi"
        c.send(
            struct.pack("!BB", 0x89, 0x80 | len(payload)) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        )
        assert c.read_exactly(4) == b"\x8a\x02hi"


def test_hixie76_key_bytes_with_the_head(test_server):
    # A plain hixie-76 client sends the key bytes right after the head.
    path = "/echo/000/%s/websocket" % sid()
    c = RawHTTP(test_server.port)
    with c:
        c.send(
            (
                "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: Upgrade\r\nUpgrade: WebSocket\r\n"
                "Origin: http://x\r\nSec-WebSocket-Key1: 4 @1  46546xW%%0l 1 5\r\n"
                "Sec-WebSocket-Key2: 12998 5 Y3 1  .P00\r\n\r\n" % (path, test_server.port)
            ).encode()
            + b"aaaaaaaa"
            + b'\x00["z"]\xff'
        )
        resp = c.read_head()
        assert resp.status == 101
        assert resp.get("Sec-WebSocket-Origin") == "http://x"
        assert c.read_exactly(16) == b"\xca4\x00\xd8\xa5\x08G\x97,\xd5qZ\xba\xbfC{"
        assert c.read_exactly(3) == b"\x00o\xff"
        assert c.read_exactly(8) == b'\x00a["z"]\xff'


def _masked_text(payload: bytes) -> bytes:
    mask = b"\x11\x22\x33\x44"
    return struct.pack("!BB", 0x81, 0x80 | len(payload)) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


_LONG = "x" * 120


@pytest.mark.parametrize(
    "path, first, expect",
    [
        ("/echo/websocket", _LONG.encode(), [b"\x81\x78" + _LONG.encode()] * 2),
        # Both messages of one read leave in one frame.
        (
            "/echo/000/%s/websocket" % sid(),
            ('["%s"]' % _LONG).encode(),
            [b"\x81\x01o", b"\x81\x7e\x00\xf8" + ('a["%s","%s"]' % (_LONG, _LONG)).encode()],
        ),
    ],
    ids=["raw", "sockjs"],
)
def test_first_frame_in_the_same_write_as_the_handshake(test_server, path, first, expect):
    # One sendall: the frames arrive in the same packet as the request head,
    # so the server reads them along with it and must hand them on. Longer
    # than the head, so that a reader that re-reads the head fails.
    c = RawHTTP(test_server.port)
    with c:
        c.send(
            (
                "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
                % (path, test_server.port)
            ).encode()
            + _masked_text(first)
            + _masked_text(first)
        )
        resp = c.read_head()
        assert resp.status == 101
        for frame in expect:
            assert c.read_exactly(len(frame)) == frame
