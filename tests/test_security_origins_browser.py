"""``allowed_origins`` as real browsers send requests: the real
sockjs-client in headless Chromium, from three page origins.

* ``own``: the page comes from the SockJS server itself
  (``http://127.0.0.1:P``), an origin *not* on the list: the service's own
  origin is always served;
* ``allowed``: the page comes from ``http://127.0.0.1:P2``, the one origin
  on the list;
* ``foreign``: the page comes from ``http://localhost:P3``, not listed.

From ``own`` every one of the nine transports connects and echoes; from
``allowed`` every one the client offers to a cross-origin page (all but
``htmlfile``). From ``foreign`` no transport opens a session (``on_open``
never runs, checked on the server): with the client as shipped (refused at
``/info``), with a client that skips ``/info`` (the page answers it
itself), and with the bare requests each transport makes (websocket, fetch,
EventSource, ``<script>``, ``<iframe>``, a form post), and the server counts
the refusals. The same bare requests from the allowed page do open
sessions (so the probe could fail). A foreign page that frames an
allowed page gets no iframe transport through it (the browser enforces
iframe.html's ``frame-ancestors``). The Node client claiming a foreign
origin is refused too.
"""

import json
import shutil
import subprocess
import threading
from typing import Any, Dict, Iterator, List, Tuple
from urllib.parse import urlencode

import pytest
import requests
from browser import TRANSPORTS, Browser, PageResult, client_routes, page_routes
from conftest import ROOT, ServerThread
from test_real_client_browser import MESSAGES
from tornado import web

from sockjs.tornado import SockJSConnection, SockJSRouter
from sockjs.tornado.metrics import render

# The client offers htmlfile only on the server's own origin.
CROSS_TRANSPORTS = [t for t in TRANSPORTS if t != "htmlfile"]

_lock = threading.Lock()
OPENED: List[Tuple[str, str]] = []


class Echo(SockJSConnection):
    def on_open(self, info: Any) -> None:
        with _lock:
            OPENED.append(("/echo", self.session.transport_name or ""))

    def on_message(self, message: str) -> None:
        self.send(message)


class Close(SockJSConnection):
    def on_open(self, info: Any) -> None:
        with _lock:
            OPENED.append(("/close", self.session.transport_name or ""))
        self.close(3000, "Go away!")


def _opened() -> List[Tuple[str, str]]:
    with _lock:
        return list(OPENED)


class Servers:
    def __init__(self) -> None:
        pages = lambda: web.Application(client_routes() + page_routes())  # noqa: E731
        self.allowed_pages = ServerThread(pages)
        self.foreign_pages = ServerThread(pages)
        self.allowed_origin = self.allowed_pages.url
        self.foreign_origin = "http://localhost:%d" % self.foreign_pages.port
        settings = {
            "sockjs_url": "/static/sockjs.min.js",
            "jsessionid": False,
            "allowed_origins": [self.allowed_origin],
            "disconnect_delay": 1,
            "session_check_interval": 0.2,
        }

        def app() -> web.Application:
            self.routers = [SockJSRouter(Echo, "/echo", settings), SockJSRouter(Close, "/close", settings)]
            urls: List[Any] = []
            for r in self.routers:
                r.apply_routes(urls)
            return web.Application(urls + client_routes() + page_routes())

        self.sockjs = ServerThread(app)

    def refusals(self) -> int:
        return sum(self.sockjs.call(lambda: [r.stats.origin_refusals for r in self.routers]))

    def stop(self) -> None:
        for s in (self.sockjs, self.allowed_pages, self.foreign_pages):
            s.stop()


@pytest.fixture(scope="module")
def servers() -> Iterator[Servers]:
    srv = Servers()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with Browser(max_pages=4) as b:
        yield b


def _transport_page(origin: str, server: str, transport: str, **extra: str) -> Tuple[str, Dict[str, Any]]:
    query = dict(transport=transport, server=server, **extra)
    return ("%s/pages/transport.html?%s" % (origin, urlencode(query)), {"timeout": 40, "progress": "window.__progress"})


