"""Session life (expiry, on_close once,
queueing), ``disabled_transports``, and timers that work whatever loop the
router was built under."""

import json
import os
import subprocess
import sys
import textwrap
import time

import pytest
import requests
import websocket
from conftest import ROOT, router_app
from protocol_helpers import Echo, RawHTTP, Recorder, read_body, router_of, sid, wait_for

FAST = {"heartbeat_delay": 0.3, "disconnect_delay": 0.5, "session_check_interval": 0.1}

# -- disabled_transports -------------------------------------------------------

# transport -> (method, url suffix)
REQUESTS = {
    "xhr": ("POST", "xhr"),
    "xhr_streaming": ("POST", "xhr_streaming"),
    "jsonp": ("GET", "jsonp?c=x"),
    "eventsource": ("GET", "eventsource"),
    "htmlfile": ("GET", "htmlfile?c=x"),
}
WS_HEADERS = {
    "Upgrade": "websocket",
    "Connection": "Upgrade",
    "Sec-WebSocket-Version": "13",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
}


def _status(port, method, path, headers=None):
    with RawHTTP(port) as c:
        resp = c.request(method, path, headers)
        if resp.status == 101:
            return 101
        if resp.status != 200 or method == "POST" and path.endswith("/xhr"):
            read_body(c, resp)
        return resp.status


@pytest.mark.parametrize("disabled", sorted(REQUESTS))
def test_disabled_http_transport_is_404(make_server, disabled):
    srv = make_server(router_app(Echo, "/echo", {"disabled_transports": [disabled]}))
    for name, (method, suffix) in REQUESTS.items():
        status = _status(srv.port, method, "/echo/000/%s/%s" % (sid(), suffix))
        assert status == (404 if name == disabled else 200), name
    assert _status(srv.port, "GET", "/echo/000/%s/websocket" % sid(), WS_HEADERS) == 101
    assert requests.get(srv.url + "/echo/info").json()["websocket"] is True


def test_disabled_websocket_disables_raw_endpoint_and_info(make_server):
    srv = make_server(router_app(Echo, "/echo", {"disabled_transports": ["websocket"]}))
    assert _status(srv.port, "GET", "/echo/000/%s/websocket" % sid(), WS_HEADERS) == 404
    assert _status(srv.port, "GET", "/echo/websocket", WS_HEADERS) == 404
    assert requests.get(srv.url + "/echo/info").json()["websocket"] is False
    assert requests.post(srv.url + "/echo/000/%s/xhr" % sid()).content == b"o\n"


def test_send_handlers_follow_their_receivers(make_server):
    # xhr_send serves xhr, xhr_streaming, eventsource, htmlfile; jsonp_send
    # serves jsonp and htmlfile. With all their users off they are gone.
    srv = make_server(
        router_app(Echo, "/echo", {"disabled_transports": ["xhr", "xhr_streaming", "eventsource", "htmlfile", "jsonp"]})
    )
    assert requests.post(srv.url + "/echo/000/%s/xhr_send" % sid(), data="[]").status_code == 404
    assert requests.post(srv.url + "/echo/000/%s/jsonp_send" % sid(), data="d=[]").status_code == 404
    srv2 = make_server(router_app(Echo, "/echo", {"disabled_transports": ["xhr", "jsonp"]}))
    s = sid()
    c = RawHTTP(srv2.port)
    with c:
        c.request("POST", "/echo/000/%s/xhr_streaming" % s)
        c.read_chunk()
        assert c.read_chunk() == b"o\n"
        assert requests.post(srv2.url + "/echo/000/%s/xhr_send" % s, data='["a"]').status_code == 204
        assert requests.post(srv2.url + "/echo/000/%s/jsonp_send" % s, data='["b"]').content == b"ok"
        assert c.read_chunk() == b'a["a"]\n'
        assert c.read_chunk() == b'a["b"]\n'


# -- expiry and on_close ----------------------------------------------------------


