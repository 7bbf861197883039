"""Channels API and the brokers, in one test process.

Servers run in threads (``ServerThread``), each with its own loop and
router; two of them sharing a real ``redis-server`` behave as two processes
do, and let the tests look inside the broker. Redis is started here, on a
free port in a temporary directory.
"""

import json
import os
import sys
import time
from typing import Any, Dict, List, Optional

import pytest
import redis as syncredis
import websocket
from cluster_clients import WebSocketClient, XhrPollingClient, XhrStreamingClient, wait_for
from conftest import ServerThread, router_app

from sockjs.tornado import SockJSConnection, SockJSRouter
from sockjs.tornado.broker import Broker, LocalBroker
from sockjs.tornado.broker.redisbroker import RedisBroker

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples", "cluster"))
from cluster import Cluster

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(60)]


class SubConnection(SockJSConnection):
    """``sub:<ch>``, ``unsub:<ch>``, ``pub:<ch>:<text>``; says hello on open."""

    def on_open(self, info: Any) -> None:
        self.send(json.dumps({"type": "hello", "node": "n"}))

    def on_message(self, message: str) -> None:
        cmd, _, rest = message.partition(":")
        if cmd == "sub":
            self.subscribe(rest)
            self.send(json.dumps({"type": "subscribed", "channel": rest}))
        elif cmd == "unsub":
            self.unsubscribe(rest)
            self.send("unsubscribed:" + rest)
        elif cmd == "pub":
            channel, _, text = rest.partition(":")
            self.publish(channel, text)
        elif cmd == "mine":
            self.send("mine:" + ",".join(sorted(self.channels)))


def router_of(srv: ServerThread) -> SockJSRouter:
    return srv.app.sockjs_router  # type: ignore[no-any-return,union-attr]


def sub(cl: Any, channel: str = "chat") -> Any:
    cl.send("sub:" + channel)
    cl.wait_subscribed(channel)
    return cl


@pytest.fixture
def redis_proc() -> Any:
    c = Cluster(nodes=0)
    c.start_redis()
    yield c
    c.cleanup()


# -- settings and laziness ---------------------------------------------------


def test_broker_settings_are_checked() -> None:
    r = SockJSRouter(SubConnection, "/x")
    assert r.settings["broker"] is None and r.settings["broker_buffer_size"] == 10000
    assert isinstance(r.channels.broker, LocalBroker)
    for bad, exc in [
        ({"broker": 5}, TypeError),
        ({"broker": "http://x"}, ValueError),
        ({"broker_buffer_size": 0}, ValueError),
        ({"broker_retry_max": 0}, ValueError),
        ({"broker_namespace": 3}, TypeError),
    ]:
        with pytest.raises(exc) as e:
            SockJSRouter(SubConnection, "/x", bad)
        assert next(iter(bad)) in str(e.value)
    custom = LocalBroker()
    assert SockJSRouter(SubConnection, "/x", {"broker": custom}).channels.broker is custom


def test_redis_broker_without_redis_py_fails_at_construction(monkeypatch: Any) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)  # as if not installed
    with pytest.raises(ValueError) as e:
        SockJSRouter(SubConnection, "/x", {"broker": "redis://127.0.0.1:6379/0"})
    assert "sockjs-tornado[redis]" in str(e.value) and "'broker'" in str(e.value)


def test_redis_broker_is_not_touched_at_construction() -> None:
    # Port 1 refuses: building the router must neither connect nor log.
    r = SockJSRouter(SubConnection, "/x", {"broker": "redis://127.0.0.1:1/0"})
    assert r._channels is None
    with pytest.raises(ValueError):
        r.publish("", "x")


# -- one process ----------------------------------------------------------------


