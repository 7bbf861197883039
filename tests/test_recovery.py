"""Connection state recovery, channel history and presence, in one test
process, on the wire (Python clients speaking SockJS over websocket).

The browser client is tested in real Chromium in
``test_recovery_browser.py``; process death behind haproxy in
``test_recovery_cluster.py``.
"""

import json
import uuid
from typing import Any, Dict, List, Optional, Tuple

import pytest
import websocket
from cluster_clients import wait_for
from conftest import ServerThread, router_app

from sockjs.tornado import SockJSConnection, SockJSRouter

pytestmark = pytest.mark.timeout(60)


class RecConn(SockJSConnection):
    """Echoes; ``sub:<ch>`` subscribes; records its life in ``log``."""

    log: List[Tuple[str, Any]] = []

    def on_open(self, info: Any) -> None:
        RecConn.log.append(("open", self))
        self.presence_info = {"ip": info.ip}

    def on_resume(self) -> None:
        RecConn.log.append(("resume", self))

    def on_message(self, message: str) -> None:
        if message.startswith("sub:"):
            self.subscribe(message[4:])
            self.send("subscribed:" + message[4:])
        else:
            self.send("echo:" + message)

    def on_close(self) -> None:
        RecConn.log.append(("close", self))


SETTINGS = {"recovery": True, "recovery_window": 5, "history_size": 100, "presence": True, "heartbeat_delay": 1}


def router_of(srv: ServerThread) -> SockJSRouter:
    return srv.app.sockjs_router  # type: ignore[no-any-return,union-attr]


class WS:
    """A SockJS websocket client that counts like the shipped client."""

    def __init__(self, srv: ServerThread, query: str = "_r=") -> None:
        url = "%s/rec/000/%s/websocket?%s" % (srv.ws_url, uuid.uuid4().hex[:8], query)
        self.ws = websocket.create_connection(url, timeout=5)
        assert self.ws.recv() == "o"
        self.welcome: Optional[Dict[str, Any]] = None

    def recv(self) -> List[Any]:
        while True:
            frame = self.ws.recv()
            if frame == "h":
                continue
            assert frame[0] == "a", frame
            return json.loads(frame[1:])  # type: ignore[no-any-return]

    def messages(self, n: int) -> List[Any]:
        out: List[Any] = []
        while len(out) < n:
            for m in self.recv():
                if isinstance(m, dict) and m.get("$sockjs") in ("welcome", "reply"):
                    if m["$sockjs"] == "welcome":
                        self.welcome = m
                    continue
                out.append(m)
        return out

    def send(self, *messages: str) -> None:
        self.ws.send(json.dumps(list(messages)))


def test_plain_clients_are_served_as_without_recovery(make_server: Any) -> None:
    srv = make_server(router_app(RecConn, "/rec", SETTINGS))
    ws = websocket.create_connection(srv.ws_url + "/rec/000/plain/websocket", timeout=5)
    try:
        assert ws.recv() == "o"
        ws.send('["sub:news"]')
        assert ws.recv() == 'a["subscribed:news"]'
        srv.call(router_of(srv).publish, "news", "n1")
        assert ws.recv() == 'a["n1"]'
    finally:
        ws.close()
    wait_for(lambda: RecConn.log and RecConn.log[-1][0] == "close", what="plain session closed")


def test_resume_replays_what_was_sent_while_away(make_server: Any) -> None:
    RecConn.log.clear()
    srv = make_server(router_app(RecConn, "/rec", SETTINGS))
    router = router_of(srv)
    a = WS(srv)
    a.send("sub:news", "x")
    assert a.messages(2) == ["subscribed:news", "echo:x"]
    assert a.welcome is not None and a.welcome["r"] is None
    token = a.welcome["t"]
    conn = RecConn.log[0][1]
    # The client vanishes without a close frame.
    a.ws.sock.close()
    wait_for(lambda: srv.call(lambda: conn.session.recovery.suspended), what="suspended")

    def send_all() -> None:
        for i in range(50):
            conn.send("direct-%d" % i)
            router.publish("news", "pub-%d" % i)

    srv.call(send_all)
    assert [e for e, _ in RecConn.log] == ["open"]

    b = WS(srv, "_r=%s&_p=2" % token)
    got = b.messages(100)
    assert b.welcome is not None and b.welcome["r"] == "resumed" and b.welcome["t"] == token
    expected = []
    for i in range(50):
        expected.append("direct-%d" % i)
        expected.append({"$sockjs": "pub", "c": "news", "d": "pub-%d" % i, "e": got[1]["e"], "o": i + 1})
    assert got == expected
    # Same connection object, on_resume instead of a second on_open.
    assert [e for e, _ in RecConn.log] == ["open", "resume"] and RecConn.log[1][1] is conn
    assert conn.recovered is None or conn.recovered == "resumed"
    # It goes on: new messages after the replayed ones, channels kept.
    srv.call(router.publish, "news", "after")
    b.send("y")
    rest = b.messages(2)
    assert rest[0]["d"] == "after" and rest[1] == "echo:y"
    assert srv.call(lambda: router.channels.subscribers("news")) == 1
    b.ws.close()


