"""The real sockjs-client 1.6.1, in Debian's headless Chromium, on every
transport it has, against the conformance server.

Two page placements per transport:

* ``same``: the page comes from the SockJS server itself (extra static
  routes on the conformance app), so the client talks to its own origin;
* ``cross``: the page comes from a second server on another port, so every
  request is cross-origin (CORS, or the iframe transports' postMessage).

Both places, and the server's iframe page (``sockjs_url``), load the very
same ``node_modules/sockjs-client/dist/sockjs.min.js``.

The page (``tests/browser/pages/transport.html``) forces one transport with
the client's ``transports`` option, waits for two heartbeats, sends a burst
of awkward messages to ``/echo`` and expects them back complete and in
order, closes with 1000, then opens ``/close`` and expects 3000 "Go away!".
Also: with nothing forced the client picks websocket, or xhr-streaming
where the server disables websocket; and with JSESSIONID on
(``/cookie_needed_echo``) the HTTP transports still work across origins.

All pages run in one browser, a few at a time, once per module; each test
checks one result.
"""

import json
import time
from typing import Any, Dict, Iterator, List, Tuple
from urllib.parse import urlencode

import pytest
import test_server
from browser import TRANSPORTS, Browser, PageResult, client_routes, page_routes
from conftest import ServerThread, _errors
from tornado import web

pytestmark = pytest.mark.browser

PLACES = ["same", "cross"]
# Short, so every transport shows its heartbeats to the client quickly.
HEARTBEAT_DELAY = 0.3
HEARTBEATS = 2

# Keep in step with MESSAGES in tests/browser/pages/transport.html.
_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
MESSAGES = [
    "hello",
    "plain ASCII, with spaces & punctuation: <>?!",
    "non-BMP: \U0001f600 \U0001d11e \U00020000",
    "\u2028",
    "".join(_ALPHABET[i % len(_ALPHABET)] for i in range(50 * 1024)),
    '["a"]',
    '{"x":1}',
    '"q"',
    'escapes: \u2029 \u200c \ufeff \u00ad \u0000 \u001f \u007f "\\/',
    "",
]

# The real client offers htmlfile only to a page on the server's own origin
# (HtmlFileTransport.enabled checks info.sameOrigin); cross-origin pages use
# iframe-htmlfile instead. Forcing it cross-origin leaves no transport.
NOT_OFFERED = {("htmlfile", "cross")}

# Nothing forced: what the client picks in Chromium, per service.
DEFAULT_CHOICE = {"/echo": "websocket", "/disabled_websocket_echo": "xhr-streaming"}

# JSESSIONID on (cookie_needed): the HTTP transports, across origins.
COOKIE_TRANSPORTS = ["xhr-streaming", "eventsource", "xhr-polling", "iframe-xhr-polling", "jsonp-polling"]

Key = Tuple[str, str, str]


def _app() -> web.Application:
    # A relative sockjs_url: the iframe page is served by this very server,
    # so it loads the same file the same-origin page loads.
    app = test_server.make_app(sockjs_url="/static/sockjs.min.js", heartbeat_delay=HEARTBEAT_DELAY)
    app.add_handlers(r".*", client_routes() + page_routes())
    return app


def _page_app() -> web.Application:
    return web.Application(client_routes() + page_routes())


def _attached_receivers(app: web.Application) -> List[str]:
    """(Runs in the server loop.) Sessions of ``app`` that have a receiver."""
    found = []
    for rule in app.wildcard_router.rules:
        router = getattr(rule.target, "server", None)
        if router is None:
            continue
        for session in list(router.sessions):
            if getattr(session, "handler", None) is not None:
                found.append("%s/%s" % (router.prefix, session.session_id))
    return sorted(set(found))


def _pages() -> List[Tuple[Key, str, Dict[str, str]]]:
    """(key, place, page query) for every page of the module."""
    pages = []
    for place in PLACES:
        for transport in TRANSPORTS:
            pages.append((("forced", transport, place), place, {"transport": transport}))
        for service in DEFAULT_CHOICE:
            pages.append((("default", service, place), place, {"echo": service}))
    for transport in COOKIE_TRANSPORTS:
        pages.append((("cookie", transport, "cross"), "cross", {"transport": transport, "echo": "/cookie_needed_echo"}))
    return pages


