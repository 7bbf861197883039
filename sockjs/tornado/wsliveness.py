"""Ping liveness shared by the websocket receivers (SockJS and raw)."""

from typing import Optional

from sockjs.tornado.wsconnection import WebSocketConnection

__all__ = ["WebSocketLiveness"]


class WebSocketLiveness:
    """Ping liveness for a websocket receiver (SockJS or raw): a ping with
    each heartbeat; a peer that leaves one unanswered for ``ping_timeout``
    seconds is no longer alive (``None`` turns the check off)."""

    __slots__ = ()
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