def test_position_beyond_what_was_sent_fails_recovery(make_server: Any) -> None:
    RecConn.log.clear()
    srv = make_server(router_app(RecConn, "/rec", SETTINGS))
    a = WS(srv)
    a.send("x")
    a.messages(1)
    assert a.welcome is not None
    token = a.welcome["t"]
    a.ws.sock.close()
    conn = RecConn.log[0][1]
    wait_for(lambda: srv.call(lambda: conn.session.recovery is not None and conn.session.recovery.suspended))
    b = WS(srv, "_r=%s&_p=7" % token)
    b.send("z")
    assert b.messages(1) == ["echo:z"]
    assert b.welcome is not None and b.welcome["r"] is None and b.welcome["f"] == "position"
    assert [e for e, _ in RecConn.log] == ["open", "close", "open"]
    assert RecConn.log[2][1].recovery_failed == "position"
    assert RecConn.log[1][1].close_reason.code == 1013
    b.ws.close()


def test_past_the_window_both_sides_are_told(make_server: Any) -> None:
    RecConn.log.clear()
    srv = make_server(router_app(RecConn, "/rec", dict(SETTINGS, recovery_window=0.5, session_check_interval=0.1)))
    a = WS(srv)
    a.send("x")
    a.messages(1)
    assert a.welcome is not None
    token = a.welcome["t"]
    a.ws.sock.close()
    wait_for(lambda: [e for e, _ in RecConn.log] == ["open", "close"], what="on_close after the window")
    old = RecConn.log[0][1]
    assert old.close_reason.initiator == "timeout"
    b = WS(srv, "_r=%s&_p=1" % token)
    b.send("z")
    assert b.messages(1) == ["echo:z"]
    assert b.welcome is not None and b.welcome["f"] == "expired" and b.welcome["t"] != token
    assert RecConn.log[2][1].recovery_failed == "expired"
    b.ws.close()


def test_overflow_while_away_closes_at_once(make_server: Any) -> None:
    RecConn.log.clear()
    srv = make_server(router_app(RecConn, "/rec", dict(SETTINGS, recovery_buffer=10)))
    a = WS(srv)
    a.send("x")
    a.messages(1)
    assert a.welcome is not None
    token = a.welcome["t"]
    a.ws.sock.close()
    conn = RecConn.log[0][1]
    wait_for(lambda: srv.call(lambda: conn.session.recovery is not None and conn.session.recovery.suspended))
    srv.call(lambda: [conn.send(str(i)) for i in range(11)])
    wait_for(lambda: [e for e, _ in RecConn.log] == ["open", "close"], what="closed on overflow")
    assert conn.close_reason.code == 1013
    b = WS(srv, "_r=%s&_p=1" % token)
    b.send("z")
    assert b.messages(1) == ["echo:z"] and b.welcome is not None and b.welcome["f"] == "overflow"
    b.ws.close()


def test_a_client_that_says_bye_is_forgotten_at_once(make_server: Any) -> None:
    RecConn.log.clear()
    srv = make_server(router_app(RecConn, "/rec", SETTINGS))
    a = WS(srv)
    a.send('{"$sockjs":"bye"}')
    a.ws.close()
    wait_for(lambda: [e for e, _ in RecConn.log] == ["open", "close"], what="closed at once")


