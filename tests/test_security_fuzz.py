"""Fuzzing a live server with hypothesis: random bytes,
malformed requests, odd paths, methods, headers, callbacks, bodies and
websocket frames against every endpoint.

What must hold for every input: the answer is one the protocol documents
(docs/security.rst lists them), a 500 is only ever one of the protocol's
own four texts (never a traceback page), nothing is logged at ERROR (the
autouse fixture in conftest enforces it), the server keeps answering, and
no session outlives ``disconnect_delay``."""

import json
import socket
import struct

import pytest
from conftest import ServerThread, router_app
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from security_helpers import RawWS, client_frame, connect, read_head, wait_for

from sockjs.tornado import SockJSConnection

LIMIT = 2000
FUZZ = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

#: Statuses the server answers with (docs/security.rst has what each means).
DOCUMENTED = {101, 200, 204, 304, 400, 403, 404, 405, 413, 426, 500}
#: The only bodies a 500 may have: the protocol's answers to bad input.
PROTOCOL_500 = {
    b"Payload expected.",
    b"Broken JSON encoding.",
    b'"callback" parameter required',
    b'invalid "callback" parameter',
}


class Echo(SockJSConnection):
    def on_message(self, message: str) -> None:
        self.send(message)


@pytest.fixture(scope="module")
def server():
    srv = ServerThread(
        router_app(
            Echo,
            "/f",
            {
                "max_message_size": LIMIT,
                "disconnect_delay": 1,
                "session_check_interval": 0.1,
                "heartbeat_delay": 0.5,
                "allowed_origins": ["https://ok.test", "https://*.ok.test"],
            },
        )
    )
    yield srv
    # No session outlives its disconnect_delay, whatever the fuzzing did.
    assert wait_for(lambda: srv.call(lambda: len(srv.app.sockjs_router.sessions)) == 0, timeout=10)
    assert srv.call(lambda: srv.app.sockjs_router.stats.conn_active) == 0
    srv.stop()


def _exchange(port: int, data: bytes, timeout: float = 0.5, half_close: bool = False) -> bytes:
    """Send ``data`` (then EOF, with ``half_close``), then read what comes
    back: the whole answer, or the head and a little of a stream (which is
    then dropped)."""
    s = connect(port, timeout=timeout)
    try:
        try:
            s.sendall(data)
            if half_close:
                s.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server may close on the first bad byte
        buf = b""
        while len(buf) < 8192:
            try:
                chunk = s.recv(8192)
            except socket.timeout:
                break  # a stream or a pending poll: enough seen
            except OSError:
                break
            if not chunk:
                break
            buf += chunk
            if b"\r\n\r\n" in buf and (b" 101 " in buf[:16] or b"Content-Length" not in buf.split(b"\r\n\r\n")[0]):
                # An upgrade, or a chunked/streaming answer: the head is enough.
                s.settimeout(0.2)
        return buf
    finally:
        s.close()


def _check_answer(buf: bytes) -> None:
    if not buf:
        return  # closed without an answer: the documented end of garbage
    while buf.startswith(b"HTTP/1.1 100 "):  # Expect: 100-continue
        buf = buf.split(b"\r\n\r\n", 1)[1]
    assert buf.startswith(b"HTTP/1."), buf[:100]
    status = int(buf.split(b" ", 2)[1])
    assert status in DOCUMENTED, buf[:300]
    head, _, body = buf.partition(b"\r\n\r\n")
    assert b"Traceback" not in buf
    if status == 500:
        assert body.strip() in PROTOCOL_500, buf[:300]


