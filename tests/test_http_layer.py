"""The HTTP layer under the SockJS endpoints (Tornado's public
``HTTPServerConnectionDelegate`` API): routing next to an application's own
handlers, the access log in Tornado's format, early 413, pipelined
keep-alive requests, HEAD."""

import logging
import re
from typing import Any

import requests
from conftest import router_app
from protocol_helpers import Echo, RawHTTP, read_body, sid, wait_for
from tornado import httputil, web

from sockjs.tornado import SockJSRouter
from sockjs.tornado.httpexchange import Endpoint, ResponseHeaders

_LINE = re.compile(r"^(\d{3}) (\S+) (\S+) \(127\.0\.0\.1\) \d+\.\d\dms( \(client error\))?$")


def access_lines(caplog: Any):
    out = []
    for r in caplog.records:
        if r.name == "tornado.access":
            m = _LINE.match(r.getMessage())
            if m:
                out.append((r.levelno, int(m.group(1)), m.group(2), m.group(3), bool(m.group(4))))
    return out


class Hello(web.RequestHandler):
    def get(self) -> None:
        self.write("hi")


def test_urls_are_tornado_routes_next_to_the_applications_own(make_server: Any) -> None:
    router = SockJSRouter(Echo, "/echo")
    endpoints = [route for route in router.urls if isinstance(route[1], Endpoint)]
    # The session transports share one route; each fixed page has its own.
    assert len(endpoints) == 6
    for pattern, target in endpoints:
        assert pattern.startswith("/echo")
        assert isinstance(target, httputil.HTTPServerConnectionDelegate)
        assert target.server is router
    srv = make_server(lambda: web.Application([(r"/hello", Hello)] + router.urls))
    assert requests.get(srv.url + "/hello", timeout=5).text == "hi"
    assert requests.get(srv.url + "/echo", timeout=5).text == "Welcome to SockJS!\n"
    assert requests.get(srv.url + "/nothing", timeout=5).status_code == 404


def test_access_log_in_tornados_format(make_server: Any, caplog: Any) -> None:
    caplog.set_level(logging.DEBUG, logger="tornado.access")
    srv = make_server(router_app(Echo, "/echo"))
    s = sid()
    assert requests.post(srv.url + "/echo/000/%s/xhr" % s, timeout=5).text == "o\n"
    assert requests.post(srv.url + "/echo/000/%s/xhr_send" % s, data='["x"]', timeout=5).status_code == 204
    assert requests.post(srv.url + "/echo/000/nope/xhr_send", data='["x"]', timeout=5).status_code == 404
    assert requests.put(srv.url + "/echo/info", timeout=5).status_code == 405
    assert requests.get(srv.url + "/echo/000/%s/jsonp?c=%%3C" % sid(), timeout=5).status_code == 500
    # The server logs right after it answers, on its own thread.
    wait_for(lambda: len(access_lines(caplog)) >= 5)
    got = access_lines(caplog)
    assert (logging.INFO, 200, "POST", "/echo/000/%s/xhr" % s, False) in got
    assert (logging.INFO, 204, "POST", "/echo/000/%s/xhr_send" % s, False) in got
    # Clients' mistakes, the protocol's 500 included: the client error log
    # (INFO by default), never an ERROR.
    assert (logging.INFO, 404, "POST", "/echo/000/nope/xhr_send", True) in got
    assert (logging.INFO, 405, "PUT", "/echo/info", True) in got
    assert [line for line in got if line[1] == 500 and line[0] == logging.INFO and line[4]]


def test_oversized_body_is_refused_before_it_is_sent(make_server: Any) -> None:
    srv = make_server(router_app(Echo, "/echo", {"max_message_size": 1000}))
    s = sid()
    assert requests.post(srv.url + "/echo/000/%s/xhr" % s, timeout=5).text == "o\n"
    with RawHTTP(srv.port) as c:
        # The head alone: the answer must not wait for the body.
        c.send(("POST /echo/000/%s/xhr_send HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" % s).encode())
        resp = c.read_head()
        assert resp.status == 413
        assert read_body(c, resp) == b"Payload too large."
        assert c.at_eof()


def test_pipelined_keep_alive_requests_answer_in_order(make_server: Any) -> None:
    srv = make_server(router_app(Echo, "/echo"))
    with RawHTTP(srv.port) as c:
        c.send(
            b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /echo/info HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /echo/iframe.html HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        first = c.read_head()
        assert first.status == 200 and read_body(c, first) == b"Welcome to SockJS!\n"
        second = c.read_head()
        assert second.status == 200 and b'"websocket": true' in read_body(c, second)
        third = c.read_head()
        assert third.status == 200 and b"SockJS.bootstrap_iframe()" in read_body(c, third)


def test_head_is_405_without_a_body(make_server: Any) -> None:
    srv = make_server(router_app(Echo, "/echo"))
    with RawHTTP(srv.port) as c:
        resp = c.request("HEAD", "/echo")
        assert resp.status == 405
        assert resp.get("Allow") == "GET"
        # The connection stays usable: no body was sent after the head.
        resp = c.request("GET", "/echo")
        assert resp.status == 200 and read_body(c, resp) == b"Welcome to SockJS!\n"


def test_answers_carry_date_and_server(make_server: Any) -> None:
    srv = make_server(router_app(Echo, "/echo"))
    r = requests.get(srv.url + "/echo/info", timeout=5)
    assert r.headers["Server"].startswith("TornadoServer/")
    assert r.headers["Date"].endswith(" GMT")


def test_response_headers_answer_like_httpheaders() -> None:
    # What Tornado's write_headers does with an answer's headers.
    h = ResponseHeaders({"Content-Type": "text/plain", "Content-Length": "3"})
    assert isinstance(h, httputil.HTTPHeaders)
    assert h["content-length"] == "3" and "CONTENT-TYPE" in h and "Transfer-Encoding" not in h
    h["connection"] = "close"
    assert list(h.get_all()) == [("Content-Type", "text/plain"), ("Content-Length", "3"), ("Connection", "close")]
    h.add("Vary", "Origin")
    h.add("vary", "Cookie")
    assert h["Vary"] == "Origin,Cookie" and h.get_list("VARY") == ["Origin,Cookie"]
    del h["vary"]
    assert "Vary" not in h and len(h) == 3 and h.get("X-None") is None
    assert "Connection: close\r\n" in str(h.copy())


def test_session_transports_on_one_route_route_exactly_as_before(make_server: Any) -> None:
    srv = make_server(router_app(Echo, "/echo"))
    s = "a" + sid()
    assert requests.post(srv.url + "/echo/000/%s/xhr" % s, timeout=5).text == "o\n"
    # A percent-encoded session id names the same session.
    assert (
        requests.post(srv.url + "/echo/000/%s/xhr_send" % s.replace("a", "%61"), data='["x"]', timeout=5).status_code
        == 204
    )
    assert requests.post(srv.url + "/echo/000/%s/xhr" % s, timeout=5).text == 'a["x"]\n'
    for path in (
        "/echo/000/%s/xhr_sendx" % s,
        "/echo/000/%s/nope" % s,
        "/echo/0.0/%s/xhr" % s,
        "/echo/000/%s/xhr/" % s,
    ):
        assert requests.post(srv.url + path, timeout=5).status_code == 404, path
