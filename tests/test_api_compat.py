"""Drop-in compatibility: applications written only from
the 1.x API run unchanged, over websocket and xhr polling.

The application classes below are deliberately written the 1.x way (no type
hints, no new API), as a 1.0.7 user would have written them.
"""

import importlib
import json
import os
import socket
import subprocess
import sys
import time

import pytest
import requests
import websocket
from api_clients import WsClient, XhrClient, wait_for
from tornado import web

from sockjs.tornado import SockJSConnection, SockJSRouter
from sockjs.tornado import session as session_mod

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# -- the seed's echo server, as written -------------------------------------

SEED = """
from tornado import web, ioloop
from sockjs.tornado import SockJSRouter, SockJSConnection

class EchoConnection(SockJSConnection):
    def on_message(self, msg):
        self.send(msg)

EchoRouter = SockJSRouter(EchoConnection, '/echo')
app = web.Application(EchoRouter.urls)
app.listen(PORT)
ioloop.IOLoop.current().start()
"""

# The same, inside asyncio.run(), with the router built before the loop
# exists (1.0.7 never expired sessions then).
SEED_ASYNCIO = """
import asyncio
from tornado import web
from sockjs.tornado import SockJSRouter, SockJSConnection

class EchoConnection(SockJSConnection):
    def on_message(self, msg):
        self.send(msg)

    def on_close(self):
        with open(CLOSED_LOG, "a") as f:
            f.write("closed\\n")

EchoRouter = SockJSRouter(EchoConnection, '/echo', dict(disconnect_delay=0.3,
                                                         session_check_interval=0.1))

async def main():
    app = web.Application(EchoRouter.urls)
    app.listen(PORT)
    await asyncio.Event().wait()

asyncio.run(main())
"""


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _start_script(source: str, closed_log: str = ""):
    port = _free_port()
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    source = source.replace("PORT", str(port)).replace("CLOSED_LOG", repr(closed_log))
    proc = subprocess.Popen(
        [sys.executable, "-c", source], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    base = "http://127.0.0.1:%d" % port

    def up():
        if proc.poll() is not None:
            raise AssertionError("server died: %s" % proc.stderr.read())
        try:
            return requests.get(base + "/echo", timeout=1).status_code == 200
        except requests.ConnectionError:
            return False

    try:
        wait_for(up, timeout=10)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return proc, base


def _stop(proc) -> str:
    proc.terminate()
    try:
        out, _ = proc.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return out


@pytest.mark.parametrize("source", [SEED, SEED_ASYNCIO], ids=["ioloop-start", "asyncio-run"])
def test_seed_echo_server_runs_as_written(source, tmp_path):
    closed_log = str(tmp_path / "closed.log")

    def closed():
        return open(closed_log).read().count("closed") if os.path.exists(closed_log) else 0

    proc, base = _start_script(source, closed_log)
    try:
        assert requests.get(base + "/echo", timeout=5).text == "Welcome to SockJS!\n"
        ws = WsClient(base.replace("http", "ws") + "/echo")
        ws.send("hello", "wörld")
        assert ws.recv_messages(2) == ["hello", "wörld"]
        ws.close()
        x = XhrClient(base + "/echo", "seed1")
        x.open()
        x.send("a", "b")
        assert x.recv_messages(2) == ["a", "b"]
        if source is SEED_ASYNCIO:
            # The sweep runs although the router was built before the
            # loop: the abandoned polling session expires and on_close runs
            # (once for the websocket, once for the polling session).
            wait_for(lambda: closed() == 2)
            time.sleep(0.3)
            assert closed() == 2
    finally:
        _stop(proc)


# -- a chat using broadcast ---------------------------------------------------


class ChatConnection(SockJSConnection):
    participants = set()

    def on_open(self, info):
        self.broadcast(self.participants, "Someone joined.")
        self.participants.add(self)

    def on_message(self, message):
        self.broadcast(self.participants, message)

    def on_close(self):
        self.participants.remove(self)
        self.broadcast(self.participants, "Someone left.")


def test_chat_with_broadcast_over_websocket_and_xhr(make_server):
    from conftest import router_app

    srv = make_server(router_app(ChatConnection, "/chat"))
    base = srv.url + "/chat"
    ws = WsClient(srv.ws_url + "/chat")
    x = XhrClient(base, "chat1")
    x.open()
    assert ws.recv_messages(1) == ["Someone joined."]
    ws.send("hi from ws")
    assert ws.recv_messages(1) == ["hi from ws"]
    assert x.recv_messages(1) == ["hi from ws"]
    x.send("hi from xhr")
    assert ws.recv_messages(1) == ["hi from xhr"]
    assert x.recv_messages(1) == ["hi from xhr"]
    ws.close()
    assert x.recv_messages(1) == ["Someone left."]
    wait_for(lambda: srv.call(lambda: len(ChatConnection.participants)) == 1)
    srv.call(lambda: srv.app.sockjs_router.get_session("chat1").close())
    wait_for(lambda: srv.call(lambda: len(ChatConnection.participants)) == 0)


# -- user_settings, session_kls, get_session, stats.dump, ConnectionInfo -----


class CountingSession(session_mod.Session):
    """A 1.x-style Session subclass: same constructor, extra behaviour."""

    def __init__(self, conn, server, session_id, expiry=None):
        session_mod.Session.__init__(self, conn, server, session_id, expiry)
        self.sent = 0

    def send_message(self, msg, stats=True, binary=False):
        self.sent += 1
        session_mod.Session.send_message(self, msg, stats, binary)


class InfoConnection(SockJSConnection):
    router = None

    def on_open(self, info):
        self.info = info

    def on_message(self, message):
        info = self.info
        if message == "info":
            self.send(
                {
                    "ip": info.ip,
                    "path": info.path,
                    "arg": info.get_argument("who"),
                    "missing_arg": info.get_argument("nope"),
                    "arguments": info.arguments,
                    "cookie": info.get_cookie("flavour"),
                    "cookies": dict(info.cookies),
                    "header": info.get_header("X-Api-Test"),
                    "header_type": type(info.get_header("X-Api-Test")).__name__,
                    "headers_get": info.headers.get("x-api-test"),
                    "session_kls": type(self.session).__name__,
                }
            )
        elif message == "stats":
            self.send(self.router.stats.dump())
        elif message.startswith("lookup:"):
            s = self.router.get_session(message[len("lookup:") :])
            self.send("none" if s is None else "%s %d" % (type(s.conn).__name__, s.sent))
        elif message == "later":
            # 1.x code schedules through the router's io_loop.
            self.session.server.io_loop.call_later(0.05, self.send, "later")
        elif message == "settings":
            self.send(
                {
                    k: self.router.settings[k]
                    for k in ("disconnect_delay", "heartbeat_delay", "response_limit", "verify_ip")
                }
            )


def _info_app():
    router = SockJSRouter(
        InfoConnection,
        "/info_app",
        user_settings=dict(disconnect_delay=2, heartbeat_delay=7, verify_ip=False),
        session_kls=CountingSession,
    )
    InfoConnection.router = router
    return web.Application(router.urls)


def _check_info(info, ip):
    assert info["ip"] == ip
    assert info["arg"] == "ann" and info["missing_arg"] is None
    assert info["arguments"]["who"] == ["ann"]
    assert info["cookie"] == "mint" and info["cookies"]["flavour"] == "mint"
    assert info["header"] == "yes" and info["header_type"] == "str"
    assert info["headers_get"] == "yes"


def test_connection_info_settings_session_kls_get_session_stats_over_xhr(make_server):
    srv = make_server(_info_app)
    base = srv.url + "/info_app"
    http = requests.Session()
    http.cookies.set("flavour", "mint")
    x = XhrClient(base, "inf1", http=http, headers={"X-Api-Test": "yes"})
    r = http.post(x.url + "/xhr?who=ann", headers=x.headers, timeout=5)
    assert r.text == "o\n"
    x.send("info")
    # 1.x sends non-string values as themselves: the client gets an object.
    info = x.recv_messages(1)[0]
    _check_info(info, "127.0.0.1")
    assert info["path"] == "/info_app/000/inf1/xhr"
    assert info["session_kls"] == "CountingSession"

    x.send("settings")
    assert x.recv_messages(1)[0] == {
        "disconnect_delay": 2,
        "heartbeat_delay": 7,
        "response_limit": 131072,
        "verify_ip": False,
    }
    x.send("lookup:inf1")
    # Two messages were sent before this one answers.
    assert x.recv_messages(1) == ["InfoConnection 2"]
    x.send("lookup:nobody")
    assert x.recv_messages(1) == ["none"]
    x.send("later")
    assert x.recv_messages(1) == ["later"]
    from tornado.ioloop import IOLoop

    assert srv.call(lambda: InfoConnection.router.io_loop is IOLoop.current())
    x.send("stats")
    dump = x.recv_messages(1)[0]
    assert dump["sessions_active"] == 1 and dump["transp_xhr"] == 1
    # get_session from outside a handler gives the live session and its
    # connection.
    assert srv.call(lambda: type(InfoConnection.router.get_session("inf1").conn).__name__) == "InfoConnection"


def test_connection_info_over_websocket(make_server):
    srv = make_server(_info_app)
    url = "%s/info_app/000/ws1/websocket?who=ann" % srv.ws_url
    ws = websocket.create_connection(url, timeout=5, header=["X-Api-Test: yes"], cookie="flavour=mint")
    try:
        assert ws.recv() == "o"
        ws.send('["info"]')
        frame = ws.recv()
        assert frame.startswith('a[{"ip":"127.0.0.1",'), frame
        info = json.loads(frame[1:])[0]
        _check_info(info, "127.0.0.1")
        assert info["path"] == "/info_app/000/ws1/websocket"
        # Websocket sessions are built by the router too, so session_kls
        # applies to them.
        assert info["session_kls"] == "CountingSession"
    finally:
        ws.close()


def test_connection_info_ip_honours_xheaders(make_server):
    srv = make_server(_info_app, xheaders=True)
    base = srv.url + "/info_app"
    x = XhrClient(base, "xh1", headers={"X-Real-Ip": "203.0.113.9", "X-Api-Test": "yes"})
    x.http.cookies.set("flavour", "mint")
    assert x.http.post(x.url + "/xhr?who=ann", headers=x.headers, timeout=5).text == "o\n"
    x.send("info")
    _check_info(x.recv_messages(1)[0], "203.0.113.9")

    ws = websocket.create_connection(
        "%s/info_app/000/xh2/websocket?who=ann" % srv.ws_url,
        timeout=5,
        cookie="flavour=mint",
        header=["X-Forwarded-For: 198.51.100.7", "X-Api-Test: yes"],
    )
    try:
        assert ws.recv() == "o"
        ws.send('["info"]')
        _check_info(json.loads(ws.recv()[1:])[0], "198.51.100.7")
    finally:
        ws.close()


# -- migrate.WebsocketHandler -----------------------------------------------


def test_migrate_websocket_handler(make_server):
    from sockjs.tornado import migrate

    class Legacy(migrate.WebsocketHandler):
        def open(self):
            assert self.remote_ip == self.request.remote_ip == "127.0.0.1"
            self.write_message("welcome " + (self.request.get_argument("name") or "?"))

        def on_message(self, message):
            self.write_message(message.upper())

    from conftest import router_app

    srv = make_server(router_app(Legacy, "/legacy"))
    ws = websocket.create_connection(srv.ws_url + "/legacy/000/m1/websocket?name=bo", timeout=5)
    try:
        assert ws.recv() == "o"
        assert ws.recv() == 'a["welcome bo"]'
        ws.send('["shout"]')
        assert ws.recv() == 'a["SHOUT"]'
    finally:
        ws.close()
    x = XhrClient(srv.url + "/legacy", "m2")
    assert x.http.post(x.url + "/xhr?name=al", timeout=5).text == "o\n"
    assert x.recv_messages(1) == ["welcome al"]
    x.send("x")
    assert x.recv_messages(1) == ["X"]


# -- modules kept for importers ---------------------------------------------

NAMES = {
    "sockjs.tornado": ["SockJSRouter", "SockJSConnection"],
    "sockjs.tornado.router": ["SockJSRouter", "DEFAULT_SETTINGS"],
    "sockjs.tornado.conn": ["SockJSConnection"],
    "sockjs.tornado.session": ["ConnectionInfo", "BaseSession", "Session", "CONNECTING", "OPEN", "CLOSING", "CLOSED"],
    "sockjs.tornado.sessioncontainer": ["SessionMixin", "SessionContainer"],
    "sockjs.tornado.periodic": ["Callback"],
    "sockjs.tornado.proto": [
        "json_encode",
        "json_decode",
        "disconnect",
        "CONNECT",
        "DISCONNECT",
        "MESSAGE",
        "HEARTBEAT",
    ],
    "sockjs.tornado.stats": ["StatsCollector", "MovingAverage"],
    "sockjs.tornado.static": ["GreetingsHandler", "InfoHandler", "IFrameHandler"],
    "sockjs.tornado.basehandler": ["BaseHandler", "PreflightHandler"],
    "sockjs.tornado.migrate": ["WebsocketHandler"],
    "sockjs.tornado.util": ["bytes_to_str", "str_to_bytes"],
    "sockjs.tornado.websocket": ["SockJSWebSocketHandler"],
    "sockjs.tornado.transports": [
        "XhrPollingTransport",
        "XhrSendHandler",
        "JSONPTransport",
        "JSONPSendHandler",
        "WebSocketTransport",
        "XhrStreamingTransport",
        "EventSourceTransport",
        "HtmlFileTransport",
        "RawWebSocketTransport",
    ],
    "sockjs.tornado.transports.base": ["BaseTransportMixin"],
    "sockjs.tornado.transports.pollingbase": ["PollingTransportBase"],
    "sockjs.tornado.transports.streamingbase": ["StreamingTransportBase"],
    "sockjs.tornado.transports.xhr": ["XhrPollingTransport", "XhrSendHandler"],
    "sockjs.tornado.transports.xhrstreaming": ["XhrStreamingTransport"],
    "sockjs.tornado.transports.jsonp": ["JSONPTransport", "JSONPSendHandler"],
    "sockjs.tornado.transports.eventsource": ["EventSourceTransport"],
    "sockjs.tornado.transports.htmlfile": ["HtmlFileTransport"],
    "sockjs.tornado.transports.websocket": ["WebSocketTransport"],
    "sockjs.tornado.transports.rawwebsocket": ["RawWebSocketTransport"],
}


@pytest.mark.parametrize("module", sorted(NAMES))
def test_module_kept_for_importers(module):
    mod = importlib.import_module(module)
    for name in NAMES[module]:
        assert hasattr(mod, name), "%s.%s missing" % (module, name)


def test_1x_helpers_behave_as_before():
    from sockjs.tornado import proto, stats, util

    assert proto.json_decode(proto.json_encode({"a": [1, "\u2028"]})) == {"a": [1, "\u2028"]}
    assert proto.disconnect(3000, "Go away!") == 'c[3000,"Go away!"]'
    assert util.bytes_to_str(b"\xc3\xa9") == "\u00e9" and util.str_to_bytes("\u00e9") == b"\xc3\xa9"
    avg = stats.MovingAverage(period=3)
    for n in (3, 6, 9, 12):
        avg.add(n)
        avg.flush()
    assert avg.last_average == 9.0
    dump = stats.StatsCollector().dump()
    assert set(dump) == {
        "sessions_active",
        "connections_active",
        "connections_ps",
        "packets_sent_ps",
        "packets_recv_ps",
    } | {
        "transp_" + t for t in ("websocket", "xhr", "xhr_streaming", "jsonp", "eventsource", "htmlfile", "rawwebsocket")
    }


def test_settings_keys_and_defaults_of_1x():
    from sockjs.tornado.router import DEFAULT_SETTINGS

    expected = {
        "session_check_interval": 1,
        "disconnect_delay": 5,
        "heartbeat_delay": 25,
        "disabled_transports": [],
        "response_limit": 131072,
        "jsessionid": True,
        "immediate_flush": True,
        "disable_nagle": True,
        "verify_ip": True,
        "websocket_allow_origin": "*",
    }
    for key, value in expected.items():
        assert DEFAULT_SETTINGS[key] == value, key
    assert DEFAULT_SETTINGS["sockjs_url"].startswith("http")
    r = SockJSRouter(ChatConnection, "/x", dict(disabled_transports=["websocket"], jsessionid=False))
    assert r.websockets_enabled is False and r.cookie_needed is False
    assert r.get_connection_class() is ChatConnection
    routes = r.apply_routes([])
    assert routes == r.urls and all(spec[0].startswith("/x") for spec in routes)
    # 1.x kept unknown keys (applications keep their own values there).
    assert SockJSRouter(ChatConnection, "/x", {"no_such_key": 1}).settings["no_such_key"] == 1
    with pytest.raises(TypeError, match="heartbeat_delay"):
        SockJSRouter(ChatConnection, "/x", {"heartbeat_delay": "25"})


class HTTPErrorRejecting(SockJSConnection):
    """1.x documented raising tornado's HTTPError in on_open to refuse."""

    def on_open(self, info):
        from tornado.web import HTTPError

        raise HTTPError(403)

    def on_message(self, message):
        pass


def test_http_error_in_on_open_rejects_quietly(make_server):
    # The autouse fixture fails this test if the server logs an ERROR:
    # refusing this way is the application's choice, not an error.
    from conftest import router_app

    srv = make_server(router_app(HTTPErrorRejecting, "/he"))
    ws = WsClient(srv.ws_url + "/he")
    assert ws.recv_close() == [3000, "Go away!"]
    x = XhrClient(srv.url + "/he", "h1")
    x.open()
    assert x.poll() == ("c", [3000, "Go away!"])


def test_1x_signatures_are_kept():
    import inspect

    from sockjs.tornado import conn, migrate, periodic, session, stats

    def params(fn):
        return [(p.name, p.default) for p in inspect.signature(fn).parameters.values() if p.name != "self"]

    empty = inspect.Parameter.empty
    # Calls a 1.x application makes, positionally or by keyword.
    assert params(SockJSRouter.__init__)[:4] == [
        ("connection", empty),
        ("prefix", ""),
        ("user_settings", None),
        ("io_loop", None),
    ]
    assert params(SockJSRouter.create_session)[:2] == [("session_id", empty), ("register", True)]
    assert params(SockJSRouter.get_session) == [("session_id", empty)]
    assert params(SockJSRouter.broadcast) == [("clients", empty), ("msg", empty)]
    assert params(SockJSRouter.apply_routes) == [("routes", empty)]
    assert params(conn.SockJSConnection.__init__) == [("session", empty)]
    assert params(conn.SockJSConnection.on_open) == [("request", empty)]
    assert params(conn.SockJSConnection.on_message) == [("message", empty)]
    assert params(conn.SockJSConnection.on_close) == []
    assert params(conn.SockJSConnection.send) == [("message", empty), ("binary", False)]
    assert params(conn.SockJSConnection.broadcast) == [("clients", empty), ("message", empty)]
    # close() with no argument still works; code and reason are new.
    assert all(p[1] is not empty for p in params(conn.SockJSConnection.close))
    assert params(session.Session.__init__) == [
        ("conn", empty),
        ("server", empty),
        ("session_id", None),
        ("expiry", None),
    ]
    assert params(session.ConnectionInfo.__init__) == [
        ("ip", empty),
        ("cookies", empty),
        ("arguments", empty),
        ("headers", empty),
        ("path", empty),
    ]
    assert params(session.BaseSession.send_message) == [("message", empty), ("stats", True), ("binary", False)]
    assert callable(session.BaseSession.get_close_reason) and callable(session.Session.send_jsonified)
    assert params(stats.StatsCollector.__init__) == [("io_loop", None)]
    assert params(periodic.Callback.__init__) == [("callback", empty), ("callback_time", empty), ("io_loop", None)]
    assert params(migrate.WebsocketHandler.write_message)[0][0] == "msg"


class DelayedCloseConnection(SockJSConnection):
    closed_at_once = None

    def on_message(self, message):
        self.session.delayed_close()
        DelayedCloseConnection.closed_at_once = self.is_closed
        self.send("not sent: the session is closing")


def test_delayed_close_closes_on_the_next_turn(make_server):
    from conftest import router_app

    srv = make_server(router_app(DelayedCloseConnection, "/dc"))
    ws = websocket.create_connection(srv.ws_url + "/dc/000/d1/websocket", timeout=5)
    try:
        assert ws.recv() == "o"
        ws.send('["bye"]')
        assert ws.recv() == 'c[3000,"Go away!"]'
    finally:
        ws.close()
    assert DelayedCloseConnection.closed_at_once is True
    router = srv.app.sockjs_router
    wait_for(lambda: srv.call(lambda: router.stats.dump()["sessions_active"]) == 0)