def _alive(port: int) -> None:
    s = connect(port)
    try:
        s.sendall(b"GET /f HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        status, _, rest = read_head(s)
        assert status == 200
    finally:
        s.close()


# -- raw bytes ------------------------------------------------------------------


@FUZZ
@given(data=st.binary(max_size=3000))
def test_random_bytes(server, data):
    _check_answer(_exchange(server.port, data, timeout=0.2, half_close=True))
    _alive(server.port)


@FUZZ
@given(
    prefix=st.sampled_from(
        [
            b"GET /f/info HTTP/1.1\r\n",
            b"POST /f/0/s/xhr_send HTTP/1.1\r\nHost: x\r\n",
            b"GET /f/0/s/websocket HTTP/1.1\r\nUpgrade: websocket\r\n",
            b"GET /f/",
            b"POST /f/0/s/xhr HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
        ]
    ),
    tail=st.binary(max_size=500),
)
def test_request_with_garbage_tail(server, prefix, tail):
    _check_answer(_exchange(server.port, prefix + tail, timeout=0.2, half_close=True))
    _alive(server.port)


# -- structured but odd HTTP ----------------------------------------------------------

_token = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_.~%", min_size=0, max_size=12)
_segment = st.one_of(_token, st.sampled_from([".", "..", "", "%2e", "%2F", "a.b", "ü", "%00", "%ff", "*"]))
_transport = st.sampled_from(
    [
        "xhr",
        "xhr_send",
        "xhr_streaming",
        "eventsource",
        "htmlfile",
        "jsonp",
        "jsonp_send",
        "websocket",
        "info",
        "iframe.html",
        "iframe-x.html",
        "websocket/",
        "XHR",
        "xhr_sendx",
        "",
    ]
)
_path = st.one_of(
    st.builds(lambda a, b, t: "/f/%s/%s/%s" % (a, b, t), _segment, _segment, _transport),
    st.builds(lambda t: "/f/" + t, _transport),
    st.builds(lambda segs: "/f/" + "/".join(segs), st.lists(_segment, max_size=6)),
    st.just("/f"),
)
_query = st.one_of(
    st.just(""), st.builds(lambda c: "?c=" + c, st.text(alphabet="abcXYZ019-_.()<>'\";/%&=+ \\u2028", max_size=20))
)
_method = st.sampled_from(["GET", "POST", "PUT", "DELETE", "OPTIONS", "HEAD", "PATCH", "BREW", "get"])
_origin = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "https://ok.test",
            "https://a.ok.test",
            "https://evil.test",
            "null",
            "https://ok.test.evil.test",
            "https://evil.test/.ok.test",
            "https://x@a.ok.test",
            "",
            "*",
            "https://ok.test:99999",
        ]
    ),
    st.text(max_size=30).filter(lambda s: "\r" not in s and "\n" not in s),
)
_ctype = st.sampled_from(
    [
        None,
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/json",
        "multipart/form-data; boundary=x",
        "application/x-www-form-urlencoded; charset=x",
    ]
)
_body = st.one_of(
    st.binary(max_size=200),
    st.builds(
        lambda v: json.dumps(v).encode(),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=10),
            lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=4), c, max_size=3),
            max_leaves=8,
        ),
    ),
    st.builds(lambda v: b"d=" + v, st.binary(max_size=100)),
    st.builds(lambda n: b"[" + b'"a",' * n + b'"b"]', st.integers(0, LIMIT // 2)),  # up to 2.5x LIMIT
)
_extra = st.lists(
    st.sampled_from(
        [
            "Upgrade: websocket",
            "Connection: Upgrade",
            "Connection: close",
            "Sec-WebSocket-Version: 13",
            "Sec-WebSocket-Version: 99",
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
            "Sec-WebSocket-Key1: 1 2",
            "Sec-WebSocket-Key2: 3 4",
            "Cookie: JSESSIONID=abc;;;=",
            "Access-Control-Request-Headers: x, y",
            "If-None-Match: *",
            "Expect: 100-continue",
            "X-Forwarded-For: 1.2.3.4",
            "Transfer-Encoding: gzip",
            "Content-Length: -1",
            "Content-Length: 99999999999",
            "Content-Encoding: gzip",
            "Host:",
            "X: \x7f\x80",
            "Sec-Fetch-Site: cross-site",
            "Sec-Fetch-Site: same-origin",
            "Sec-Fetch-Site: none",
            "Sec-Fetch-Site: ?",
            "Referer: https://ok.test/p",
            "Referer: https://evil.test/",
            "Referer: ::",
            "Referer: http://u@ok.test/",
        ]
    ),
    max_size=4,
)


@FUZZ
@given(method=_method, path=_path, query=_query, origin=_origin, ctype=_ctype, body=_body, extra=_extra)
def test_odd_requests(server, method, path, query, origin, ctype, body, extra):
    lines = ["%s %s%s HTTP/1.1" % (method, path, query), "Host: 127.0.0.1"]
    if origin is not None:
        lines.append("Origin: " + origin)
    if ctype is not None:
        lines.append("Content-Type: " + ctype)
    if not any(e.startswith(("Content-Length", "Transfer-Encoding")) for e in extra):
        lines.append("Content-Length: %d" % len(body))
    lines.extend(extra)
    if not any(e.startswith("Connection") for e in extra):
        lines.append("Connection: close")  # EOF ends the answer: no waiting
    data = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape") + body
    buf = _exchange(server.port, data, timeout=0.2)
    _check_answer(buf)
    if buf and origin not in (None, "", "https://ok.test", "https://a.ok.test") and b" 403 " in buf[:13]:
        assert b"access-control-allow-origin" not in buf.lower()
    _alive(server.port)


# -- payloads to live sessions ----------------------------------------------------------

_payload = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=100).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.builds(lambda v: json.dumps(v).encode(), st.lists(st.text(max_size=20), max_size=5)),
    st.builds(
        lambda v: json.dumps(v, ensure_ascii=False).encode("utf-8", "surrogatepass"),
        st.lists(st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF)), max_size=3),
    ),
    st.sampled_from(
        [
            b"[",
            b"[]",
            b"[1]",
            b'["a"',
            b'{"a":1}',
            b'"str"',
            b"null",
            b'["\\ud800"]',
            b'["\\u0000"]',
            b"\xff\xfe",
            b'["a"]' * 3,
            b"d=",
            b"d=%5B%22x%22%5D",
        ]
    ),
)
_sid_counter = iter(range(10**9))


