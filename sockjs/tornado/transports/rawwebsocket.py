"""``P/websocket``: a plain websocket with no SockJS framing:
text and binary messages in and out, unchanged; the application's close
becomes a websocket close frame with its code and reason. The application
may choose a subprotocol among those the client offers
(``SockJSConnection.select_subprotocol``)."""

import sys
from typing import List, Optional, Union

from sockjs.tornado.connectioninfo import ConnectionInfo
from sockjs.tornado.proto import utf8_len
from sockjs.tornado.service import Service
from sockjs.tornado.session import Broadcast, RawSession
from sockjs.tornado.websocket import SockJSWebSocketHandler, WebSocketConnection, WebSocketLiveness

__all__ = ["RawWebSocketTransport", "RawWebSocketReceiver"]


class RawWebSocketReceiver(WebSocketLiveness):
    """Connects a :class:`RawSession` to its websocket."""

    __slots__ = ("server", "_info", "session", "conn", "_max_inbox", "_ping_timeout", "_cache_key", "__dict__")

    def __init__(self, server: Service, info: ConnectionInfo) -> None:
        self.server = server
        self._info = info
        self.session: Optional[RawSession] = None
        self.conn: Optional[WebSocketConnection] = None
        self._max_inbox = server.settings["max_inbox_messages"]
        self._ping_timeout = server.settings["ping_timeout"]
        # Where a broadcast frame shareable with this connection is cached.
        self._cache_key: Optional[str] = None

    def on_ws_open(self, conn: WebSocketConnection) -> None:
        self.conn = conn
        if conn.frame_key is not None:
            # Interned: one string for all connections alike, not one each,
            # and the cache lookup per delivery matches it by identity.
            self._cache_key = sys.intern("raw:" + conn.frame_key)
        session = self.server.make_raw_session()
        session.subprotocol = conn.subprotocol
        session.on_idle = conn.resume_reading
        self.session = session
        # Registered so that router.shutdown() reaches it too.
        self.server.track(session)
        self.server.stats.on_conn_opened()
        session.set_handler(self, self._info)

    def on_ws_messages(self, messages: List[Union[str, bytes]]) -> None:
        session = self.session
        if session is not None:
            size = 0
            for message in messages:
                # utf8_len inlined for ASCII text (once per message).
                size += len(message) if isinstance(message, bytes) or message.isascii() else utf8_len(message)
            self.server.stats.on_bytes_recv(size)
            session.on_messages(messages)
            if session.inbox_size > self._max_inbox and self.conn is not None:
                self.conn.pause_reading()

    def on_ws_closed(self, code: Optional[int], reason: str, by_peer: bool) -> None:
        session = self.session
        if session is None:
            return
        self.session = None
        self.server.untrack(session)
        self.server.stats.on_conn_closed()
        session.handler = None
        if by_peer:
            session.close(code or 1000, reason or "Normal closure", initiator="client")
        elif code == 1013 and self.conn is not None:
            # The connection dropped a peer that stopped reading.
            session.overflow(self.conn.unsent_bytes)

    # -- what RawSession calls -----------------------------------------------

    def send_text(self, text: str) -> None:
        if self.conn is not None:
            # utf8_len inlined for ASCII (once per message).
            self.server.stats.on_bytes_sent(len(text) if text.isascii() else utf8_len(text))
            self.conn.send_text(text)

    def send_binary(self, data: bytes) -> None:
        if self.conn is not None:
            self.server.stats.on_bytes_sent(len(data))
            self.conn.send_binary(data)

    def send_raw_broadcast(self, message: Broadcast) -> None:
        conn = self.conn
        if conn is None:
            return
        self.server.stats.on_bytes_sent(message.message_size)
        key = self._cache_key
        if key is None:
            # Compressed with this connection's own context.
            conn.send_text(message.message)
            return
        data = message.cache.get(key)
        if data is None:
            data = message.cache[key] = conn.frame_text(message.message)
        conn.send_prebuilt(data)

    def close(self, code: int, reason: str) -> None:
        if self.conn is not None:
            self.conn.close(code, reason)


class RawWebSocketTransport(SockJSWebSocketHandler):
    """The raw websocket endpoint."""

    name = "rawwebsocket"

    def make_delegate(self) -> RawWebSocketReceiver:
        return RawWebSocketReceiver(self.server, self.get_conn_info())

    def select_subprotocol(self, subprotocols: List[str]) -> Optional[str]:
        """The application's choice (``SockJSConnection.select_subprotocol``)."""
        conn_class = self.server.get_connection_class()
        return conn_class.select_subprotocol(subprotocols, self.get_conn_info())
