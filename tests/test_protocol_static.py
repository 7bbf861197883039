"""The fixed pages of the SockJS protocol (URL space, greeting, info, iframe,
CORS and caching), and the HTTP/1.0 and 1.1 exchanges of the transports, with
real sockets against the conformance server."""

import json
import re
from email.utils import parsedate_to_datetime

import pytest
import requests
from protocol_helpers import NO_CACHE, RawHTTP, read_body, sid

from sockjs.tornado.static import IFRAME_TEMPLATE

# -- greeting and URL space ----------------------------------------------------


@pytest.mark.parametrize("path", ["/echo", "/echo/"])
def test_greeting(test_server, path):
    r = requests.get(test_server.url + path)
    assert r.status_code == 200
    assert r.headers["Content-Type"].replace(" ", "") == "text/plain;charset=UTF-8"
    assert r.content == b"Welcome to SockJS!\n"
    assert "Set-Cookie" not in r.headers


def test_greeting_on_cookie_service_sets_no_cookie(test_server):
    r = requests.get(test_server.url + "/cookie_needed_echo")
    assert r.content == b"Welcome to SockJS!\n"
    assert "Set-Cookie" not in r.headers


NOT_FOUND = [
    "/a",
    "/a.html",
    "//",
    "///",
    "/a/a",
    "/a/a/",
    "/a/",
    "/a./a/xhr",
    "/a/a./xhr",
    "/./././xhr",
    "/iframe.htm",
    "/iframe",
    "/IFRAME.HTML",
    "/IFRAME",
    "/iframe.HTML",
    "/iframe.xml",
    "/iframe-/.html",
    "/a/a/unknown_transport",
    "/a/a/xhr/extra",
    "//a/xhr",
    "/a//xhr",
    "/a/a/XHR",
]


@pytest.mark.parametrize("suffix", NOT_FOUND)
def test_not_found(test_server, suffix):
    with RawHTTP(test_server.port) as c:
        # Raw, so the client normalises nothing (".", "//").
        for method in ("GET", "POST"):
            resp = c.request(method, "/echo" + suffix)
            assert resp.status == 404, (method, suffix)
            read_body(c, resp)


@pytest.mark.parametrize("session_part", ["//", "/a./a", "/a/a.", "/./.", "/", "///"])
def test_invalid_session_paths(test_server, session_part):
    with RawHTTP(test_server.port) as c:
        for method in ("GET", "POST"):
            resp = c.request(method, "/echo" + session_part + "/xhr")
            assert resp.status == 404
            read_body(c, resp)


@pytest.mark.parametrize("session_part", ["/a/a1", "/_/_1", "/1/2", "/abcdefgh_i-j%20/abcdefg_i-j%20x"])
def test_any_server_and_session_value(test_server, session_part):
    r = requests.post(test_server.url + "/echo" + session_part + sid()[:6] + "/xhr")
    assert r.status_code == 200
    assert r.text == "o\n"


def test_server_id_is_ignored(test_server):
    s = sid()
    assert requests.post(test_server.url + "/echo/000/%s/xhr" % s).text == "o\n"
    r = requests.post(test_server.url + "/echo/000/%s/xhr_send" % s, data='["a"]')
    assert r.status_code == 204
    assert requests.post(test_server.url + "/echo/999/%s/xhr" % s).text == 'a["a"]\n'


# -- iframe ----------------------------------------------------------------------

IFRAME_RE = re.compile(re.escape(IFRAME_TEMPLATE).replace(re.escape("%s"), '(?P<url>[^"]*)') + r"\Z")


