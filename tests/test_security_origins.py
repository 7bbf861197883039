"""Origins and CORS.

``allowed_origins`` is enforced on every endpoint that serves a session:
a refused Origin gets 403, no CORS headers, and no session is made."""

import pytest
import requests
from conftest import router_app
from security_helpers import RawWS

from sockjs.tornado import SockJSConnection
from sockjs.tornado.origins import OriginMatcher, host_port_allowed, parse_origin

CORS_HEADERS = (
    "Access-Control-Allow-Origin",
    "Access-Control-Allow-Credentials",
    "Access-Control-Allow-Methods",
    "Access-Control-Allow-Headers",
    "Access-Control-Max-Age",
)


class Echo(SockJSConnection):
    def on_message(self, message: str) -> None:
        self.send(message)


# -- the matcher, pure --------------------------------------------------------


@pytest.mark.parametrize(
    "origin",
    [
        "https://a.example.com",
        "https://a.b.example.com",
        "HTTPS://A.Example.COM",
        "https://a-b.example.com",
        "https://a.example.com:443",
    ],
)
def test_wildcard_matches_subdomains(origin):
    assert OriginMatcher(["https://*.example.com"])(origin)


@pytest.mark.parametrize(
    "origin",
    [
        "https://example.com",  # '*' is one or more labels
        "https://xexample.com",
        "https://example.com.evil.com",
        "https://evil.com/.example.com",
        "https://evil.com?.example.com",
        "https://evil.com#.example.com",
        "https://user@a.example.com",
        "https://evil.com:@a.example.com",
        "https://a.example.com:8443",  # port must match too
        "http://a.example.com",  # and the scheme
        "https://a..example.com",
        "https://.example.com",
        "https://a.example.com/",
        "https://a b.example.com",
        "null",
        "",
        "*",
        "https://*.example.com",
        "example.com",
        "a.example.com",
        "https://a.example.com\r\nX: y",
    ],
)
def test_wildcard_refuses_lookalikes(origin):
    assert not OriginMatcher(["https://*.example.com"])(origin)


def test_exact_and_ports():
    m = OriginMatcher(["https://app.example.com", "http://localhost:8080", "http://dev.local:*", "null"])
    assert m("https://app.example.com")
    assert m("https://app.example.com:443")  # default port implied
    assert m("https://APP.example.com")
    assert not m("http://app.example.com")
    assert not m("https://app.example.com:8443")
    assert not m("https://app.example.com.evil.com")
    assert m("http://localhost:8080")
    assert not m("http://localhost:8081")
    assert not m("http://localhost")
    assert m("http://dev.local:1234") and m("http://dev.local")
    assert not m("http://x.dev.local:1234")
    assert m("null")


def test_null_needs_its_own_entry():
    assert not OriginMatcher(["https://*.example.com"])("null")
    assert OriginMatcher(["null"])("null")


def test_star_and_callable():
    assert OriginMatcher("*")("https://anything.example")
    assert OriginMatcher(["*"])("null")
    seen = []
    m = OriginMatcher(lambda o: seen.append(o) or o.endswith(".ok"))
    assert m("https://a.ok") and not m("https://a.no")
    assert seen == ["https://a.ok", "https://a.no"]


def test_callable_that_raises_refuses(server_errors):
    def broken(origin):
        raise RuntimeError("boom")

    assert not OriginMatcher(broken)("https://a.example.com")
    assert len(server_errors.records) == 1


@pytest.mark.parametrize(
    "entry",
    [
        "https://a.*.example.com",
        "https://*example.com",
        "*.example.com",
        "https://example.*",
        "https://*.example.com/path",
        "nonsense",
    ],
)
def test_bad_entries_fail_at_construction(entry):
    from sockjs.tornado import SockJSRouter

    with pytest.raises(ValueError):
        SockJSRouter(Echo, "/echo", {"allowed_origins": [entry]})


def test_parse_origin():
    assert parse_origin("http://[::1]:8080") == ("http", "[::1]", "8080")
    assert parse_origin("http://h:80") == ("http", "h", "")
    assert parse_origin("http://h:99999999") is None
    assert parse_origin("http://h:x") is None
    assert parse_origin("http://") is None
    assert parse_origin("http://[::1") is None


def test_websocket_allow_origin_is_exact_host_port():
    allowed = {"example.com", "example.com:8080"}
    assert host_port_allowed("https://example.com", allowed)
    assert host_port_allowed("http://example.com:8080", allowed)
    assert not host_port_allowed("http://example.com:8081", allowed)
    assert not host_port_allowed("http://evilexample.com", allowed)
    assert not host_port_allowed("http://example.com.evil.com", allowed)
    assert not host_port_allowed("http://evil.com/example.com", allowed)
    assert not host_port_allowed("http://example.com@evil.com", allowed)
    assert not host_port_allowed("example.com", allowed)


