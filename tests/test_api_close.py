"""Rejection and close.

``on_open`` returning ``False``, raising, or calling ``close(code)`` ends the
session with a close frame on every transport; ``close(code, reason)``
accepts 3000-4999 only; ``on_close`` reads ``close_reason`` =
``(code, reason, initiator)`` for each way a session can end.
"""

import asyncio
import socket

import pytest
import websocket
from api_clients import WsClient, XhrClient, http_receive, raw_ws_close, streaming_frames, wait_for
from conftest import router_app

from sockjs.tornado import SockJSConnection

MODES = {
    "false": [3000, "Go away!"],
    "raise": [3000, "Go away!"],
    "close": [4001, "Nope"],
    "async_false": [3000, "Go away!"],
    "async_raise": [3000, "Go away!"],
    "async_close": [4001, "Nope"],
}


class Rejecting(SockJSConnection):
    """Rejects in the way ``?mode=`` names."""

    def on_open(self, info):
        mode = info.get_argument("mode")
        if mode.startswith("async_"):
            return self._async_open(mode[len("async_") :])
        return self._decide(mode)

    async def _async_open(self, mode):
        await asyncio.sleep(0.05)
        return self._decide(mode)

    def _decide(self, mode):
        if mode == "false":
            return False
        if mode == "raise":
            raise RuntimeError("refused by on_open")
        if mode == "close":
            self.close(4001, "Nope")
        return None

    def on_message(self, message):
        raise AssertionError("a rejected session got a message")


TRANSPORTS = ["websocket", "xhr", "xhr_streaming", "eventsource", "htmlfile", "jsonp", "rawwebsocket"]


@pytest.fixture(scope="module")
def reject_server():
    from conftest import ServerThread

    srv = ServerThread(router_app(Rejecting, "/rej"))
    yield srv
    srv.stop()


@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_rejection_ends_session_with_close_frame(reject_server, server_errors, transport, mode):
    expected = MODES[mode]
    base = reject_server.url + "/rej"
    sid = "r-%s-%s" % (transport, mode)
    if transport == "websocket":
        ws = websocket.create_connection(
            "%s/rej/000/%s/websocket?mode=%s" % (reject_server.ws_url, sid, mode), timeout=5
        )
        assert ws.recv() == "o"
        assert ws.recv() == "c%s" % _json(expected)
        assert raw_ws_close(ws)[0] == 1000
        ws.close()
    elif transport == "rawwebsocket":
        ws = websocket.create_connection("%s/rej/websocket?mode=%s" % (reject_server.ws_url, mode), timeout=5)
        assert list(raw_ws_close(ws)) == expected
        ws.close()
    elif transport in ("xhr", "jsonp"):
        params = {"mode": mode}
        first = http_receive(base, sid, transport, params=params)
        assert streaming_frames(transport, first.text) == ["o"]
        second = http_receive(base, sid, transport, params=params)
        assert streaming_frames(transport, second.text) == ["c" + _json(expected)]
    else:
        r = http_receive(base, sid, transport, params={"mode": mode})
        assert r.status_code == 200
        assert streaming_frames(transport, r.text) == ["o", "c" + _json(expected)]
    # Raising is an application error: logged at ERROR with its traceback.
    if mode.endswith("raise"):
        wait_for(lambda: len(server_errors.records) == 1)
        assert "on_open" in server_errors.records[0].getMessage()
        assert server_errors.records[0].exc_info is not None
    else:
        assert server_errors.records == []


def _json(value):
    import json

    return json.dumps(value, separators=(",", ":"))


# -- close(code, reason) and close_reason ------------------------------------


class Closer(SockJSConnection):
    """Messages drive the test: ``close:<code>:<reason>``, ``bad:<code>``,
    ``boom``. ``on_close`` records ``close_reason`` by tag (``?tag=``)."""

    reasons = {}
    instances = {}

    def on_open(self, info):
        self.tag = info.get_argument("tag")
        self.instances[self.tag] = self

    def on_message(self, message):
        if message.startswith("close:"):
            _, code, reason = message.split(":", 2)
            self.close(int(code), reason)
        elif message.startswith("bad:"):
            code = message[len("bad:") :]
            try:
                self.close(int(code) if code.lstrip("-").isdigit() else code)
            except ValueError as e:
                self.send("ValueError: %s" % e)
            else:
                self.send("accepted")
        elif message == "boom":
            raise RuntimeError("boom")
        else:
            self.send(message)

    def on_close(self):
        assert self.is_closed
        self.reasons[self.tag] = tuple(self.close_reason)


@pytest.fixture
def closer(make_server):
    Closer.reasons = {}
    Closer.instances = {}
    return make_server(router_app(Closer, "/cl", {"disconnect_delay": 0.3, "session_check_interval": 0.1}))


def _reason(srv, tag):
    wait_for(lambda: srv.call(lambda: tag in Closer.reasons))
    return srv.call(lambda: Closer.reasons[tag])