@pytest.mark.parametrize(
    "suffix",
    [
        "/iframe.html",
        "/iframe-a.html",
        "/iframe-.html",
        "/iframe-0.1.2.html",
        "/iframe-0.1.2abc-dirty.2144.html",
        "/iframe-a.html?t=1234",
        "/iframe-0.1.2.html?t=123414",
        "/iframe.html?t=qweqweq123",
    ],
)
def test_iframe_page(test_server, suffix):
    r = requests.get(test_server.url + "/echo" + suffix)
    assert r.status_code == 200
    assert r.headers["Content-Type"].replace(" ", "") == "text/html;charset=UTF-8"
    assert r.headers["Cache-Control"] == "public, max-age=31536000"
    expires = parsedate_to_datetime(r.headers["Expires"])
    assert r.headers["Expires"].endswith("GMT")
    assert (expires - parsedate_to_datetime(r.headers["Date"])).days >= 364
    assert r.headers["ETag"]
    assert "Last-Modified" not in r.headers
    assert "Set-Cookie" not in r.headers
    m = IFRAME_RE.match(r.text.strip())
    assert m, r.text
    url = m.group("url")
    assert url.startswith("/") or url.startswith("http")
    # The client script loads first, then the bootstrap.
    assert r.text.index("<script src=") < r.text.index("SockJS.bootstrap_iframe();")
    assert "<h2>Don't panic!</h2>" in r.text


def test_iframe_body_is_the_template_exactly(test_server):
    from sockjs.tornado.settings import DEFAULT_SOCKJS_URL

    r = requests.get(test_server.url + "/echo/iframe.html")
    assert r.content == (IFRAME_TEMPLATE % DEFAULT_SOCKJS_URL).encode()


def test_iframe_uses_the_sockjs_url_setting(make_server):
    from conftest import router_app
    from protocol_helpers import Echo

    srv = make_server(router_app(Echo, "/echo", {"sockjs_url": "/static/sockjs.js"}))
    r = requests.get(srv.url + "/echo/iframe.html")
    assert '<script src="/static/sockjs.js"></script>' in r.text


def test_iframe_etag_and_304(test_server):
    r1 = requests.get(test_server.url + "/echo/iframe.html")
    r2 = requests.get(test_server.url + "/echo/iframe-0.1.2.html?t=5")
    assert r1.headers["ETag"] and r1.headers["ETag"] == r2.headers["ETag"]
    with RawHTTP(test_server.port) as c:
        resp = c.request("GET", "/echo/iframe.html", {"If-None-Match": r1.headers["ETag"]})
        assert resp.status == 304
        assert resp.get("Content-Type") is None
        assert resp.get("Content-Length") in (None, "0")
        assert resp.get("Transfer-Encoding") is None
        # Nothing follows the head: the connection is ready for the next
        # request at once.
        resp = c.request("GET", "/echo")
        assert resp.status == 200
        assert read_body(c, resp) == b"Welcome to SockJS!\n"
    r = requests.get(test_server.url + "/echo/iframe.html", headers={"If-None-Match": '"other"'})
    assert r.status_code == 200


# -- info ------------------------------------------------------------------------


def test_info(test_server):
    r = requests.get(test_server.url + "/echo/info", headers={"Origin": "test"})
    assert r.status_code == 200
    assert r.headers["Content-Type"].replace(" ", "") == "application/json;charset=UTF-8"
    assert r.headers["Cache-Control"] == NO_CACHE
    assert "Expires" not in r.headers and "Last-Modified" not in r.headers
    assert "Set-Cookie" not in r.headers
    assert r.headers["Access-Control-Allow-Origin"] == "test"
    assert r.headers["Access-Control-Allow-Credentials"] == "true"
    assert "Origin" in r.headers["Vary"]
    data = json.loads(r.content)
    assert set(data) == {"websocket", "cookie_needed", "origins", "entropy"}
    assert data["websocket"] is True
    assert data["cookie_needed"] is False
    assert data["origins"] == ["*:*"]
    assert isinstance(data["entropy"], int) and 0 <= data["entropy"] <= 2**32 - 1


def test_info_without_origin(test_server):
    r = requests.get(test_server.url + "/echo/info")
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in r.headers


def test_info_entropy_differs(test_server):
    values = {requests.get(test_server.url + "/echo/info").json()["entropy"] for _ in range(5)}
    assert len(values) == 5