def test_channels_in_one_process(make_server: Any) -> None:
    srv = make_server(router_app(SubConnection, "/chat", {"heartbeat_delay": 1}))
    ws = WebSocketClient(srv.url).start()
    xhr = XhrPollingClient(srv.url).start()
    stream = XhrStreamingClient(srv.url).start()
    lurker = WebSocketClient(srv.url).start()
    try:
        for cl in (ws, xhr, stream):
            sub(cl)
        sub(ws, "other")
        router = router_of(srv)
        assert srv.call(lambda: router.channels.subscribers("chat")) == 3

        srv.call(router.publish, "chat", "c1")
        srv.call(router.publish, "other", "o1")
        srv.call(router.publish_all, "all1")
        srv.call(router.publish, "chat", {"json": True})
        for cl in (ws, xhr, stream):
            wait_for(lambda cl=cl: len([m for m in cl.snapshot() if m in ("c1", "all1", {"json": True})]) == 3)
        wait_for(lambda: "all1" in lurker.snapshot())
        time.sleep(0.2)
        assert ws.payloads("o1") == ["o1"] and xhr.payloads("o1") == [] and lurker.payloads("c") == []
        # A published dict arrives as the object itself, as send() gives it.
        assert [m for m in xhr.snapshot() if not str(m).startswith('{"type')] == ["c1", "all1", {"json": True}]

        # A client publishes; its own subscription includes itself.
        xhr.send("pub:chat:from-xhr")
        for cl in (ws, xhr, stream):
            wait_for(lambda cl=cl: cl.payloads("from-xhr") == ["from-xhr"])

        ws.send("mine:")
        wait_for(lambda: ws.payloads("mine:") == ["mine:chat,other"])
        ws.send("unsub:chat")
        wait_for(lambda: ws.payloads("unsubscribed:") == ["unsubscribed:chat"])
        srv.call(router.publish, "chat", "c2")
        wait_for(lambda: xhr.payloads("c2") == ["c2"])
        time.sleep(0.2)
        assert ws.payloads("c2") == []

        # Closing unsubscribes by itself, whatever the transport.
        ws.close()
        wait_for(lambda: srv.call(lambda: router.channels.subscribers("other")) == 0)
        assert srv.call(lambda: router.channels.names) == frozenset({"chat"})
        sessions = srv.call(lambda: [s for s in router.sessions if s.session_id == xhr.session_id])
        srv.call(sessions[0].close)
        assert srv.call(lambda: router.channels.subscribers("chat")) == 1
    finally:
        for cl in (ws, xhr, stream, lurker):
            cl.close()


class OwnChannelsConnection(SockJSConnection):
    """A 1.x application with its own ``self.channels`` attribute."""

    def on_open(self, info: Any) -> None:
        self.channels = {"mine": True}  # type: ignore[assignment,misc]
        self.subscribe("chat")

    def on_message(self, message: str) -> None:
        self.send(json.dumps(sorted(self.channels)))


def test_a_1x_connection_may_keep_its_own_channels_attribute(make_server: Any) -> None:
    srv = make_server(router_app(OwnChannelsConnection, "/chat", {"heartbeat_delay": 1}))
    cl = WebSocketClient(srv.url).start()
    try:
        cl.send("x")
        wait_for(lambda: cl.snapshot() == ['["mine"]'])
        router = router_of(srv)
        srv.call(router.publish, "chat", "still-subscribed")
        wait_for(lambda: cl.payloads("still") == ["still-subscribed"])
    finally:
        cl.close()


def test_publish_all_reaches_raw_websocket(make_server: Any) -> None:
    srv = make_server(router_app(SubConnection, "/chat", {"heartbeat_delay": 1}))
    raw = websocket.create_connection(srv.ws_url + "/chat/websocket", timeout=5)
    try:
        assert json.loads(raw.recv())["type"] == "hello"
        raw.send("sub:chat")
        assert json.loads(raw.recv())["type"] == "subscribed"
        router = router_of(srv)
        srv.call(router.publish, "chat", "to-chat")
        srv.call(router.publish_all, "to-all")
        assert [raw.recv(), raw.recv()] == ["to-chat", "to-all"]
    finally:
        raw.close()


def test_local_delivery_is_encoded_once(make_server: Any) -> None:
    srv = make_server(router_app(SubConnection, "/chat", {"heartbeat_delay": 1}))
    clients = [sub(WebSocketClient(srv.url).start()) for _ in range(3)]
    try:
        router = router_of(srv)
        seen: List[Any] = []

        def spy() -> int:
            for s in router.sessions:
                orig = s.send_broadcast
                s.send_broadcast = lambda b, orig=orig: (seen.append(b), orig(b))[1]
            return router.channels.deliver("chat", "once")

        assert srv.call(spy) == 3
        assert len(seen) == 3 and len({id(b) for b in seen}) == 1
        for cl in clients:
            wait_for(lambda cl=cl: cl.payloads("once") == ["once"])
    finally:
        for cl in clients:
            cl.close()


# -- two "processes" through a real redis-server ------------------------------


def two_nodes(make_server: Any, redis_url: str, **settings: Any) -> List[ServerThread]:
    conf: Dict[str, Any] = {"broker": redis_url, "broker_retry_max": 0.3, "heartbeat_delay": 1}
    conf.update(settings)
    nodes = [make_server(router_app(SubConnection, "/chat", conf)) for _ in range(2)]
    for n in nodes:
        r = router_of(n)
        n.call(lambda r=r: r.channels.start())
        wait_for(lambda r=r: r.channels.broker.connected, what="broker connected")
    return nodes


def bstats(node: ServerThread) -> Dict[str, Any]:
    r = router_of(node)
    return node.call(lambda: r.channels.broker.stats())  # type: ignore[no-any-return]


