"""WebSocket endpoint base: handshake rules, origin check, hixie-76, and a
frame path of our own after the handshake.

The handshake (RFC 6455 section 4.2, and the legacy hixie-76 that the
conformance suite keeps for haproxy) runs in an ordinary Tornado
``RequestHandler``. Once it succeeds the connection leaves Tornado: the
socket is handed to a plain asyncio :class:`WebSocketConnection`, which
parses every complete frame of each read at once and writes without a
Task or Future per message: several times the throughput of
``tornado.websocket`` (bench/README.md); the routing, the handshake and
everything HTTP stay Tornado's.

TLS connections cannot be moved that way (the TLS state lives in Tornado's
``SSLIOStream``), so they keep their ``IOStream`` and feed the same
protocol object through :class:`_IOStreamTransport`.
"""
import asyncio
import logging
import threading
import time
from typing import Any, Callable, List, Optional, Protocol

from tornado import iostream

from sockjs.tornado import wsproto
from sockjs.tornado.basehandler import BaseHandler

__all__ = ["WebSocketDelegate", "WebSocketConnection", "WebSocketLiveness", "SockJSWebSocketHandler"]

log = logging.getLogger("sockjs.tornado.websocket")

_READ_LIMIT = 65536
#: Unsent bytes past which a connection counts as not keeping up (asyncio's
#: ``pause_writing``); its hard bound is ``max_queue_size``.
_WRITE_HIGH_WATER = 256 * 1024
#: What the delegate hears when the peer reads too slowly for the write
#: buffer bound (``max_queue_size``).
CLOSE_WRITE_OVERFLOW = (1013, "Send queue overflow")
#: Seconds a closed connection may take to deliver its last bytes before
#: it is cut.
CLOSE_GRACE = 5.0


class WebSocketDelegate(Protocol):
    """What a :class:`WebSocketConnection` reports to."""

    def on_ws_open(self, conn: "WebSocketConnection") -> None:
        """The handshake answer is written; frames may follow."""

    def on_ws_messages(self, messages: List[str]) -> None:
        """Text messages of one read, in order (binary ones are decoded as
        UTF-8 too)."""

    def on_ws_closed(self, code: Optional[int], reason: str, by_peer: bool) -> None:
        """The connection ended (once)."""


class _Turn(threading.local):
    """Where this thread's event loop is, as far as broadcast frames care:
    a turn lasts from the first broadcast frame written until the loop
    gets back to its queue (``call_soon``). Per thread, since each loop
    runs in one (tests run servers in several)."""

    def __init__(self) -> None:
        self.loop: Optional[asyncio.AbstractEventLoop] = None
        self.number = 0
        self.ending = False
        self.corked: "List[WebSocketConnection]" = []


_turn = _Turn()


def _end_turn(state: _Turn) -> None:
    state.number += 1
    state.ending = False
    corked, state.corked = state.corked, []
    for conn in corked:
        conn._uncork()


