"""``router.stats.dump()``: every 1.x key with its 1.x
meaning, checked with a session of each transport open."""

import socket
import time

import requests
import websocket
from api_clients import WsClient, http_receive, streaming_frames, wait_for
from conftest import router_app

from sockjs.tornado import SockJSConnection

TRANSPORTS = ("websocket", "xhr", "xhr_streaming", "jsonp", "eventsource", "htmlfile", "rawwebsocket")
KEYS = {"sessions_active", "connections_active", "connections_ps", "packets_sent_ps", "packets_recv_ps"} | {
    "transp_" + t for t in TRANSPORTS
}


class Echo(SockJSConnection):
    def on_message(self, message):
        self.send(message)


def _open_http_receiver(port, sid, transport):
    """A receiving request on a raw socket, read until the ``o`` frame
    (or a message) arrived; the caller closes the socket to drop it."""
    method = "POST" if transport in ("xhr", "xhr_streaming") else "GET"
    query = "?c=cb" if transport in ("jsonp", "htmlfile") else ""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(
        (
            "%s /st/000/%s/%s%s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n"
            % (method, sid, transport, query)
        ).encode()
    )
    return sock


def _read_until(sock, marker):
    got = b""
    while marker not in got:
        chunk = sock.recv(65536)
        assert chunk, got
        got += chunk
    return got


def test_stats_dump_with_a_session_of_each_transport(make_server):
    srv = make_server(router_app(Echo, "/st", {"disconnect_delay": 0.3, "session_check_interval": 0.1}))
    router = srv.app.sockjs_router
    dump = lambda: srv.call(router.stats.dump)  # noqa: E731

    before = dump()
    assert set(before) == KEYS
    assert before["sessions_active"] == 0 and before["connections_active"] == 0
    assert all(before["transp_" + t] == 0 for t in TRANSPORTS)

    ws = WsClient(srv.ws_url + "/st", "ws")
    raw = websocket.create_connection(srv.ws_url + "/st/websocket", timeout=5)
    streams = {}
    for t in ("xhr_streaming", "eventsource", "htmlfile"):
        streams[t] = _open_http_receiver(srv.port, "s-" + t, t)
        _read_until(streams[t], b"o")
    polls = {}
    for t in ("xhr", "jsonp"):
        assert streaming_frames(t, http_receive(srv.url + "/st", "p-" + t, t).text) == ["o"]
        # A second poll stays pending: the receiver is attached.
        polls[t] = _open_http_receiver(srv.port, "p-" + t, t)

    # One session per transport; every one has its receiver attached.
    wait_for(lambda: dump()["connections_active"] == 7)
    d = dump()
    assert d["sessions_active"] == 7
    assert {t: d["transp_" + t] for t in TRANSPORTS} == {t: 1 for t in TRANSPORTS}

    # Traffic in both directions on several transports.
    for i in range(5):
        ws.send("w%d" % i)
        raw.send("r%d" % i)
    assert ws.recv_messages(5) == ["w%d" % i for i in range(5)]
    assert [raw.recv() for _ in range(5)] == ["r%d" % i for i in range(5)]
    r = requests.post(srv.url + "/st/000/s-xhr_streaming/xhr_send", data='["x1","x2"]', timeout=5)
    assert r.status_code == 204
    _read_until(streams["xhr_streaming"], b'a["x1","x2"]')
    # The per-second figures are 10-second moving averages of per-second
    # counts: they show once a one-second sample closed.
    time.sleep(1.1)
    d = dump()
    assert d["packets_recv_ps"] > 0, d
    assert d["packets_sent_ps"] > 0, d
    assert d["connections_ps"] > 0, d
    # 12 messages each way at most over (at most) 10 one-second samples.
    assert d["packets_recv_ps"] <= 12 and d["packets_sent_ps"] <= 12

    # Every client goes away: all counts go back to zero.
    ws.close()
    raw.close()
    for sock in list(streams.values()) + list(polls.values()):
        sock.close()
    wait_for(lambda: dump()["connections_active"] == 0)
    wait_for(lambda: dump()["sessions_active"] == 0)
    d = dump()
    assert {t: d["transp_" + t] for t in TRANSPORTS} == {t: 0 for t in TRANSPORTS}


def test_stats_polling_session_outlives_its_requests_until_expiry(make_server):
    srv = make_server(router_app(Echo, "/st", {"disconnect_delay": 0.5, "session_check_interval": 0.1}))
    router = srv.app.sockjs_router
    assert http_receive(srv.url + "/st", "p", "xhr").text == "o\n"
    d = srv.call(router.stats.dump)
    # A polling session between two polls: a session, but no connection.
    assert d["sessions_active"] == 1 and d["transp_xhr"] == 1 and d["connections_active"] == 0
    wait_for(lambda: srv.call(router.stats.dump)["sessions_active"] == 0)
    assert srv.call(router.stats.dump)["transp_xhr"] == 0
