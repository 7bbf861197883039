"""Limits and counters are in UTF-8 bytes on every transport, so non-ASCII
text (2 bytes a character here) gets no more room than ASCII."""

import logging
import re

import pytest
import requests
import websocket
from conftest import router_app
from security_helpers import RawWS, wait_for

from sockjs.tornado import SockJSConnection, proto
from sockjs.tornado.metrics import render

MIB = 1024 * 1024
QUEUE = 256 * 1024
# Two UTF-8 bytes each, sent raw (not escaped) in frames.
E = "\u00e9"


class Amplify(SockJSConnection):
    """``"u<n>"`` answers ``n`` characters of é, ``"b<n>"`` broadcasts them
    to this connection; anything else is echoed."""

    closed = []

    def on_message(self, message: str) -> None:
        if message.startswith("u") and message[1:].isdigit():
            self.send(E * int(message[1:]))
        elif message.startswith("b") and message[1:].isdigit():
            self.broadcast([self], E * int(message[1:]))
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
                "max_message_size": MIB,
                "max_queue_size": QUEUE,
                "response_limit": 64 * MIB,
                "disconnect_delay": 10,
                "session_check_interval": 0.1,
            },
        )
    )


def router(srv):
    return srv.app.sockjs_router


def test_utf8_len():
    assert proto.utf8_len("abc") == 3
    assert proto.utf8_len(E * 3) == 6
    assert proto.utf8_len("\U0001f600") == 4
    assert proto.utf8_len("\ud800") == 3  # a lone surrogate still has a size


# -- max_message_size ------------------------------------------------------------

# 1 MiB of text as characters, 2 MiB as bytes.
BIG = E * MIB


@pytest.mark.parametrize("path", ["/a/websocket", "/a/000/big1/websocket"])
def test_websocket_non_ascii_over_limit_in_bytes(server, path):
    ws = RawWS(server.port, path)
    try:
        assert ws.status == 101
        text = BIG if path == "/a/websocket" else proto.json_encode([BIG])
        assert len(text) <= MIB + 4
        ws.send_text(text)
        frames = ws.recv_frames()
        while frames and frames[-1][0] != 8:
            frames += ws.recv_frames()
        assert frames[-1][0] == 8 and int.from_bytes(frames[-1][1][:2], "big") == 1009
    finally:
        ws.close()
    assert router(server).stats.packets_recv == 0


@pytest.mark.parametrize("transport", ["xhr_send", "jsonp_send"])
def test_send_non_ascii_over_limit_in_bytes(server, transport):
    assert requests.post(server.url + "/a/000/big2/xhr", timeout=5).text == "o\n"
    body = ('["%s"]' % BIG).encode("utf-8")
    if transport == "jsonp_send":
        body = b"d=" + body
    r = requests.post(
        server.url + "/a/000/big2/" + transport,
        data=body,
        timeout=10,
        headers={"Content-Type": "application/x-www-form-urlencoded" if transport == "jsonp_send" else "text/plain"},
    )
    assert r.status_code == 413


def test_websocket_non_ascii_under_limit_in_bytes_is_echoed(server):
    ws = websocket.create_connection(server.ws_url + "/a/websocket", timeout=10)
    try:
        text = E * (MIB // 2 - 10)
        ws.send(text)
        assert ws.recv() == text
    finally:
        ws.close()


# -- byte counters -----------------------------------------------------------------


@pytest.mark.parametrize("path", ["/a/websocket", "/a/000/cnt/websocket"])
def test_byte_counters_count_utf8(server, path):
    ws = websocket.create_connection(server.ws_url + path, timeout=5)
    try:
        if path != "/a/websocket":
            assert ws.recv() == "o"
        before = server.call(lambda: (router(server).stats.bytes_recv, router(server).stats.bytes_sent))
        msg = E * 1000
        ws.send(msg if path == "/a/websocket" else proto.json_encode([msg]))
        ws.recv()
        after = server.call(lambda: (router(server).stats.bytes_recv, router(server).stats.bytes_sent))
    finally:
        ws.close()
    framing = 0 if path == "/a/websocket" else len('["') + len('"]')
    assert after[0] - before[0] == 2000 + framing
    sent = after[1] - before[1]
    assert sent == 2000 + (0 if path == "/a/websocket" else len('a[""]'))
    text = server.call(lambda: render([router(server)]))
    value = int(re.search(r'^sockjs_bytes_received_total\{service="/a"\} (\d+)$', text, re.M).group(1))
    assert value == after[0]


@pytest.mark.parametrize("path", ["/a/websocket", "/a/000/bcnt/websocket"])
def test_byte_counters_count_utf8_for_broadcasts(server, path):
    ws = websocket.create_connection(server.ws_url + path, timeout=5)
    try:
        if path != "/a/websocket":
            assert ws.recv() == "o"
        before = server.call(lambda: router(server).stats.bytes_sent)
        ws.send("b1000" if path == "/a/websocket" else proto.json_encode(["b1000"]))
        ws.recv()
        after = server.call(lambda: router(server).stats.bytes_sent)
    finally:
        ws.close()
    assert after - before == 2000 + (0 if path == "/a/websocket" else len('a[""]'))


# -- max_queue_size ----------------------------------------------------------------


def _overflow(caplog):
    return [r for r in caplog.records if r.levelno == logging.WARNING and "max_queue_size" in r.getMessage()]


def test_absent_receiver_non_ascii_closed_at_queue_bytes(server, caplog):
    """A polling client that asks for non-ASCII answers and never polls is
    closed once the bytes queued pass max_queue_size, within 10%."""
    caplog.set_level(logging.WARNING)
    assert requests.post(server.url + "/a/000/q1/xhr", timeout=5).text == "o\n"
    chars = 4000  # 8002 bytes queued per answer (quotes included)
    sent = 0
    for _ in range(200):
        r = requests.post(server.url + "/a/000/q1/xhr_send", data='["u%d"]' % chars, timeout=5)
        if r.status_code != 204:
            break
        sent += 1
        if _overflow(caplog):
            break
    assert _overflow(caplog)
    queued = sent * (2 * chars + 2)
    assert QUEUE < queued <= QUEUE * 1.1, (sent, queued)
    backlog = int(re.search(r"(\d+) bytes", _overflow(caplog)[0].getMessage()).group(1))
    assert backlog == queued
    assert requests.post(server.url + "/a/000/q1/xhr", timeout=5).text == 'c[1013,"Send queue overflow"]\n'


@pytest.mark.parametrize("path", ["/a/000/slow/websocket", "/a/websocket"])
def test_websocket_slow_reader_non_ascii_closed_at_queue_bytes(server, caplog, path):
    """A websocket that never reads, sent non-ASCII answers: dropped with
    1013 once the bytes waiting pass max_queue_size, within 10%."""
    caplog.set_level(logging.WARNING)
    slow = RawWS(server.port, path, rcvbuf=4096)
    chars = 2000
    try:
        assert slow.status == 101
        for _ in range(2000):
            if _overflow(caplog):
                break
            try:
                slow.send_text("u%d" % chars if path == "/a/websocket" else '"u%d"' % chars)
            except OSError:
                break
            # Let the server act on each request before the next one.
            server.call(lambda: None)
        assert wait_for(lambda: bool(_overflow(caplog)), timeout=10)
    finally:
        slow.close()
    backlog = int(re.search(r"(\d+) bytes", _overflow(caplog)[0].getMessage()).group(1))
    assert QUEUE < backlog <= QUEUE * 1.1, backlog
    assert (1013, "Send queue overflow", "server") in Amplify.closed
