"""Quiet logs: a client that disconnects at any moment,
politely (FIN) or not (RST), is never logged above DEBUG by sockjs.tornado
or Tornado."""

import logging
import socket
import struct
import time

import pytest
from conftest import router_app
from security_helpers import RawWS, client_frame, connect, wait_for

from sockjs.tornado import SockJSConnection, wsframes


class Amplify(SockJSConnection):
    def on_message(self, message: str) -> None:
        if message.isdigit():
            for _ in range(20):
                self.send("x" * int(message))
        else:
            self.send(message)


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records = []

    def emit(self, record):
        if record.name.startswith(("sockjs", "tornado", "asyncio")) or record.name == "root":
            self.records.append(record)


@pytest.fixture
def warnings_seen():
    cap = _Capture()
    root = logging.getLogger()
    root.addHandler(cap)
    yield cap
    root.removeHandler(cap)


@pytest.fixture(scope="module")
def server():
    from conftest import ServerThread

    srv = ServerThread(
        router_app(Amplify, "/q", {"disconnect_delay": 0.1, "session_check_interval": 0.02, "heartbeat_delay": 0.1})
    )
    yield srv
    srv.stop()


def _rst(sock):
    # Abortive close: the server sees ECONNRESET, not EOF.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def _fin(sock):
    sock.close()


HEAD = "%s %s HTTP/1.1\r\nHost: x\r\n"


def _scenarios(port):
    """Each returns a socket at the moment of the disconnect."""

    def head_only_partial():
        s = connect(port)
        s.sendall(b"POST /q/000/s1/xhr HTTP/1.1\r\nHost: x\r\nCont")
        return s

    def mid_body(path):
        def go():
            s = connect(port)
            s.sendall((HEAD % ("POST", "/q/000/mb/xhr")).encode() + b"Content-Length: 0\r\n\r\n")
            s.recv(4096)
            s.sendall((HEAD % ("POST", path)).encode() + b'Content-Length: 100\r\n\r\n["abc')
            time.sleep(0.05)
            return s

        return go

    def mid_chunked_body():
        s = connect(port)
        s.sendall(
            (HEAD % ("POST", "/q/000/mb/xhr_send")).encode() + b'Transfer-Encoding: chunked\r\n\r\n5\r\n["a"]\r\n1'
        )
        time.sleep(0.05)
        return s

    def mid_poll(method, path):
        def go():
            s = connect(port)
            s.sendall((HEAD % (method, path)).encode() + b"Content-Length: 0\r\n\r\n")
            s.recv(4096)  # the open frame
            s.sendall((HEAD % (method, path)).encode() + b"Content-Length: 0\r\n\r\n")
            time.sleep(0.1)  # a pending poll / stream
            return s

        return go

    def mid_stream_flood(path, method="POST"):
        def go():
            s = connect(port, rcvbuf=4096)
            s.sendall((HEAD % (method, path)).encode() + b"Content-Length: 0\r\n\r\n")
            s.recv(100)
            sid = path.split("/")[3]
            c = connect(port)
            body = b'["20000"]'
            for _ in range(5):
                c.sendall(
                    (HEAD % ("POST", "/q/000/%s/xhr_send" % sid)).encode()
                    + b"Content-Length: %d\r\n\r\n" % len(body)
                    + body
                )
                c.recv(4096)
            c.close()
            return s

        return go

    def ws_mid_handshake():
        s = connect(port)
        s.sendall(
            b"GET /q/000/wh/websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        )
        return s

    def ws_before_101_read():
        s = connect(port)
        s.sendall(
            b"GET /q/websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            b"Sec-WebSocket-Version: 13\r\n\r\n"
        )
        return s

    def hixie_before_key():
        s = connect(port)
        s.sendall(
            b"GET /q/000/hx/websocket HTTP/1.1\r\nHost: x\r\nUpgrade: WebSocket\r\n"
            b"Connection: Upgrade\r\nOrigin: http://x\r\nSec-WebSocket-Key1: 4 @1  46546xW%0l 1 5\r\n"
            b"Sec-WebSocket-Key2: 12998 5 Y3 1  .P00\r\n\r\n"
        )
        time.sleep(0.05)
        return s

    def ws_mid_frame(path):
        def go():
            ws = RawWS(port, path)
            ws.sock.sendall(client_frame(wsframes.OP_TEXT, b'["' + b"a" * 1000 + b'"]')[:300])
            time.sleep(0.05)
            return ws.sock

        return go

    def ws_mid_flood(path, msg):
        def go():
            ws = RawWS(port, path, rcvbuf=4096)
            for _ in range(5):  # 2 MB: below max_queue_size
                ws.send_text(msg)
            time.sleep(0.05)
            return ws.sock

        return go

    def ws_after_close_frame():
        ws = RawWS(port, "/q/000/wc/websocket")
        ws.send_frame(wsframes.OP_CLOSE, struct.pack("!H", 1000))
        return ws.sock

    return {
        "partial request head": head_only_partial,
        "mid xhr_send body": mid_body("/q/000/mb/xhr_send"),
        "mid jsonp_send body": mid_body("/q/000/mb/jsonp_send"),
        "mid chunked body": mid_chunked_body,
        "pending xhr poll": mid_poll("POST", "/q/000/p1/xhr"),
        "pending jsonp poll": mid_poll("GET", "/q/000/p2/jsonp?c=cb"),
        "xhr_streaming": mid_poll("POST", "/q/000/p3/xhr_streaming"),
        "eventsource": mid_poll("GET", "/q/000/p4/eventsource"),
        "htmlfile": mid_poll("GET", "/q/000/p5/htmlfile?c=cb"),
        "xhr_streaming while flooded": mid_stream_flood("/q/000/f1/xhr_streaming"),
        "eventsource while flooded": mid_stream_flood("/q/000/f2/eventsource", "GET"),
        "websocket mid-handshake": ws_mid_handshake,
        "websocket before reading 101": ws_before_101_read,
        "hixie-76 before key bytes": hixie_before_key,
        "websocket mid-frame": ws_mid_frame("/q/000/wf/websocket"),
        "raw websocket mid-frame": ws_mid_frame("/q/websocket"),
        "websocket while flooded": ws_mid_flood("/q/000/wfl/websocket", '"20000"'),
        "raw websocket while flooded": ws_mid_flood("/q/websocket", "20000"),
        "websocket after close frame": ws_after_close_frame,
    }


NAMES = list(_scenarios(0))


@pytest.mark.parametrize("how", ["fin", "rst"])
@pytest.mark.parametrize("name", NAMES)
def test_disconnect_is_quiet(server, warnings_seen, name, how):
    sock = _scenarios(server.port)[name]()
    (_rst if how == "rst" else _fin)(sock)
    time.sleep(0.05)
    # Whatever the server still does for that client (heartbeats, expiry,
    # the close of the session) happens quietly too.
    assert wait_for(lambda: server.call(lambda: len(server.app.sockjs_router.sessions)) == 0, timeout=5)
    # And it still serves.
    ws = RawWS(server.port, "/q/websocket")
    ws.send_text("alive")
    assert ws.recv_frames()[0][1] == b"alive"
    ws.close()
    assert [(r.name, r.getMessage()) for r in warnings_seen.records] == []
