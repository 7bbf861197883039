"""Limits: request bodies, websocket messages, outgoing
queues, and readers that stop reading. Each limit is a setting and each
answer is the one docs/security.rst documents."""

import json
import logging
import re
import socket

import pytest
import requests
import websocket
from conftest import router_app
from security_helpers import RawWS, connect, read_head, wait_for

from sockjs.tornado import SockJSConnection, wsframes

LIMIT = 10000


class Amplify(SockJSConnection):
    """Answers message ``n`` with ``n`` bytes of ``x``; anything else is
    echoed."""

    closed = []

    def on_message(self, message: str) -> None:
        if message.isdigit():
            self.send("x" * int(message))
        else:
            self.send(message)

    def on_close(self) -> None:
        Amplify.closed.append(self.close_reason)


@pytest.fixture
def server(make_server):
    Amplify.closed = []
    return make_server(
        router_app(
            Amplify,
            "/a",
            {
                "max_message_size": LIMIT,
                "max_queue_size": 256 * 1024,
                "disconnect_delay": 1.5,
                "session_check_interval": 0.1,
            },
        )
    )


def router(srv):
    return srv.app.sockjs_router


def _open(srv, sid):
    r = requests.post(srv.url + "/a/000/%s/xhr" % sid, timeout=5)
    assert r.text == "o\n"


# -- request bodies -------------------------------------------------------------


