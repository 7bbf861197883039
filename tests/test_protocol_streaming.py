"""The SockJS protocol for the streaming transports (``xhr_streaming``,
``eventsource``, ``htmlfile``): preludes, one chunk per frame,
``response_limit``, close frames, aborted streams and heartbeats; raw
sockets, so every HTTP chunk is seen as sent."""

import json

import pytest
import requests
from conftest import router_app
from protocol_helpers import NO_CACHE, Echo, RawHTTP, router_of, sid, wait_attached, wait_for

HTMLFILE_HEAD = """<!doctype html>
<html><head>
  <meta http-equiv="X-UA-Compatible" content="IE=edge" />
  <meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
</head><body><h2>Don't panic!</h2>
  <script>
    document.domain = document.domain;
    var c = parent.%s;
    c.start();
    function p(d) {c.message(d);};
    window.onload = function() {c.stop();};
  </script>"""


class Stream:
    """How one streaming transport is requested and how it wraps frames."""

    def __init__(self, name, method, query, prelude, wrap, ctype):
        self.name = name
        self.method = method
        self.query = query
        self.prelude = prelude
        self.wrap = wrap
        self.ctype = ctype

    def open(self, port, prefix, session_id, headers=None):
        c = RawHTTP(port)
        resp = c.request(self.method, "%s/000/%s/%s%s" % (prefix, session_id, self.name, self.query), headers or {})
        return c, resp


XHR_STREAMING = Stream(
    "xhr_streaming",
    "POST",
    "",
    lambda cb: b"h" * 2048 + b"\n",
    lambda f: (f + "\n").encode(),
    "application/javascript;charset=UTF-8",
)
EVENTSOURCE = Stream(
    "eventsource", "GET", "", lambda cb: b"\r\n", lambda f: ("data: " + f + "\r\n\r\n").encode(), "text/event-stream"
)
HTMLFILE = Stream(
    "htmlfile",
    "GET",
    "?c=cb",
    None,
    lambda f: ("<script>\np(%s);\n</script>\r\n" % json.dumps(f)).encode(),
    "text/html;charset=UTF-8",
)
STREAMS = [XHR_STREAMING, EVENTSOURCE, HTMLFILE]
IDS = [s.name for s in STREAMS]


def read_prelude(stream, c):
    chunk = c.read_chunk()
    if stream is HTMLFILE:
        text = chunk.decode()
        assert text.strip() == HTMLFILE_HEAD % "cb"
        assert len(chunk) > 1024
        assert chunk.endswith(b"\r\n")
    else:
        assert chunk == stream.prelude("cb")
    return chunk


def send(url, *messages):
    r = requests.post(url + "/xhr_send", data=json.dumps(list(messages)))
    assert r.status_code == 204


@pytest.mark.parametrize("stream", STREAMS, ids=IDS)
def test_prelude_headers_and_one_chunk_per_frame(test_server, stream):
    s = sid()
    c, resp = stream.open(test_server.port, "/echo", s, {"Origin": "test"})
    with c:
        assert resp.status == 200
        assert resp.get("Content-Type").replace(" ", "") == stream.ctype
        assert resp.get("Cache-Control") == NO_CACHE
        assert resp.get("Expires") is None and resp.get("Last-Modified") is None
        assert resp.get("Transfer-Encoding").lower() == "chunked"
        assert resp.get("Content-Length") is None
        assert resp.get("Set-Cookie") is None
        if stream is XHR_STREAMING:
            assert resp.get("Access-Control-Allow-Origin") == "test"
            assert resp.get("Access-Control-Allow-Credentials") == "true"
        read_prelude(stream, c)
        assert c.read_chunk() == stream.wrap("o")
        url = test_server.url + "/echo/000/" + s
        for i in range(3):
            send(url, "x%d" % i)
            assert c.read_chunk() == stream.wrap('a["x%d"]' % i)
        send(url, "a", "b")
        assert c.read_chunk() == stream.wrap('a["a","b"]')


def test_htmlfile_head_with_a_long_callback(test_server):
    cb = "_jp." + "a" * 200
    c = RawHTTP(test_server.port)
    with c:
        resp = c.request("GET", "/echo/000/%s/htmlfile?c=%s" % (sid(), cb))
        assert resp.status == 200
        chunk = c.read_chunk()
        assert chunk.decode().strip() == HTMLFILE_HEAD % cb
        assert len(chunk) > 1024
        assert c.read_chunk() == b'<script>\np("o");\n</script>\r\n'


def test_eventsource_escapes_nul_cr_lf(test_server):
    s = sid()
    c, resp = EVENTSOURCE.open(test_server.port, "/echo", s)
    with c:
        read_prelude(EVENTSOURCE, c)
        assert c.read_chunk() == b"data: o\r\n\r\n"
        r = requests.post(test_server.url + "/echo/000/%s/xhr_send" % s, data=r'["  \u0000\n\r "]')
        assert r.status_code == 204
        assert c.read_chunk() == b'data: a["  \\u0000\\n\\r "]\r\n\r\n'