def _describe(results: Dict[str, PageResult]) -> str:
    return "\n".join(r.describe() for r in results.values())


@pytest.fixture(scope="module")
def foreign(servers: Servers, browser: Browser) -> Dict[str, Any]:
    """Every foreign page, run before anything opens a session."""
    del OPENED[:]
    before = servers.refusals()
    specs: Dict[str, Tuple[str, Dict[str, Any]]] = {}
    # Short timeouts: these pages are expected to fail.
    short = {"connect_timeout": "3000", "timeout": "10000"}
    for t in TRANSPORTS:
        specs["client " + t] = _transport_page(servers.foreign_origin, servers.sockjs.url, t, **short)
        specs["no-info " + t] = _transport_page(servers.foreign_origin, servers.sockjs.url, t, skip_info="1", **short)
    specs["probe"] = (
        "%s/pages/origin_probe.html?%s" % (servers.foreign_origin, urlencode({"server": servers.sockjs.url})),
        {"timeout": 30},
    )
    results = dict(zip(specs, browser.run_many(list(specs.values()))))
    return {"results": results, "opened": _opened(), "refused": servers.refusals() - before}


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_foreign_page_opens_no_session(foreign: Dict[str, Any], transport: str) -> None:
    for how in ("client", "no-info"):
        res = foreign["results"]["%s %s" % (how, transport)]
        assert res.ok, res.describe()
        record = res.result["echo"]
        assert record["opened"] is False, res.describe()
        assert record["received"] == [], res.describe()
        if how == "no-info":
            # The page really skipped the server's /info.
            assert res.result.get("infoSkipped", 0) >= 1, res.describe()
    assert foreign["opened"] == [], _describe(foreign["results"])


def test_foreign_probe_opens_no_session(foreign: Dict[str, Any]) -> None:
    res = foreign["results"]["probe"]
    assert res.ok, res.describe()
    assert len(res.result["fired"]) == 12, res.describe()
    # Nothing the page could read came from a session.
    assert not any(v.startswith(("frame", "data", "open")) for v in res.result["seen"].values()), res.describe()
    assert foreign["opened"] == [], res.describe()


def test_foreign_refusals_counted(foreign: Dict[str, Any], servers: Servers) -> None:
    # Each page made at least one refused request (the probe, twelve).
    assert foreign["refused"] >= 2 * len(TRANSPORTS) + 12, foreign["refused"]
    text = servers.sockjs.call(lambda: render(servers.routers))
    line = [ln for ln in text.splitlines() if ln.startswith('sockjs_origin_refusals_total{service="/echo"}')]
    assert line and int(line[0].split()[-1]) > 0, text


@pytest.fixture(scope="module")
def allowed(servers: Servers, browser: Browser, foreign: Dict[str, Any]) -> Dict[str, PageResult]:
    specs: Dict[str, Tuple[str, Dict[str, Any]]] = {}
    for t in TRANSPORTS:
        specs["own " + t] = _transport_page(servers.sockjs.url, servers.sockjs.url, t)
    for t in CROSS_TRANSPORTS:
        specs["allowed " + t] = _transport_page(servers.allowed_origin, servers.sockjs.url, t)
    return dict(zip(specs, browser.run_many(list(specs.values()))))


@pytest.mark.parametrize(
    "place,transport", [("own", t) for t in TRANSPORTS] + [("allowed", t) for t in CROSS_TRANSPORTS]
)
def test_allowed_page_echoes(allowed: Dict[str, PageResult], place: str, transport: str) -> None:
    res = allowed["%s %s" % (place, transport)]
    assert res.ok, res.describe()
    echo = res.result["echo"]
    assert echo["opened"] and echo["transport"] == transport, res.describe()
    assert echo["received"] == MESSAGES, res.describe()
    assert echo["close"]["code"] == 1000, res.describe()
    close = res.result["close"]
    assert close["opened"] and close["close"]["code"] == 3000, res.describe()


