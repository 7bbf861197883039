"""WebSocket endpoint base: the handshake and the hand-off.

The handshake (RFC 6455 section 4.2, and the legacy hixie-76 that the
conformance suite keeps for haproxy) runs in an ordinary Tornado
``RequestHandler``. Once it succeeds the socket leaves Tornado for a
:class:`~sockjs.tornado.wsconnection.WebSocketConnection` (TLS connections
keep their stream, through :class:`~sockjs.tornado.wstls.IOStreamTransport`);
the routing, the handshake and everything HTTP stay Tornado's.

``WebSocketConnection``, ``WebSocketDelegate``, ``WebSocketLiveness`` and
``CLOSE_GRACE`` are still importable from here.
"""

import asyncio
import functools
import logging
from typing import Any, List, Optional, cast

from tornado import iostream

from sockjs.tornado import wsframes, wsnegotiate
from sockjs.tornado.basehandler import BaseHandler
from sockjs.tornado.tasks import retrieve_exception
from sockjs.tornado.wsconnection import (
    CLOSE_GRACE,
    READ_LIMIT,
    WRITE_HIGH_WATER,
    WebSocketConnection,
    WebSocketDelegate,
)
from sockjs.tornado.wsliveness import WebSocketLiveness
from sockjs.tornado.wstls import IOStreamTransport

__all__ = ["WebSocketDelegate", "WebSocketConnection", "WebSocketLiveness", "SockJSWebSocketHandler", "CLOSE_GRACE"]

log = logging.getLogger("sockjs.tornado.websocket")


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


#: What a client may send past its handshake before the answer, beyond one
#: message of ``max_message_size``.
_PIPELINE_SLACK = 65536


class _PipelineOverflow(Exception):
    pass


def take_buffered(stream: iostream.IOStream, limit: int) -> bytes:
    """Everything ``stream`` holds that nobody read yet (bytes pipelined
    after the request head), through the stream's public API only: a
    partial read completes at once when the stream has buffered bytes (or
    the socket has some now), and stays pending when it has none. The
    pending read is left to fail when the stream is closed.

    Raises :class:`_PipelineOverflow` past ``limit`` bytes (a client that
    streams before it has its answer).
    """
    chunks: List[bytes] = []
    total = 0
    while True:
        try:
            # Typed Awaitable; documented to return a Future.
            fut = cast("asyncio.Future[bytes]", stream.read_bytes(READ_LIMIT, partial=True))
        except iostream.StreamClosedError:
            break
        if not fut.done():
            fut.add_done_callback(retrieve_exception)
            break
        try:
            chunk = fut.result()
        except iostream.StreamClosedError:
            break
        chunks.append(chunk)
        total += len(chunk)
        if total > limit:
            raise _PipelineOverflow()
    return b"".join(chunks)


class SockJSWebSocketHandler(BaseHandler):
    """Base of the websocket endpoints: validates the handshake,
    answers it, and hands the connection to a
    :class:`WebSocketConnection` whose delegate :meth:`make_delegate`
    builds. Every method but GET gets 405 with ``Allow: GET``."""

    methods = ("GET",)

    def make_delegate(self) -> Any:
        """The :class:`WebSocketDelegate` of the new connection; it must
        also accept :meth:`attach` with the connection."""
        raise NotImplementedError()

    def select_subprotocol(self, subprotocols: List[str]) -> Optional[str]:
        """One of the subprotocols the client offered, or ``None``."""
        return None

    def method_not_allowed(self) -> None:
        self.reply(b"", 405)

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
        settings = self.server.settings
        agreed = wsnegotiate.Negotiated()
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
                self.headers["Sec-WebSocket-Version"] = "13"
                return self.send_error_text(426, "Unsupported websocket version")
            key = headers.get("Sec-WebSocket-Key")
            if not key:
                return self.send_error_text(400, "Missing Sec-WebSocket-Key")
            agreed = wsnegotiate.negotiate(
                headers.get_list("Sec-WebSocket-Extensions"),
                headers.get_list("Sec-WebSocket-Protocol"),
                settings["websocket_compression"],
                self.select_subprotocol,
            )
            response = _pad_head(
                "HTTP/1.1 101 Switching Protocols\r\n"
                "Upgrade: websocket\r\n"
                "Connection: Upgrade\r\n"
                "Sec-WebSocket-Accept: %s\r\n" % wsframes.accept_key(key) + agreed.header_lines
            )
        delegate = self.make_delegate()
        self.status = 101
        stream = self.detach()
        # The connection after the handshake, the same over TLS (through the
        # IOStream) and over plain TCP (on the socket itself).
        connection = functools.partial(
            WebSocketConnection,
            delegate,
            settings["max_message_size"],
            settings["max_queue_size"],
            greeting=response.encode("latin-1"),
            hixie76_keys=hixie,
            deflate=agreed.deflate,
            subprotocol=agreed.subprotocol,
        )
        if isinstance(stream, iostream.SSLIOStream):
            await IOStreamTransport(stream, connection()).run()
            return
        # Bytes Tornado read past the request head (frames the client sent
        # in the same packet as its handshake) belong to the new reader,
        # ahead of anything still in the socket.
        try:
            buffered = take_buffered(stream, settings["max_message_size"] + _PIPELINE_SLACK)
        except _PipelineOverflow:
            log.debug("websocket client sent too much before its handshake answer; dropping it")
            stream.close()
            return
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
        conn = connection(initial=buffered)
        # asyncio sets TCP_NODELAY on every TCP transport it makes. The cast:
        # Python 3.9's AbstractEventLoop does not declare the method (3.10's
        # does), though asyncio's and uvloop's loops have it there too.
        loop = cast(asyncio.BaseEventLoop, asyncio.get_running_loop())
        try:
            transport, _ = await loop.connect_accepted_socket(lambda: conn, sock=sock)
        except OSError:
            log.debug("websocket client went away during the handshake")
            sock.close()
            return
        if transport.is_closing():
            # on_open closed it already: connection_made ran before
            # connect_accepted_socket returned, and uvloop's transports
            # refuse every call once closed.
            return
        transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)