@pytest.fixture
def recorder_server(make_server):
    Recorder.reset()
    return make_server(router_app(Recorder, "/echo", FAST))


def test_expiry_after_disconnect_delay(recorder_server):
    srv = recorder_server
    s = sid()
    url = srv.url + "/echo/000/" + s
    assert requests.post(url + "/xhr").content == b"o\n"
    # on_open runs right after the o frame went out: wait for it.
    assert wait_for(lambda: len(Recorder.opened) == 1)
    # Messages sent while no receiver is attached wait, in order.
    requests.post(url + "/xhr_send", data='["1","2"]')
    requests.post(url + "/xhr_send", data='["3"]')
    assert requests.post(url + "/xhr").content == b'a["1","2","3"]\n'
    assert Recorder.closed == []
    assert wait_for(lambda: len(Recorder.closed) == 1, 5)
    conn = Recorder.closed[0]
    assert conn.close_reason.code == 3000
    assert conn.close_reason.initiator == "timeout"
    assert srv.call(lambda: router_of(srv, "/echo").get_session(s)) is None
    # The id is free again: a new session opens.
    assert requests.post(url + "/xhr_send", data='["x"]').status_code == 404
    assert requests.post(url + "/xhr").content == b"o\n"
    assert wait_for(lambda: len(Recorder.opened) == 2)
    time.sleep(0.3)
    assert len(Recorder.closed) == 1  # on_close ran once for the first session


def test_no_expiry_while_a_receiver_is_attached(recorder_server):
    srv = recorder_server
    s = sid()
    c = RawHTTP(srv.port)
    with c:
        c.request("POST", "/echo/000/%s/xhr_streaming" % s)
        c.read_chunk()
        assert c.read_chunk() == b"o\n"
        # Well past disconnect_delay: heartbeats, and the session lives on.
        for _ in range(4):
            assert c.read_chunk() == b"h\n"
        assert Recorder.closed == []
        requests.post(srv.url + "/echo/000/%s/xhr_send" % s, data='["still"]')
        chunk = c.read_chunk()
        while chunk == b"h\n":
            chunk = c.read_chunk()
        assert chunk == b'a["still"]\n'


def test_on_close_once_after_abort_and_expiry(recorder_server):
    srv = recorder_server
    s = sid()
    c = RawHTTP(srv.port)
    c.request("POST", "/echo/000/%s/xhr_streaming" % s)
    c.read_chunk()
    assert c.read_chunk() == b"o\n"
    c.close()
    assert wait_for(lambda: len(Recorder.closed) == 1)
    assert Recorder.closed[0].close_reason.code == 1002
    # The closed session keeps answering with its close frame until it
    # expires, and on_close does not run again.
    r = requests.post(srv.url + "/echo/000/%s/xhr" % s)
    assert r.content == b'c[1002,"Connection interrupted"]\n'
    assert wait_for(lambda: srv.call(lambda: router_of(srv, "/echo").get_session(s)) is None)
    assert len(Recorder.closed) == 1


def test_on_close_once_for_websocket(recorder_server):
    ws = websocket.create_connection(recorder_server.ws_url + "/echo/000/%s/websocket" % sid(), timeout=5)
    assert ws.recv() == "o"
    ws.close()
    assert wait_for(lambda: len(Recorder.closed) == 1)
    time.sleep(0.3)
    assert len(Recorder.closed) == 1
    assert Recorder.closed[0].close_reason.initiator == "client"


# -- timers under asyncio.run -------------------------------------------------------

SCRIPT = textwrap.dedent("""
    import asyncio, sys
    from tornado import web
    from sockjs.tornado import SockJSConnection, SockJSRouter

    class Conn(SockJSConnection):
        def on_message(self, m):
            self.send(m)
        def on_close(self):
            print("closed", flush=True)

    # Built at import time, before any event loop exists.
    router = SockJSRouter(Conn, "/echo", {"heartbeat_delay": 0.3, "disconnect_delay": 0.5,
                                          "session_check_interval": 0.1})

    async def main():
        app = web.Application(router.urls)
        server = app.listen(0, "127.0.0.1")
        port = list(server._sockets.values())[0].getsockname()[1]
        print("port", port, flush=True)
        await asyncio.sleep(30)

    asyncio.run(main())
""")


