"""History, presence and recovery shared through a real redis-server by
two or three servers (threads with their own loop and router, standing for
processes)."""

import json
import time
import uuid
from typing import Any, List, Tuple
from urllib.parse import quote

import pytest
import websocket
from cluster_clients import wait_for
from conftest import ServerThread, router_app

from sockjs.tornado import SockJSConnection, SockJSRouter

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(60)]


class Conn(SockJSConnection):
    conns: List["Conn"] = []

    def on_open(self, info: Any) -> None:
        Conn.conns.append(self)
        if self.recovered is None:
            self.presence_info = {"port": info.headers.get("Host")}

    def on_message(self, message: str) -> None:
        cmd, _, rest = message.partition(":")
        if cmd == "sub":
            self.subscribe(rest)
            self.send("subscribed:" + rest)
        elif cmd == "data":
            self.data = json.loads(rest)
            self.send("saved")


def settings(redis_url: str, **kw: Any) -> Any:
    s = {
        "broker": redis_url,
        "broker_namespace": "t-" + NS,
        "history_size": 100,
        "presence": True,
        "recovery": True,
        "heartbeat_delay": 1,
        "broker_retry_max": 0.2,
    }
    s.update(kw)
    return s


NS = uuid.uuid4().hex[:6]


def router_of(srv: ServerThread) -> SockJSRouter:
    return srv.app.sockjs_router  # type: ignore[no-any-return,union-attr]


def connect(srv: ServerThread, query: str = "") -> Any:
    url = "%s/rec/000/%s/websocket%s" % (srv.ws_url, uuid.uuid4().hex[:8], query)
    ws = websocket.create_connection(url, timeout=5)
    assert ws.recv() == "o"
    return ws


def recv(ws: Any, n: int) -> List[Any]:
    out: List[Any] = []
    while len(out) < n:
        frame = ws.recv()
        if frame != "h":
            out.extend(json.loads(frame[1:]))
    return out


def recovering_client(srv: ServerThread, data: Any) -> Tuple[Any, str]:
    """A client of ``srv`` that opted into recovery, subscribed to "news",
    with ``conn.data`` saved: its websocket and its resume token."""
    ws = connect(srv, "?_r=")
    welcome = recv(ws, 1)[0]
    assert welcome["$sockjs"] == "welcome" and welcome["r"] is None
    ws.send(json.dumps(["sub:news", "data:" + json.dumps(data)]))
    assert recv(ws, 2) == ["subscribed:news", "saved"]
    return ws, welcome["t"]


def wait_broker(*servers: ServerThread) -> None:
    for srv in servers:
        router = router_of(srv)
        srv.call(router.channels.start)
        wait_for(
            lambda srv=srv, router=router: srv.call(lambda: router.channels.broker.connected), what="broker connected"
        )


def test_history_through_redis_one_order_everywhere(redis_url: str, make_server: Any) -> None:
    a = make_server(router_app(Conn, "/rec", settings(redis_url)))
    b = make_server(router_app(Conn, "/rec", settings(redis_url)))
    wait_broker(a, b)
    wa, wb = connect(a), connect(b)
    try:
        for ws in (wa, wb):
            ws.send('["sub:news"]')
            assert recv(ws, 1) == ["subscribed:news"]
        ra, rb = router_of(a), router_of(b)
        for i in range(20):
            a.call(ra.publish, "news", "a%d" % i)
            b.call(rb.publish, "news", "b%d" % i)
        got_a, got_b = recv(wa, 40), recv(wb, 40)
        # Kept publications come back through Redis: one order everywhere.
        everything = ["a%d" % i for i in range(20)] + ["b%d" % i for i in range(20)]
        assert got_a == got_b and sorted(got_a) == sorted(everything)
        assert [m for m in got_a if m.startswith("a")] == ["a%d" % i for i in range(20)]
        page_a = a.run(ra.history("news"))
        page_b = b.run(rb.history("news", limit=5))
        assert page_a.epoch == page_b.epoch and page_a.offset == page_b.offset == 40
        assert [p.data for p in page_a.publications] == got_a
        assert [p.offset for p in page_a.publications] == list(range(1, 41))
        assert [p.offset for p in page_b.publications] == list(range(36, 41))
        after = b.run(rb.history("news", since=(page_a.epoch, 38)))
        assert [p.data for p in after.publications] == got_a[38:] and after.complete
        assert not b.run(rb.history("news", since=("gone", 38))).complete
    finally:
        wa.close()
        wb.close()


def test_presence_across_processes_and_a_dead_one_disappears(redis_url: str, make_server: Any) -> None:
    a = make_server(router_app(Conn, "/rec", settings(redis_url)))
    c = ServerThread(router_app(Conn, "/rec", settings(redis_url, presence_ttl=1)))
    wait_broker(a, c)
    wa, wc = connect(a), connect(c)
    try:
        for ws in (wa, wc):
            ws.send('["sub:room"]')
            assert recv(ws, 1) == ["subscribed:room"]
        ra = router_of(a)
        members = wait_for(lambda: (lambda m: m if len(m) == 2 else None)(a.run(ra.presence("room"))))
        assert sorted(v["port"] for v in members.values()) == sorted(["127.0.0.1:%d" % a.port, "127.0.0.1:%d" % c.port])
        # Process c dies without cleaning up: its entry goes within presence_ttl.
        c.loop.call_soon_threadsafe(c.loop.stop)
        time.sleep(0.1)
        started = time.monotonic()
        wait_for(lambda: len(a.run(ra.presence("room"))) == 1, timeout=5, what="dead entry gone")
        assert time.monotonic() - started < 2.5
        # A leaving subscriber leaves at once.
        wa.close()
        wait_for(lambda: a.run(ra.presence("room")) == {}, what="closed subscriber gone")
    finally:
        wa.close()
        wc.close()