def test_redis_drops_duplicates_and_counts_gaps(redis_proc: Cluster, make_server: Any) -> None:
    a, b = two_nodes(make_server, redis_proc.redis_url)
    ca = sub(WebSocketClient(a.url).start())
    cb = sub(XhrStreamingClient(b.url).start())
    try:
        srv_ns = router_of(a).channels.broker.namespace  # type: ignore[attr-defined]
        assert srv_ns == "sockjs:/chat"
        for i in range(50):
            a.call(router_of(a).publish, "chat", "m%02d" % i)
        expected = ["m%02d" % i for i in range(50)]
        for cl in (ca, cb):
            wait_for(lambda cl=cl: len(cl.payloads("m")) == 50)
        assert ca.payloads("m") == expected and cb.payloads("m") == expected

        # Envelopes from a publisher that re-sent one and lost two, plus junk.
        r = syncredis.Redis.from_url(redis_proc.redis_url)
        try:
            for seq in (1, 2, 2, 5):
                r.publish(srv_ns, json.dumps(["fakepid", seq, "chat", "x%d" % seq]))
            r.publish(srv_ns, "not json")
            r.publish(srv_ns, json.dumps(["fakepid", "6", "chat", 3]))
        finally:
            r.close()
        wait_for(lambda: ca.payloads("x") == ["x1", "x2", "x5"])
        wait_for(lambda: cb.payloads("x") == ["x1", "x2", "x5"])
        for node in (a, b):
            wait_for(lambda node=node: bstats(node)["malformed"] == 2)
            s = bstats(node)
            assert (s["duplicates"], s["lost"], s["malformed"]) == (1, 2, 2), s
        assert bstats(b)["received"] == 50 + 4 and bstats(a)["received"] == 4
    finally:
        ca.close()
        cb.close()


def test_redis_outage_keeps_newest_within_buffer(redis_proc: Cluster, make_server: Any, caplog: Any) -> None:
    a, b = two_nodes(make_server, redis_proc.redis_url, broker_buffer_size=3)
    ca = sub(WebSocketClient(a.url).start())
    cb = sub(WebSocketClient(b.url).start())
    try:
        a.call(router_of(a).publish, "chat", "first")
        wait_for(lambda: cb.payloads("first") == ["first"])
        caplog.set_level("INFO", logger="sockjs.tornado.broker")
        redis_proc.stop_redis()
        wait_for(lambda: not bstats(a)["connected"] and not bstats(b)["connected"])
        for i in range(5):
            a.call(router_of(a).publish, "chat", "d%d" % i)
        wait_for(lambda: ca.payloads("d") == ["d0", "d1", "d2", "d3", "d4"])
        s = bstats(a)
        assert s["buffered"] == 3 and s["dropped"] == 2, s
        time.sleep(0.8)
        redis_proc.start_redis()
        wait_for(lambda: cb.payloads("d") == ["d2", "d3", "d4"])
        a.call(router_of(a).publish, "chat", "last")
        wait_for(lambda: cb.payloads("last") == ["last"])
        time.sleep(0.2)
        assert cb.payloads("d") == ["d2", "d3", "d4"]
        assert bstats(b)["lost"] == 2 and bstats(b)["duplicates"] == 0
        assert bstats(a)["outages"] == 1 and bstats(b)["outages"] == 1
        warnings = [r for r in caplog.records if r.levelname == "WARNING" and r.name == "sockjs.tornado.broker"]
        # Per node: one "unreachable" for the outage, one "dropping" on overflow.
        assert sum("unreachable" in r.getMessage() for r in warnings) == 2, [r.getMessage() for r in warnings]
        assert sum("dropping the oldest" in r.getMessage() for r in warnings) == 1
    finally:
        ca.close()
        cb.close()


def test_namespaces_keep_services_apart(redis_proc: Cluster, make_server: Any) -> None:
    url = redis_proc.redis_url
    a = make_server(router_app(SubConnection, "/chat", {"broker": url, "heartbeat_delay": 1}))
    b = make_server(
        router_app(SubConnection, "/chat", {"broker": url, "broker_namespace": "other", "heartbeat_delay": 1})
    )
    ca = sub(WebSocketClient(a.url).start())
    cb = sub(WebSocketClient(b.url).start())
    try:
        for n in (a, b):
            wait_for(lambda n=n: router_of(n).channels.broker.connected)
        b.call(router_of(b).publish, "chat", "from-b")
        a.call(router_of(a).publish, "chat", "from-a")
        wait_for(lambda: ca.payloads("from-") == ["from-a"] and cb.payloads("from-") == ["from-b"])
        time.sleep(0.3)
        assert ca.payloads("from-") == ["from-a"] and cb.payloads("from-") == ["from-b"]
    finally:
        ca.close()
        cb.close()


