"""The SockJS protocol for the polling transports (``xhr``,
``jsonp``) and the sending ones (``xhr_send``, ``jsonp_send``): framing,
errors, callbacks, close frames, aborted requests and JSESSIONID."""

import json

import pytest
import requests
from protocol_helpers import NO_CACHE, RawHTTP, read_body, sid, wait_attached, wait_for

JS = "application/javascript;charset=UTF-8"
TEXT = "text/plain;charset=UTF-8"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def ctype(r):
    return r.headers.get("Content-Type", "").replace(" ", "")


def assert_no_cache(r):
    assert r.headers["Cache-Control"] == NO_CACHE
    assert "Expires" not in r.headers
    assert "Last-Modified" not in r.headers


# -- xhr and xhr_send ----------------------------------------------------------


def test_xhr_and_xhr_send(test_server):
    url = test_server.url + "/echo/000/" + sid()
    r = requests.post(url + "/xhr")
    assert r.status_code == 200
    assert r.content == b"o\n"
    assert ctype(r) == JS
    assert_no_cache(r)
    assert "Set-Cookie" not in r.headers  # JSESSIONID is off on /echo

    r = requests.post(url + "/xhr_send", data='["x"]')
    assert r.status_code == 204
    assert r.content == b""
    # 204, and still a Content-Type.
    assert ctype(r) == TEXT
    assert_no_cache(r)

    r = requests.post(url + "/xhr")
    assert r.status_code == 200
    assert r.content == b'a["x"]\n'


def test_xhr_send_204_keeps_content_type_on_the_wire(test_server):
    url = "/echo/000/%s" % sid()
    requests.post(test_server.url + url + "/xhr")
    with RawHTTP(test_server.port) as c:
        resp = c.request("POST", url + "/xhr_send", body=b'["x"]')
        assert resp.status == 204
        assert resp.get("Content-Type").replace(" ", "") == TEXT
        assert resp.get("Transfer-Encoding") is None
        assert resp.get("Content-Length") in (None, "0")
        # Nothing after the head: the next request on the connection works.
        resp = c.request("GET", "/echo")
        assert read_body(c, resp) == b"Welcome to SockJS!\n"


@pytest.mark.parametrize("path", ["/xhr_send", "/jsonp_send"])
def test_send_to_unknown_session_is_404(test_server, path):
    r = requests.post(test_server.url + "/echo/000/%s%s" % (sid(), path), data='["x"]')
    assert r.status_code == 404


def test_xhr_send_errors_leave_the_session_unharmed(test_server):
    url = test_server.url + "/echo/000/" + sid()
    assert requests.post(url + "/xhr").content == b"o\n"
    for body in (b'["x', b"[1]", b'{"a": "b"}', b"\xff"):
        r = requests.post(url + "/xhr_send", data=body)
        assert r.status_code == 500
        assert r.text == "Broken JSON encoding."
    r = requests.post(url + "/xhr_send", data=b"")
    assert r.status_code == 500
    assert r.text == "Payload expected."
    r = requests.post(url + "/xhr_send", data='["a"]')
    assert r.status_code == 204
    assert requests.post(url + "/xhr").content == b'a["a"]\n'


def test_xhr_send_any_content_type(test_server):
    url = test_server.url + "/echo/000/" + sid()
    requests.post(url + "/xhr")
    ctypes = [
        "text/plain",
        "T",
        "application/json",
        "application/xml",
        "",
        "application/json; charset=utf-8",
        "text/xml; charset=utf-8",
        "text/xml",
        "application/x-www-form-urlencoded",
    ]
    for ct in ctypes:
        r = requests.post(url + "/xhr_send", data='["a"]', headers={"Content-Type": ct})
        assert r.status_code == 204, ct
    assert requests.post(url + "/xhr").text == "a[" + ",".join(['"a"'] * len(ctypes)) + "]\n"


def test_empty_array_is_accepted_and_does_nothing(test_server):
    url = test_server.url + "/echo/000/" + sid()
    requests.post(url + "/xhr")
    assert requests.post(url + "/xhr_send", data="[]").status_code == 204
    assert requests.post(url + "/xhr_send", data='["a"]').status_code == 204
    assert requests.post(url + "/xhr").content == b'a["a"]\n'


def test_echoes_are_batched_in_order(test_server):
    url = test_server.url + "/echo/000/" + sid()
    requests.post(url + "/xhr")
    requests.post(url + "/xhr_send", data='["a", "b"]')
    requests.post(url + "/xhr_send", data='["c"]')
    requests.post(url + "/xhr_send", data='["d", "e", "f"]')
    assert requests.post(url + "/xhr").content == b'a["a","b","c","d","e","f"]\n'


