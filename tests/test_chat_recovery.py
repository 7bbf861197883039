"""The chat example across two processes linked by Redis, in Chromium:
the online list spans both, and a page whose network was cut (from the
server side) gets every message said meanwhile, once, in order; the same
when the page's process is killed behind haproxy, where the online list
also drops the people who died with that process."""

import importlib.util
import json
import os
import sys
import threading
import time
import uuid
from typing import Any, List

import pytest
import redis
import websocket
from browser import Browser
from cluster_clients import WebSocketClient, wait_for

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHAT_SERVER = os.path.join(ROOT, "examples", "chat", "server.py")
sys.path.insert(0, os.path.join(ROOT, "examples", "cluster"))
from cluster import Cluster  # noqa: E402

# Loaded under its own name: the cluster example has a server.py too.
_spec = importlib.util.spec_from_file_location("chat_example_server", CHAT_SERVER)
assert _spec is not None and _spec.loader is not None
chat_server = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(chat_server)
make_app = chat_server.make_app

pytestmark = [pytest.mark.browser, pytest.mark.cluster, pytest.mark.timeout(120)]


def test_chat_spans_two_processes_and_survives_a_cut(redis_url: str, make_server: Any) -> None:
    a = make_server(lambda: make_app(redis_url))
    b = make_server(lambda: make_app(redis_url))
    ra = a.app.sockjs_router
    for srv in (a, b):
        router = srv.app.sockjs_router
        srv.call(router.channels.start)
        wait_for(lambda srv=srv, router=router: srv.call(lambda: router.channels.broker.connected))
    done = (
        "(function () { return window.chatLog && window.chatLog.indexOf('carl: bye') >= 0 ? "
        "{log: window.chatLog, members: Array.prototype.map.call("
        "document.querySelectorAll('#members li'), function (li) { return li.textContent; })} "
        ": undefined; })()"
    )
    urls = [
        (a.url + "/?nick=ann&room=r&autojoin=1", {"timeout": 60, "done": done, "progress": "window.chatLog"}),
        (b.url + "/?nick=bob&room=r&autojoin=1", {"timeout": 60, "done": done, "progress": "window.chatLog"}),
    ]
    results: List[Any] = []
    with Browser() as browser:
        t = threading.Thread(target=lambda: results.extend(browser.run_many(urls)), daemon=True)
        t.start()
        # The online list spans both processes.
        wait_for(
            lambda: sorted(a.run(ra.presence("r")).values(), key=str) == [{"nick": "ann"}, {"nick": "bob"}],
            timeout=30,
            what="ann and bob online",
        )
        # Ann's network goes: her transport is cut without a close.
        ann = a.call(lambda: [s for s in ra.sessions if s.conn.presence_info == {"nick": "ann"}][0])
        a.call(
            lambda: (
                ann.handler.conn.abort()
                if hasattr(ann.handler, "conn")
                else ann.handler.request.connection.stream.close()
            )
        )
        # Carl, a plain SockJS client on the other process, talks meanwhile.
        carl = websocket.create_connection("%s/chat/0/%s/websocket" % (b.ws_url, uuid.uuid4().hex[:8]), timeout=5)
        try:
            assert carl.recv() == "o"
            carl.send(json.dumps([json.dumps({"op": "join", "room": "r", "nick": "carl"})]))
            for i in range(10):
                carl.send(json.dumps([json.dumps({"op": "say", "text": "m%d" % i})]))
            carl.send(json.dumps([json.dumps({"op": "say", "text": "bye"})]))
            t.join(70)
        finally:
            carl.close()
    assert len(results) == 2
    for res in results:
        assert res.ok, res.describe()
        log = res.result["log"]
        said = [line for line in log if line.startswith("carl: ")]
        assert said == ["carl: m%d" % i for i in range(10)] + ["carl: bye"], res.describe()
        assert log.count("carl joined") == 1, res.describe()
        # (bob may have left already: his page closes as soon as it is done)
        assert {"ann", "carl"} <= set(res.result["members"]), res.describe()
        assert not res.errors, res.describe()