@pytest.fixture(scope="module")
def results() -> Iterator[Dict[Key, PageResult]]:
    """Run every page once, in one browser."""
    errors_before = len(_errors.records)
    sockjs_server = ServerThread(_app)
    page_server = ServerThread(_page_app)
    try:
        with Browser(max_pages=4) as browser:
            keys = []
            urls = []
            for key, place, query in _pages():
                origin = sockjs_server.url if place == "same" else page_server.url
                query = dict(query, server=sockjs_server.url, heartbeats=str(HEARTBEATS))
                keys.append(key)
                urls.append(
                    (
                        "%s/pages/transport.html?%s" % (origin, urlencode(query)),
                        {"timeout": 40, "progress": "window.__progress"},
                    )
                )
            outcome = dict(zip(keys, browser.run_many(urls)))
        # Chromium is gone, so every socket it had is closed: no session
        # may still hold a receiver (a poll the server thinks is pending).
        deadline = time.monotonic() + 5
        while sockjs_server.call(_attached_receivers, sockjs_server.app) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sockjs_server.call(_attached_receivers, sockjs_server.app) == []
        yield outcome
    finally:
        page_server.stop()
        sockjs_server.stop()
    # The per-test ERROR check cannot see this fixture's pages (they ran
    # before the tests): nothing the real client did may be an ERROR.
    logged = ["%s: %s" % (r.name, r.getMessage()) for r in _errors.records[errors_before:]]
    assert not logged, "server logged ERROR while serving the pages:\n" + "\n".join(logged)


def _outcome(res: PageResult) -> Dict[str, Any]:
    assert res.ok, res.describe()
    assert not res.errors, res.describe()
    out: Dict[str, Any] = res.result
    assert out["version"] == "1.6.1", res.describe()
    return out


def _short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) < 300 else text[:300] + "...(%d chars)" % len(text)


def _check_echo(record: Dict[str, Any], transport: str, res: PageResult) -> None:
    assert record["opened"], "echo session never opened: %s\n%s" % (_short(record["close"]), res.describe())
    assert record["transport"] == transport
    # The burst waited for these: "h" frames reach the client on this transport.
    assert record["heartbeats"] >= HEARTBEATS
    assert record["sent"] == MESSAGES, "page and test disagree on the messages"
    received = record["received"]
    assert len(received) == len(MESSAGES), "got %d of %d messages: %s" % (
        len(received),
        len(MESSAGES),
        _short(received),
    )
    for i, (got, want) in enumerate(zip(received, MESSAGES)):
        assert got == want, "message %d: got %s, want %s" % (i, _short(got), _short(want))
    assert record["close"] == {"code": 1000, "reason": "done", "wasClean": True}


def _check_close(record: Dict[str, Any], transport: str, res: PageResult) -> None:
    assert record["opened"], "/close session never opened: %s\n%s" % (_short(record["close"]), res.describe())
    assert record["transport"] == transport
    assert record["received"] == []
    assert record["close"]["code"] == 3000, _short(record)
    assert record["close"]["reason"] == "Go away!"
    assert record["close"]["wasClean"] is True


@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_transport(results: Dict[Key, PageResult], transport: str, place: str) -> None:
    res = results[("forced", transport, place)]
    out = _outcome(res)
    if (transport, place) in NOT_OFFERED:
        for record in (out["echo"], out["close"]):
            assert not record["opened"]
            assert record["close"]["code"] == 2000, res.describe()
            assert record["close"]["reason"] == "All transports failed"
        return
    _check_echo(out["echo"], transport, res)
    _check_close(out["close"], transport, res)


@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize("service", sorted(DEFAULT_CHOICE))
def test_client_default_choice(results: Dict[Key, PageResult], service: str, place: str) -> None:
    """With no ``transports`` option Chromium takes websocket, and
    xhr-streaming where the server disables websocket."""
    res = results[("default", service, place)]
    out = _outcome(res)
    _check_echo(out["echo"], DEFAULT_CHOICE[service], res)
    _check_close(out["close"], "websocket", res)


@pytest.mark.parametrize("transport", COOKIE_TRANSPORTS)
def test_cookie_needed_cross_origin(results: Dict[Key, PageResult], transport: str) -> None:
    """JSESSIONID on (``cookie_needed``) does not stop a cross-origin page."""
    res = results[("cookie", transport, "cross")]
    out = _outcome(res)
    _check_echo(out["echo"], transport, res)
    _check_close(out["close"], transport, res)