def test_info_flags_per_service(test_server):
    assert requests.get(test_server.url + "/disabled_websocket_echo/info").json()["websocket"] is False
    r = requests.get(test_server.url + "/cookie_needed_echo/info")
    assert r.json()["cookie_needed"] is True
    assert "Set-Cookie" not in r.headers


# -- preflights and CORS -----------------------------------------------------------

PREFLIGHTS = [
    ("/info", "OPTIONS, GET"),
    ("/abc/abc/xhr", "OPTIONS, POST"),
    ("/abc/abc/xhr_send", "OPTIONS, POST"),
    ("/abc/abc/xhr_streaming", "OPTIONS, POST"),
]


@pytest.mark.parametrize("path,methods", PREFLIGHTS)
@pytest.mark.parametrize("origin", ["test", "null", "https://example.com:8443"])
def test_preflight(test_server, path, methods, origin):
    r = requests.options(
        test_server.url + "/echo" + path, headers={"Origin": origin, "Access-Control-Request-Method": "POST"}
    )
    assert r.status_code in (200, 204)
    assert r.content == b""
    assert r.headers["Cache-Control"] == "public, max-age=31536000"
    assert r.headers["Expires"].endswith("GMT")
    assert r.headers["Access-Control-Max-Age"] == "31536000"
    assert r.headers["Access-Control-Allow-Methods"] == methods
    assert r.headers["Access-Control-Allow-Origin"] == origin
    assert r.headers["Access-Control-Allow-Credentials"] == "true"
    assert "Access-Control-Allow-Headers" not in r.headers
    assert "Set-Cookie" not in r.headers


