"""The shipped browser client (``sockjs-tornado.js``) in real Chromium with
the real sockjs-client, on four transports.

The server cuts the page's connection, then sends and publishes 100
messages while the client is away; the client reconnects by itself and
must receive all 100, once, in order. The same when the page's process is
killed behind haproxy (Redis keeps its state and the channel history).
Past the recovery window both the page and the application are told that
recovery failed.
"""

import os
import sys
import threading
import time
from typing import Any, List

import pytest
from browser import Browser, client_routes, page_routes
from cluster_clients import wait_for
from tornado import web

from sockjs.tornado import SockJSConnection, SockJSRouter

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples", "cluster"))
from cluster import Cluster

pytestmark = [pytest.mark.browser, pytest.mark.cluster, pytest.mark.timeout(120)]

TRANSPORTS = ["websocket", "xhr-streaming", "eventsource", "jsonp-polling"]


class NewsConn(SockJSConnection):
    conns: List["NewsConn"] = []
    resumes = 0

    def on_open(self, info: Any) -> None:
        NewsConn.conns.append(self)

    def on_resume(self) -> None:
        NewsConn.resumes += 1

    def on_message(self, message: str) -> None:
        self.send(message)


@pytest.fixture(scope="module")
def browser() -> Any:
    with Browser() as b:
        yield b


def make_app(settings: Any) -> Any:
    def factory() -> web.Application:
        router = SockJSRouter(NewsConn, "/rec", settings)
        app = web.Application(router.urls + client_routes() + page_routes())
        app.sockjs_router = router  # type: ignore[attr-defined]
        return app

    return factory


def cut(router: SockJSRouter, conn: NewsConn) -> bool:
    """Drop the connection's current transport from the server side, as a
    network failure would (no close frame)."""
    handler = conn.session.handler  # type: ignore[attr-defined]
    if handler is None:
        return False  # a polling transport between two polls
    ws = getattr(handler, "conn", None)
    if ws is not None:
        ws.abort()
    else:
        handler.request.connection.stream.close()
    return True


def run_page(browser: Browser, url: str, done: str, timeout: float = 60) -> Any:
    results: List[Any] = []
    t = threading.Thread(
        target=lambda: results.extend(
            browser.run_many([(url, {"timeout": timeout, "done": done, "progress": "window.__state"})])
        ),
        daemon=True,
    )
    t.start()
    return t, results


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_client_gets_everything_sent_while_its_connection_was_cut(
    browser: Browser, make_server: Any, transport: str
) -> None:
    NewsConn.conns.clear()
    NewsConn.resumes = 0
    srv = make_server(make_app({"recovery": True, "history_size": 500, "heartbeat_delay": 5}))
    router: SockJSRouter = srv.app.sockjs_router
    done = "(function (s) { return s && s.got.length >= 100 ? s : undefined; })(window.__state)"
    thread, results = run_page(browser, srv.url + "/pages/recovery.html?transport=" + transport, done)
    wait_for(lambda: srv.call(lambda: router.channels.subscribers("news")) == 1, timeout=30, what="page subscribed")
    conn = NewsConn.conns[0]
    wait_for(lambda: srv.call(cut, router, conn), timeout=10, what="a transport to cut")

    def send_100() -> None:
        for i in range(100):
            if i % 2:
                conn.send("m%d" % i)
            else:
                router.publish("news", "m%d" % i)

    srv.call(send_100)
    thread.join(70)
    assert results, "page did not finish"
    res = results[0]
    assert res.ok, res.describe()
    state = res.result
    assert state["transport"] == transport, res.describe()
    assert state["got"] == ["m%d" % i for i in range(100)], res.describe()
    assert state["failed"] == [] and state["lost"] == [], res.describe()
    # One connection object all along: on_open ran once.
    assert len(NewsConn.conns) == 1
    assert not res.errors, res.describe()


def test_past_the_window_the_page_and_the_application_are_told(browser: Browser, make_server: Any) -> None:
    NewsConn.conns.clear()
    srv = make_server(
        make_app({"recovery": True, "recovery_window": 0.5, "session_check_interval": 0.1, "history_size": 10})
    )
    router: SockJSRouter = srv.app.sockjs_router
    done = (
        "(function (s) { return s && s.failed.length && s.got.indexOf('after') >= 0 ? s : undefined; })(window.__state)"
    )
    thread, results = run_page(browser, srv.url + "/pages/recovery.html?transport=websocket&initial=2500", done)
    wait_for(lambda: srv.call(lambda: router.channels.subscribers("news")) == 1, timeout=30, what="page subscribed")
    first = NewsConn.conns[0]
    srv.call(cut, router, first)
    wait_for(lambda: first.is_closed, what="on_close after the window")
    assert first.close_reason is not None and first.close_reason.initiator == "timeout"
    # The page comes back as a new connection, resubscribes by itself.
    wait_for(
        lambda: len(NewsConn.conns) == 2 and srv.call(lambda: router.channels.subscribers("news")) == 1,
        timeout=20,
        what="fresh connection resubscribed",
    )
    assert NewsConn.conns[1].recovery_failed == "expired"
    srv.call(router.publish, "news", "after")
    thread.join(40)
    res = results[0]
    assert res.ok, res.describe()
    assert res.result["failed"] == ["expired"], res.describe()
    assert [o["failed"] for o in res.result["opens"]] == [None, "expired"], res.describe()
    assert res.result["got"] == ["after"], res.describe()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_client_whose_process_was_killed_gets_every_publication_from_another(
    browser: Browser, make_server: Any, transport: str
) -> None:
    """Two nodes behind haproxy, linked by Redis; the page's node is
    killed (SIGKILL), 100 publications go out through the other node, and
    the page, reconnecting through haproxy, gets all of them once, in
    order."""
    cluster = Cluster(nodes=2, heartbeat=2, node_args=["--recovery", "--retry-max", "0.5"])
    cluster.start()
    try:
        pages = make_server(lambda: web.Application(client_routes() + page_routes()))
        url = "%s/pages/recovery.html?prefix=/chat&server=%s&transport=%s" % (pages.url, cluster.url, transport)
        done = "(function (s) { return s && s.got.length >= 102 ? s : undefined; })(window.__state)"
        thread, results = run_page(browser, url, done, timeout=60)

        def node_of_page() -> Any:
            counts = [cluster.status(i)["subscribers"].get("news", 0) for i in (0, 1)]
            return counts.index(1) + 1 if sum(counts) == 1 else None

        victim = wait_for(node_of_page, timeout=30, what="page subscribed") - 1
        time.sleep(0.3)  # the saved state is written on the next loop turn
        cluster.kill_node(victim)
        cluster.publish(1 - victim, "m", channel="news", repeat=100)
        thread.join(70)
        assert results, "page did not finish"
        res = results[0]
        assert res.ok, res.describe()
        state = res.result
        # The example says hello in on_open (after the restored state and the
        # missed publications, on the second node).
        hellos = [g for g in state["got"] if g.startswith('{"type": "hello"')]
        assert len(hellos) == 2 and hellos[0] != hellos[1], res.describe()
        assert [g for g in state["got"] if g not in hellos] == ["m%d" % i for i in range(100)], res.describe()
        assert [o["recovered"] for o in state["opens"]] == [None, "restored"], res.describe()
        assert state["lost"] == [] and state["failed"] == [], res.describe()
    finally:
        cluster.cleanup()
