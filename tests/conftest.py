"""Test harness: real servers on 127.0.0.1, on free ports.

A server runs its own asyncio/Tornado loop in a background thread, so tests
use ordinary blocking clients (``requests``, ``websocket-client``, raw
sockets) against it, and can still look inside it (``server.call``) to
check stats and session registries.

Every ERROR logged by the server during a test fails that test, unless the
test takes the ``server_errors`` fixture and checks them itself: a client's
mistake must never be an ERROR.

``SOCKJS_TEST_LOOP=uvloop`` runs every server on a uvloop event loop
instead of asyncio's own (scripts/test.sh runs the protocol and websocket
tests both ways).
"""

import asyncio
import logging
import os
import socket
import sys
import threading
from typing import Any, Callable, Coroutine, Dict, List, Optional

import pytest
from tornado import httpserver, netutil, web

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "examples"))


class _ErrorCollector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: List[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


_errors = _ErrorCollector()
logging.getLogger().addHandler(_errors)


LOOP_NAME = os.environ.get("SOCKJS_TEST_LOOP", "asyncio")
if LOOP_NAME not in ("asyncio", "uvloop"):
    raise RuntimeError("SOCKJS_TEST_LOOP must be 'asyncio' or 'uvloop', not %r" % LOOP_NAME)


def new_server_loop() -> asyncio.AbstractEventLoop:
    """A fresh event loop of the kind ``SOCKJS_TEST_LOOP`` names."""
    if LOOP_NAME == "uvloop":
        import uvloop  # a missing uvloop fails the run: scripts/test.sh installs it

        return uvloop.new_event_loop()  # type: ignore[no-any-return]
    return asyncio.new_event_loop()


def pytest_collection_modifyitems(config: Any, items: List[Any]) -> None:
    """Keep the fast subset (``-m "not browser and not cluster"``, tox.ini)
    runnable with Python alone. ``cluster`` stands for every program
    outside Python but Node and Chromium, so a ``conformance`` test
    (Autobahn|Testsuite, on Python 2.7) is ``cluster`` too, and so is a test
    that takes the ``redis_url`` fixture. As a safety net, a module that
    imports the Chromium driver (tests/browser) or the cluster helper
    (examples/cluster) gets ``browser`` or ``cluster`` even when it forgot
    its ``pytestmark``."""
    for item in items:
        needs_cluster = item.get_closest_marker("conformance") is not None or "redis_url" in getattr(
            item, "fixturenames", ()
        )
        module = getattr(item, "module", None)
        if module is not None:
            if getattr(module, "Browser", None) is not None and not item.get_closest_marker("browser"):
                item.add_marker(pytest.mark.browser)
            needs_cluster = needs_cluster or getattr(module, "Cluster", None) is not None
        if needs_cluster and not item.get_closest_marker("cluster"):
            item.add_marker(pytest.mark.cluster)


def pytest_collection_finish(session: Any) -> None:
    """Start the long builds of the modules this run includes
    (tests/background.py). Not in a pytest-xdist worker: the module may be
    the other worker's."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return
    started = set()
    for item in session.items:
        module = getattr(item, "module", None)
        start = getattr(module, "start_early", None)
        if start is not None and module not in started:
            started.add(module)
            start()


def pytest_report_header(config: Any) -> str:
    import tornado

    return "sockjs servers: %s event loop, Tornado %s" % (LOOP_NAME, tornado.version)


class ServerThread:
    """A Tornado application served on 127.0.0.1:<free port> from a
    background thread with its own event loop.

    ``app_factory`` runs inside the loop (so routers may be built there or
    before, both must work). ``http_kwargs`` go to ``HTTPServer``.
    """

    def __init__(self, app_factory: Callable[[], web.Application], **http_kwargs: Any) -> None:
        self._factory = app_factory
        self._http_kwargs = http_kwargs
        self.loop = new_server_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.app: Optional[web.Application] = None
        self.port = 0
        self._startup_error: Optional[BaseException] = None
        self._thread.start()
        self._ready.wait(10)
        if self._startup_error is not None:
            raise self._startup_error

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._start())
        except BaseException as e:  # pragma: no cover - reported to the test
            self._startup_error = e
            self._ready.set()
            return
        self._ready.set()
        self.loop.run_forever()
        # Drain what is left so nothing warns after the loop closes.
        pending = asyncio.all_tasks(self.loop)
        for t in pending:
            t.cancel()
        if pending:
            self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self.loop.close()

    async def _start(self) -> None:
        self.app = self._factory()
        sockets = netutil.bind_sockets(0, "127.0.0.1", family=socket.AF_INET)
        self.port = sockets[0].getsockname()[1]
        self.http_server = httpserver.HTTPServer(self.app, **self._http_kwargs)
        self.http_server.add_sockets(sockets)

    @property
    def url(self) -> str:
        return "http://127.0.0.1:%d" % self.port

    @property
    def ws_url(self) -> str:
        return "ws://127.0.0.1:%d" % self.port

    def call(self, fn: Callable[..., Any], *args: Any, timeout: float = 10) -> Any:
        """Run ``fn(*args)`` in the server's loop; await it if it returns a
        coroutine; return its result."""

        async def runner() -> Any:
            result = fn(*args)
            if asyncio.iscoroutine(result):
                result = await result
            return result

        return asyncio.run_coroutine_threadsafe(runner(), self.loop).result(timeout)

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float = 10) -> Any:
        """Run a coroutine in the server's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        async def shutdown() -> None:
            self.http_server.stop()
            await self.http_server.close_all_connections()

        try:
            self.run(shutdown(), timeout=5)
        except Exception:
            pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)


