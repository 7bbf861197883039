"""``P/<server>/<session>/websocket``: SockJS framing over a websocket.
Each websocket connection is its own session,
whatever its session id, and lives exactly as long as the connection."""

import sys
from typing import Any, List, Optional, Union

from sockjs.tornado import proto
from sockjs.tornado.service import Service
from sockjs.tornado.session import Broadcast, ConnectionInfo, Session
from sockjs.tornado.transports.base import BaseTransportMixin
from sockjs.tornado.websocket import SockJSWebSocketHandler, WebSocketConnection, WebSocketLiveness

__all__ = ["WebSocketTransport", "WebSocketReceiver"]


class WebSocketReceiver(WebSocketLiveness, BaseTransportMixin):
    """The session's receiver on a websocket connection."""

    name = "websocket"
    __slots__ = ("server", "_info", "session", "conn", "_ping_timeout", "_max_inbox", "_cache_key", "__dict__")

    def __init__(self, server: Service, info: ConnectionInfo) -> None:
        self.server = server
        self._info = info
        self.session: Optional[Session] = None
        self.conn: Optional[WebSocketConnection] = None
        self._ping_timeout = server.settings["ping_timeout"]
        self._max_inbox = server.settings["max_inbox_messages"]
        # Where a broadcast frame shareable with this connection is cached.
        self._cache_key: Optional[str] = None

    # -- WebSocketDelegate ----------------------------------------------------

    def on_ws_open(self, conn: WebSocketConnection) -> None:
        self.conn = conn
        if conn.frame_key is not None:
            # Interned: one string for all connections alike, not one each,
            # and the cache lookup per delivery matches it by identity.
            self._cache_key = sys.intern("ws:" + conn.frame_key)
        conn.on_writable = self._writable
        session = self.server.create_session(None, register=False)
        session.bound_to_receiver = True
        session.on_idle = conn.resume_reading
        self.session = session
        self.server.track(session)
        self.server.stats.on_conn_opened()
        session.set_handler(self, lambda: self._info)

    def on_ws_messages(self, messages: List[Union[str, bytes]]) -> None:
        session = self.session
        if session is None:
            return
        stats = self.server.stats
        decoded: List[str] = []
        for text in messages:
            if isinstance(text, bytes):
                stats.on_bytes_recv(len(text))
                try:
                    # SockJS frames are text: a binary one is read as
                    # UTF-8 text (as 1.x did).
                    text = text.decode("utf-8")
                except UnicodeDecodeError:
                    session.on_messages(decoded)
                    assert self.conn is not None
                    self.conn.close(1007, "Invalid UTF-8", by_peer=True)
                    return
            else:
                # utf8_len inlined for ASCII (once per message).
                stats.on_bytes_recv(len(text) if text.isascii() else proto.utf8_len(text))
            try:
                decoded.extend(proto.decode_ws_message(text))
            except proto.PayloadError:
                # Broken JSON ends the connection (the protocol's answer).
                session.on_messages(decoded)
                assert self.conn is not None
                self.conn.abort()
                return
        session.on_messages(decoded)
        if session.inbox_size > self._max_inbox and self.conn is not None:
            self.conn.pause_reading()

    def on_ws_closed(self, code: Optional[int], reason: str, by_peer: bool) -> None:
        session = self.session
        if session is None:
            return
        self.session = None
        self.server.stats.on_conn_closed()
        if session.handler is self:
            session.handler = None
        self.server.untrack(session)
        if by_peer:
            if code is None or code in (1000, 1001, 1005, 1006):
                code, reason = CLOSE_BY_CLIENT
            session.close(code, reason, initiator="client")
        elif code == 1013:
            # The connection dropped a peer that stopped reading.
            assert self.conn is not None
            session.overflow(self.conn.unsent_bytes)

    def _writable(self) -> None:
        if self.session is not None:
            self.session.flush()

    # -- Receiver -------------------------------------------------------------

    @property
    def ready(self) -> bool:  # type: ignore[override]
        return True

    def send_frame(self, frame: str, shared: Optional[Broadcast] = None) -> None:
        conn = self.conn
        if conn is None:
            return
        if shared is None:
            # utf8_len inlined for ASCII (once per frame).
            self.server.stats.on_bytes_sent(len(frame) if frame.isascii() else proto.utf8_len(frame))
        else:
            self.server.stats.on_bytes_sent(shared.frame_size)
            key = self._cache_key
            if key is not None:
                data = shared.cache.get(key)
                if data is None:
                    data = shared.cache[key] = conn.frame_text(frame)
                conn.send_prebuilt(data)
                return
        conn.send_text(frame)

    def send_final(self, frame: str) -> None:
        conn = self.conn
        if conn is None:
            return
        self.server.stats.on_bytes_sent(proto.utf8_len(frame))
        conn.send_text(frame)
        # A close frame of the session ends the websocket with a plain
        # close; SockJS carries its code inside the c[...] frame.
        conn.close(1000, "", by_peer=False)


#: How a session whose websocket the client ended is closed.
CLOSE_BY_CLIENT = (1000, "Normal closure")


class WebSocketTransport(SockJSWebSocketHandler):
    """The SockJS websocket transport endpoint."""

    name = "websocket"

    def make_delegate(self) -> WebSocketReceiver:
        return WebSocketReceiver(self.server, self.get_conn_info())

    def get(self, *args: Any, **kwargs: Any) -> Any:
        # The session id is not used: each connection is its own session.
        return super().get()