def test_unicode_round_trip_over_xhr(test_server):
    url = test_server.url + "/echo/000/" + sid()
    requests.post(url + "/xhr")
    msgs = ["\u00e9\u4e2d\U0001f600", "\u2028\u200c\ufeff\x00\x7f", "\ud800", "%61bc"]
    body = json.dumps(msgs)
    assert requests.post(url + "/xhr_send", data=body).status_code == 204
    r = requests.post(url + "/xhr")
    frame = r.content.decode("utf-8")
    assert frame.startswith("a[") and frame.endswith("]\n")
    assert json.loads(frame[1:]) == msgs
    # Listed code points travel escaped, others raw.
    assert "\\u2028" in frame and "\\u200c" in frame and "\\ufeff" in frame and "\\ud800" in frame
    assert "\u00e9\u4e2d\U0001f600" in frame


# -- jsonp and jsonp_send ---------------------------------------------------------


def test_jsonp_and_jsonp_send(test_server):
    url = test_server.url + "/echo/000/" + sid()
    r = requests.get(url + "/jsonp?c=%63allback")
    assert r.status_code == 200
    assert ctype(r) == JS
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert_no_cache(r)
    assert r.content == b'/**/callback("o");\r\n'

    r = requests.post(url + "/jsonp_send", data="d=%5B%22x%22%5D", headers=FORM)
    assert r.status_code == 200
    assert r.content == b"ok"
    assert ctype(r) == TEXT
    assert_no_cache(r)

    r = requests.get(url + "/jsonp?c=callback")
    assert r.content == b'/**/callback("a[\\"x\\"]");\r\n'


def test_jsonp_send_form_and_raw_bodies(test_server):
    url = test_server.url + "/echo/000/" + sid()
    assert requests.get(url + "/jsonp?c=x").content == b'/**/x("o");\r\n'
    assert requests.post(url + "/jsonp_send", data="d=%5B%22abc%22%5D", headers=FORM).content == b"ok"
    # Any other Content-Type: the body is the JSON, not URL-decoded.
    r = requests.post(url + "/jsonp_send", data='["%61bc"]', headers={"Content-Type": "text/plain"})
    assert r.content == b"ok"
    # Form with a charset parameter, and extra fields.
    r = requests.post(
        url + "/jsonp_send",
        data="x=1&d=%5B%22q%22%5D",
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=UTF-8"},
    )
    assert r.content == b"ok"
    assert requests.get(url + "/jsonp?c=x").content == b'/**/x("a[\\"abc\\",\\"%61bc\\",\\"q\\"]");\r\n'


def test_jsonp_send_errors(test_server):
    url = test_server.url + "/echo/000/" + sid()
    requests.get(url + "/jsonp?c=x")
    r = requests.post(url + "/jsonp_send", data="d=%5B%22x", headers=FORM)
    assert r.status_code == 500
    assert r.text == "Broken JSON encoding."
    for data in ("", "d=", "p=p"):
        r = requests.post(url + "/jsonp_send", data=data, headers=FORM)
        assert r.status_code == 500, data
        assert r.text == "Payload expected."
    assert requests.post(url + "/jsonp_send", data="d=%5B%5D", headers=FORM).content == b"ok"
    assert requests.post(url + "/jsonp_send", data="d=%5B%22b%22%5D", headers=FORM).content == b"ok"
    assert requests.get(url + "/jsonp?c=x").content == b'/**/x("a[\\"b\\"]");\r\n'


@pytest.mark.parametrize("transport", ["jsonp", "htmlfile"])
def test_callback_missing(test_server, transport):
    for query in ("", "?c=", "?d=x"):
        r = requests.get(test_server.url + "/echo/a/a/%s%s" % (transport, query))
        assert r.status_code == 500
        assert r.text == '"callback" parameter required'


@pytest.mark.parametrize("transport", ["jsonp", "htmlfile"])
@pytest.mark.parametrize("callback", ["%20", "*", "abc(", "abc%28", "a%20b", "a;b", "%22", "a/b"])
def test_callback_invalid(test_server, transport, callback):
    r = requests.get(test_server.url + "/echo/a/%s/%s?c=%s" % (sid(), transport, callback))
    assert r.status_code == 500
    assert r.text == 'invalid "callback" parameter'


def test_real_client_callback_names_work(test_server):
    url = test_server.url + "/echo/000/" + sid()
    r = requests.get(url + "/jsonp?c=_jp.a1b2c3")
    assert r.content == b'/**/_jp.a1b2c3("o");\r\n'
    requests.post(url + "/jsonp_send", data="d=%5B%22x%22%5D", headers=FORM)
    r = requests.get(url + "/jsonp?c=_jp.a1b2c3")
    assert r.content == b'/**/_jp.a1b2c3("a[\\"x\\"]");\r\n'


# -- close frames ----------------------------------------------------------------------


def test_xhr_close_from_on_open(test_server):
    url = test_server.url + "/close/000/" + sid()
    # The o response is just o (it has a Content-Length; nothing may follow).
    r = requests.post(url + "/xhr")
    assert r.content == b"o\n"
    assert r.headers["Content-Length"] == "2"
    for _ in range(3):
        assert requests.post(url + "/xhr").content == b'c[3000,"Go away!"]\n'


def test_jsonp_close_from_on_open(test_server):
    url = test_server.url + "/close/000/" + sid()
    assert requests.get(url + "/jsonp?c=x").content == b'/**/x("o");\r\n'
    for _ in range(2):
        assert requests.get(url + "/jsonp?c=x").content == b'/**/x("c[3000,\\"Go away!\\"]");\r\n'