def test_memory_history_offsets_epochs_and_bounds(make_server: Any) -> None:
    srv = make_server(router_app(RecConn, "/rec", dict(SETTINGS, history_size=5, history_ttl=60)))
    router = router_of(srv)
    with pytest.raises(RuntimeError):
        SockJSRouter(RecConn, "/x").channels and srv.run(SockJSRouter(RecConn, "/x").history("a"))
    for i in range(8):
        srv.call(router.publish, "news", {"n": i})
    page = srv.run(router.history("news"))
    assert page.offset == 8 and page.complete
    assert [(p.offset, p.data) for p in page.publications] == [(k, {"n": k - 1}) for k in range(4, 9)]
    assert [p.offset for p in srv.run(router.history("news", limit=2)).publications] == [7, 8]
    after = srv.run(router.history("news", since=(page.epoch, 5)))
    assert [p.offset for p in after.publications] == [6, 7, 8] and after.complete
    assert not srv.run(router.history("news", since=(page.epoch, 1))).complete  # 2 and 3 trimmed
    assert not srv.run(router.history("news", since=("other", 7))).complete
    assert srv.run(router.history("news", since=(page.epoch, 8))).publications == []
    empty = srv.run(router.history("quiet"))
    assert empty.offset == 0 and empty.publications == [] and empty.complete


def test_settings_are_checked() -> None:
    for bad, exc in [
        ({"history_size": -1}, ValueError),
        ({"history_ttl": 0}, ValueError),
        ({"recovery": "yes"}, TypeError),
        ({"recovery_window": 0}, ValueError),
        ({"recovery_buffer": 0}, ValueError),
        ({"presence_ttl": "x"}, TypeError),
    ]:
        with pytest.raises(exc) as e:
            SockJSRouter(RecConn, "/x", bad)
        assert next(iter(bad)) in str(e.value)


def test_client_controls_subscribe_presence_history(make_server: Any) -> None:
    RecConn.log.clear()
    srv = make_server(router_app(RecConn, "/rec", SETTINGS))
    router = router_of(srv)
    a = WS(srv)
    a.send('{"$sockjs":"sub","c":"room","id":1}')
    reply = a.recv()
    while not (isinstance(reply[-1], dict) and reply[-1].get("$sockjs") == "reply"):
        reply = a.recv()
    assert reply[-1] == {"$sockjs": "reply", "id": 1, "ok": True}
    srv.call(router.publish, "room", "r1")
    assert a.messages(1)[0]["d"] == "r1"
    a.send('{"$sockjs":"presence","c":"room","id":2}')
    r = [m for m in a.recv() if isinstance(m, dict)][-1]
    assert r["id"] == 2 and list(r["result"].values()) == [{"ip": "127.0.0.1"}]
    a.send('{"$sockjs":"history","c":"room","id":3}')
    r = [m for m in a.recv() if isinstance(m, dict)][-1]
    assert r["id"] == 3 and [p["d"] for p in r["result"]["pubs"]] == ["r1"]
    a.send('{"$sockjs":"pub","c":"room","d":"mine","id":4}')
    r = [m for m in a.recv() if isinstance(m, dict)][-1]
    assert r == {"$sockjs": "reply", "id": 4, "ok": False, "error": "forbidden"}
    # A resubscription with a position gets what it missed first.
    epoch = srv.run(router.history("room")).epoch
    srv.call(router.publish, "room", "r2")
    a.messages(1)
    a.send('{"$sockjs":"unsub","c":"room","id":5}')
    a.recv()
    srv.call(router.publish, "room", "r3")
    srv.call(router.publish, "room", "r4")
    a.send('{"$sockjs":"sub","c":"room","id":6,"since":["%s",2]}' % epoch)
    assert [m["d"] for m in a.messages(2)] == ["r3", "r4"]
    a.ws.close()


def test_presence_events_tell_subscribers_who_came_and_went(make_server: Any) -> None:
    srv = make_server(router_app(RecConn, "/rec", dict(SETTINGS, presence_events=True)))
    a, b = WS(srv), WS(srv)
    a.send("sub:room")
    own, ack = a.messages(2)  # its own join comes first (it is subscribed by then)
    assert ack == "subscribed:room" and own["d"]["$sockjs"] == "join"
    b.send("sub:room")
    b.messages(2)
    joined = a.messages(1)[0]
    assert joined["d"]["id"] != own["d"]["id"]
    assert joined["$sockjs"] == "pub" and joined["c"] == "room"
    assert joined["d"]["$sockjs"] == "join" and joined["d"]["info"] == {"ip": "127.0.0.1"}
    b.send('{"$sockjs":"bye"}')
    b.ws.close()
    left = a.messages(1)[0]["d"]
    assert left["$sockjs"] == "leave" and left["id"] == joined["d"]["id"]
    assert list(srv.run(router_of(srv).presence("room"))) == [own["d"]["id"]]
    a.ws.close()