@pytest.mark.parametrize("path", ["/info", "/abc/abc/xhr", "/abc/abc/xhr_send"])
def test_preflight_echoes_request_headers(test_server, path):
    url = test_server.url + "/echo" + path
    r = requests.options(
        url,
        headers={
            "Origin": "test",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "a, b, c",
        },
    )
    assert r.headers["Access-Control-Allow-Headers"] == "a, b, c"
    r = requests.options(
        url, headers={"Origin": "test", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": ""}
    )
    assert "Access-Control-Allow-Headers" not in r.headers


def test_preflight_without_origin(test_server):
    r = requests.options(test_server.url + "/echo/abc/abc/xhr")
    assert r.status_code in (200, 204)
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in r.headers


def test_cors_on_xhr_transports(test_server):
    for origin in ("test", "null"):
        r = requests.post(test_server.url + "/echo/000/%s/xhr" % sid(), headers={"Origin": origin})
        assert r.headers["Access-Control-Allow-Origin"] == origin
        assert r.headers["Access-Control-Allow-Credentials"] == "true"
        assert "Origin" in r.headers["Vary"]
    base = test_server.url + "/echo/000/" + sid()
    requests.post(base + "/xhr")
    r = requests.post(base + "/xhr_send", data='["x"]', headers={"Origin": "test"})
    assert r.headers["Access-Control-Allow-Origin"] == "test"
    assert r.headers["Access-Control-Allow-Credentials"] == "true"
    r = requests.post(base + "/xhr")
    assert r.text == 'a["x"]\n'
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in r.headers


# -- HTTP/1.0 and 1.1 ----------------------------------------------------------------


def test_http10_plain_request(test_server):
    with RawHTTP(test_server.port) as c:
        resp = c.request("GET", "/echo", {"Connection": "Keep-Alive"}, version="1.0")
        assert resp.status == 200
        assert resp.get("Transfer-Encoding") is None
        length = resp.get("Content-Length")
        if length is None:
            assert (resp.get("Connection") or "").lower() == "close"
            assert c.read_to_eof() == b"Welcome to SockJS!\n"
        else:
            assert int(length) == 19
            assert c.read_exactly(19) == b"Welcome to SockJS!\n"
            if (resp.get("Connection") or "").lower() == "keep-alive":
                resp = c.request("GET", "/echo", {"Connection": "Keep-Alive"}, version="1.0")
                assert resp.status == 200
            else:
                assert c.at_eof()


def test_http10_without_keepalive_closes(test_server):
    with RawHTTP(test_server.port) as c:
        resp = c.request("GET", "/echo", version="1.0")
        assert resp.status == 200
        assert resp.get("Transfer-Encoding") is None
        assert c.read_exactly(19) == b"Welcome to SockJS!\n"
        assert c.at_eof()


def test_http10_streaming_closes_after_last_frame(test_server):
    with RawHTTP(test_server.port) as c:
        resp = c.request("POST", "/close/000/%s/xhr_streaming" % sid(), {"Connection": "Keep-Alive"}, version="1.0")
        assert resp.status == 200
        assert resp.get("Transfer-Encoding") is None
        assert resp.get("Content-Length") is None
        assert (resp.get("Connection") or "close").lower() in ("close", "keep-alive")
        assert c.read_exactly(2049) == b"h" * 2048 + b"\n"
        assert c.read_exactly(2) == b"o\n"
        assert c.read_exactly(19) == b'c[3000,"Go away!"]\n'
        assert c.at_eof()


def test_http10_polling_has_a_length(test_server):
    with RawHTTP(test_server.port) as c:
        resp = c.request("POST", "/echo/000/%s/xhr" % sid(), {"Connection": "Keep-Alive"}, version="1.0")
        assert resp.status == 200
        assert resp.get("Transfer-Encoding") is None
        assert resp.get("Content-Length") == "2"
        assert c.read_exactly(2) == b"o\n"


def test_http11_plain_request_keeps_alive(test_server):
    with RawHTTP(test_server.port) as c:
        for _ in range(3):
            resp = c.request("GET", "/echo", {"Connection": "Keep-Alive"})
            assert resp.status == 200
            assert (resp.get("Connection") or "").lower() in ("keep-alive", "")
            if resp.get("Content-Length"):
                assert resp.get("Transfer-Encoding") is None
                assert int(resp.get("Content-Length")) == 19
            assert read_body(c, resp) == b"Welcome to SockJS!\n"


def test_http11_streaming_is_chunked(test_server):
    with RawHTTP(test_server.port) as c:
        resp = c.request("POST", "/close/000/%s/xhr_streaming" % sid(), {"Connection": "Keep-Alive"})
        assert resp.status == 200
        assert resp.get("Transfer-Encoding").lower() == "chunked"
        assert resp.get("Content-Length") is None
        assert c.read_chunk() == b"h" * 2048 + b"\n"
        assert c.read_chunk() == b"o\n"
        assert c.read_chunk() == b'c[3000,"Go away!"]\n'
        assert c.read_chunk() == b""
        # The connection stays usable.
        resp = c.request("GET", "/echo")
        assert read_body(c, resp) == b"Welcome to SockJS!\n"


@pytest.mark.parametrize("path", ["/abc/abc/eventsource", "/abc/abc/htmlfile", "/abc/abc/jsonp"])
def test_preflight_of_get_transports_allows_get(test_server, path):
    r = requests.options(test_server.url + "/echo" + path, headers={"Origin": "test"})
    assert r.status_code in (200, 204)
    assert r.headers["Access-Control-Allow-Methods"] == "OPTIONS, GET"
    assert r.headers["Cache-Control"] == "public, max-age=31536000"
    assert r.content == b""


@pytest.mark.parametrize(
    "method,path,allow",
    [
        ("GET", "/abc/abc/xhr", "POST, OPTIONS"),
        ("GET", "/abc/abc/xhr_send", "POST, OPTIONS"),
        ("POST", "/abc/abc/eventsource", "GET, OPTIONS"),
        ("POST", "/abc/abc/jsonp", "GET, OPTIONS"),
        ("POST", "/info", "GET, OPTIONS"),
        ("POST", "", "GET"),
        ("PUT", "/iframe.html", "GET"),
    ],
)
def test_wrong_method_is_405_with_allow(test_server, method, path, allow):
    r = requests.request(method, test_server.url + "/echo" + path)
    assert r.status_code == 405
    assert sorted(r.headers["Allow"].split(", ")) == sorted(allow.split(", "))