class WebSocketConnection(asyncio.Protocol):
    """One websocket connection after its handshake.

    ``max_message_size`` bounds a message; ``max_write_buffer`` bounds what
    may wait unsent for a slow reader before the connection is dropped.
    On connection, ``greeting`` (the handshake answer) is written first,
    then the delegate hears ``on_ws_open``, then ``initial`` (bytes read
    along with the request head) is parsed before anything from the socket.
    """

    def __init__(self, delegate: WebSocketDelegate, max_message_size: int,
                 max_write_buffer: int, greeting: bytes = b"", initial: bytes = b"",
                 hixie76_keys: Optional["tuple[str, str]"] = None) -> None:
        self.delegate = delegate
        self.transport: Optional[asyncio.BaseTransport] = None
        self._greeting = greeting
        self._initial = initial
        self._hixie_keys = hixie76_keys
        self._hixie_pending = b""
        self.hixie76 = hixie76_keys is not None
        if self.hixie76:
            self._parser: Any = wsproto.Hixie76Parser(max_message_size)
        else:
            self._parser = wsproto.FrameParser(max_message_size)
        self._max_write_buffer = max_write_buffer
        self._closed = False
        self._close_sent = False
        self._reading_paused = False
        self._writing_paused = False
        self._dropped_backlog = 0
        # Broadcast frames held until the loop turn ends (send_prebuilt).
        self._cork: Optional[List[bytes]] = None
        self._frame_turn = -1
        self.last_pong = time.monotonic()
        self.ping_sent_at: Optional[float] = None
        self.on_writable: Optional[Callable[[], None]] = None

    # -- asyncio.Protocol ---------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        transport.write(self._greeting)  # type: ignore[attr-defined]
        if self._hixie_keys is None:
            self.delegate.on_ws_open(self)
        # else: hixie-76 opens once the key bytes arrived and the answer
        # went out; nothing may be written before it.
        if self._initial:
            data, self._initial = self._initial, b""
            self.data_received(data)

    def data_received(self, data: bytes) -> None:
        if self._closed:
            return
        if self._hixie_keys is not None:
            data = self._hixie_handshake(data)
            if not data:
                return
        try:
            frames = self._parser.feed(data)
        except wsproto.ProtocolError as e:
            log.debug("websocket protocol error: %s", e.reason)
            self.close(e.code, e.reason, by_peer=True)
            return
        texts: List[str] = []
        for opcode, payload in frames:
            if opcode == wsproto.OP_TEXT or opcode == wsproto.OP_BINARY:
                try:
                    texts.append(payload.decode("utf-8"))
                except UnicodeDecodeError:
                    self._deliver(texts)
                    self.close(1007, "Invalid UTF-8", by_peer=True)
                    return
            elif opcode == wsproto.OP_PING:
                self._write(wsproto.build_frame(wsproto.OP_PONG, payload))
            elif opcode == wsproto.OP_PONG:
                self.last_pong = time.monotonic()
                self.ping_sent_at = None
            elif opcode == wsproto.OP_CLOSE:
                self._deliver(texts)
                code, reason = wsproto.parse_close_payload(payload)
                self.close(code if code is not None else 1000, reason, by_peer=True)
                return
        self._deliver(texts)

    def _deliver(self, texts: List[str]) -> None:
        if texts and not self._closed:
            self.delegate.on_ws_messages(texts)

    def _hixie_handshake(self, data: bytes) -> bytes:
        buf = self._hixie_pending + data
        if len(buf) < 8:
            self._hixie_pending = buf
            return b""
        assert self._hixie_keys is not None
        key1, key2 = self._hixie_keys
        self._hixie_keys = None
        self._hixie_pending = b""
        try:
            answer = wsproto.hixie76_answer(key1, key2, buf[:8])
        except wsproto.ProtocolError:
            self.abort()
            return b""
        self._write(answer)
        self.delegate.on_ws_open(self)
        return buf[8:]

    def connection_lost(self, exc: Optional[Exception]) -> None:
        if not self._closed:
            self._closed = True
            self.delegate.on_ws_closed(None, "", True)

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        if self.on_writable is not None:
            self.on_writable()

    # -- flow control -------------------------------------------------------

    def pause_reading(self) -> None:
        """Stop reading from the peer (its handler is behind)."""
        if not self._reading_paused and self.transport is not None and not self._closed:
            self._reading_paused = True
            self.transport.pause_reading()  # type: ignore[attr-defined]

    def resume_reading(self) -> None:
        if self._reading_paused and self.transport is not None and not self._closed:
            self._reading_paused = False
            self.transport.resume_reading()  # type: ignore[attr-defined]

    @property
    def writable(self) -> bool:
        """False while the peer reads slower than we write."""
        return not self._writing_paused

    # -- writing ------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        transport = self.transport
        if transport is None or self._closed or transport.is_closing():
            # Lost, and asyncio has not told us yet: writing more would
            # only make it warn.
            return
        if self._cork is not None:
            # Broadcast frames are waiting for the end of the turn: keep
            # the order.
            self._cork.append(data)
            return
        transport.write(data)  # type: ignore[attr-defined]
        if self._writing_paused and transport.get_write_buffer_size() > self._max_write_buffer:  # type: ignore[attr-defined]
            # The peer reads slower than we write: drop it rather than hold
            # its backlog without bound. The delegate hears 1013, not from
            # the peer (it logs, naming its session).
            self._dropped_backlog = transport.get_write_buffer_size()  # type: ignore[attr-defined]
            log.debug("websocket peer reads too slowly (%d bytes unsent); dropping it",
                      self._dropped_backlog)
            self.abort(CLOSE_WRITE_OVERFLOW)

    def send_text(self, text: str) -> None:
        """One text message."""
        payload = text.encode("utf-8", "surrogatepass")
        if self.hixie76:
            self._write(wsproto.build_hixie76_frame(payload))
        else:
            self._write(wsproto.build_frame(wsproto.OP_TEXT, payload))

    def send_binary(self, data: bytes) -> None:
        """One binary message (a text frame under hixie-76)."""
        if self.hixie76:
            self._write(wsproto.build_hixie76_frame(data))
        else:
            self._write(wsproto.build_frame(wsproto.OP_BINARY, data))

    def send_prebuilt(self, frame: bytes) -> None:
        """Bytes already framed (a broadcast frame built once).

        The first one of a loop turn is written at once; more in the same
        turn (a burst of broadcasts) wait for the end of the turn, with
        anything else sent meanwhile, in order, and leave in one write
        instead of one each (bench/README.md, "cork").
        """
        cork = self._cork
        if cork is not None:
            cork.append(frame)
            return
        if self.transport is None or self._closed:
            return
        state = _turn
        number = state.number
        if self._frame_turn != number:
            # The first broadcast frame of this turn: at once.
            self._frame_turn = number
            if not state.ending:
                state.ending = True
                state.loop = asyncio.get_running_loop()
                state.loop.call_soon(_end_turn, state)
            self._write(frame)
            return
        loop = asyncio.get_running_loop()
        if state.loop is not loop:
            # A loop of this thread stopped mid-turn: start afresh here.
            state.number = number + 1
            state.loop = loop
            state.corked = []
            loop.call_soon(_end_turn, state)
            self._frame_turn = state.number
            self._write(frame)
            return
        self._cork = [frame]
        state.corked.append(self)

    def _uncork(self) -> None:
        cork = self._cork
        if cork is not None:
            self._cork = None
            self._write(cork[0] if len(cork) == 1 else b"".join(cork))

    def frame_text(self, text: str) -> bytes:
        """The frame :meth:`send_text` would write, for sharing."""
        payload = text.encode("utf-8", "surrogatepass")
        if self.hixie76:
            return wsproto.build_hixie76_frame(payload)
        return wsproto.build_frame(wsproto.OP_TEXT, payload)

    def ping(self) -> None:
        """Send a ping (not under hixie-76, which has none)."""
        if not self.hixie76 and self.ping_sent_at is None:
            self.ping_sent_at = time.monotonic()
            self._write(wsproto.build_frame(wsproto.OP_PING, b""))

    def close(self, code: Optional[int] = 1000, reason: str = "", by_peer: bool = False) -> None:
        """Send a close frame (``code``, ``reason``) and end the connection
        once it is written."""
        if self._closed:
            return
        self._uncork()
        if not self._close_sent:
            self._close_sent = True
            if self.hixie76:
                self._write(b"\xff\x00")
            else:
                if code in (None, 1005, 1006, 1015):
                    payload = b""
                else:
                    payload = wsproto.close_payload(code, reason)
                self._write(wsproto.build_frame(wsproto.OP_CLOSE, payload))
        self._closed = True
        transport = self.transport
        if transport is not None:
            transport.close()
            if transport.get_write_buffer_size():  # type: ignore[attr-defined]
                # A peer that never reads would hold the socket and its
                # backlog open for ever: give it a grace period, no more.
                asyncio.get_running_loop().call_later(CLOSE_GRACE, transport.abort)  # type: ignore[attr-defined]
        self.delegate.on_ws_closed(code, reason, by_peer)

    def abort(self, why: "Optional[tuple[int, str]]" = None) -> None:
        """Drop the connection at once. ``why`` is the ``(code, reason)``
        the delegate hears as a close not made by the peer; without it, the
        peer is taken to have gone (1006)."""
        self._cork = None
        if self.transport is not None:
            self.transport.abort()  # type: ignore[attr-defined]
        if not self._closed:
            self._closed = True
            if why is None:
                self.delegate.on_ws_closed(1006, "", True)
            else:
                self.delegate.on_ws_closed(why[0], why[1], False)

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def unsent_bytes(self) -> int:
        """Bytes written but not yet taken by the peer (for a connection
        dropped for reading too slowly: what it left behind)."""
        transport = self.transport
        if transport is None or self._dropped_backlog:
            return self._dropped_backlog
        return transport.get_write_buffer_size()  # type: ignore[attr-defined,no-any-return]


