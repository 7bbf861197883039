"""The websocket bounds hold under TLS too: a TLS
connection keeps Tornado's stream, so its flow control is our own."""

import json
import logging
import os
import re

import pytest
import tornado
from conftest import router_app
from security_helpers import RawWS, wait_for

from sockjs.tornado import SockJSConnection, wsframes

CERTS = os.path.join(os.path.dirname(tornado.__file__), "test")


class Amplify(SockJSConnection):
    closed = []

    def on_message(self, message):
        self.send("x" * int(message) if message.isdigit() else message)

    def on_close(self):
        Amplify.closed.append(self.close_reason)


@pytest.fixture
def tls_server(make_server):
    Amplify.closed = []
    return make_server(
        router_app(
            Amplify,
            "/t",
            {"max_queue_size": 256 * 1024, "heartbeat_delay": 0.3, "ping_timeout": 0.5, "session_check_interval": 0.1},
        ),
        ssl_options={"certfile": os.path.join(CERTS, "test.crt"), "keyfile": os.path.join(CERTS, "test.key")},
    )


def test_tls_echo_and_ping(tls_server):
    ws = RawWS(tls_server.port, "/t/000/a/websocket", tls=True)
    try:
        assert ws.status == 101
        assert ws.recv_frames()[0][1] == b"o"
        ws.send_text(json.dumps(["over tls"]))
        frames = ws.recv_until(lambda f: f[1].startswith(b"a["))
        assert frames[-1][1] == b'a["over tls"]'
        # Never answering pings: closed as a dead peer, as without TLS.
        frames = ws.recv_until(lambda f: f[0] == wsframes.OP_CLOSE, timeout=5)
        assert b'c[1001,"Ping timeout"]' in [f[1] for f in frames]
    finally:
        ws.close()
    assert wait_for(lambda: (1001, "Ping timeout", "timeout") in Amplify.closed)


def test_tls_reader_that_stops_reading(tls_server, caplog):
    caplog.set_level(logging.WARNING)
    slow = RawWS(tls_server.port, "/t/websocket", rcvbuf=4096, tls=True)
    try:
        assert slow.status == 101
        for _ in range(2000):  # at most 120 MB asked for
            if any("max_queue_size" in r.getMessage() for r in caplog.records):
                break
            try:
                slow.send_text("60000")
            except OSError:
                break
        assert wait_for(lambda: any("max_queue_size" in r.getMessage() for r in caplog.records), timeout=10)
    finally:
        slow.close()
    msg = [r.getMessage() for r in caplog.records if "max_queue_size" in r.getMessage()][0]
    backlog = int(re.search(r"(\d+) bytes", msg).group(1))
    assert 256 * 1024 < backlog <= 256 * 1024 + 60000 + 16
    assert (1013, "Send queue overflow", "server") in Amplify.closed