# -- enforced on every endpoint of a live server ------------------------------

ALLOWED = "https://app.example.com"
REFUSED = "https://evil.example.org"


@pytest.fixture(scope="module")
def strict_server():
    from conftest import ServerThread

    srv = ServerThread(
        router_app(
            Echo,
            "/echo",
            {
                "allowed_origins": [ALLOWED, "https://*.example.net"],
                "disconnect_delay": 0.5,
                "session_check_interval": 0.2,
            },
        )
    )
    yield srv
    srv.stop()


def _requests(base, tag=""):
    """(method, url, kwargs) of every HTTP endpoint that serves a session."""
    s = base + "/echo/000/" + tag + "%s"
    return [
        ("GET", base + "/echo/info", {}),
        ("OPTIONS", base + "/echo/info", {}),
        ("POST", s % "a1/xhr", {}),
        ("OPTIONS", s % "a2/xhr", {}),
        ("POST", s % "a3/xhr_streaming", {}),
        ("OPTIONS", s % "a4/xhr_streaming", {}),
        ("GET", s % "a5/eventsource", {}),
        ("GET", s % "a6/htmlfile?c=cb", {}),
        ("GET", s % "a7/jsonp?c=cb", {}),
        ("POST", s % "a8/xhr_send", {"data": '["x"]'}),
        ("OPTIONS", s % "a9/xhr_send", {}),
        (
            "POST",
            s % "a10/jsonp_send",
            {"data": 'd=["x"]', "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
        ),
        ("OPTIONS", s % "a11/jsonp_send", {}),
    ]


def _from_page(url, origin, method="GET"):
    """The headers a browser sends for a request to ``url`` made by a page
    on ``origin``: ``Origin`` on websockets, XHR, EventSource and every
    POST; on a ``<script>`` or ``<iframe>`` load (jsonp, htmlfile) only
    ``Sec-Fetch-*`` and the page's origin as ``Referer``."""
    dest = "script" if "/jsonp?" in url else "iframe" if "/htmlfile?" in url else None
    if dest is None or method != "GET":
        return {"Origin": origin, "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "cors"}
    return {
        "Sec-Fetch-Site": "cross-site",
        "Sec-Fetch-Dest": dest,
        "Sec-Fetch-Mode": "no-cors" if dest == "script" else "navigate",
        "Referer": origin + "/",
    }


@pytest.mark.parametrize("index", range(13))
def test_refused_origin_gets_403_everywhere(strict_server, index):
    method, url, kw = _requests(strict_server.url)[index]
    headers = dict(kw.pop("headers", {}), **_from_page(url, REFUSED, method))
    r = requests.request(method, url, headers=headers, timeout=5, **kw)
    assert r.status_code == 403, (method, url, r.status_code, r.text)
    for h in CORS_HEADERS:
        assert h not in r.headers, (method, url, h)
    assert strict_server.call(lambda: len(strict_server.app.sockjs_router.sessions)) == 0


@pytest.mark.parametrize("path", ["/echo/000/ws1/websocket", "/echo/websocket"])
@pytest.mark.parametrize("origin", [REFUSED, "https://example.net", "null", "https://a.example.net.evil.com"])
def test_refused_origin_websocket(strict_server, path, origin):
    ws = RawWS(strict_server.port, path, origin=origin)
    try:
        assert ws.status == 403
        assert not any(h.startswith("access-control-") for h in ws.headers)
    finally:
        ws.close()
    assert strict_server.call(lambda: len(strict_server.app.sockjs_router.sessions)) == 0


@pytest.mark.parametrize("origin", [ALLOWED, "https://a.example.net", "https://a.b.example.net:443"])
def test_allowed_origin_is_served_everywhere(strict_server, origin):
    base = strict_server.url
    for method, url, kw in _requests(base, tag=str(abs(hash(origin)))):
        headers = dict(kw.pop("headers", {}), **_from_page(url, origin, method))
        if url.endswith("_send"):
            # Needs a session: open it first with a poll.
            requests.post(url.rsplit("/", 1)[0] + "/xhr", headers={"Origin": origin}, timeout=5)
        # Streaming answers never end by themselves: read the head only.
        r = requests.request(method, url, headers=headers, timeout=5, stream=True, **kw)
        r.close()
        assert r.status_code in (200, 204), (method, url, r.status_code)
        if "jsonp" not in url and "eventsource" not in url and "htmlfile" not in url:
            assert r.headers["Access-Control-Allow-Origin"] == origin
            assert r.headers["Access-Control-Allow-Credentials"] == "true"
            assert "Origin" in r.headers["Vary"]
    ws = RawWS(strict_server.port, "/echo/000/wsok/websocket", origin=origin)
    try:
        assert ws.status == 101
        assert ws.recv_frames()[0][1] == b"o"
    finally:
        ws.close()
    raw = RawWS(strict_server.port, "/echo/websocket", origin=origin)
    try:
        assert raw.status == 101
    finally:
        raw.close()


def test_no_origin_is_served(strict_server):
    # Not a browser page (curl, a server), or a same-origin GET of an old
    # browser: served where a browser page always names itself.
    r = requests.get(strict_server.url + "/echo/info", timeout=5)
    assert r.status_code == 200
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in r.headers


@pytest.mark.parametrize("transport", ["jsonp?c=cb", "htmlfile?c=cb"])
@pytest.mark.parametrize(
    "headers,status",
    [
        # Script and frame loads name their page by Referer (and Sec-Fetch-Site).
        ({"Sec-Fetch-Site": "cross-site", "Referer": REFUSED + "/page.html"}, 403),
        ({"Sec-Fetch-Site": "cross-site", "Referer": ALLOWED + "/page.html?x#y"}, 200),
        ({"Sec-Fetch-Site": "same-site", "Referer": "https://b.example.net/"}, 200),
        ({"Sec-Fetch-Site": "same-site", "Referer": "https://evil.example.net.evil.org/"}, 403),
        # A page that hides itself (referrerpolicy="no-referrer").
        ({"Sec-Fetch-Site": "cross-site"}, 403),
        # An old browser (no Sec-Fetch-*) still sends the Referer.
        ({"Referer": ALLOWED + "/"}, 200),
        ({"Referer": REFUSED + "/"}, 403),
        ({"Referer": "not a url"}, 403),
        # Names no page: anonymous_requests' default refuses script/frame loads.
        ({}, 403),
        # The service's own pages (the iframe page), and the user's own navigation.
        ({"Sec-Fetch-Site": "same-origin"}, 200),
        ({"Sec-Fetch-Site": "none"}, 200),
    ],
)
def test_script_and_frame_loads(strict_server, transport, headers, status):
    url = strict_server.url + "/echo/000/%s/%s" % (abs(hash((transport, str(headers)))), transport)
    before = strict_server.call(lambda: strict_server.app.sockjs_router.stats.origin_refusals)
    r = requests.get(url, headers=headers, timeout=5, stream=True)
    r.close()
    assert r.status_code == status, r.text
    refused = strict_server.call(lambda: strict_server.app.sockjs_router.stats.origin_refusals) - before
    assert refused == (1 if status == 403 else 0)


def test_own_origin_is_served(strict_server):
    # The iframe page's XHRs carry the service's own origin, not on the list.
    own = strict_server.url
    r = requests.post(strict_server.url + "/echo/000/own1/xhr", headers={"Origin": own}, timeout=5)
    assert r.status_code == 200 and r.text == "o\n"
    r = requests.post(strict_server.url + "/echo/000/own1/xhr_send", data='["x"]', headers={"Origin": own}, timeout=5)
    assert r.status_code == 204
    ws = RawWS(strict_server.port, "/echo/000/own2/websocket", origin=own)
    try:
        assert ws.status == 101
    finally:
        ws.close()
    # Another port of the same host is another origin.
    other = "http://127.0.0.1:%d" % (strict_server.port + 1)
    r = requests.post(strict_server.url + "/echo/000/own3/xhr", headers={"Origin": other}, timeout=5)
    assert r.status_code == 403


@pytest.mark.parametrize(
    "setting,embedded,plain", [("allow", 200, 200), ("refuse_embedded", 403, 200), ("refuse", 403, 403)]
)
def test_anonymous_requests_setting(make_server, setting, embedded, plain):
    srv = make_server(router_app(Echo, "/echo", {"allowed_origins": [ALLOWED], "anonymous_requests": setting}))
    r = requests.get(srv.url + "/echo/000/an1/jsonp?c=cb", timeout=5)
    assert r.status_code == embedded
    r = requests.get(srv.url + "/echo/iframe.html", timeout=5)
    assert r.status_code == embedded
    r = requests.post(srv.url + "/echo/000/an2/xhr", timeout=5)
    assert r.status_code == plain
    ws = RawWS(srv.port, "/echo/000/an3/websocket", origin=None)
    try:
        assert ws.status == (101 if plain == 200 else 403)
    finally:
        ws.close()


def test_anonymous_requests_bad_value():
    from sockjs.tornado import SockJSRouter

    with pytest.raises(ValueError):
        SockJSRouter(Echo, "/echo", {"anonymous_requests": "sometimes"})


@pytest.mark.parametrize(
    "setting,expected",
    [
        ("*", None),
        (lambda o: True, None),
        (
            ["https://App.example.com:443", "http://localhost:*", "https://*.example.net:8443", "null"],
            "frame-ancestors 'self' https://app.example.com http://localhost:* https://*.example.net:8443",
        ),
    ],
)
def test_iframe_frame_ancestors(make_server, setting, expected):
    srv = make_server(router_app(Echo, "/echo", {"allowed_origins": setting}))
    r = requests.get(srv.url + "/echo/iframe.html", headers={"Sec-Fetch-Site": "none"}, timeout=5)
    assert r.status_code == 200
    assert r.headers.get("Content-Security-Policy") == expected
    # A 304 keeps the policy too.
    r = requests.get(
        srv.url + "/echo/iframe.html", timeout=5, headers={"Sec-Fetch-Site": "none", "If-None-Match": r.headers["ETag"]}
    )
    assert r.status_code == 304
    assert r.headers.get("Content-Security-Policy") == expected


@pytest.mark.parametrize(
    "referer,expected",
    [
        ("https://a.example/x/y?z", "https://a.example"),
        ("http://h:8080", "http://h:8080"),
        ("http://h:8080#frag", "http://h:8080"),
        ("http://user@h/", None),
        ("/relative", None),
        ("", None),
        ("http:///x", None),
        ("http://h\\evil/", None),
    ],
)
def test_referer_origin(referer, expected):
    from sockjs.tornado.origins import referer_origin

    assert referer_origin(referer) == expected


def test_same_origin():
    from sockjs.tornado.origins import same_origin

    assert same_origin("http://h:8080", "h:8080")
    assert same_origin("https://H", "h")
    assert same_origin("https://h", "h:443")
    assert not same_origin("http://h:8080", "h:8081")
    assert not same_origin("http://h", "h.evil")
    assert not same_origin("null", "h")
    assert not same_origin("http://h", "")


# -- CORS answers of the default (permissive) setting --------------------------


def test_cors_echo_and_null(test_server):
    r = requests.post(test_server.url + "/echo/000/cors1/xhr", headers={"Origin": "https://x.test"}, timeout=5)
    assert r.headers["Access-Control-Allow-Origin"] == "https://x.test"
    assert r.headers["Access-Control-Allow-Credentials"] == "true"
    assert r.headers["Vary"] == "Origin"
    r = requests.get(test_server.url + "/echo/info", headers={"Origin": "null"}, timeout=5)
    assert r.headers["Access-Control-Allow-Origin"] == "null"
    assert r.headers["Access-Control-Allow-Credentials"] == "true"
    r = requests.get(test_server.url + "/echo/info", timeout=5)
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in r.headers
    assert r.headers["Vary"] == "Origin"


def test_cors_preflight(test_server):
    r = requests.options(
        test_server.url + "/echo/000/cors2/xhr_send",
        headers={"Origin": "https://x.test", "Access-Control-Request-Headers": "a, b"},
        timeout=5,
    )
    assert r.status_code == 204
    assert r.headers["Access-Control-Allow-Origin"] == "https://x.test"
    assert r.headers["Access-Control-Allow-Credentials"] == "true"
    assert r.headers["Access-Control-Allow-Methods"] == "OPTIONS, POST"
    assert r.headers["Access-Control-Allow-Headers"] == "a, b"
    assert r.headers["Access-Control-Max-Age"] == "31536000"
    r = requests.options(test_server.url + "/echo/info", timeout=5)
    assert r.headers["Access-Control-Allow-Methods"] == "OPTIONS, GET"
    assert "Access-Control-Allow-Headers" not in r.headers


def test_websocket_allow_origin_setting(make_server):
    srv = make_server(router_app(Echo, "/echo", {"websocket_allow_origin": ["good.test:8080"]}))
    for origin, status in [
        ("http://good.test:8080", 101),
        ("https://good.test:8080", 101),
        ("http://good.test", 403),
        ("http://notgood.test:8080", 403),
        ("http://good.test:8080.evil", 403),
        ("http://good.test:80800", 403),
        ("http://evil/good.test:8080", 403),
        ("http://[::1", 403),
    ]:
        ws = RawWS(srv.port, "/echo/000/x/websocket", origin=origin)
        try:
            assert ws.status == status, origin
        finally:
            ws.close()
    # XHR transports are governed by allowed_origins only.
    r = requests.post(srv.url + "/echo/000/y/xhr", headers={"Origin": "http://other.test"}, timeout=5)
    assert r.status_code == 200
