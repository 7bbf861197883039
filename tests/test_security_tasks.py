"""Every task the library starts is kept until it is done: asyncio cannot
collect it while it is pending, its failure is logged once with its
traceback, and shutdown waits for it (then cancels it) within its
deadline. (conftest.py fails any test in which asyncio reports a lost
task.)"""

import asyncio
import gc
import logging

import websocket
from conftest import router_app
from security_helpers import wait_for

from sockjs.tornado import SockJSConnection
from sockjs.tornado.tasks import TaskGroup


class Forever(SockJSConnection):
    """``wait`` awaits a future only the handler's own frame holds (a
    cycle the garbage collector may take); ``slow`` sleeps a little."""

    closed = []

    async def on_message(self, message: str) -> None:
        if message == "wait":
            await asyncio.get_running_loop().create_future()
        elif message == "slow":
            await asyncio.sleep(0.3)
            self.send("slept")

    def on_close(self) -> None:
        Forever.closed.append(self.close_reason)


def _router(srv):
    return srv.app.sockjs_router


def test_pending_handler_survives_gc_and_shutdown_cancels_it(make_server, caplog):
    Forever.closed = []
    srv = make_server(router_app(Forever, "/t"))
    ws = websocket.create_connection(srv.ws_url + "/t/0/a/websocket", timeout=5)
    try:
        assert ws.recv() == "o"
        ws.send('["wait"]')
        assert wait_for(lambda: srv.call(lambda: len(_router(srv).tasks)) == 1)
        # Without a strong reference asyncio would now report
        # "Task was destroyed but it is pending!" (conftest fails on it).
        srv.call(gc.collect)
        srv.call(gc.collect)
        assert srv.call(lambda: len(_router(srv).tasks)) == 1
        caplog.set_level(logging.WARNING, "sockjs.tornado")
        srv.run(_router(srv).shutdown(timeout=0.3))
    finally:
        ws.close()
    assert srv.call(lambda: len(_router(srv).tasks)) == 0
    warned = [r for r in caplog.records if "cancelled" in r.getMessage()]
    assert len(warned) == 1 and "on_message of Forever" in warned[0].getMessage()
    # on_close still ran for the session whose handler was cancelled.
    assert Forever.closed == [(1001, "Server shutting down", "server")]


def test_shutdown_waits_for_running_handlers(make_server, caplog):
    Forever.closed = []
    srv = make_server(router_app(Forever, "/t"))
    ws = websocket.create_connection(srv.ws_url + "/t/0/b/websocket", timeout=5)
    try:
        assert ws.recv() == "o"
        ws.send('["slow"]')
        assert wait_for(lambda: srv.call(lambda: len(_router(srv).tasks)) == 1)
        caplog.set_level(logging.WARNING, "sockjs.tornado")
        srv.run(_router(srv).shutdown(timeout=5))
        assert ws.recv() == 'a["slept"]'

    finally:
        ws.close()
    assert not [r for r in caplog.records if "cancelled" in r.getMessage()]
    assert srv.call(lambda: len(_router(srv).tasks)) == 0


def test_failed_task_logged_once_with_traceback(server_errors):
    async def main():
        group = TaskGroup()

        async def boom():
            raise RuntimeError("boom")

        task = group.spawn(boom(), "the boom task")
        await asyncio.wait([task])
        await asyncio.sleep(0)
        assert len(group) == 0
        del task
        gc.collect()
        return await group.wait(1)

    assert asyncio.run(main()) == 0
    gc.collect()
    recs = [r for r in server_errors.records if r.name == "sockjs.tornado"]
    assert len(recs) == 1
    assert recs[0].getMessage() == "the boom task failed" and recs[0].exc_info is not None
    assert not [r for r in server_errors.records if "never retrieved" in r.getMessage()]


def test_failure_handled_by_the_starter_is_not_logged_again(server_errors):
    seen = []

    async def main():
        group = TaskGroup()

        async def boom():
            raise RuntimeError("handled elsewhere")

        task = group.spawn(boom(), "quiet", log_failure=False)
        task.add_done_callback(lambda t: seen.append(t.exception()))
        await asyncio.wait([task])
        await asyncio.sleep(0)
        return len(group)

    assert asyncio.run(main()) == 0
    gc.collect()
    assert len(seen) == 1 and str(seen[0]) == "handled elsewhere"
    assert server_errors.records == []


def test_group_wait_cancels_what_outlives_the_deadline(caplog):
    async def main():
        group = TaskGroup()
        group.spawn(asyncio.sleep(30), "sleeper")
        group.spawn(asyncio.sleep(0.05), "quick")
        return await group.wait(0.2), len(group)

    caplog.set_level(logging.WARNING, "sockjs.tornado")
    assert asyncio.run(main()) == (1, 0)
    assert "sleeper" in caplog.records[-1].getMessage()


def test_library_starts_tasks_only_through_its_groups():
    """Every task the package starts goes through sockjs.tornado.tasks
    (kept until done, failure logged): no bare ensure_future/create_task."""
    import os
    import re

    root = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "sockjs")
    bare = re.compile(r"\b(ensure_future|create_task|Task)\(")
    found = []
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            if not name.endswith(".py") or path.endswith(os.path.join("tornado", "tasks.py")):
                continue
            with open(path, encoding="utf-8") as f:
                for n, line in enumerate(f, 1):
                    if bare.search(line.split("#", 1)[0]):
                        found.append("%s:%d: %s" % (os.path.relpath(path, root), n, line.strip()))
    assert not found, "\n".join(found)
