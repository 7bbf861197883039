"""The chat example across two processes linked by Redis, in Chromium:
the online list spans both, and a page whose network was cut (from the
server side) gets every message said meanwhile, once, in order."""

import importlib.util
import json
import os
import sys
import threading
import uuid
from typing import Any, List

import pytest
import websocket
from browser import Browser
from cluster_clients import wait_for

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "examples", "cluster"))

# Loaded under its own name: the cluster example has a server.py too.
_spec = importlib.util.spec_from_file_location(
    "chat_example_server", os.path.join(ROOT, "examples", "chat", "server.py")
)
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
