"""The Prometheus endpoint (sockjs.tornado.metrics), scraped over HTTP
while real sessions of several transports run."""

import json
import re
import threading
import time
from typing import Any, Dict, Tuple

import requests
import websocket
from tornado import web

from sockjs.tornado import SockJSConnection, SockJSRouter
from sockjs.tornado.metrics import CONTENT_TYPE, METRICS, MetricsHandler

_LINE = re.compile(r"^([a-z_]+)\{([^}]*)\} (\S+)$")


class Echo(SockJSConnection):
    clients: "set[Echo]" = set()

    def on_open(self, info: Any) -> None:
        self.clients.add(self)

    def on_message(self, message: str) -> None:
        if message == "fail":
            raise ValueError("asked to fail")
        if message == "close":
            self.close(4321, "asked")
            return
        if message == "all":
            self.broadcast(self.clients, "to all")
            return
        self.send(message)

    def on_close(self) -> None:
        self.clients.discard(self)


def app_factory() -> web.Application:
    settings = {"heartbeat_delay": 0.2, "ping_timeout": 0.3, "disconnect_delay": 0.5, "session_check_interval": 0.1}
    echo = SockJSRouter(Echo, "/echo", settings)
    other = SockJSRouter(Echo, "/other", settings)
    app = web.Application(echo.urls + other.urls + [(r"/metrics", MetricsHandler, {"routers": [echo, other]})])
    app.sockjs_router = echo  # type: ignore[attr-defined]
    return app


def scrape(srv: Any) -> Dict[Tuple[str, Tuple[Tuple[str, str], ...]], float]:
    r = requests.get(srv.url + "/metrics", timeout=5)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == CONTENT_TYPE
    out: Dict[Tuple[str, Tuple[Tuple[str, str], ...]], float] = {}
    typed = set()
    for line in r.text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in ("counter", "gauge")
            typed.add(name)
            continue
        if line.startswith("#"):
            continue
        m = _LINE.match(line)
        assert m, "not an exposition line: %r" % line
        name, labels, value = m.groups()
        assert name in typed, "sample before its TYPE line: %r" % line
        pairs = tuple(sorted(tuple(p.split("=", 1)) for p in labels.split(",")))  # type: ignore[misc]
        out[(name, tuple((k, v.strip('"')) for k, v in pairs))] = float(value)
    assert typed == {name for name, _, _ in METRICS}
    return out