def test_shutdown_closes_the_broker(redis_proc: Cluster, make_server: Any) -> None:
    srv = make_server(router_app(SubConnection, "/chat", {"broker": redis_proc.redis_url}))
    cl = WebSocketClient(srv.url).start()  # the first session starts the broker
    router = router_of(srv)
    broker: Optional[Broker] = router.channels.broker
    assert isinstance(broker, RedisBroker)
    wait_for(lambda: broker.connected)
    srv.run(router.shutdown(timeout=1))
    wait_for(lambda: cl.closed is not None)
    assert broker._tasks == () and broker._client is None
    cl.close()


def test_redis_down_at_start_then_up(redis_proc: Cluster, make_server: Any, caplog: Any) -> None:
    redis_proc.stop_redis()
    caplog.set_level("INFO", logger="sockjs.tornado.broker")
    conf = {"broker": redis_proc.redis_url, "broker_retry_max": 0.3, "heartbeat_delay": 1}
    a = make_server(router_app(SubConnection, "/chat", conf))
    b = make_server(router_app(SubConnection, "/chat", conf))
    ca = sub(WebSocketClient(a.url).start())  # sessions work without Redis
    cb = sub(WebSocketClient(b.url).start())
    try:
        for i in range(3):
            a.call(router_of(a).publish, "chat", "early%d" % i)
        wait_for(lambda: ca.payloads("early") == ["early0", "early1", "early2"])
        assert bstats(a)["buffered"] == 3 and not bstats(a)["connected"]
        time.sleep(0.5)
        redis_proc.start_redis()
        wait_for(lambda: cb.payloads("early") == ["early0", "early1", "early2"])
        unreachable = [r for r in caplog.records if "unreachable" in r.getMessage()]
        assert len(unreachable) == 2 and all(r.levelname == "WARNING" for r in unreachable)
    finally:
        ca.close()
        cb.close()


def test_publishing_through_a_redis_restart_stays_ordered_without_duplicates(
    redis_proc: Cluster, make_server: Any
) -> None:
    a, b = two_nodes(make_server, redis_proc.redis_url)
    cb = sub(WebSocketClient(b.url).start())
    ra = router_of(a)
    count = 300

    async def publish_steadily() -> None:
        import asyncio

        for i in range(count):
            ra.publish("chat", "s%03d" % i)
            await asyncio.sleep(0.005)

    try:
        fut = asyncio_run_later(a, publish_steadily())
        time.sleep(0.3)
        redis_proc.stop_redis()
        time.sleep(0.4)
        redis_proc.start_redis()
        fut.result(30)
        a.call(ra.publish, "chat", "s-end")
        wait_for(lambda: cb.payloads("s-end") == ["s-end"], timeout=15)
        got = [m for m in cb.payloads("s") if m != "s-end"]
        assert got == sorted(set(got)), "out of order or duplicated"
        s = bstats(b)
        # Whatever did not arrive was seen missing (a gap), never silently.
        assert len(got) + s["lost"] == count, (len(got), s)
        assert bstats(a)["outages"] == 1
    finally:
        cb.close()


def asyncio_run_later(srv: ServerThread, coro: Any) -> Any:
    import asyncio

    return asyncio.run_coroutine_threadsafe(coro, srv.loop)


def _first_message_frame(ws: Any) -> str:
    while True:
        frame = ws.recv()
        if frame.startswith("a"):
            return str(frame)


def test_published_values_keep_their_json_form(redis_proc: Cluster, make_server: Any) -> None:
    """Like send(), publish() delivers text as a string and another JSON
    value as itself, in this process and through Redis."""
    url = redis_proc.redis_url
    a = make_server(router_app(SubConnection, "/chat", {"broker": url, "heartbeat_delay": 1}))
    b = make_server(router_app(SubConnection, "/chat", {"broker": url, "heartbeat_delay": 1}))
    wss = []
    try:
        for srv in (a, b):
            ws = websocket.create_connection(srv.ws_url + "/chat/000/v/websocket", timeout=5)
            wss.append(ws)
            assert ws.recv() == "o"
            _first_message_frame(ws)  # hello
            ws.send('["sub:chat"]')
            _first_message_frame(ws)  # subscribed
        for n in (a, b):
            wait_for(lambda n=n: router_of(n).channels.broker.connected)
        time.sleep(0.3)  # both subscribed on Redis
        value = {"k": [1, "\u00e9", None]}
        a.call(router_of(a).publish, "chat", value)
        a.call(router_of(a).publish, "chat", b"bytes")
        for ws in wss:
            assert _first_message_frame(ws) == 'a[{"k":[1,"\u00e9",null]}]'
            assert _first_message_frame(ws) == 'a["bytes"]'
    finally:
        for ws in wss:
            ws.close()
