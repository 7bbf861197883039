"""Liveness: a websocket ping goes out with each
heartbeat; a peer that does not answer within ``ping_timeout`` is closed,
``on_close`` runs with initiator ``"timeout"``, and the stats count it."""

import json
import os

import pytest
from conftest import router_app
from security_helpers import RawWS, wait_for

from sockjs.tornado import SockJSConnection, wsconnection, wsframes


class Tracked(SockJSConnection):
    closed = []

    def on_message(self, message: str) -> None:
        self.send(message)

    def on_close(self) -> None:
        Tracked.closed.append(self.close_reason)


@pytest.fixture
def server(make_server):
    Tracked.closed = []
    return make_server(
        router_app(
            Tracked,
            "/l",
            {"heartbeat_delay": 0.15, "ping_timeout": 0.5, "session_check_interval": 0.05, "disconnect_delay": 0.5},
        )
    )


def _stats(srv):
    return srv.call(lambda: srv.app.sockjs_router.stats)


def test_silent_peer_is_closed(server):
    ws = RawWS(server.port, "/l/000/dead/websocket")
    try:
        assert ws.recv_frames()[0] == (wsframes.OP_TEXT, b"o")
        # Read, but never answer the pings.
        frames = ws.recv_until(lambda f: f[0] == wsframes.OP_CLOSE, timeout=5)
        kinds = [f[0] for f in frames]
        assert wsframes.OP_PING in kinds
        assert (wsframes.OP_TEXT, b"h") in frames
        texts = [f[1] for f in frames if f[0] == wsframes.OP_TEXT]
        assert texts[-1] == b'c[1001,"Ping timeout"]'
        # The ping went out before the close, within one heartbeat or so.
        assert kinds.index(wsframes.OP_PING) < kinds.index(wsframes.OP_CLOSE)
    finally:
        ws.close()
    assert wait_for(lambda: Tracked.closed == [(1001, "Ping timeout", "timeout")])
    assert _stats(server).heartbeat_timeouts == 1
    assert server.call(lambda: server.app.sockjs_router.stats.close_codes[(1001, "timeout")]) == 1
    assert wait_for(lambda: server.call(lambda: len(server.app.sockjs_router.sessions)) == 0)


def test_answering_peer_stays_open(server):
    ws = RawWS(server.port, "/l/000/alive/websocket")
    pings = 0
    try:
        assert ws.recv_frames()[0] == (wsframes.OP_TEXT, b"o")
        # Several timeouts' worth of heartbeats, each ping answered.
        while pings < 4:
            frames = ws.recv_frames(timeout=3)
            assert frames, "server closed an answering peer"
            for op, payload in frames:
                assert op != wsframes.OP_CLOSE
                if op == wsframes.OP_PING:
                    pings += 1
                    ws.send_frame(wsframes.OP_PONG, payload)
        ws.send_text(json.dumps(["still here"]))
        frames = ws.recv_until(lambda f: f[1].startswith(b"a["))
        assert frames[-1][1] == b'a["still here"]'
    finally:
        ws.close()
    assert _stats(server).heartbeat_timeouts == 0
    assert wait_for(lambda: Tracked.closed and Tracked.closed[0].initiator == "client")


def _open_sockets() -> int:
    """Sockets open in this process (not every fd: uvloop opens a file of
    its own on first use)."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink("/proc/self/fd/" + fd).startswith("socket:")
        except OSError:  # closed meanwhile
            pass
    return count


def test_vanished_peer_backlog_is_cut(make_server, monkeypatch):
    """A peer that neither reads nor answers: its close cannot be
    delivered, so the connection is cut after a grace period instead of
    holding the socket for ever."""
    # A shorter grace than the real 5 s: the same code path, sooner (the
    # server reads the constant when it starts the grace period).
    grace = 1.0
    monkeypatch.setattr(wsconnection, "CLOSE_GRACE", grace)
    srv = make_server(
        router_app(
            Tracked,
            "/l",
            {
                "heartbeat_delay": 0.3,
                "ping_timeout": 0.5,
                "session_check_interval": 0.1,
                "max_queue_size": 8 * 1024 * 1024,
            },
        )
    )
    Tracked.closed = []
    fds = _open_sockets
    before = fds()
    ws = RawWS(srv.port, "/l/000/gone/websocket", rcvbuf=4096)
    try:
        assert fds() == before + 2  # our socket and the server's
        # Fill every buffer between us and the server, then go silent.
        for _ in range(60):
            ws.send_text(json.dumps(["y" * 60000]))
        assert wait_for(lambda: Tracked.closed != [], timeout=10)
        assert Tracked.closed[0] == (1001, "Ping timeout", "timeout")
        # The server's end goes within the grace period, unread backlog
        # and all; only ours is left.
        assert wait_for(lambda: fds() == before + 1, timeout=grace + 3)
    finally:
        ws.close()


def test_raw_websocket_silent_peer_is_closed(server):
    """``/websocket`` has no SockJS heartbeat, but the same ping: a peer
    that does not answer gets a close frame 1001 ``Ping timeout``."""
    ws = RawWS(server.port, "/l/websocket")
    try:
        frames = ws.recv_until(lambda f: f[0] == wsframes.OP_CLOSE, timeout=5)
        kinds = [f[0] for f in frames]
        assert wsframes.OP_PING in kinds
        assert frames[-1] == (wsframes.OP_CLOSE, (1001).to_bytes(2, "big") + b"Ping timeout")
    finally:
        ws.close()
    assert wait_for(lambda: Tracked.closed == [(1001, "Ping timeout", "timeout")])
    assert _stats(server).heartbeat_timeouts == 1
    assert wait_for(lambda: server.call(lambda: len(server.app.sockjs_router.sessions)) == 0)


def test_raw_websocket_answering_peer_stays_open(server):
    ws = RawWS(server.port, "/l/websocket")
    pings = 0
    try:
        while pings < 4:
            frames = ws.recv_frames(timeout=3)
            assert frames, "server closed an answering peer"
            for op, payload in frames:
                assert op != wsframes.OP_CLOSE
                if op == wsframes.OP_PING:
                    pings += 1
                    ws.send_frame(wsframes.OP_PONG, payload)
        ws.send_text("still here")
        frames = ws.recv_until(lambda f: f[0] == wsframes.OP_TEXT)
        assert frames[-1][1] == b"still here"
    finally:
        ws.close()
    assert _stats(server).heartbeat_timeouts == 0
