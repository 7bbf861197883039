"""async handlers: awaited, one at a time per session in
arrival order, bounded, and a failing handler closes its session with a
close frame and an ERROR with traceback."""

import asyncio
import random
import threading
import time

import pytest
import requests
from api_clients import WsClient, XhrClient, wait_for
from conftest import router_app

from sockjs.tornado import SockJSConnection


class SlowEcho(SockJSConnection):
    """Echoes; every other message is handled by a coroutine that sleeps a
    random few milliseconds, so sync and async handling interleave."""

    handled = []
    instances = []

    def on_open(self, info):
        self.instances.append(self)

    def on_message(self, message):
        n = int(message.split(":")[-1])
        if n % 2:
            return self._slow(message)
        self.handled.append(message)
        self.send(message)

    async def _slow(self, message):
        await asyncio.sleep(random.random() * 0.005)
        self.handled.append(message)
        self.send(message)


@pytest.fixture
def slow_echo(make_server):
    SlowEcho.handled = []
    SlowEcho.instances = []
    return make_server(router_app(SlowEcho, "/slow"))


def test_slow_async_handler_never_lets_messages_overtake_over_websocket(slow_echo):
    ws = WsClient(slow_echo.ws_url + "/slow")
    sent = ["m:%d" % i for i in range(120)]
    # Several messages per websocket frame and many frames back to back.
    for i in range(0, len(sent), 3):
        ws.send(*sent[i : i + 3])
    assert ws.recv_messages(len(sent)) == sent
    assert SlowEcho.handled == sent
    ws.close()


def test_slow_async_handler_never_lets_messages_overtake_over_xhr_send(slow_echo):
    x = XhrClient(slow_echo.url + "/slow", "x1")
    x.open()
    sent = ["m:%d" % i for i in range(40)]
    for i in range(0, len(sent), 4):
        x.send(*sent[i : i + 4])
        # xhr_send answers only once every message of its request was
        # handled, so a client's next request can never overtake.
        assert slow_echo.call(lambda: list(SlowEcho.handled)) == sent[: i + 4]
    assert x.recv_messages(len(sent)) == sent


class Gated(SockJSConnection):
    """Every message waits for a gate the test opens."""

    gate = None
    handled = []
    instances = []

    def on_open(self, info):
        self.instances.append(self)

    async def on_message(self, message):
        if Gated.gate is None:
            Gated.gate = asyncio.Event()
        await Gated.gate.wait()
        self.handled.append(message)
        self.send(message)


@pytest.fixture
def gated(make_server):
    Gated.gate = None
    Gated.handled = []
    Gated.instances = []
    return make_server(router_app(Gated, "/gated", {"max_inbox_messages": 5}))


def _inbox(srv):
    return srv.call(lambda: Gated.instances[0].session.inbox_size)


def test_websocket_inbox_bound_pauses_reading_and_resumes(gated):
    ws = WsClient(gated.ws_url + "/gated")
    first = ["a%d" % i for i in range(20)]
    ws.send(*first)
    # One handler runs, the other 19 wait: more than max_inbox_messages,
    # so the server stops reading this websocket.
    wait_for(lambda: _inbox(gated) == 19)
    second = ["b%d" % i for i in range(20)]
    for m in second:
        ws.send(m)
    time.sleep(0.3)
    assert _inbox(gated) == 19, "reading should be paused past max_inbox_messages"
    assert gated.call(lambda: list(Gated.handled)) == []
    gated.call(lambda: Gated.gate.set())
    # Drained, reading resumes: everything arrives, in order, none lost.
    assert ws.recv_messages(40) == first + second
    assert gated.call(lambda: list(Gated.handled)) == first + second
    ws.close()


def test_xhr_send_waits_for_the_running_handler(gated):
    x = XhrClient(gated.url + "/gated", "g1")
    x.open()
    results = {}

    def post(name, *messages):
        t0 = time.monotonic()
        x.send(*messages)
        results[name] = time.monotonic() - t0

    ta = threading.Thread(target=post, args=("a", "one"))
    ta.start()
    wait_for(lambda: gated.call(lambda: bool(Gated.instances) and Gated.instances[0].session.busy))
    tb = threading.Thread(target=post, args=("b", "two", "three"))
    tb.start()
    wait_for(lambda: _inbox(gated) == 2)
    time.sleep(0.2)
    # Neither request was answered while its messages wait.
    assert results == {}
    gated.call(lambda: Gated.gate.set())
    ta.join(5)
    tb.join(5)
    assert set(results) == {"a", "b"}
    assert gated.call(lambda: list(Gated.handled)) == ["one", "two", "three"]
    assert x.recv_messages(3) == ["one", "two", "three"]


class AsyncOpen(SockJSConnection):
    async def on_open(self, info):
        await asyncio.sleep(0.1)
        self.ready = True
        self.send("opened")

    async def on_message(self, message):
        self.send("%s:%s" % (getattr(self, "ready", False), message))

    closed = []

    async def on_close(self):
        await asyncio.sleep(0.01)
        AsyncOpen.closed.append(self.close_reason)


