"""Threaded SockJS clients for the cluster tests: each keeps reading in a
background thread and records every message, so many clients on different
transports can be checked together. Loopback only; every client is bounded
by timeouts and stops with :meth:`close`.
"""

import http.client
import json
import threading
import uuid
from typing import Any, Callable, List, Optional, Tuple
from urllib.parse import urlsplit

import websocket
from waiting import wait_until

TIMEOUT = 10.0


def wait_for(
    predicate: Callable[[], Any], timeout: float = TIMEOUT, interval: float = 0.02, what: str = "condition"
) -> Any:
    """Poll until ``predicate()`` is truthy; fail after ``timeout``. Every
    20 ms: these predicates ask a browser or a cluster."""
    return wait_until(predicate, timeout, interval, what)


def parse_frame(frame: str) -> Tuple[str, Any]:
    kind = frame[:1]
    if kind in ("a", "c"):
        return kind, json.loads(frame[1:])
    return kind, None


class Client:
    """What every transport shares: the session URL, the received
    messages, the ``o`` frames seen (a second one would mean the session
    was recreated elsewhere) and the close frame, if any."""

    transport = ""

    def __init__(self, base_url: str, prefix: str = "/chat") -> None:
        self.base_url = base_url
        self.session_id = uuid.uuid4().hex[:12]
        self.path = "%s/000/%s" % (prefix, self.session_id)
        self.messages: List[str] = []
        self.opens = 0
        self.closed: Optional[List[Any]] = None
        self.errors: List[str] = []
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    # -- frames -------------------------------------------------------------

    def _on_frame(self, frame: str) -> None:
        kind, data = parse_frame(frame)
        with self.lock:
            if kind == "o":
                self.opens += 1
            elif kind == "a":
                self.messages.extend(data)
            elif kind == "c":
                self.closed = data

    def start(self) -> "Client":
        self._thread = threading.Thread(target=self._run_safe, daemon=True)
        self._thread.start()
        wait_for(lambda: self.opens or self.closed or self.errors, what="open of " + self.transport)
        assert self.opens == 1, (self.transport, self.closed, self.errors)
        return self

    def _run_safe(self) -> None:
        try:
            self._run()
        except Exception as e:  # the test looks at .errors / .ended
            if not self._stop.is_set():
                self.errors.append("%s: %s" % (type(e).__name__, e))

    def _run(self) -> None:
        raise NotImplementedError

    @property
    def ended(self) -> bool:
        """The session is over: a close frame, the connection failed, or a
        second ``o`` (the session id landed on a node that never saw it)."""
        return self.closed is not None or bool(self.errors) or self.opens > 1

    def close(self) -> None:
        self._stop.set()

    # -- reading what came ------------------------------------------------

    def snapshot(self) -> List[str]:
        with self.lock:
            return list(self.messages)

    def json_messages(self) -> List[Any]:
        out = []
        for m in self.snapshot():
            if not isinstance(m, str):
                out.append(m)  # already a JSON value (sent as an object)
                continue
            try:
                out.append(json.loads(m))
            except ValueError:
                out.append(m)
        return out

    @property
    def node(self) -> Optional[str]:
        """The node named in the server's hello."""
        for m in self.json_messages():
            if isinstance(m, dict) and m.get("type") == "hello":
                return str(m["node"])
        return None

    def wait_subscribed(self, channel: str = "chat") -> None:
        wait_for(
            lambda: any(
                isinstance(m, dict) and m.get("type") == "subscribed" and m.get("channel") == channel
                for m in self.json_messages()
            ),
            what="%s subscribed" % self.transport,
        )

    def payloads(self, prefix: str) -> List[str]:
        """Received messages starting with ``prefix``, in arrival order."""
        return [m for m in self.snapshot() if isinstance(m, str) and m.startswith(prefix)]

    # -- sending ----------------------------------------------------------

    def send(self, message: Any) -> None:
        if not isinstance(message, str):
            message = json.dumps(message)
        self._send(message)

    def _send(self, message: str) -> None:
        """xhr_send, shared by the HTTP transports."""
        status, _ = _http(
            self.base_url,
            "POST",
            self.path + "/xhr_send",
            json.dumps([message]).encode(),
            {"Content-Type": "text/plain"},
        )
        assert status == 204, (self.transport, status)


def _http(
    base_url: str,
    method: str,
    path: str,
    body: Optional[bytes] = None,
    headers: Optional[dict] = None,
    timeout: float = TIMEOUT,
) -> Tuple[int, bytes]:
    u = urlsplit(base_url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


class WebSocketClient(Client):
    transport = "websocket"

    def _run(self) -> None:
        url = self.base_url.replace("http://", "ws://") + self.path + "/websocket"
        self.ws = websocket.create_connection(url, timeout=TIMEOUT)
        self.ws.settimeout(0.5)
        while not self._stop.is_set():
            try:
                frame = self.ws.recv()
            except websocket.WebSocketTimeoutException:
                continue
            if not frame:
                raise ConnectionError("websocket closed without a close frame")
            self._on_frame(frame)
            if self.closed is not None:
                return

    def _send(self, message: str) -> None:
        self.ws.send(json.dumps([message]))

    def close(self) -> None:
        super().close()
        try:
            self.ws.close()
        except Exception:
            pass


class XhrStreamingClient(Client):
    """Reopens the stream when the server ends it at ``response_limit``,
    as sockjs-client does."""

    transport = "xhr_streaming"

    def _run(self) -> None:
        u = urlsplit(self.base_url)
        while not self._stop.is_set() and self.closed is None:
            conn = http.client.HTTPConnection(u.hostname, u.port, timeout=TIMEOUT)
            self._conn = conn
            try:
                conn.request("POST", self.path + "/xhr_streaming", body=b"")
                r = conn.getresponse()
                if r.status != 200:
                    raise ConnectionError("xhr_streaming answered %d" % r.status)
                r.readline()  # the 2048-byte prelude
                while not self._stop.is_set():
                    line = r.readline()
                    if not line:
                        break
                    self._on_frame(line.decode().rstrip("\n"))
                    if self.closed is not None:
                        return
            except TimeoutError:
                continue  # heartbeats are slower than the read timeout
            finally:
                conn.close()

    def close(self) -> None:
        super().close()
        try:
            self._conn.sock.shutdown(2)  # type: ignore[union-attr]
        except Exception:
            pass


class XhrPollingClient(Client):
    """Polls ``/xhr`` in a loop; records which requests failed."""

    transport = "xhr"

    def _run(self) -> None:
        u = urlsplit(self.base_url)
        while not self._stop.is_set() and self.closed is None:
            conn = self._conn = http.client.HTTPConnection(u.hostname, u.port, timeout=TIMEOUT)
            try:
                conn.request("POST", self.path + "/xhr", body=b"")
                r = conn.getresponse()
                status, body = r.status, r.read()
            finally:
                conn.close()
            if status != 200:
                raise ConnectionError("xhr answered %d" % status)
            for frame in body.decode().splitlines():
                self._on_frame(frame)

    def close(self) -> None:
        super().close()
        try:
            self._conn.sock.shutdown(2)  # type: ignore[union-attr]
        except Exception:
            pass


TRANSPORTS = {"websocket": WebSocketClient, "xhr_streaming": XhrStreamingClient, "xhr": XhrPollingClient}
