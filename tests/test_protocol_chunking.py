"""``P/chunking_test``, the probe of sockjs-client 0.3 (SockJS protocol
0.2/0.3): a POST gets ``h``, a 2 KiB prelude and ``h``, then five ``h``
lines after growing delays, each as its own HTTP chunk; OPTIONS is its
CORS preflight."""

import asyncio
import time

import pytest
import requests
from conftest import router_app
from protocol_helpers import Echo, RawHTTP, wait_for

from sockjs.tornado import chunkingtest
from sockjs.tornado.chunkingtest import DELAYS

PRELUDE = b" " * 2048 + b"h\n"


def post_chunking_test(c: RawHTTP, path: str, headers: str = ""):
    c.send(("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n%s\r\n" % (path, headers)).encode("latin-1"))
    return c.read_head()


def test_the_delays_are_the_protocols():
    # What old sockjs-client expects to see: 5 ms to about 3 s between lines.
    assert DELAYS == (0.005, 0.025, 0.125, 0.625, 3.125)


def test_chunks_in_order_with_their_delays_then_the_end(test_server, monkeypatch):
    # A shorter schedule of the same shape: the same order and a wait
    # before each line, in 0.4 s instead of 3.9 s.
    delays = (0.01, 0.02, 0.03, 0.05, 0.3)
    monkeypatch.setattr(chunkingtest, "DELAYS", delays)
    with RawHTTP(test_server.port, timeout=10) as c:
        t0 = time.monotonic()
        resp = post_chunking_test(c, "/echo/chunking_test", "Origin: http://a.example\r\n")
        assert resp.status == 200
        assert resp.get("Content-Type") == "application/javascript; charset=UTF-8"
        assert resp.get("Transfer-Encoding") == "chunked"
        assert resp.get("Access-Control-Allow-Origin") == "http://a.example"
        assert resp.get("Access-Control-Allow-Credentials") == "true"
        assert resp.get("Set-Cookie") is None
        chunks, times = [], []
        while True:
            chunk = c.read_chunk()
            times.append(time.monotonic() - t0)
            if not chunk:
                break
            chunks.append(chunk)
        assert chunks == [b"h\n", PRELUDE] + [b"h\n"] * len(delays)
        # The delays add up: each line waits for its own (less up to 2 ms:
        # uvloop's timers count whole milliseconds).
        assert times[3] >= delays[0] + delays[1] - 0.002
        assert times[-1] >= sum(delays) - 0.002
        # The connection stays usable: the answer was framed correctly.
        c.send(b"GET /echo/info HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert c.read_head().status == 200


def test_no_cookie_even_with_jsessionid(test_server):
    r = requests.post(
        test_server.url + "/cookie_needed_echo/chunking_test", stream=True, headers={"Cookie": "JSESSIONID=abc"}
    )
    try:
        assert r.status_code == 200
        assert "Set-Cookie" not in r.headers
        assert r.headers["Access-Control-Allow-Origin"] == "*"
    finally:
        r.close()


@pytest.mark.parametrize("prefix,cookie", [("/echo", False), ("/cookie_needed_echo", True)])
def test_preflight(test_server, prefix, cookie):
    r = requests.options(
        test_server.url + prefix + "/chunking_test", headers={"Origin": "null", "Access-Control-Request-Method": "POST"}
    )
    assert r.status_code == 204
    assert r.content == b""
    assert r.headers["Access-Control-Allow-Methods"] == "OPTIONS, POST"
    assert r.headers["Access-Control-Allow-Origin"] == "null"
    assert r.headers["Cache-Control"] == "public, max-age=31536000"
    assert r.headers["Access-Control-Max-Age"] == "31536000"
    assert r.headers["Expires"].endswith("GMT")
    assert ("JSESSIONID=dummy" in r.headers.get("Set-Cookie", "")) is cookie


def test_get_is_405(test_server):
    r = requests.get(test_server.url + "/echo/chunking_test")
    assert r.status_code == 405
    assert set(r.headers["Allow"].replace(" ", "").split(",")) == {"POST", "OPTIONS"}


def test_origin_not_allowed_is_403(make_server):
    srv = make_server(router_app(Echo, "/o", {"allowed_origins": ["https://good.example"]}))
    r = requests.post(srv.url + "/o/chunking_test", headers={"Origin": "https://evil.example"})
    assert r.status_code == 403
    r = requests.post(srv.url + "/o/chunking_test", headers={"Origin": "https://good.example"}, stream=True)
    assert r.status_code == 200
    r.close()


def test_client_that_leaves_early_leaves_nothing_running(make_server):
    """sockjs-client stops reading once chunks get through; the answer's
    remaining timers go with the connection, without an error logged."""
    srv = make_server(router_app(Echo, "/c"))

    def tasks() -> int:
        return srv.call(lambda: len([t for t in asyncio.all_tasks() if t is not asyncio.current_task()]))

    idle = tasks()
    with RawHTTP(srv.port) as c:
        assert post_chunking_test(c, "/c/chunking_test").status == 200
        # Up to the wait of DELAYS[-1] (3 s) before the last line.
        for expected in [b"h\n", PRELUDE] + [b"h\n"] * (len(DELAYS) - 1):
            assert c.read_chunk() == expected
        assert tasks() > idle
    assert wait_for(lambda: tasks() == idle, timeout=DELAYS[-1] / 3)


def test_http_1_0_gets_the_lines_then_the_end_of_the_connection(test_server, monkeypatch):
    # The framing is under test here, not the delays: the same lines,
    # without the 3.9 s of waiting.
    monkeypatch.setattr(chunkingtest, "DELAYS", (0.005,) * len(DELAYS))
    with RawHTTP(test_server.port, timeout=10) as c:
        c.send(b"POST /echo/chunking_test HTTP/1.0\r\nContent-Length: 0\r\n\r\n")
        resp = c.read_head()
        assert resp.status == 200
        assert resp.get("Transfer-Encoding") is None
        assert c.read_to_eof() == b"h\n" + PRELUDE + b"h\n" * len(DELAYS)
