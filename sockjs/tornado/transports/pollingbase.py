"""Base of the HTTP receiving transports (polling and streaming).

One request is one receiver: it attaches to the session named in the URL
(opening it if new), takes frames, and detaches when its response ends. A
client that drops the request mid-way closes the session with 1002.
"""

from typing import Optional

from sockjs.tornado.basehandler import PreflightHandler
from sockjs.tornado.receiver import Broadcast
from sockjs.tornado.session import Session
from sockjs.tornado.transports.base import BaseTransportMixin

__all__ = ["PollingTransportBase"]


class PollingTransportBase(PreflightHandler, BaseTransportMixin):
    """A receiving HTTP transport. Subclasses say how a frame is wrapped
    (:meth:`wrap_frame`), the content type, and whether the response ends
    after one frame (polling) or streams (see ``streamingbase``)."""

    content_type = "application/javascript; charset=UTF-8"
    #: Whether the answer carries CORS headers (the XHR transports).
    cors = True
    session: Optional[Session] = None
    _counted = False

    # -- subclass surface ---------------------------------------------------

    def wrap_frame(self, frame: str) -> bytes:
        """The bytes that carry ``frame`` on this transport."""
        raise NotImplementedError()

    def check_request(self) -> bool:
        """Validate transport-specific arguments; answer and return False
        when they are wrong."""
        return True

    def start_response(self) -> None:
        """Write what precedes the first frame (streaming preludes)."""

    # -- serving --------------------------------------------------------------

    def set_transport_headers(self) -> None:
        self.headers["Content-Type"] = self.content_type
        self.handle_session_cookie()
        self.disable_cache()
        if self.cors:
            self.handle_origin()

    def serve(self, session_id: str) -> None:
        """Attach this request to session ``session_id``; the answer comes
        when the session has a frame for it."""
        if not self.origin_allowed():
            return self.send_error_text(403, "Origin not allowed")
        if not self.check_request():
            return
        self.set_transport_headers()
        server = self.server
        session = server.get_session(session_id)
        if session is None:
            if server.shutting_down:
                return self.send_error_text(503, "Server shutting down")
            session = server.create_session(session_id)
        self.start_response()
        if self.finished:
            return  # the client left during the prelude
        self.session = session
        if session.set_handler(self, self.get_conn_info, self.request.remote_ip):
            server.stats.on_conn_opened()
            if self.finished:
                # Answered at once: over already.
                server.stats.on_conn_closed()
            else:
                self._counted = True
        if not self.finished:
            self.watch_close()

    def _detach(self) -> None:
        session = self.session
        if session is not None and session.handler is self:
            session.remove_handler(self)

    def _uncount(self) -> None:
        if self._counted:
            self._counted = False
            self.server.stats.on_conn_closed()

    def on_gone(self) -> None:
        session = self.session
        if session is not None and session.handler is self:
            session.handler_lost(self)
        self._uncount()

    # -- receiver -------------------------------------------------------------

    def send_frame(self, frame: str, shared: Optional[Broadcast] = None) -> None:
        """Polling: one frame ends the response."""
        self.send_final(frame)

    def send_final(self, frame: str) -> None:
        data = self._final_bytes(frame)
        if data is not None:
            self.reply(data)
            self._uncount()

    def _final_bytes(self, frame: str) -> Optional[bytes]:
        """Detach from the session; the bytes of a last ``frame``, or
        ``None`` when the response already ended."""
        self._detach()
        if self.finished:
            return None
        data = self.wrap_frame(frame)
        self.server.stats.on_bytes_sent(len(data))
        return data