def test_async_on_open_runs_before_any_message(make_server):
    AsyncOpen.closed = []
    srv = make_server(router_app(AsyncOpen, "/ao"))
    ws = WsClient(srv.ws_url + "/ao")
    ws.send("early", "second")
    assert ws.recv_messages(3) == ["opened", "True:early", "True:second"]
    ws.close()
    x = XhrClient(srv.url + "/ao", "ao1")
    x.open()
    x.send("early")
    assert x.recv_messages(2) == ["opened", "True:early"]
    # async on_close is awaited too.
    wait_for(lambda: srv.call(lambda: len(AsyncOpen.closed)) == 1)
    assert srv.call(lambda: AsyncOpen.closed[0][2]) == "client"


class Failing(SockJSConnection):
    closed = []

    def on_message(self, message):
        if message == "boom":
            raise RuntimeError("sync handler failed")
        if message == "aboom":
            return self._fail()
        self.send(message)

    async def _fail(self):
        await asyncio.sleep(0.01)
        raise RuntimeError("async handler failed")

    def on_close(self):
        Failing.closed.append(tuple(self.close_reason))


@pytest.mark.parametrize("trigger", ["boom", "aboom"])
def test_handler_exception_logs_traceback_and_closes_websocket(make_server, server_errors, trigger):
    Failing.closed = []
    srv = make_server(router_app(Failing, "/fail"))
    ws = WsClient(srv.ws_url + "/fail")
    ws.send("ok", trigger, "after")
    assert ws.recv_messages(1) == ["ok"]
    assert ws.recv_close() == [1011, "Internal error"]
    wait_for(lambda: srv.call(lambda: len(Failing.closed)) == 1)
    assert Failing.closed == [(1011, "Internal error", "error")]
    records = [r for r in server_errors.records if "on_message" in r.getMessage()]
    assert len(records) == 1
    assert records[0].exc_info is not None
    assert "handler failed" in str(records[0].exc_info[1])
    ws.close()


@pytest.mark.parametrize("trigger", ["boom", "aboom"])
def test_handler_exception_closes_polling_session(make_server, server_errors, trigger):
    Failing.closed = []
    srv = make_server(router_app(Failing, "/fail"))
    x = XhrClient(srv.url + "/fail", "f1")
    x.open()
    # The send is answered (the request itself was fine), never left hanging.
    x.send("ok", trigger)
    assert x.poll() == ("a", ["ok"])
    assert x.poll() == ("c", [1011, "Internal error"])
    assert x.poll() == ("c", [1011, "Internal error"])
    assert Failing.closed == [(1011, "Internal error", "error")]
    assert len(server_errors.records) == 1 and server_errors.records[0].exc_info is not None


class FailingClose(SockJSConnection):
    def on_message(self, message):
        self.close()

    async def on_close(self):
        raise RuntimeError("on_close failed")


def test_on_close_exception_is_logged(make_server, server_errors):
    srv = make_server(router_app(FailingClose, "/fc"))
    ws = WsClient(srv.ws_url + "/fc")
    ws.send("x")
    assert ws.recv_close() == [3000, "Go away!"]
    wait_for(lambda: len(server_errors.records) == 1)
    rec = server_errors.records[0]
    assert "on_close" in rec.getMessage() and rec.exc_info is not None
    # The server still serves.
    assert requests.get(srv.url + "/fc", timeout=5).status_code == 200


def test_raw_websocket_inbox_bound_pauses_reading_and_resumes(gated):
    import websocket

    raw = websocket.create_connection(gated.ws_url + "/gated/websocket", timeout=5)
    for i in range(10):
        raw.send("a%d" % i)
    # The raw endpoint hands over one message per websocket message; more
    # than max_inbox_messages (5) wait: reading pauses.
    wait_for(lambda: _inbox(gated) >= 6)
    waiting = _inbox(gated)
    for i in range(10):
        raw.send("b%d" % i)
    time.sleep(0.3)
    assert _inbox(gated) == waiting, "reading should be paused past max_inbox_messages"
    gated.call(lambda: Gated.gate.set())
    expected = ["a%d" % i for i in range(10)] + ["b%d" % i for i in range(10)]
    assert [raw.recv() for _ in expected] == expected
    raw.close()


def test_handler_exception_closes_raw_websocket_with_1011(make_server, server_errors):
    import websocket
    from api_clients import raw_ws_close

    Failing.closed = []
    srv = make_server(router_app(Failing, "/fail"))
    raw = websocket.create_connection(srv.ws_url + "/fail/websocket", timeout=5)
    raw.send("ok")
    assert raw.recv() == "ok"
    raw.send("aboom")
    assert raw_ws_close(raw) == (1011, "Internal error")
    wait_for(lambda: srv.call(lambda: len(Failing.closed)) == 1)
    assert Failing.closed == [(1011, "Internal error", "error")]
    assert len(server_errors.records) == 1 and server_errors.records[0].exc_info is not None
    raw.close()
