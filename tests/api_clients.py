"""Small blocking SockJS clients for the API tests.

Each helper talks to a real server over loopback with ordinary clients
(``requests``, ``websocket-client``); nothing here knows the server's
insides.
"""

import json
from typing import Any, List, Optional, Tuple

import requests
import websocket
from waiting import wait_until

TIMEOUT = 5.0


#: Polls until truthy and returns the value; a timeout fails the test.
wait_for = wait_until


def parse_frame(frame: str) -> Tuple[str, Any]:
    """``("o", None)``, ``("h", None)``, ``("a", [msgs])`` or
    ``("c", [code, reason])``."""
    kind = frame[:1]
    if kind in ("a", "c"):
        return kind, json.loads(frame[1:])
    return kind, None


class WsClient:
    """A SockJS websocket session (``.../<server>/<session>/websocket``)."""

    def __init__(self, base_url: str, session: str = "s", headers: Optional[List[str]] = None, query: str = "") -> None:
        url = "%s/000/%s/websocket" % (base_url, session)
        if query:
            url += "?" + query
        self.ws = websocket.create_connection(url, timeout=TIMEOUT, header=headers)
        first = self.ws.recv()
        assert first == "o", first

    def send(self, *messages: str) -> None:
        self.ws.send(json.dumps(list(messages)))

    def recv_frame(self) -> Tuple[str, Any]:
        return parse_frame(self.ws.recv())

    def recv_messages(self, count: int) -> List[str]:
        """Read message frames until ``count`` messages came (heartbeats
        are skipped; a close frame fails)."""
        out: List[str] = []
        while len(out) < count:
            kind, data = self.recv_frame()
            if kind == "a":
                out.extend(data)
            elif kind == "c":
                raise AssertionError("closed with %r after %r" % (data, out))
        return out

    def recv_close(self) -> List[Any]:
        """Skip messages and heartbeats until the close frame; return
        ``[code, reason]``."""
        while True:
            kind, data = self.recv_frame()
            if kind == "c":
                return data  # type: ignore[no-any-return]

    def close(self) -> None:
        self.ws.close()


def raw_ws_close(ws: websocket.WebSocket) -> Tuple[Optional[int], str]:
    """Read a raw websocket until its close frame; ``(code, reason)``."""
    while True:
        opcode, data = ws.recv_data(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            if len(data) < 2:
                return None, ""
            return int.from_bytes(data[:2], "big"), data[2:].decode("utf-8")


class XhrClient:
    """A SockJS session over ``xhr`` polling and ``xhr_send``."""

    def __init__(
        self, base_url: str, session: str, http: Optional[requests.Session] = None, headers: Optional[dict] = None
    ) -> None:
        self.url = "%s/000/%s" % (base_url, session)
        self.http = http or requests.Session()
        self.headers = headers or {}

    def poll(self) -> Tuple[str, Any]:
        r = self.http.post(self.url + "/xhr", headers=self.headers, timeout=TIMEOUT)
        assert r.status_code == 200, (r.status_code, r.text)
        assert r.text.endswith("\n")
        return parse_frame(r.text[:-1])

    def open(self) -> None:
        assert self.poll() == ("o", None)

    def send(self, *messages: str) -> requests.Response:
        r = self.http.post(
            self.url + "/xhr_send", data=json.dumps(list(messages)), headers=self.headers, timeout=TIMEOUT
        )
        assert r.status_code == 204, (r.status_code, r.text)
        return r

    def recv_messages(self, count: int) -> List[str]:
        out: List[str] = []
        while len(out) < count:
            kind, data = self.poll()
            if kind == "a":
                out.extend(data)
            elif kind == "c":
                raise AssertionError("closed with %r after %r" % (data, out))
        return out


def streaming_frames(transport: str, body: str) -> List[str]:
    """The SockJS frames inside a whole streaming or polling response
    body of ``transport``."""
    if transport in ("xhr", "xhr_streaming"):
        lines = body.split("\n")
        if transport == "xhr_streaming":
            assert lines[0] == "h" * 2048
            lines = lines[1:]
        return [line for line in lines if line]
    if transport == "eventsource":
        assert body.startswith("\r\n")
        return [chunk[len("data: ") :] for chunk in body[2:].split("\r\n\r\n") if chunk.startswith("data: ")]
    if transport == "htmlfile":
        frames = []
        for part in body.split("<script>\np(")[1:]:
            frames.append(json.loads(part.split(");\n</script>")[0]))
        return frames
    if transport == "jsonp":
        assert body.startswith("/**/cb(") and body.endswith(");\r\n"), body
        return [json.loads(body[len("/**/cb(") : -len(");\r\n")])]
    raise ValueError(transport)


def http_receive(base_url: str, session: str, transport: str, **kw: Any) -> requests.Response:
    """Open one receiving HTTP request of ``transport`` on ``session``
    (blocks until the response ends unless ``stream=True``)."""
    url = "%s/000/%s/%s" % (base_url, session, transport)
    if transport in ("htmlfile", "jsonp"):
        url += "?c=cb"
    method = "post" if transport in ("xhr", "xhr_streaming") else "get"
    return getattr(requests, method)(url, timeout=TIMEOUT, **kw)
