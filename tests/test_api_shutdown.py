"""Graceful shutdown: ``await router.shutdown()`` sends
every session a close frame, ends streaming responses and pending polls,
waits for running handlers, stops the sweep timer, leaves no task or
callback behind, and refuses new sessions afterwards."""

import asyncio
import gc
import threading
from concurrent.futures import ThreadPoolExecutor

import requests
import websocket
from api_clients import WsClient, XhrClient, http_receive, raw_ws_close, streaming_frames, wait_for
from conftest import router_app

from sockjs.tornado import SockJSConnection

SHUTDOWN = [1001, "Server shutting down"]


class Tracked(SockJSConnection):
    reasons = []
    slow_done = []

    def on_message(self, message):
        if message == "slow":
            return self._slow()
        self.send(message)

    async def _slow(self):
        await asyncio.sleep(0.3)
        Tracked.slow_done.append(True)
        self.send("slow done")

    def on_close(self):
        Tracked.reasons.append(tuple(self.close_reason))


def _sockjs_leftovers(loop):
    """Tasks and scheduled callbacks of the library still in ``loop``."""
    me = asyncio.current_task()
    tasks = [
        t
        for t in asyncio.all_tasks(loop)
        if t is not me and "/sockjs/" in getattr(getattr(t.get_coro(), "cr_code", None), "co_filename", "")
    ]
    # Only asyncio's own loop lists its callbacks (uvloop keeps them in C):
    # the run on asyncio checks them, a run on uvloop checks the tasks.
    pending = list(getattr(loop, "_scheduled", ())) + list(getattr(loop, "_ready", ()))
    handles = [h for h in pending if not h.cancelled() and "/sockjs/" in _source_file(h._callback)]
    return tasks, handles


def _source_file(callback):
    callback = getattr(callback, "func", callback)  # functools.partial
    code = getattr(getattr(callback, "__func__", callback), "__code__", None)
    return code.co_filename if code is not None else ""


def _tasks(loop):
    me = asyncio.current_task()
    return {t for t in asyncio.all_tasks(loop) if t is not me}


def test_shutdown_closes_everything_and_leaves_nothing_behind(make_server):
    Tracked.reasons = []
    Tracked.slow_done = []
    srv = make_server(router_app(Tracked, "/sd", {"heartbeat_delay": 0.3}))
    router = srv.app.sockjs_router
    base = srv.url + "/sd"
    baseline = srv.call(lambda: _tasks(srv.loop))

    ws = WsClient(srv.ws_url + "/sd", "ws1")
    busy = WsClient(srv.ws_url + "/sd", "ws2")
    raw = websocket.create_connection(srv.ws_url + "/sd/websocket", timeout=5)
    pool = ThreadPoolExecutor(max_workers=5)
    streams = {t: pool.submit(http_receive, base, "st-" + t, t) for t in ("xhr_streaming", "eventsource", "htmlfile")}
    polls = {}
    for t in ("xhr", "jsonp"):
        assert streaming_frames(t, http_receive(base, "po-" + t, t).text) == ["o"]
        polls[t] = pool.submit(http_receive, base, "po-" + t, t)
    idle = XhrClient(base, "idle")
    idle.open()
    # Every receiver attached: 2 websockets, raw, 3 streams, 2 pending polls.
    wait_for(lambda: srv.call(lambda: router.stats.dump()["connections_active"]) == 8)
    assert srv.call(lambda: router.stats.dump()["sessions_active"]) == 9
    busy.send("slow")
    wait_for(lambda: srv.call(lambda: any(s.busy for s in router.sessions)))

    # (The detector below sees the library's timer and handler task.)
    tasks, handles = srv.call(lambda: _sockjs_leftovers(srv.loop))
    assert tasks and (handles or not hasattr(srv.loop, "_scheduled"))
    srv.run(router.shutdown(), timeout=10)

    # The running handler finished before shutdown returned, and its last
    # message went out ahead of the close frame.
    assert Tracked.slow_done == [True]
    assert busy.recv_messages(1) == ["slow done"]
    assert busy.recv_close() == SHUTDOWN
    assert ws.recv_close() == SHUTDOWN
    assert list(raw_ws_close(raw)) == SHUTDOWN
    for t, fut in streams.items():
        r = fut.result(5)
        frames = streaming_frames(t, r.text)
        assert frames[0] == "o" and frames[-1] == 'c[1001,"Server shutting down"]', (t, frames)
    for t, fut in polls.items():
        assert streaming_frames(t, fut.result(5).text) == ['c[1001,"Server shutting down"]'], t
    pool.shutdown()

    # on_close ran for each of the 9 sessions, with the server as initiator.
    wait_for(lambda: srv.call(lambda: len(Tracked.reasons)) == 9)
    assert set(Tracked.reasons) == {(1001, "Server shutting down", "server")}
    dump = srv.call(router.stats.dump)
    assert dump["sessions_active"] == 0
    assert all(v == 0 for k, v in dump.items() if k.startswith("transp_")), dump

    # New sessions are refused, on every kind of endpoint.
    assert requests.post(base + "/000/new1/xhr", timeout=5).status_code == 503
    assert http_receive(base, "new2", "eventsource").status_code == 503
    for url in ("/sd/000/new3/websocket", "/sd/websocket"):
        try:
            websocket.create_connection(srv.ws_url + url, timeout=5)
        except websocket.WebSocketBadStatusException as e:
            assert e.status_code == 503
        else:
            raise AssertionError("websocket accepted after shutdown")
    assert srv.call(lambda: router.get_session("idle")) is None

    ws.close()
    busy.close()
    raw.close()
    idle.http.close()
    # requests keeps a finished response's socket open until the response
    # object is collected.
    del streams, polls, fut, r
    gc.collect()
    # Nothing of ours is left: no sweep timer, no task, no callback; the
    # loop's tasks are back to what they were before any client came.
    assert srv.call(lambda: router._sweeper) is None
    wait_for(lambda: srv.call(lambda: _sockjs_leftovers(srv.loop)) == ([], []))
    wait_for(lambda: srv.call(lambda: _tasks(srv.loop)) <= baseline)
    assert srv.call(lambda: len(router.sessions)) == 0


def test_shutdown_with_no_sessions_and_twice(make_server):
    srv = make_server(router_app(Tracked, "/sd"))
    router = srv.app.sockjs_router
    srv.run(router.shutdown())
    srv.run(router.shutdown())
    assert srv.call(lambda: router._sweeper) is None
    assert requests.post(srv.url + "/sd/000/a/xhr", timeout=5).status_code == 503
    # The greeting and /info still answer: only sessions are refused.
    assert requests.get(srv.url + "/sd", timeout=5).status_code == 200


def test_shutdown_waits_at_most_timeout_for_a_stuck_handler(make_server):
    gate = threading.Event()

    class Stuck(SockJSConnection):
        async def on_message(self, message):
            # The gate is opened from the test's thread: poll it.
            while not gate.is_set():  # noqa: ASYNC110
                await asyncio.sleep(0.02)

    srv = make_server(router_app(Stuck, "/st"))
    router = srv.app.sockjs_router
    ws = WsClient(srv.ws_url + "/st", "s")
    ws.send("x")
    wait_for(lambda: srv.call(lambda: any(s.busy for s in router.sessions)))
    srv.run(router.shutdown(timeout=0.3), timeout=5)
    # The close frame went out at once; shutdown did not wait forever.
    assert ws.recv_close() == SHUTDOWN
    gate.set()
    ws.close()
