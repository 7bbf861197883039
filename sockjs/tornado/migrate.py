"""Helpers for moving a ``tornado.websocket`` handler to SockJS (1.x).

:class:`WebsocketHandler` is a :class:`SockJSConnection` that speaks the
``tornado.websocket.WebSocketHandler`` surface: override ``open()``,
``on_message()`` and ``on_close()``, send with ``write_message()``, read the
opening request's details from ``self.request``.
"""

from typing import Any

from sockjs.tornado.conn import SockJSConnection
from sockjs.tornado.session import ConnectionInfo

__all__ = ["WebsocketHandler"]


class WebsocketHandler(SockJSConnection):
    """``tornado.websocket``-style shim over :class:`SockJSConnection`.

    ``self.request`` is the :class:`ConnectionInfo` of the opening request
    (``remote_ip``, ``cookies``, ``arguments``, ``headers``, ``path``), and
    ``self.remote_ip`` its client address. ``open()`` may be a coroutine,
    like ``on_open``; returning ``False`` from it rejects the connection.
    """

    request: ConnectionInfo
    remote_ip: str

    def on_open(self, info: ConnectionInfo) -> Any:
        """Store the request, then call :meth:`open`."""
        self.request = info
        self.remote_ip = info.ip
        return self.open()

    def open(self) -> Any:
        """The connection opened (``self.request`` is set)."""

    def write_message(self, msg: Any, binary: bool = False) -> None:
        """Send one message."""
        self.send(msg, binary)