class WebSocketLiveness:
    """Ping liveness for a websocket receiver (SockJS or raw): a ping with
    each heartbeat; a peer that leaves one unanswered for ``ping_timeout``
    seconds is no longer alive (``None`` turns the check off)."""

    conn: Optional[WebSocketConnection]
    _ping_timeout: Optional[float]

    def send_ping(self, now: float) -> None:
        if self.conn is not None and self._ping_timeout is not None:
            self.conn.ping()

    def alive(self, now: float) -> bool:
        conn = self.conn
        if conn is None or self._ping_timeout is None or conn.ping_sent_at is None:
            return True
        return bool(now - conn.ping_sent_at < self._ping_timeout)


class _IOStreamTransport(asyncio.Transport):
    """Drives a :class:`WebSocketConnection` from a Tornado ``IOStream``
    (used for TLS, whose state cannot leave the stream)."""

    def __init__(self, stream: iostream.IOStream, protocol: WebSocketConnection) -> None:
        super().__init__()
        self._stream = stream
        self._protocol = protocol
        self._paused: Optional[asyncio.Future[None]] = None
        self._closing = False
        self._writing_paused = False
        stream.set_close_callback(self._on_close)

    async def run(self) -> None:
        self._protocol.connection_made(self)
        try:
            while not self._closing:
                if self._paused is not None:
                    await self._paused
                data = await self._stream.read_bytes(_READ_LIMIT, partial=True)
                self._protocol.data_received(data)
        except iostream.StreamClosedError:
            pass

    def _on_close(self) -> None:
        self._protocol.connection_lost(None)

    def write(self, data: Any) -> None:
        if not self._stream.closed():
            fut = self._stream.write(data)
            fut.add_done_callback(self._written)
            # The same flow control asyncio's transports give, so that the
            # protocol's bound on a slow reader holds under TLS too.
            if not self._writing_paused and self.get_write_buffer_size() > _WRITE_HIGH_WATER:
                self._writing_paused = True
                self._protocol.pause_writing()

    def _written(self, fut: "asyncio.Future[Any]") -> None:
        _ignore_result(fut)
        if self._writing_paused and self.get_write_buffer_size() <= _WRITE_HIGH_WATER // 4:
            self._writing_paused = False
            self._protocol.resume_writing()

    def get_write_buffer_size(self) -> int:
        buf = getattr(self._stream, "_write_buffer", None)
        return len(buf) if buf is not None else 0

    def pause_reading(self) -> None:
        if self._paused is None:
            self._paused = asyncio.get_running_loop().create_future()

    def resume_reading(self) -> None:
        if self._paused is not None:
            self._paused.set_result(None)
            self._paused = None

    def is_closing(self) -> bool:
        return self._closing or self._stream.closed()

    def close(self) -> None:
        self._closing = True
        if self._stream.closed():
            return
        # Close after what was written has gone out.
        fut = self._stream.write(b"")
        fut.add_done_callback(lambda f: self._stream.close())

    def abort(self) -> None:
        self._closing = True
        self._stream.close()