def test_router_built_before_the_loop_still_sweeps():
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT], stdout=subprocess.PIPE, env=env, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("port "), line
        url = "http://127.0.0.1:%s/echo/000/%s" % (line.split()[1], sid())
        assert requests.post(url + "/xhr", timeout=5).content == b"o\n"
        # Heartbeats fire...
        assert requests.post(url + "/xhr", timeout=5).content == b"h\n"
        # ...and, with no receiver, the session expires and on_close runs.
        assert proc.stdout.readline().strip() == "closed"
        assert requests.post(url + "/xhr", timeout=5).content == b"o\n"
    finally:
        proc.kill()
        proc.wait(5)
        proc.stdout.close()


class GreetThenClose(Echo):
    def on_open(self, info):  # type: ignore[no-untyped-def]
        self.send("hello")
        if info.get_argument("close") or "/close/" in info.path:
            self.send("bye")
            self.close(3001, "done")


@pytest.fixture
def greet_server(make_server):
    def app():
        from tornado import web

        from sockjs.tornado import SockJSRouter

        a = SockJSRouter(GreetThenClose, "/greet", {"jsessionid": False})
        b = SockJSRouter(GreetThenClose, "/close", {"jsessionid": False})
        return web.Application(a.urls + b.urls)

    return make_server(app)


def test_messages_from_on_open_follow_the_o_frame(greet_server):
    srv = greet_server
    url = srv.url + "/greet/000/" + sid()
    assert requests.post(url + "/xhr").content == b"o\n"
    assert requests.post(url + "/xhr").content == b'a["hello"]\n'
    c = RawHTTP(srv.port)
    with c:
        c.request("POST", "/greet/000/%s/xhr_streaming" % sid())
        c.read_chunk()
        assert c.read_chunk() == b"o\n"
        assert c.read_chunk() == b'a["hello"]\n'
    ws = websocket.create_connection(srv.ws_url + "/greet/000/%s/websocket" % sid(), timeout=5)
    try:
        assert ws.recv() == "o"
        assert ws.recv() == 'a["hello"]'
    finally:
        ws.close()


def test_messages_then_close_from_on_open(greet_server):
    srv = greet_server
    url = srv.url + "/close/000/" + sid()
    assert requests.post(url + "/xhr").content == b"o\n"
    assert requests.post(url + "/xhr").content == b'a["hello","bye"]\n'
    assert requests.post(url + "/xhr").content == b'c[3001,"done"]\n'
    assert requests.post(url + "/xhr").content == b'c[3001,"done"]\n'
    c = RawHTTP(srv.port)
    with c:
        c.request("POST", "/close/000/%s/xhr_streaming" % sid())
        c.read_chunk()
        assert c.read_chunk() == b"o\n"
        assert c.read_chunk() == b'a["hello","bye"]\n'
        assert c.read_chunk() == b'c[3001,"done"]\n'
        assert c.read_chunk() == b""
    ws = websocket.create_connection(srv.ws_url + "/close/000/%s/websocket" % sid(), timeout=5)
    try:
        assert ws.recv() == "o"
        got = []
        frame = ws.recv()
        while frame.startswith("a"):
            got.extend(json.loads(frame[1:]))
            frame = ws.recv()
        assert got == ["hello", "bye"]
        assert frame == 'c[3001,"done"]'
    finally:
        ws.close()
    raw = websocket.create_connection(srv.ws_url + "/close/websocket", timeout=5)
    try:
        assert raw.recv() == "hello"
        assert raw.recv() == "bye"
        opcode, data = raw.recv_data(control_frame=True)
        assert opcode == websocket.ABNF.OPCODE_CLOSE
        assert data == b"\x0b\xb9done"
    finally:
        raw.close()
