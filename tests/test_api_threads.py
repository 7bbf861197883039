"""Threads: ``send_threadsafe`` and ``close_threadsafe``
called from real threads other than the server's loop."""

import threading

import pytest
from api_clients import WsClient, XhrClient, wait_for
from conftest import router_app

from sockjs.tornado import SockJSConnection

THREADS = 4
PER_THREAD = 150


class Worker(SockJSConnection):
    instances = {}
    reasons = {}

    def on_open(self, info):
        self.tag = info.get_argument("tag") or info.path.split("/")[3]
        self.instances[self.tag] = self

    def on_message(self, message):
        self.send(message)

    def on_close(self):
        self.reasons[self.tag] = tuple(self.close_reason)


@pytest.fixture
def worker_server(make_server):
    Worker.instances = {}
    Worker.reasons = {}
    return make_server(router_app(Worker, "/w"))


def _blast(conn):
    """Send from THREADS threads at once; returns when all are done."""
    start = threading.Barrier(THREADS)
    errors = []

    def run(t):
        try:
            start.wait(5)
            for i in range(PER_THREAD):
                conn.send_threadsafe("t%d:%d" % (t, i))
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(t,)) for t in range(THREADS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(10)
    assert not errors, errors
    assert not any(th.is_alive() for th in threads)


def _check(received):
    assert len(received) == THREADS * PER_THREAD
    for t in range(THREADS):
        mine = [m for m in received if m.startswith("t%d:" % t)]
        # Every message of each thread, once, in that thread's order.
        assert mine == ["t%d:%d" % (t, i) for i in range(PER_THREAD)]


def test_send_threadsafe_from_many_threads_over_websocket(worker_server):
    ws = WsClient(worker_server.ws_url + "/w", "ws1", query="tag=ws")
    conn = wait_for(lambda: worker_server.call(lambda: Worker.instances.get("ws")))
    _blast(conn)
    _check(ws.recv_messages(THREADS * PER_THREAD))
    # The session is still healthy and ordinary sends still work.
    ws.send("after")
    assert ws.recv_messages(1) == ["after"]
    ws.close()


def test_send_threadsafe_from_many_threads_over_xhr_polling(worker_server):
    x = XhrClient(worker_server.url + "/w", "xh1")
    assert x.http.post(x.url + "/xhr?tag=xhr", timeout=5).text == "o\n"
    conn = worker_server.call(lambda: Worker.instances["xhr"])
    _blast(conn)
    _check(x.recv_messages(THREADS * PER_THREAD))


def test_close_threadsafe_from_a_thread(worker_server):
    ws = WsClient(worker_server.ws_url + "/w", "ws2", query="tag=c")
    conn = wait_for(lambda: worker_server.call(lambda: Worker.instances.get("c")))
    th = threading.Thread(target=conn.close_threadsafe, args=(4003, "from a thread"))
    th.start()
    th.join(5)
    assert ws.recv_close() == [4003, "from a thread"]
    wait_for(lambda: worker_server.call(lambda: "c" in Worker.reasons))
    assert Worker.reasons["c"] == (4003, "from a thread", "application")
    # Sending to a closed connection from a thread is a quiet no-op.
    conn.send_threadsafe("late")
    conn.close_threadsafe()
    assert worker_server.call(lambda: conn.is_closed) is True


def test_threadsafe_sends_queued_meanwhile_leave_in_one_frame(worker_server):
    import time

    ws = WsClient(worker_server.ws_url + "/w", "ws3", query="tag=b")
    conn = wait_for(lambda: worker_server.call(lambda: Worker.instances.get("b")))
    started = threading.Event()

    def busy_loop():
        started.set()
        time.sleep(0.3)  # the loop is busy: thread calls pile up

    worker_server.loop.call_soon_threadsafe(busy_loop)
    started.wait(5)
    for i in range(50):
        conn.send_threadsafe("q%d" % i)
    kind, data = ws.recv_frame()
    # One wake-up of the loop, one batch, one frame.
    assert (kind, data) == ("a", ["q%d" % i for i in range(50)])
    ws.close()