def _valid_messages(body: bytes):
    try:
        v = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if isinstance(v, list) and all(isinstance(x, str) for x in v):
        return v
    return None


@FUZZ
@given(payload=_payload, transport=st.sampled_from(["xhr_send", "jsonp_send"]), form=st.booleans())
def test_send_payloads(server, payload, transport, form):
    sid = "fz%d" % next(_sid_counter)
    assert _exchange(
        server.port,
        b"POST /f/0/%s/xhr HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n" % sid.encode(),
    ).endswith(b"o\n")
    ctype = "application/x-www-form-urlencoded" if form and transport == "jsonp_send" else "text/plain"
    # As a browser page on an allowed origin sends it (a form post carries Origin).
    buf = _exchange(
        server.port,
        b"POST /f/0/%s/%s HTTP/1.1\r\nHost: x\r\nOrigin: https://ok.test\r\n"
        b"Content-Type: %s\r\n"
        b"Content-Length: %d\r\nConnection: close\r\n\r\n%s"
        % (sid.encode(), transport.encode(), ctype.encode(), len(payload), payload),
    )
    _check_answer(buf)
    status = int(buf.split(b" ", 2)[1])
    messages = None if (form and transport == "jsonp_send") else _valid_messages(payload)
    if messages is not None:
        assert status == (204 if transport == "xhr_send" else 200)
    else:
        assert status in (200, 204, 500)
    # The session survives a bad request and still echoes.
    ok = _exchange(
        server.port,
        b"POST /f/0/%s/xhr_send HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\n"
        b'Connection: close\r\n\r\n["end"]' % sid.encode(),
    )
    assert b" 204 " in ok[:13]
    poll = _exchange(
        server.port,
        b"POST /f/0/%s/xhr HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n" % sid.encode(),
    )
    assert poll.endswith(b'"end"]\n')
    if messages:
        assert poll.split(b"\r\n\r\n", 1)[1].startswith(b"a[")
        got = json.loads(poll.split(b"\r\n\r\n", 1)[1][1:])
        assert got == messages + ["end"]


@FUZZ
@given(
    frames=st.lists(
        st.tuples(st.sampled_from([0, 1, 2, 3, 8, 9, 10, 11, 15]), st.booleans(), st.booleans(), _payload),
        min_size=1,
        max_size=4,
    ),
    raw=st.booleans(),
)
def test_websocket_frames(server, frames, raw):
    ws = RawWS(server.port, "/f/websocket" if raw else "/f/0/w/websocket")
    try:
        assert ws.status == 101
        if not raw:
            assert ws.recv_frames()[0][1] == b"o"
        data = b"".join(client_frame(op, p[:130] if op >= 8 else p, fin, mask) for op, fin, mask, p in frames)
        try:
            ws.sock.sendall(data)
        except OSError:
            pass
        # Whatever came back is well-formed frames or a close; read a bit.
        try:
            ws.recv_frames(timeout=0.2)
        except (TimeoutError, OSError):
            pass
    finally:
        ws.close()
    _alive(server.port)


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(size=st.integers(0, 3 * LIMIT), chunked=st.booleans())
def test_body_sizes(server, size, chunked):
    sid = "sz%d" % next(_sid_counter)
    _exchange(
        server.port,
        b"POST /f/0/%s/xhr HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n" % sid.encode(),
    )
    body = b'["' + b"x" * max(0, size - 4) + b'"]'
    if chunked:
        payload = (
            b"".join(b"%x\r\n%s\r\n" % (len(body[i : i + 500]), body[i : i + 500]) for i in range(0, len(body), 500))
            + b"0\r\n\r\n"
        )
        head = b"Transfer-Encoding: chunked\r\n"
    else:
        payload, head = body, b"Content-Length: %d\r\n" % len(body)
    buf = _exchange(
        server.port,
        b"POST /f/0/%s/xhr_send HTTP/1.1\r\nHost: x\r\n%sConnection: close\r\n\r\n%s" % (sid.encode(), head, payload),
    )
    _check_answer(buf)
    status = int(buf.split(b" ", 2)[1]) if buf else None
    if len(body) <= LIMIT:
        assert status == 204
    else:
        # Refused: 413, or for a chunked body the connection cut once the
        # bound was passed.
        assert status == 413 or (chunked and status is None), buf[:100]


def test_no_sessions_leak(server):
    """Runs last in this module: everything the fuzzing opened expires."""
    assert wait_for(lambda: server.call(lambda: len(server.app.sockjs_router.sessions)) == 0, timeout=10)
    assert server.call(lambda: server.app.sockjs_router.stats.sess_active) == 0
    _alive(server.port)


def test_struct_sanity():
    # The fuzzer's own frame builder makes what the server parses.
    assert client_frame(1, b"", mask=False) == struct.pack("!BB", 0x81, 0)