@pytest.mark.parametrize("transport", ["xhr_send", "jsonp_send"])
def test_body_over_limit_gets_413(server, transport):
    _open(server, "b1")
    body = json.dumps(["y" * LIMIT])
    if transport == "jsonp_send":
        body = "d=" + body
    r = requests.post(
        server.url + "/a/000/b1/" + transport,
        data=body,
        timeout=5,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 413
    assert r.text == "Payload too large."
    assert r.headers["Connection"] == "close"
    # The session is unharmed.
    r = requests.post(server.url + "/a/000/b1/xhr_send", data='["ok"]', timeout=5)
    assert r.status_code == 204
    assert requests.post(server.url + "/a/000/b1/xhr", timeout=5).text == 'a["ok"]\n'


def test_huge_content_length_answered_before_body(server):
    """A Content-Length over the limit is refused from the head alone: the
    server answers without waiting for (or buffering) the body."""
    _open(server, "b2")
    s = connect(server.port)
    try:
        s.sendall(b"POST /a/000/b2/xhr_send HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n" + b"[" * 1000)
        status, headers, _ = read_head(s)
        assert status == 413
    finally:
        s.close()


def test_chunked_body_over_limit(server):
    """Chunked bodies have no length up front: counted as they arrive, and
    refused once past the limit, long before they end."""
    _open(server, "b3")
    s = connect(server.port)
    try:
        s.sendall(b"POST /a/000/b3/xhr_send HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"%x\r\n%s\r\n" % (1000, b"a" * 1000)
        sent = 0
        status = None
        s.settimeout(0.01)
        # Never more than 100x the limit: the answer must come long before.
        while sent < 100 * LIMIT:
            try:
                s.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += 1000
            try:
                data = s.recv(65536, socket.MSG_PEEK)
                if data:
                    break
            except socket.timeout:
                pass
        s.settimeout(5)
        status, _, _ = read_head(s)
        assert status == 413
        assert sent < 100 * LIMIT
    finally:
        s.close()
    assert requests.post(server.url + "/a/000/b3/xhr_send", data='["ok"]', timeout=5).status_code == 204


def test_body_at_limit_is_accepted(server):
    _open(server, "b4")
    payload = json.dumps(["z" * (LIMIT - 10)])
    assert len(payload) <= LIMIT
    r = requests.post(server.url + "/a/000/b4/xhr_send", data=payload, timeout=5)
    assert r.status_code == 204


# -- websocket messages ---------------------------------------------------------


@pytest.mark.parametrize("path", ["/a/000/w/websocket", "/a/websocket"])
def test_websocket_message_over_limit_closes_1009(server, path):
    ws = RawWS(server.port, path)
    try:
        assert ws.status == 101
        if "000" in path:
            assert ws.recv_frames()[0][1] == b"o"
        # Only the head of a huge frame is sent: refused from its length.
        head = bytes([0x81, 0x80 | 127]) + (LIMIT * 100).to_bytes(8, "big") + b"mask"
        ws.sock.sendall(head + b"x" * 100)
        frames = ws.recv_until(lambda f: f[0] == wsframes.OP_CLOSE)
        assert frames[-1][0] == wsframes.OP_CLOSE
        assert frames[-1][1][:2] == (1009).to_bytes(2, "big")
    finally:
        ws.close()
    assert wait_for(lambda: server.call(lambda: len(router(server).sessions)) == 0)


def test_websocket_fragments_over_limit_close_1009(server):
    ws = RawWS(server.port, "/a/websocket")
    try:
        part = b"x" * (LIMIT // 4)
        ws.send_frame(wsframes.OP_TEXT, part, fin=False)
        for _ in range(5):
            ws.send_frame(wsframes.OP_CONT, part, fin=False)
        frames = ws.recv_until(lambda f: f[0] == wsframes.OP_CLOSE)
        assert frames[-1][1][:2] == (1009).to_bytes(2, "big")
    finally:
        ws.close()


def test_websocket_message_at_limit_is_echoed(server):
    ws = websocket.create_connection(server.ws_url + "/a/websocket", timeout=5)
    try:
        ws.send("m" * LIMIT)
        assert ws.recv() == "m" * LIMIT
    finally:
        ws.close()


# -- outgoing queues ------------------------------------------------------------


def _overflow_records(caplog):
    return [r for r in caplog.records if r.levelno == logging.WARNING and "max_queue_size" in r.getMessage()]


def test_absent_receiver_queue_overflow(server, caplog):
    """A polling client that sends but never polls: its queue is bounded."""
    caplog.set_level(logging.WARNING)
    _open(server, "q1")
    for _ in range(5):
        r = requests.post(server.url + "/a/000/q1/xhr_send", data='["%d"]' % 60000, timeout=5)
        assert r.status_code == 204
    assert requests.post(server.url + "/a/000/q1/xhr", timeout=5).text == 'c[1013,"Send queue overflow"]\n'
    recs = _overflow_records(caplog)
    assert len(recs) == 1 and "q1" in recs[0].getMessage()
    assert Amplify.closed[-1] == (1013, "Send queue overflow", "server")
    assert server.call(lambda: router(server).stats.errors) >= 1
    assert wait_for(lambda: server.call(lambda: len(router(server).sessions)) == 0)


@pytest.mark.parametrize("path", ["/a/000/slow/websocket", "/a/websocket"])
def test_websocket_reader_that_stops_reading(server, caplog, path):
    """A client that never reads is dropped once its backlog passes
    max_queue_size (1013, a WARNING naming it); another session echoes
    between each of its requests meanwhile, and the backlog held never
    exceeds the bound by more than one message."""
    caplog.set_level(logging.WARNING)
    echo = websocket.create_connection(server.ws_url + "/a/websocket", timeout=5)
    slow = RawWS(server.port, path, rcvbuf=4096)
    echoes = 0
    try:
        assert slow.status == 101
        # Ask for 60 KB answers and never read them: at most 2000 (120 MB).
        for i in range(2000):
            if _overflow_records(caplog):
                break
            try:
                slow.send_text("60000" if "000" not in path else '"60000"')
            except OSError:
                break
            echo.send("e%d" % i)
            assert echo.recv() == "e%d" % i
            echoes += 1
        assert wait_for(lambda: bool(_overflow_records(caplog)), timeout=10)
        # The other session is still fine afterwards.
        echo.send("after")
        assert echo.recv() == "after"
    finally:
        echo.close()
        slow.close()
    # Each echo went through while the slow reader's backlog was growing.
    assert echoes >= 5
    msg = _overflow_records(caplog)[0].getMessage()
    assert "websocket" in msg
    backlog = int(re.search(r"(\d+) bytes", msg).group(1))
    assert 256 * 1024 < backlog <= 256 * 1024 + 60000 + 16
    assert (1013, "Send queue overflow", "server") in Amplify.closed
    assert wait_for(lambda: server.call(lambda: len(router(server).sessions)) == 0)


def test_streaming_reader_that_stops_reading(make_server, caplog):
    """xhr_streaming whose client never reads: queued frames are bounded
    the same way. (The bound is above what the kernel buffers hold, so the
    response is really stuck.)"""
    Amplify.closed = []
    server = make_server(
        router_app(Amplify, "/a", {"max_queue_size": 6 * 1024 * 1024, "response_limit": 64 * 1024 * 1024})
    )
    # (response_limit above everything sent: the response stays attached.)
    caplog.set_level(logging.WARNING)
    s = connect(server.port, rcvbuf=4096)
    try:
        s.sendall(b"POST /a/000/st1/xhr_streaming HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        assert wait_for(lambda: server.call(lambda: router(server).get_session("st1") is not None))
        sess = requests.Session()
        for _ in range(600):  # at most 36 MB
            r = sess.post(server.url + "/a/000/st1/xhr_send", data='["60000"]', timeout=5)
            if r.status_code != 204 or _overflow_records(caplog):
                break
        assert wait_for(lambda: bool(_overflow_records(caplog)))
        assert "st1" in _overflow_records(caplog)[0].getMessage()
        assert Amplify.closed[-1] == (1013, "Send queue overflow", "server")
    finally:
        s.close()


# -- bad frames and bad handshakes (the rest of docs/security.rst table) -----


@pytest.mark.parametrize(
    "frame, code",
    [
        (bytes([0x81, 0x02]) + b"hi", 1002),  # not masked
        (bytes([0xC1, 0x80]) + b"mask", 1002),  # reserved bit
        (bytes([0x09, 0x80]) + b"mask", 1002),  # fragmented ping
        (bytes([0x83, 0x80]) + b"mask", 1002),  # unknown opcode
        (bytes([0x80, 0x80]) + b"mask", 1002),  # continuation without start
    ],
)
def test_bad_frames_close_1002(server, frame, code):
    ws = RawWS(server.port, "/a/websocket")
    try:
        ws.sock.sendall(frame)
        frames = ws.recv_until(lambda f: f[0] == wsframes.OP_CLOSE)
        assert frames and frames[-1][1][:2] == code.to_bytes(2, "big")
    finally:
        ws.close()


def test_invalid_utf8_closes_1007(server):
    ws = RawWS(server.port, "/a/websocket")
    try:
        ws.send_frame(wsframes.OP_TEXT, b"\xff\xfe")
        frames = ws.recv_until(lambda f: f[0] == wsframes.OP_CLOSE)
        assert frames[-1][1][:2] == (1007).to_bytes(2, "big")
    finally:
        ws.close()


def test_broken_json_on_websocket_ends_connection(server):
    ws = RawWS(server.port, "/a/000/bj/websocket")
    try:
        assert ws.recv_frames()[0][1] == b"o"
        ws.send_text('["a", ')
        assert ws.recv_frames(timeout=5) == []  # EOF: the connection ended
    finally:
        ws.close()
    assert wait_for(lambda: server.call(lambda: len(router(server).sessions)) == 0)


@pytest.mark.parametrize(
    "headers, status, body",
    [
        ("", 400, b'Can "Upgrade" only to "WebSocket".'),
        ("Upgrade: websocket\r\n", 400, b'"Connection" must be "Upgrade".'),
        (
            "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: x\r\nSec-WebSocket-Version: 99\r\n",
            426,
            None,
        ),
    ],
)
def test_bad_handshakes(server, headers, status, body):
    s = connect(server.port)
    try:
        s.sendall(
            b"GET /a/000/h/websocket HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            if "Connection" not in headers
            else b"GET /a/000/h/websocket HTTP/1.1\r\nHost: x\r\n"
        )
        s.sendall(headers.encode() + b"\r\n")
        got, hdrs, rest = read_head(s)
        assert got == status
        if body is not None:
            while len(rest) < int(hdrs.get("content-length", 0)):
                rest += s.recv(4096)
            assert rest == body
        if status == 426:
            assert hdrs["sec-websocket-version"] == "13"
    finally:
        s.close()


def test_post_to_websocket_is_405(server):
    r = requests.post(server.url + "/a/000/h/websocket", timeout=5)
    assert r.status_code == 405
    assert r.headers["Allow"] == "GET"
    assert r.content == b"" and "Content-Type" not in r.headers


def test_documented_send_and_callback_answers(server, caplog):
    """The protocol's answers to bad send bodies and callbacks, and that
    they are logged as client errors (at client_error_log_level, INFO by
    default), never ERROR."""
    caplog.set_level(logging.INFO)
    url = server.url + "/a/000/%s/"
    r = requests.post(url % "nosuch" + "xhr_send", data='["x"]', timeout=5)
    assert (r.status_code, r.text) == (404, "Session not found.")
    _open(server, "d1")
    for transport, body, ctype, text in [
        ("xhr_send", "", "text/plain", "Payload expected."),
        ("jsonp_send", "d=", "application/x-www-form-urlencoded", "Payload expected."),
        ("jsonp_send", "x=1", "application/x-www-form-urlencoded", "Payload expected."),
        ("xhr_send", '["a"', "text/plain", "Broken JSON encoding."),
        ("xhr_send", '{"a": 1}', "text/plain", "Broken JSON encoding."),
        ("jsonp_send", "d=%5B1%5D", "application/x-www-form-urlencoded", "Broken JSON encoding."),
    ]:
        r = requests.post(url % "d1" + transport, data=body, headers={"Content-Type": ctype}, timeout=5)
        assert (r.status_code, r.text) == (500, text), (transport, body)
    # The session is unharmed.
    assert requests.post(url % "d1" + "xhr_send", data='["fine"]', timeout=5).status_code == 204
    assert requests.post(url % "d1" + "xhr", timeout=5).text == 'a["fine"]\n'
    for transport in ("jsonp", "htmlfile"):
        r = requests.get(url % "d2" + transport, timeout=5)
        assert (r.status_code, r.text) == (500, '"callback" parameter required')
        r = requests.get(url % "d2" + transport + "?c=a%28b", timeout=5)
        assert (r.status_code, r.text) == (500, 'invalid "callback" parameter')
    assert server.call(lambda: router(server).get_session("d2")) is None
    access = [rec for rec in caplog.records if rec.name == "tornado.access" and " 500 " in " %s " % rec.getMessage()]
    assert access and all(rec.levelno == logging.INFO for rec in access)
