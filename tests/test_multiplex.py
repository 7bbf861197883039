"""Multiplexing (sockjs.tornado.multiplex) with real clients: the
websocket-multiplex wire format over the SockJS websocket and xhr
transports."""

import asyncio
import json
from typing import Any, List

import pytest
import requests
import websocket
from conftest import router_app
from waiting import poll

from sockjs.tornado import SockJSConnection
from sockjs.tornado.multiplex import MultiplexConnection

EVENTS: List[Any] = []


class Ann(SockJSConnection):
    def on_open(self, info: Any) -> None:
        EVENTS.append(("ann-open", info.ip))
        self.send("hello from ann")

    def on_message(self, message: str) -> None:
        if message == "bye":
            self.close()
            return
        self.send("ann: " + message)

    def on_close(self) -> None:
        EVENTS.append(("ann-close", self.close_reason.initiator if self.close_reason else None))


class Bob(SockJSConnection):
    async def on_message(self, message: str) -> None:
        await asyncio.sleep(0.01)
        self.send("bob: " + message)

    def on_close(self) -> None:
        EVENTS.append(("bob-close", self.close_reason.initiator if self.close_reason else None))


class Carl(SockJSConnection):
    def on_open(self, info: Any) -> bool:
        return False

    def on_message(self, message: str) -> None:
        raise AssertionError("never called")


class Shout(SockJSConnection):
    members: List["Shout"] = []

    def on_open(self, info: Any) -> None:
        self.members.append(self)

    def on_message(self, message: str) -> None:
        self.broadcast(self.members, message.upper())

    def on_close(self) -> None:
        self.members.remove(self)


class Broken(SockJSConnection):
    def on_message(self, message: str) -> None:
        raise RuntimeError("boom")


Mux = MultiplexConnection.get(ann=Ann, bob=Bob, carl=Carl, shout=Shout, broken=Broken)


@pytest.fixture
def mux(make_server: Any) -> Any:
    EVENTS.clear()
    return make_server(router_app(Mux, "/mux", {"heartbeat_delay": 5}))


class WS:
    """A SockJS websocket client speaking the multiplex format."""

    def __init__(self, srv: Any, sid: str = "m1") -> None:
        self.ws = websocket.create_connection(srv.ws_url + "/mux/000/%s/websocket" % sid, timeout=5)
        assert self.ws.recv() == "o"
        self.pending: List[str] = []

    def send(self, *messages: str) -> None:
        self.ws.send(json.dumps(list(messages)))

    def recv(self) -> str:
        while not self.pending:
            frame = self.ws.recv()
            if frame == "h":
                continue
            assert frame.startswith("a"), frame
            self.pending.extend(json.loads(frame[1:]))
        return self.pending.pop(0)

    def close(self) -> None:
        self.ws.close()


def wait_for(pred: Any, timeout: float = 3.0) -> None:
    if not poll(pred, timeout):
        raise AssertionError("condition not met; events: %r" % (EVENTS,))


def test_channels_open_talk_and_close_independently(mux: Any) -> None:
    c = WS(mux)
    try:
        c.send("sub,ann")
        assert c.recv() == "msg,ann,hello from ann"
        assert ("ann-open", "127.0.0.1") in EVENTS
        c.send("sub,bob", "msg,ann,x,y,z", "msg,bob,1", "msg,bob,2")
        got = [c.recv() for _ in range(3)]
        # Per-channel order holds; the async channel does not block ann.
        assert got[0] == "msg,ann,ann: x,y,z"
        assert got[1:] == ["msg,bob,bob: 1", "msg,bob,bob: 2"]
        # The client unsubscribes bob: no uns echoed, on_close once.
        c.send("uns,bob", "msg,bob,ignored", "msg,ann,still here")
        assert c.recv() == "msg,ann,ann: still here"
        wait_for(lambda: ("bob-close", "client") in EVENTS)
        # The application closes ann: the client hears uns.
        c.send("msg,ann,bye")
        assert c.recv() == "uns,ann"
        wait_for(lambda: ("ann-close", "application") in EVENTS)
        # Resubscribing works: a fresh channel connection.
        c.send("sub,ann")
        assert c.recv() == "msg,ann,hello from ann"
    finally:
        c.close()
    wait_for(lambda: EVENTS.count(("ann-close", "client")) == 1)
    assert [e for e in EVENTS if e[0] == "bob-close"] == [("bob-close", "client")]


def test_unknown_and_rejecting_channels_answer_uns(mux: Any) -> None:
    c = WS(mux)
    try:
        c.send("sub,nobody", "sub,carl", "nonsense", "zzz,ann,x", "sub,ann")
        assert c.recv() == "uns,nobody"
        assert c.recv() == "uns,carl"
        assert c.recv() == "msg,ann,hello from ann"
    finally:
        c.close()


def test_broadcast_within_a_channel_reaches_every_subscriber(mux: Any) -> None:
    a, b = WS(mux, "a"), WS(mux, "b")
    try:
        a.send("sub,shout")
        b.send("sub,shout", "sub,ann")
        assert b.recv() == "msg,ann,hello from ann"
        wait_for(lambda: len(Shout.members) == 2)
        a.send("msg,shout,hey")
        assert a.recv() == "msg,shout,HEY"
        assert b.recv() == "msg,shout,HEY"
        router = mux.app.sockjs_router
        assert mux.call(lambda: router.stats.broadcast_deliveries) == 2
        # Channels are not sessions: two SockJS sessions, whatever the channels.
        assert mux.call(lambda: router.stats.sess_active) == 2
    finally:
        a.close()
        b.close()
    wait_for(lambda: not Shout.members)


def test_channel_handler_error_closes_the_channel_only(mux: Any, server_errors: Any) -> None:
    c = WS(mux)
    try:
        c.send("sub,broken", "sub,ann", "msg,broken,x")
        assert c.recv() == "msg,ann,hello from ann"
        assert c.recv() == "uns,broken"
        c.send("msg,ann,alive")
        assert c.recv() == "msg,ann,ann: alive"
        assert any("on_message of Broken raised" in r.getMessage() for r in server_errors.records)
        router = mux.app.sockjs_router
        assert mux.call(lambda: router.stats.errors) == 1
    finally:
        c.close()


def test_multiplex_over_xhr_polling(mux: Any) -> None:
    base = mux.url + "/mux/000/xhr1"
    assert requests.post(base + "/xhr", timeout=5).text == "o\n"
    r = requests.post(base + "/xhr_send", data=json.dumps(["sub,ann", "msg,ann,hi"]), timeout=5)
    assert r.status_code == 204
    assert requests.post(base + "/xhr", timeout=5).text == 'a["msg,ann,hello from ann","msg,ann,ann: hi"]\n'


def test_get_validates_topics() -> None:
    with pytest.raises(ValueError):
        MultiplexConnection.get(**{"a,b": Ann})
    with pytest.raises(TypeError):
        MultiplexConnection.get(ann=object)  # type: ignore[arg-type]
    kls = MultiplexConnection.get(ann=Ann)
    assert issubclass(kls, MultiplexConnection) and kls.channel_classes == {"ann": Ann}
    assert MultiplexConnection.channel_classes == {}