def test_xhr_streaming_response_limit_31_frames(test_server):
    s = sid()
    url = test_server.url + "/echo/000/" + s
    c, resp = XHR_STREAMING.open(test_server.port, "/echo", s)
    with c:
        read_prelude(XHR_STREAMING, c)
        assert c.read_chunk() == b"o\n"
        msg = "x" * 128
        for _ in range(31):
            send(url, msg)
            assert c.read_chunk() == ('a["%s"]\n' % msg).encode()  # 134 bytes
        # 2 + 31 * 134 = 4156 bytes: past 4096, so the response ended.
        assert c.read_chunk() == b""


@pytest.mark.parametrize("stream", [EVENTSOURCE, HTMLFILE], ids=["eventsource", "htmlfile"])
def test_response_limit_with_one_big_message(test_server, stream):
    s = sid()
    c, resp = stream.open(test_server.port, "/echo", s)
    with c:
        read_prelude(stream, c)
        assert c.read_chunk() == stream.wrap("o")
        msg = "x" * 4096
        send(test_server.url + "/echo/000/" + s, msg)
        assert c.read_chunk() == stream.wrap('a["%s"]' % msg)
        assert c.read_chunk() == b""


@pytest.mark.parametrize("stream", STREAMS, ids=IDS)
def test_messages_after_the_limit_reach_the_next_receiver(test_server, stream):
    s = sid()
    url = test_server.url + "/echo/000/" + s
    sent = ["m%03d-" % i + "y" * 150 for i in range(120)]
    received = []
    c, resp = stream.open(test_server.port, "/echo", s)
    read_prelude(stream, c)
    assert c.read_chunk() == stream.wrap("o")
    # Everything is sent while the first stream is open; it ends at the
    # limit and the rest waits for the next receivers.
    for i in range(0, len(sent), 10):
        send(url, *sent[i : i + 10])
    streams = 0
    while len(received) < len(sent) and streams < 40:
        while True:
            chunk = c.read_chunk()
            if not chunk:
                break
            if stream is EVENTSOURCE:
                frame = chunk.decode()[len("data: ") : -4]
            elif stream is HTMLFILE:
                frame = json.loads(chunk.decode()[len("<script>\np(") : -len(");\n</script>\r\n")])
            else:
                frame = chunk.decode()[:-1]
            if frame == "h":
                continue
            assert frame.startswith("a[")
            received.extend(json.loads(frame[1:]))
        c.close()
        streams += 1
        if len(received) < len(sent):
            c, resp = stream.open(test_server.port, "/echo", s)
            read_prelude(stream, c)
    c.close()
    assert received == sent  # none lost, none duplicated, in order
    assert streams >= 2  # the first stream ended at the limit


@pytest.mark.parametrize("stream", STREAMS, ids=IDS)
def test_close_from_on_open_and_repeated_close_frame(test_server, stream):
    s = sid()
    c, resp = stream.open(test_server.port, "/close", s)
    with c:
        read_prelude(stream, c)
        assert c.read_chunk() == stream.wrap("o")
        assert c.read_chunk() == stream.wrap('c[3000,"Go away!"]')
        assert c.read_chunk() == b""
    for _ in range(2):
        c, resp = stream.open(test_server.port, "/close", s)
        with c:
            read_prelude(stream, c)
            assert c.read_chunk() == stream.wrap('c[3000,"Go away!"]')
            assert c.read_chunk() == b""


@pytest.mark.parametrize("stream", STREAMS, ids=IDS)
def test_second_stream_gets_2010_and_abort_gives_1002(test_server, stream):
    s = sid()
    c1, _ = stream.open(test_server.port, "/echo", s)
    read_prelude(stream, c1)
    assert c1.read_chunk() == stream.wrap("o")
    c2, _ = stream.open(test_server.port, "/echo", s)
    with c2:
        read_prelude(stream, c2)
        assert c2.read_chunk() == stream.wrap('c[2010,"Another connection still open"]')
        assert c2.read_chunk() == b""
    # The first stream is unharmed by the refused second one.
    send(test_server.url + "/echo/000/" + s, "still")
    assert c1.read_chunk() == stream.wrap('a["still"]')
    c1.close()  # the client aborts mid-stream
    router = router_of(test_server, "/echo")

    def closed():
        sess = router.get_session(s)
        return sess is None or sess.is_closed

    assert wait_for(lambda: test_server.call(closed))
    c3, _ = stream.open(test_server.port, "/echo", s)
    with c3:
        read_prelude(stream, c3)
        assert c3.read_chunk() == stream.wrap('c[1002,"Connection interrupted"]')
        assert c3.read_chunk() == b""