def test_probe_from_allowed_page_opens_sessions(servers: Servers, browser: Browser, foreign: Dict[str, Any]) -> None:
    # The probe can fail: from the allowed page its requests do open
    # sessions, all but the two that hide the page (no Referer).
    before = len(_opened())
    refused = servers.refusals()
    res = browser.run(
        "%s/pages/origin_probe.html?%s" % (servers.allowed_origin, urlencode({"server": servers.sockjs.url}))
    )
    assert res.ok, res.describe()
    kinds = sorted(t for _, t in _opened()[before:])
    assert kinds == sorted(
        ["websocket", "rawwebsocket", "xhr_streaming", "xhr", "eventsource", "eventsource", "jsonp", "htmlfile"]
    ), (kinds, res.describe())
    assert servers.refusals() - refused >= 2, res.describe()


IFRAME_TRANSPORTS = ["iframe-eventsource", "iframe-htmlfile", "iframe-xhr-polling"]


@pytest.fixture(scope="module")
def framed(servers: Servers, browser: Browser, allowed: Dict[str, PageResult]) -> Dict[str, Any]:
    """The allowed page, framed by the foreign page, on each iframe transport."""
    before = len(_opened())
    refused = servers.refusals()
    pages = []
    for t in IFRAME_TRANSPORTS:
        inner, _ = _transport_page(
            servers.allowed_origin, servers.sockjs.url, t, connect_timeout="3000", timeout="6000"
        )
        pages.append(
            (
                "%s/pages/frame.html?%s" % (servers.foreign_origin, urlencode({"src": inner, "wait": 7000})),
                {"timeout": 30},
            )
        )
    results = dict(zip(IFRAME_TRANSPORTS, browser.run_many(pages)))
    return {"results": results, "opened": _opened()[before:], "refused": servers.refusals() - refused}


@pytest.mark.parametrize("transport", IFRAME_TRANSPORTS)
def test_allowed_page_framed_by_foreign_page(framed: Dict[str, Any], transport: str) -> None:
    """The server cannot see who frames an allowed page (its Referer is the
    allowed page), but the browser can: iframe.html's frame-ancestors
    policy names every ancestor, so a foreign page that frames an allowed
    page gets no iframe transport through it."""
    res = framed["results"][transport]
    assert res.ok, res.describe()
    assert framed["opened"] == [], res.describe()
    # iframe.html itself was served (the check saw the allowed page): the
    # browser refused to show it.
    assert framed["refused"] == 0, res.describe()
    assert any("frame-ancestors" in line for line in res.console), res.describe()


def test_iframe_page_csp(servers: Servers) -> None:
    url = servers.sockjs.url + "/echo/iframe.html"
    r = requests.get(url, headers={"Referer": servers.allowed_origin + "/"}, timeout=5)
    assert r.status_code == 200
    assert r.headers["Content-Security-Policy"] == "frame-ancestors 'self' " + servers.allowed_origin
    r = requests.get(url, headers={"Referer": servers.foreign_origin + "/"}, timeout=5)
    assert r.status_code == 403
    # Names no page: refused, as a script or frame load (anonymous_requests).
    assert requests.get(url, timeout=5).status_code == 403


def test_node_client_claiming_foreign_origin_is_refused(servers: Servers) -> None:
    node = shutil.which("node")
    assert node is not None, "node is not on PATH: install Node.js 18+"
    before = len(_opened())
    refused = servers.refusals()
    transports = ["websocket", "xhr-streaming", "xhr-polling", "eventsource"]
    proc = subprocess.run(
        [node, "tests/node/sockjs_client.js"],
        input=json.dumps(
            {
                "server": servers.sockjs.url,
                "transports": transports,
                "messages": ["x"],
                "step_timeout_ms": 10000,
                "origin": servers.foreign_origin,
            }
        ),
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=90,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    for t in transports:
        assert out["results"][t]["echo"]["opened"] is False, (t, out)
    assert _opened()[before:] == []
    assert servers.refusals() - refused >= len(transports)