def _pending_poll(port, method, path):
    """A polling request left waiting on the server."""
    c = RawHTTP(port)
    c.send(("%s %s HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n" % (method, path)).encode())
    return c


@pytest.mark.parametrize("transport", ["xhr", "jsonp"])
def test_second_receiver_gets_2010_then_abort_gives_1002(test_server, transport):
    session_id = sid()
    base = "/echo/000/%s/" % session_id
    if transport == "xhr":
        method, path = "POST", base + "xhr"

        def poll():
            return requests.post(test_server.url + path).content

        def frame(f):
            return (f + "\n").encode()
    else:
        method, path = "GET", base + "jsonp?c=cb"

        def poll():
            return requests.get(test_server.url + path).content

        def frame(f):
            return ("/**/cb(%s);\r\n" % json.dumps(f)).encode()

    assert poll() == frame("o")
    first = _pending_poll(test_server.port, method, path)
    wait_attached(test_server, "/echo", session_id)
    # A second request gets 2010 and ends.
    assert poll() == frame('c[2010,"Another connection still open"]')
    # The 2010 did not disturb the first receiver: it still gets messages.
    assert requests.post(test_server.url + base + "xhr_send", data='["m"]').status_code == 204
    resp = first.read_head()
    assert read_body(first, resp) == frame('a["m"]')
    first.close()
    # Now abort a waiting request: the session closes with 1002.
    second = _pending_poll(test_server.port, method, path)
    wait_attached(test_server, "/echo", session_id)
    second.close()
    results = []
    assert wait_for(lambda: results.append(poll()) or results[-1] == frame('c[1002,"Connection interrupted"]'))
    assert poll() == frame('c[1002,"Connection interrupted"]')


# -- JSESSIONID ------------------------------------------------------------------------


def _cookie_ok(r, value="dummy"):
    cookie = r.headers["Set-Cookie"]
    parts = [p.strip() for p in cookie.split(";")]
    assert parts[0] == "JSESSIONID=" + value
    assert parts[1].lower() == "path=/"


def test_jsessionid_on_every_session_transport(test_server):
    base = test_server.url + "/cookie_needed_echo/000/"
    s = sid()
    r = requests.post(base + s + "/xhr")
    _cookie_ok(r)
    r = requests.post(base + s + "/xhr_send", data='["x"]')
    assert r.status_code == 204
    _cookie_ok(r)
    r = requests.post(base + s + "/xhr", headers={"Cookie": "JSESSIONID=abcdef"})
    assert r.content == b'a["x"]\n'
    _cookie_ok(r, "abcdef")

    s = sid()
    r = requests.get(base + s + "/jsonp?c=x")
    _cookie_ok(r)
    r = requests.post(base + s + "/jsonp_send", data="d=%5B%22x%22%5D", headers=FORM)
    assert r.content == b"ok"
    _cookie_ok(r)
    r = requests.post(
        base + s + "/jsonp_send", data="d=%5B%22x%22%5D", headers=dict(FORM, Cookie="a=b; JSESSIONID=xyz")
    )
    _cookie_ok(r, "xyz")

    for method, transport in (("POST", "xhr_streaming"), ("GET", "eventsource"), ("GET", "htmlfile?c=cb")):
        r = requests.request(method, base + sid() + "/" + transport, stream=True)
        assert r.status_code == 200
        _cookie_ok(r)
        r.close()
        r = requests.request(method, base + sid() + "/" + transport, stream=True, headers={"Cookie": "JSESSIONID=q1"})
        _cookie_ok(r, "q1")
        r.close()


@pytest.mark.parametrize("transport", ["xhr", "xhr_send", "xhr_streaming"])
def test_jsessionid_on_preflights(test_server, transport):
    url = test_server.url + "/cookie_needed_echo/abc/abc/" + transport
    r = requests.options(url, headers={"Origin": "test"})
    assert r.status_code in (200, 204)
    _cookie_ok(r)
    r = requests.options(url, headers={"Origin": "test", "Cookie": "JSESSIONID=echo1"})
    _cookie_ok(r, "echo1")


def test_no_cookie_on_static_pages_even_with_jsessionid(test_server):
    for path in ("", "/", "/info", "/iframe.html"):
        r = requests.get(test_server.url + "/cookie_needed_echo" + path, headers={"Cookie": "JSESSIONID=a"})
        assert r.status_code == 200
        assert "Set-Cookie" not in r.headers, path
    r = requests.options(test_server.url + "/cookie_needed_echo/info", headers={"Origin": "t"})
    assert "Set-Cookie" not in r.headers


def test_no_cookie_when_jsessionid_off(test_server):
    url = test_server.url + "/echo/000/" + sid()
    assert "Set-Cookie" not in requests.post(url + "/xhr").headers
    assert "Set-Cookie" not in requests.post(url + "/xhr_send", data="[]").headers
    assert "Set-Cookie" not in requests.options(url + "/xhr").headers