def say(client: WebSocketClient, op: str, **fields: str) -> None:
    client.send(json.dumps(dict(fields, op=op)))


def test_chat_survives_killing_the_process_the_page_is_on() -> None:
    """Two chat processes behind haproxy with Redis, as the example is run.
    Dan and Eve (plain SockJS clients) are in the room, one on each
    process; Ann's page joins through haproxy. Ann's process is SIGKILLed;
    the one left says ten lines while Ann's page is away. The page comes
    back through haproxy on the other process with its room and nickname,
    shows the ten lines once, in order, and its online list drops whoever
    died with the process (presence entries expire within presence_ttl)."""
    ttl = 3.0
    cluster = Cluster(nodes=2, server=CHAT_SERVER, node_args=["--presence-ttl", str(ttl)])
    cluster.start()
    people: List[WebSocketClient] = []
    try:
        for i, nick in enumerate(("dan", "eve")):
            client = WebSocketClient(cluster.node_url(i)).start()
            people.append(client)
            say(client, "join", room="r", nick=nick)
            wait_for(lambda c=client: any(m.get("op") == "joined" for m in c.json_messages()), what=nick + " joined")
        done = (
            "(function () { var members = Array.prototype.map.call(document.querySelectorAll('#members li'),"
            " function (li) { return li.textContent; });"
            " return window.chatLog && window.chatLog.some(function (l) { return / said bye$/.test(l); })"
            " && members.length === 2 ? {log: window.chatLog, members: members, opens: window.chatOpens,"
            " status: document.getElementById('status').textContent} : undefined; })()"
        )
        results: List[Any] = []
        with Browser() as browser:
            page = threading.Thread(
                target=lambda: results.extend(
                    browser.run_many(
                        [
                            (
                                cluster.url + "/?nick=ann&room=r&autojoin=1",
                                {"timeout": 60, "done": done, "progress": "window.chatLog"},
                            )
                        ]
                    )
                ),
                daemon=True,
            )
            page.start()
            # Which process holds whom: presence names each entry's process.
            store = redis.Redis(port=cluster.redis_port)
            key = "sockjs:/chat:p:r"

            def processes() -> Any:
                entries = {json.loads(v)[1]["nick"]: json.loads(v)[0] for v in store.hgetall(key).values()}
                return entries if len(entries) == 3 else None

            where = wait_for(processes, timeout=30, what="ann, dan and eve online")
            victim = 0 if where["ann"] == where["dan"] else 1
            assert where["ann"] == where[("dan", "eve")[victim]] != where[("dan", "eve")[1 - victim]]
            survivor, dead = ("dan", "eve")[1 - victim], ("dan", "eve")[victim]
            time.sleep(0.3)  # the saved state is written on the next loop turn
            cluster.kill_node(victim)
            killed_at = time.monotonic()
            for i in range(10):
                say(people[1 - victim], "say", text="m%d" % i)
            say(people[1 - victim], "say", text="said bye")
            page.join(70)
            finished_in = time.monotonic() - killed_at
        assert results, "page did not finish"
        res = results[0]
        assert res.ok, res.describe()
        log = res.result["log"]
        lines = [line for line in log if line.startswith(survivor + ": ")]
        assert lines == ["%s: m%d" % (survivor, i) for i in range(10)] + [survivor + ": said bye"], res.describe()
        # One page load and one join: the page was restored, not started over.
        assert log.count("ann joined") == 1 and res.result["opens"] == 2, res.describe()
        assert "restored" in res.result["status"], res.describe()
        assert sorted(res.result["members"]) == sorted(["ann", survivor]), res.describe()
        assert dead not in res.result["members"]
        # The dead process's entries went within the presence TTL (plus
        # haproxy noticing the death, the reconnect and a check of the rooms).
        assert finished_in < ttl + 15, finished_in
        assert not res.errors, res.describe()
    finally:
        for client in people:
            client.close()
        cluster.cleanup()