@pytest.mark.parametrize("transport", ["xhr", "jsonp"])
def test_abort_of_a_polling_request_gives_1002_to_a_stream(test_server, transport):
    # The receiver that went away was a poll; the next one is a stream.
    s = sid()
    url = "/echo/000/%s/" % s
    requests.post(test_server.url + url + "xhr")
    c = RawHTTP(test_server.port)
    if transport == "xhr":
        c.send(("POST %sxhr HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n" % url).encode())
    else:
        c.send(("GET %sjsonp?c=x HTTP/1.1\r\nHost: x\r\n\r\n" % url).encode())
    wait_attached(test_server, "/echo", s)
    c.close()
    router = router_of(test_server, "/echo")
    assert wait_for(lambda: test_server.call(lambda: router.get_session(s).is_closed))
    c2, _ = XHR_STREAMING.open(test_server.port, "/echo", s)
    with c2:
        read_prelude(XHR_STREAMING, c2)
        assert c2.read_chunk() == b'c[1002,"Connection interrupted"]\n'


# -- heartbeats --------------------------------------------------------------------


@pytest.fixture
def fast_server(make_server):
    return make_server(
        router_app(Echo, "/echo", {"heartbeat_delay": 0.15, "session_check_interval": 0.05, "disconnect_delay": 2})
    )


@pytest.mark.parametrize("stream", STREAMS, ids=IDS)
def test_heartbeats_on_streams(fast_server, stream):
    s = sid()
    c, resp = stream.open(fast_server.port, "/echo", s)
    with c:
        read_prelude(stream, c)
        assert c.read_chunk() == stream.wrap("o")
        for _ in range(3):
            assert c.read_chunk() == stream.wrap("h")
        # Messages still flow between heartbeats.
        send(fast_server.url + "/echo/000/" + s, "q")
        chunk = c.read_chunk()
        while chunk == stream.wrap("h"):
            chunk = c.read_chunk()
        assert chunk == stream.wrap('a["q"]')


@pytest.mark.parametrize("transport", ["xhr", "jsonp"])
def test_heartbeats_on_polling(fast_server, transport):
    url = fast_server.url + "/echo/000/" + sid()
    if transport == "xhr":
        assert requests.post(url + "/xhr").content == b"o\n"
        for _ in range(2):
            assert requests.post(url + "/xhr", timeout=5).content == b"h\n"
    else:
        assert requests.get(url + "/jsonp?c=f").content == b'/**/f("o");\r\n'
        for _ in range(2):
            assert requests.get(url + "/jsonp?c=f", timeout=5).content == b'/**/f("h");\r\n'


@pytest.mark.parametrize("stream", STREAMS, ids=IDS)
@pytest.mark.parametrize("keepalive", [True, False])
def test_http10_streams_end_with_the_connection(test_server, stream, keepalive):
    c = RawHTTP(test_server.port)
    with c:
        resp = c.request(
            stream.method,
            "/close/000/%s/%s%s" % (sid(), stream.name, stream.query),
            {"Connection": "Keep-Alive"} if keepalive else {},
            version="1.0",
        )
        assert resp.status == 200
        assert resp.get("Transfer-Encoding") is None
        assert resp.get("Content-Length") is None
        body = c.read_to_eof()  # the server closes after the last frame
        expected_tail = stream.wrap("o") + stream.wrap('c[3000,"Go away!"]')
        assert body.endswith(expected_tail)
        prelude = body[: -len(expected_tail)]
        if stream is HTMLFILE:
            assert prelude.decode().strip() == HTMLFILE_HEAD % "cb"
        else:
            assert prelude == stream.prelude("cb")


@pytest.mark.parametrize("stream", STREAMS, ids=IDS)
def test_http10_stream_ends_at_the_response_limit(test_server, stream):
    s = sid()
    c = RawHTTP(test_server.port)
    with c:
        resp = c.request(stream.method, "/echo/000/%s/%s%s" % (s, stream.name, stream.query), version="1.0")
        assert resp.status == 200
        msg = "z" * 5000
        assert c.read_exactly(1) in (b"h", b"\r", b"<")
        send(test_server.url + "/echo/000/" + s, msg)
        body = c.read_to_eof()
        assert body.endswith(stream.wrap('a["%s"]' % msg))


def test_htmlfile_message_cannot_end_the_script(test_server):
    s = sid()
    c, resp = HTMLFILE.open(test_server.port, "/echo", s)
    with c:
        read_prelude(HTMLFILE, c)
        assert c.read_chunk() == HTMLFILE.wrap("o")
        evil = "</script><script>alert(1)</script><!--"
        send(test_server.url + "/echo/000/" + s, evil)
        chunk = c.read_chunk().decode()
        assert chunk.startswith("<script>\np(") and chunk.endswith(");\n</script>\r\n")
        inner = chunk[len("<script>\np(") : -len(");\n</script>\r\n")]
        assert "<" not in inner
        # The page's p() receives exactly the frame.
        assert json.loads(inner) == "a[%s]" % json.dumps(evil)
