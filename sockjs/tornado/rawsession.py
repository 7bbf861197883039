"""The session of the raw ``/websocket`` endpoint: no SockJS framing, each
message goes out as its own websocket message."""

import time
from typing import TYPE_CHECKING, Any, Callable, Optional, Type

from sockjs.tornado import proto
from sockjs.tornado.basesession import CLOSING, OPEN, BaseSession
from sockjs.tornado.closecodes import CLOSE_GO_AWAY, CLOSE_PING_TIMEOUT
from sockjs.tornado.connectioninfo import ConnectionInfo
from sockjs.tornado.receiver import Broadcast
from sockjs.tornado.sessioncontainer import SessionContainer

if TYPE_CHECKING:  # pragma: no cover
    from sockjs.tornado.conn import SockJSConnection
    from sockjs.tornado.router import SockJSRouter

__all__ = ["RawSession"]


class RawSession(BaseSession):
    """Session of the raw ``/websocket`` endpoint: no SockJS framing, each
    message goes out as its own websocket message."""

    __slots__ = ("handler", "on_idle", "session_id", "_heartbeat_delay", "_next_ping")

    def __init__(self, conn: "Type[SockJSConnection]", server: "SockJSRouter") -> None:
        self._sweep_slot: Optional[int] = None
        self._sweep_schedule: Optional[SessionContainer] = None
        super().__init__(conn, server)
        self.transport_name = "rawwebsocket"
        self.handler: Any = None
        #: The subprotocol the handshake agreed on, if any.
        self.subprotocol: Optional[str] = None
        self.on_idle: Optional[Callable[[], None]] = None
        # No id: each raw websocket is its own session (the registry keeps
        # it among the unnamed ones, for shutdown and stats).
        self.session_id: Optional[str] = None
        self._heartbeat_delay: float = server.settings["heartbeat_delay"]
        self._next_ping: float = time.monotonic() + self._heartbeat_delay

    def tick(self, now: float) -> Optional[float]:
        """The router's sweep: a raw session lives exactly as long as its
        websocket (which has no SockJS heartbeat). Its liveness is checked
        as on the SockJS websocket: a ping every ``heartbeat_delay``, and a
        close with 1001 ``Ping timeout`` when one is not answered in time.
        Returns when it next needs a tick, or ``None`` once gone."""
        handler = self.handler
        if handler is not None and self.state == OPEN:
            if not handler.alive(now):
                self.stats.on_heartbeat_timeout()
                self.close(*CLOSE_PING_TIMEOUT, initiator="timeout")
                return None
            if now < self._next_ping:
                return self._next_ping
            self._next_ping = now + self._heartbeat_delay
            handler.send_ping(now)
            ping_timeout: Optional[float] = self.server.settings["ping_timeout"]
            if ping_timeout is not None and ping_timeout < self._heartbeat_delay:
                return now + ping_timeout
            return self._next_ping
        return None if self.state >= CLOSING else now + self._heartbeat_delay

    def on_delete(self, forced: bool) -> None:
        """Called when the registry drops the session."""
        self.close(*CLOSE_GO_AWAY, initiator="server")

    @property
    def send_expects_json(self) -> bool:
        """False: messages go out as they are, one websocket message each."""
        return False

    def set_handler(self, handler: Any, info: ConnectionInfo) -> None:
        """Attach the websocket and open the session (runs ``on_open``)."""
        self.handler = handler
        self._open(info)

    def send_message(self, message: Any, stats: bool = True, binary: bool = False) -> None:
        """Send one websocket message now: with ``binary=True`` a binary
        one (``bytes`` as they are, text encoded as UTF-8, other values as
        JSON text), else a text one. A no-op once closed."""
        if self.state >= CLOSING or self.handler is None:
            return
        if binary:
            if isinstance(message, (bytes, bytearray, memoryview)):
                self.handler.send_binary(bytes(message))
            else:
                self.handler.send_binary(proto.message_text(message).encode("utf-8"))
        else:
            self.handler.send_text(proto.message_text(message))
        if stats:
            self.stats.on_pack_sent(1)

    def send_broadcast(self, message: Broadcast) -> None:
        """Send a broadcast message, with the frame built once for all."""
        if self.state >= CLOSING or self.handler is None:
            return
        self.handler.send_raw_broadcast(message)

    def _send_close(self, code: int, message: str) -> None:
        if self.handler is not None:
            self.handler.close(code, message)

    def _on_idle(self) -> None:
        if self.on_idle is not None:
            self.on_idle()