def value(samples: Dict[Any, float], name: str, **labels: str) -> float:
    labels.setdefault("service", "/echo")
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def wait_until(pred: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met")


class XhrStreamer:
    """An xhr_streaming session held open by a background reader."""

    def __init__(self, srv: Any, sid: str) -> None:
        self.resp = requests.post(srv.url + "/echo/000/%s/xhr_streaming" % sid, stream=True, timeout=5)
        self.chunks: "list[bytes]" = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            for chunk in self.resp.iter_content(None):
                self.chunks.append(chunk)
        except Exception:
            pass

    def close(self) -> None:
        self.resp.close()
        self.thread.join(5)


def _next_frame(ws: Any) -> str:
    """The next frame that is not a heartbeat (with heartbeat_delay 0.2 s,
    one may come first on a busy machine)."""
    while True:
        frame = ws.recv()
        if frame != "h":
            return frame  # type: ignore[no-any-return]


def test_metrics_move_with_sessions_of_several_transports(make_server: Any, server_errors: Any) -> None:
    srv = make_server(app_factory)
    before = scrape(srv)
    assert value(before, "sockjs_connections_active") == 0
    assert ("sockjs_errors_total", (("service", "/other"),)) in before

    # websocket, raw websocket, xhr polling, xhr streaming, eventsource at once.
    ws = websocket.create_connection(srv.ws_url + "/echo/000/w1/websocket", timeout=5)
    assert ws.recv() == "o"
    raw = websocket.create_connection(srv.ws_url + "/echo/websocket", timeout=5)
    base = srv.url + "/echo/000/x1"
    assert requests.post(base + "/xhr", timeout=5).text == "o\n"
    streamer = XhrStreamer(srv, "s1")
    es = requests.get(srv.url + "/echo/000/e1/eventsource", stream=True, timeout=5)
    try:
        wait_until(lambda: value(scrape(srv), "sockjs_sessions_active", transport="eventsource") == 1)
        s = scrape(srv)
        for transport in ("websocket", "rawwebsocket", "xhr", "xhr_streaming", "eventsource"):
            assert value(s, "sockjs_sessions_active", transport=transport) == 1, transport
            assert value(s, "sockjs_sessions_opened_total", transport=transport) == 1, transport
        assert value(s, "sockjs_sessions_active", service="/other", transport="websocket") == 0
        # websocket, raw websocket, the stream and the event stream are held open.
        assert value(s, "sockjs_connections_active") == 4

        ws.send('["hello"]')
        assert _next_frame(ws) == 'a["hello"]'
        raw.send("plain")
        assert raw.recv() == "plain"
        assert requests.post(base + "/xhr_send", data=json.dumps(["a", "b"]), timeout=5).status_code == 204
        assert requests.post(base + "/xhr", timeout=5).text == 'a["a","b"]\n'
        ws.send('["all"]')
        assert _next_frame(ws) == 'a["to all"]'
        s2 = scrape(srv)
        assert value(s2, "sockjs_messages_received_total") - value(s, "sockjs_messages_received_total") == 5
        # 1 + 1 + 2 echoes, then a broadcast to 5 sessions.
        assert value(s2, "sockjs_messages_sent_total") - value(s, "sockjs_messages_sent_total") == 9
        assert value(s2, "sockjs_broadcasts_total") == 1
        assert value(s2, "sockjs_broadcast_deliveries_total") == 5
        assert value(s2, "sockjs_bytes_received_total") > value(s, "sockjs_bytes_received_total")
        assert value(s2, "sockjs_bytes_sent_total") > value(s, "sockjs_bytes_sent_total")

        # Close codes by initiator: the application, an error, the client.
        ws.send('["close"]')
        assert _next_frame(ws) == 'c[4321,"asked"]'
        raw.send("fail")
        wait_until(lambda: value(scrape(srv), "sockjs_errors_total") == 1)
        assert requests.post(base + "/xhr_send", data='["close"]', timeout=5).status_code == 204
        s3 = scrape(srv)
        assert value(s3, "sockjs_session_closes_total", code="4321", initiator="application") == 2
        assert value(s3, "sockjs_session_closes_total", code="1011", initiator="error") == 1
        assert any("asked to fail" in str(r.exc_info[1]) for r in server_errors.records if r.exc_info)
        assert value(s3, "sockjs_sessions_active", transport="websocket") == 0
        assert value(s3, "sockjs_sessions_active", transport="xhr") == 0
    finally:
        ws.close()
        raw.close()
        streamer.close()
        es.close()
    # The streams' clients went away: closed by the client, 1002.
    wait_until(lambda: value(scrape(srv), "sockjs_session_closes_total", code="1002", initiator="client") == 2)
    wait_until(lambda: value(scrape(srv), "sockjs_connections_active") == 0)
    final = scrape(srv)
    assert sum(v for (name, _), v in final.items() if name == "sockjs_sessions_active") == 0


def test_heartbeat_timeouts_are_counted(make_server: Any) -> None:
    srv = make_server(app_factory)
    # websocket-client answers pings only while reading; this one never reads.
    ws = websocket.create_connection(srv.ws_url + "/echo/000/w2/websocket", timeout=5)
    try:
        wait_until(lambda: value(scrape(srv), "sockjs_heartbeat_timeouts_total") == 1)
        s = scrape(srv)
        assert value(s, "sockjs_session_closes_total", code="1001", initiator="timeout") == 1
        assert value(s, "sockjs_sessions_active", transport="websocket") == 0
    finally:
        ws.close()


def test_label_values_are_escaped() -> None:
    from sockjs.tornado.metrics import render

    router = SockJSRouter(Echo, '/we"ird\\path')
    text = render([router])
    assert 'service="/we\\"ird\\\\path"' in text