@pytest.mark.parametrize("code", ["2999", "5000", "1000", "-1", "x"])
def test_close_refuses_codes_outside_3000_4999(closer, code):
    ws = websocket.create_connection(closer.ws_url + "/cl/000/v/websocket?tag=v", timeout=5)
    assert ws.recv() == "o"
    ws.send('["bad:%s"]' % code)
    answer = ws.recv()
    assert answer.startswith('a["ValueError: ') and "3000-4999" in answer
    # The session is unharmed.
    ws.send('["still here"]')
    assert ws.recv() == 'a["still here"]'
    ws.close()


def test_close_threadsafe_refuses_bad_codes(closer):
    ws = websocket.create_connection(closer.ws_url + "/cl/000/v/websocket?tag=t", timeout=5)
    assert ws.recv() == "o"
    conn = closer.call(lambda: Closer.instances["t"])
    with pytest.raises(ValueError):
        conn.close_threadsafe(2000)
    with pytest.raises(ValueError):
        conn.close_threadsafe(5000)
    ws.close()


@pytest.mark.parametrize("code,reason", [(3000, "Go away!"), (4999, "Custom reason, ünïcode")])
def test_application_close_over_websocket_xhr_and_raw(closer, code, reason):
    msg = '["close:%d:%s"]' % (code, reason)
    ws = WsClient(closer.ws_url + "/cl", "a1", query="tag=ws")
    ws.ws.send(msg)
    assert ws.recv_close() == [code, reason]
    assert _reason(closer, "ws") == (code, reason, "application")

    x = XhrClient(closer.url + "/cl", "a2")
    assert x.http.post(x.url + "/xhr?tag=xhr", timeout=5).text == "o\n"
    r = x.http.post(x.url + "/xhr_send", data=msg.encode("utf-8"), timeout=5)
    assert r.status_code == 204
    assert x.poll() == ("c", [code, reason])
    assert _reason(closer, "xhr") == (code, reason, "application")

    raw = websocket.create_connection(closer.ws_url + "/cl/websocket?tag=raw", timeout=5)
    raw.send("close:%d:%s" % (code, reason))
    # The raw websocket carries the code and reason in its close frame.
    assert raw_ws_close(raw) == (code, reason)
    raw.close()
    assert _reason(closer, "raw") == (code, reason, "application")


def test_close_reason_client(closer):
    ws = WsClient(closer.ws_url + "/cl", "c1", query="tag=ws")
    ws.close()
    assert _reason(closer, "ws") == (1000, "Normal closure", "client")

    ws = WsClient(closer.ws_url + "/cl", "c2", query="tag=ws2")
    ws.ws.close(status=4005, reason=b"client leaves")
    assert _reason(closer, "ws2") == (4005, "client leaves", "client")

    raw = websocket.create_connection(closer.ws_url + "/cl/websocket?tag=raw", timeout=5)
    raw.close(status=4006, reason=b"raw leaves")
    assert _reason(closer, "raw") == (4006, "raw leaves", "client")

    # A streaming receiver the client drops mid-stream: 1002.
    sock = socket.create_connection(("127.0.0.1", closer.port), timeout=5)
    sock.sendall(b"POST /cl/000/c3/xhr_streaming?tag=stream HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n")
    got = b""
    while b"o\n" not in got:
        got += sock.recv(65536)
    sock.close()
    assert _reason(closer, "stream") == (1002, "Connection interrupted", "client")


def test_close_reason_timeout(closer):
    x = XhrClient(closer.url + "/cl", "t1")
    assert x.http.post(x.url + "/xhr?tag=poll", timeout=5).text == "o\n"
    # No receiver for longer than disconnect_delay (0.3 s): the session expires.
    assert _reason(closer, "poll") == (3000, "Go away!", "timeout")
    assert closer.call(lambda: closer.app.sockjs_router.get_session("t1")) is None


def test_close_reason_error(closer, server_errors):
    ws = WsClient(closer.ws_url + "/cl", "e1", query="tag=err")
    ws.send("boom")
    assert ws.recv_close() == [1011, "Internal error"]
    assert _reason(closer, "err") == (1011, "Internal error", "error")
    assert len(server_errors.records) == 1


def test_close_reason_server(closer):
    ws = WsClient(closer.ws_url + "/cl", "s1", query="tag=srv")
    closer.run(closer.app.sockjs_router.shutdown())
    assert ws.recv_close() == [1001, "Server shutting down"]
    assert _reason(closer, "srv") == (1001, "Server shutting down", "server")


def test_close_reason_is_none_while_open(closer):
    ws = WsClient(closer.ws_url + "/cl", "n1", query="tag=open")
    assert closer.call(lambda: Closer.instances["open"].close_reason) is None
    assert closer.call(lambda: Closer.instances["open"].is_closed) is False
    ws.close()


def test_close_reason_timeout_for_a_silent_websocket_peer(make_server):
    Closer.reasons = {}
    Closer.instances = {}
    srv = make_server(
        router_app(Closer, "/cl", {"heartbeat_delay": 0.2, "ping_timeout": 0.3, "session_check_interval": 0.1})
    )
    # websocket-client answers pings only while reading: this peer never
    # reads, so it never answers.
    ws = websocket.create_connection(srv.ws_url + "/cl/000/p1/websocket?tag=ping", timeout=5)
    assert _reason(srv, "ping") == (1001, "Ping timeout", "timeout")
    ws.close()