#: What asyncio logs about a task the library lost: collected while
#: pending, or failed with nobody to see it. Never allowed, not even in
#: tests that check their own ERRORs.
TASK_PROBLEMS = ("Task was destroyed but it is pending", "Task exception was never retrieved")


def _task_problems(records: List[logging.LogRecord]) -> List[str]:
    return ["%s: %s" % (r.name, r.getMessage()) for r in records if any(p in r.getMessage() for p in TASK_PROBLEMS)]


@pytest.fixture(autouse=True)
def _no_server_errors(request: Any) -> Any:
    """Fail a test that made the server log an ERROR (unless it took the
    ``server_errors`` fixture to check them itself), or that lost a task."""
    start = len(_errors.records)
    yield
    lost = _task_problems(_errors.records[start:])
    if lost:
        pytest.fail("asyncio reported a lost task:\n" + "\n".join(lost))
    if "server_errors" in request.fixturenames:
        return
    new = _errors.records[start:]
    if new:
        lines = ["%s: %s" % (r.name, r.getMessage()) for r in new]
        pytest.fail("server logged ERROR:\n" + "\n".join(lines))


@pytest.fixture
def server_errors() -> Any:
    """The ERROR records logged during this test (a list that grows)."""
    start = len(_errors.records)

    class View:
        @property
        def records(self) -> List[logging.LogRecord]:
            return _errors.records[start:]

    return View()


@pytest.fixture(scope="session")
def test_server() -> Any:
    """The conformance test server (examples/test_server.py), as the public
    protocol suite runs it."""
    import test_server as ts

    srv = ServerThread(lambda: ts.make_app())
    yield srv
    srv.stop()


@pytest.fixture
def redis_url() -> Any:
    """The URL of a redis-server of the test's own on 127.0.0.1 (started by
    the cluster example's helper, imported here so that the Python-only
    subset never needs it)."""
    sys.path.insert(0, os.path.join(ROOT, "examples", "cluster"))
    from cluster import Cluster

    c = Cluster(nodes=0)
    c.start_redis()
    yield c.redis_url
    c.cleanup()


@pytest.fixture
def make_server() -> Any:
    """Factory: ``make_server(app_factory, **http_kwargs)`` starts a server
    that is stopped after the test."""
    servers: List[ServerThread] = []

    def factory(app_factory: Callable[[], web.Application], **kw: Any) -> ServerThread:
        srv = ServerThread(app_factory, **kw)
        servers.append(srv)
        return srv

    yield factory
    for s in servers:
        s.stop()


def router_app(
    connection: Any, prefix: str = "/echo", settings: Optional[Dict[str, Any]] = None, **router_kw: Any
) -> Callable[[], web.Application]:
    """An app factory serving one router; the router is reachable as
    ``app.sockjs_router``."""
    from sockjs.tornado import SockJSRouter

    def factory() -> web.Application:
        router = SockJSRouter(connection, prefix, settings or {}, **router_kw)
        app = web.Application(router.urls)
        app.sockjs_router = router  # type: ignore[attr-defined]
        return app

    return factory


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    """A task collected after its test ended is reported here: the run
    fails."""
    import gc

    before = len(_errors.records)
    gc.collect()
    lost = _task_problems(_errors.records[before:])
    if lost:
        sys.stderr.write("asyncio reported a lost task after the tests:\n" + "\n".join(lost) + "\n")
        session.exitstatus = 1