def _pad_head(head: str) -> str:
    """End the response head ``head`` (its lines, without the blank line),
    padded to a multiple of 128 bytes.

    Some clients (ws4py, used by the public conformance suite) read the
    handshake answer in 128-byte ``recv`` calls and mishandle frame bytes
    that arrive in the same call as the end of the head: a session closed
    from ``on_open`` then crashes the client now and then. A head that ends
    on a 128-byte boundary keeps every frame out of that call.
    """
    size = len(head) + 2
    if size % 128:
        line = "X-Pad: \r\n"
        size += len(line)
        head += line[:-2] + "x" * (-size % 128) + "\r\n"
    return head + "\r\n"


def _ignore_result(fut: "asyncio.Future[Any]") -> None:
    if not fut.cancelled():
        fut.exception()


class SockJSWebSocketHandler(BaseHandler):
    """Base of the websocket endpoints: validates the handshake,
    answers it, and hands the connection to a
    :class:`WebSocketConnection` whose delegate :meth:`make_delegate`
    builds. Every method but GET gets 405 with ``Allow: GET``."""

    SUPPORTED_METHODS = ("GET", "HEAD", "POST", "DELETE", "PATCH", "PUT", "OPTIONS")

    def make_delegate(self) -> Any:
        """The :class:`WebSocketDelegate` of the new connection; it must
        also accept :meth:`attach` with the connection."""
        raise NotImplementedError()

    def _method_not_allowed(self, *args: Any, **kwargs: Any) -> None:
        self.set_status(405)
        self._headers["Allow"] = "GET"
        self.finish()

    post = put = delete = patch = head = options = _method_not_allowed

    def _check_origin(self) -> bool:
        origin = self.request.headers.get("Origin") or self.request.headers.get("Sec-WebSocket-Origin")
        return self.server.websocket_origin_allowed(origin, self.request.host)

    async def get(self, *args: Any, **kwargs: Any) -> None:
        headers = self.request.headers
        if headers.get("Upgrade", "").lower() != "websocket":
            return self.send_error_text(400, 'Can "Upgrade" only to "WebSocket".')
        tokens = [t.strip().lower() for t in headers.get("Connection", "").split(",")]
        if "upgrade" not in tokens:
            return self.send_error_text(400, '"Connection" must be "Upgrade".')
        if not self._check_origin():
            return self.send_error_text(403, "Origin not allowed")
        if self.server.shutting_down:
            return self.send_error_text(503, "Server shutting down")
        key1 = headers.get("Sec-WebSocket-Key1")
        key2 = headers.get("Sec-WebSocket-Key2")
        hixie: Optional["tuple[str, str]"] = None
        if key1 is not None and key2 is not None:
            hixie = (key1, key2)
            scheme = "wss" if self.request.protocol == "https" else "ws"
            response = (
                "HTTP/1.1 101 WebSocket Protocol Handshake\r\n"
                "Upgrade: WebSocket\r\n"
                "Connection: Upgrade\r\n"
                "Sec-WebSocket-Origin: %s\r\n"
                "Sec-WebSocket-Location: %s://%s%s\r\n\r\n"
                % (headers.get("Origin", "null"), scheme, self.request.host, self.request.uri)
            )
        else:
            version = headers.get("Sec-WebSocket-Version")
            if version not in ("7", "8", "13"):
                self._headers["Sec-WebSocket-Version"] = "13"
                return self.send_error_text(426, "Unsupported websocket version")
            key = headers.get("Sec-WebSocket-Key")
            if not key:
                return self.send_error_text(400, "Missing Sec-WebSocket-Key")
            response = _pad_head(
                "HTTP/1.1 101 Switching Protocols\r\n"
                "Upgrade: websocket\r\n"
                "Connection: Upgrade\r\n"
                "Sec-WebSocket-Accept: %s\r\n" % wsproto.accept_key(key)
            )
        delegate = self.make_delegate()
        self.set_status(101)
        self.application.log_request(self)
        settings = self.server.settings
        stream = self.detach()
        greeting = response.encode("latin-1")
        if isinstance(stream, iostream.SSLIOStream):
            conn = WebSocketConnection(delegate, settings["max_message_size"], settings["max_queue_size"],
                                       greeting=greeting, hixie76_keys=hixie)
            await _IOStreamTransport(stream, conn).run()
            return
        # Bytes Tornado read past the request head belong to the new reader,
        # ahead of anything still in the socket.
        buffered = bytes(stream._read_buffer[:stream._read_buffer_size])
        try:
            if stream.closed() or stream.socket is None:
                raise OSError("closed")
            sock = stream.socket.dup()
        except OSError:
            # The client left before its answer: no session was opened.
            log.debug("websocket client went away during the handshake")
            stream.close()
            return
        stream.close()  # unregisters and closes the original fd only
        sock.setblocking(False)
        conn = WebSocketConnection(delegate, settings["max_message_size"], settings["max_queue_size"],
                                   greeting=greeting, initial=buffered, hixie76_keys=hixie)
        # asyncio sets TCP_NODELAY on every TCP transport it makes.
        try:
            transport, _ = await asyncio.get_running_loop().connect_accepted_socket(lambda: conn, sock=sock)
        except OSError:
            log.debug("websocket client went away during the handshake")
            sock.close()
            return
        transport.set_write_buffer_limits(high=_WRITE_HIGH_WATER)
        # asyncio's selector transport reads up to 256 KiB at a time: a
        # buffer past glibc's mmap threshold, mapped and unmapped on every
        # read until malloc adapts, which halved echo throughput on a fresh
        # server (bench/README.md). 64 KiB stays on the heap.
        transport.max_size = _READ_LIMIT  # type: ignore[attr-defined]