def test_a_client_whose_process_died_is_restored_by_another(redis_url: str, make_server: Any) -> None:
    Conn.conns.clear()
    a = ServerThread(router_app(Conn, "/rec", settings(redis_url)))
    b = make_server(router_app(Conn, "/rec", settings(redis_url)))
    wait_broker(a, b)
    ws, token = recovering_client(a, {"n": 1})
    b.call(router_of(b).publish, "news", "p1")
    p1 = recv(ws, 1)[0]
    assert p1["d"] == "p1" and p1["o"] == 1
    time.sleep(0.2)  # the saved state is written on the next loop turn
    # a dies: no close, nothing cleaned up.
    a.loop.call_soon_threadsafe(a.loop.stop)
    ws.sock.close()
    rb = router_of(b)
    for i in range(2, 7):
        b.call(rb.publish, "news", "p%d" % i)
    positions = json.dumps({"news": [p1["e"], 1]})
    ws2 = connect(b, "?_r=%s&_p=4&_c=%s" % (token, quote(positions)))
    try:
        got = recv(ws2, 6)
        assert got[0]["$sockjs"] == "welcome" and got[0]["r"] == "restored" and got[0]["lost"] == []
        assert [m["d"] for m in got[1:]] == ["p2", "p3", "p4", "p5", "p6"]
        # on_open runs once the state is back (just after the catch-up).
        wait_for(lambda: len(Conn.conns) == 2, what="on_open of the restored connection")
        conn = Conn.conns[-1]
        assert conn.recovered == "restored" and conn.data == {"n": 1}
        assert b.call(lambda: conn.channels) == frozenset({"news"})
        # Redis may hand a publication over after the history read that
        # caught the client up on it: it is not sent twice.
        assert b.call(rb.channels.deliver, "news", "p6", (p1["e"], 6)) == 0
        b.call(rb.publish, "news", "p7")
        p7 = recv(ws2, 1)[0]
        assert p7["d"] == "p7" and p7["o"] == 7
    finally:
        ws2.close()


def test_a_client_of_a_process_shut_down_for_a_deploy_is_restored_by_another(redis_url: str, make_server: Any) -> None:
    Conn.conns.clear()
    a = make_server(router_app(Conn, "/rec", settings(redis_url)))
    b = make_server(router_app(Conn, "/rec", settings(redis_url)))
    wait_broker(a, b)
    ws, token = recovering_client(a, {"n": 2})
    time.sleep(0.2)
    a.run(router_of(a).shutdown(timeout=1))
    # The client is told 1001 (it reconnects: not a close by the application).
    assert json.loads(ws.recv()[1:]) == [1001, "Server shutting down"]
    ws.close()
    b.call(router_of(b).publish, "news", "during")
    ws2 = connect(b, "?_r=%s&_p=2" % token)
    try:
        got = recv(ws2, 2)
        assert got[0]["r"] == "restored" and got[1]["d"] == "during"
        wait_for(lambda: len(Conn.conns) == 2)
        assert Conn.conns[-1].data == {"n": 2}
    finally:
        ws2.close()


def test_a_dead_entry_rewritten_by_a_live_process_stays(redis_url: str) -> None:
    """A reader that saw a client's entry under a dead process deletes it
    only if it is unchanged: a live process that restored the client
    meanwhile has rewritten it, and that entry stays."""
    import redis

    from sockjs.tornado.broker.redisstate import DROP_DEAD_LUA

    store = redis.Redis.from_url(redis_url)
    key = "t-%s:p:race" % NS
    old, new = json.dumps(["dead", {"n": 1}]), json.dumps(["live", {"n": 1}])
    store.hset(key, mapping={"restored": new, "gone": old})
    # Both were read as the dead process's; "restored" was rewritten since.
    store.eval(DROP_DEAD_LUA, 1, key, "restored", old, "gone", old)
    assert store.hgetall(key) == {b"restored": new.encode()}
    store.delete(key)


def test_a_kept_publication_sent_again_is_stored_once(redis_url: str, make_server: Any) -> None:
    """The broker re-sends a whole pipeline when it failed part-way, though
    Redis may have run some of it: the history script then skips what it
    stored already instead of storing it again under a new offset."""
    import redis

    a = make_server(router_app(Conn, "/rec", settings(redis_url, broker_namespace="t-once-" + NS)))
    wait_broker(a)
    ra = router_of(a)
    history = ra.channels.history
    assert history is not None
    from sockjs.tornado.broker.redisstate import PUBLISH_KEPT_LUA

    store = redis.Redis.from_url(redis_url)
    offsets = []
    for seq in (1, 2, 1, 2, 3):  # 1 and 2 again, as a retried pipeline sends them
        keys, args = history.publish_args("once", '["p", %d, "once", "m%d", ' % (seq, seq), '"m%d"' % seq, seq)
        offsets.append(store.eval(PUBLISH_KEPT_LUA, len(keys), *keys, *args))
    assert offsets == [1, 2, 0, 0, 3]
    page = a.run(ra.history("once"))
    assert [(p.offset, p.data) for p in page.publications] == [(1, "m1"), (2, "m2"), (3, "m3")]
