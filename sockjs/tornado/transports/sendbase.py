"""Base of the sending transports (``xhr_send``, ``jsonp_send``).

The body is read with our own size limit (``max_message_size``): a larger
one gets 413 before it is buffered. When an async ``on_message`` is still
running, the answer waits for it, so a client that sends faster than the
application handles is slowed down instead of buffered without bound.
"""

from typing import Any, Dict, Optional

from tornado.httputil import HTTPServerRequest

from sockjs.tornado import proto
from sockjs.tornado.basehandler import PreflightHandler
from sockjs.tornado.httpexchange import Endpoint

__all__ = ["SendHandlerBase", "form_field"]


class SendHandlerBase(PreflightHandler):
    """Decode the client's messages and hand them to the session."""

    name = "send"
    methods = ("POST", "OPTIONS")

    def __init__(self, endpoint: Endpoint, request: HTTPServerRequest, path_kwargs: Dict[str, str]) -> None:
        super().__init__(endpoint, request, path_kwargs)
        self.max_body_size = self.server.settings["max_message_size"]

    def on_headers(self) -> None:
        if self.request.method != "OPTIONS" and not self.origin_allowed():
            # Refused before a byte of the body is read.
            self.headers["Connection"] = "close"
            self.send_error_text(403, "Origin not allowed")

    def extract_payload(self, body: bytes) -> Any:
        """The JSON text inside the body."""
        raise NotImplementedError()

    def answer_success(self) -> None:
        raise NotImplementedError()

    def post(self, session_id: str) -> Any:
        session = self.server.get_session(session_id)
        if session is None or not session.verify_ip(self.request.remote_ip or ""):
            return self.send_error_text(404, "Session not found.")
        self.handle_session_cookie()
        self.disable_cache()
        self.handle_origin()
        body = self.body
        self.server.stats.on_bytes_recv(len(body))
        try:
            messages = proto.decode_messages(self.extract_payload(body))
        except proto.PayloadError as e:
            return self.send_error_text(500, str(e))
        session.on_messages(messages)
        if session.busy:
            self.watch_close()
            return self._answer_when_idle(session)
        self.answer_success()
        return None

    async def _answer_when_idle(self, session: Any) -> None:
        await session.wait_idle()
        if not self.finished:
            self.answer_success()


def form_field(body: bytes, name: str) -> Optional[bytes]:
    """The first value of field ``name`` in an urlencoded form body, as the
    bytes the client encoded (any charset; the caller decodes)."""
    from urllib.parse import parse_qs

    # latin-1 maps each byte to one code point and back, so raw and
    # percent-escaped non-ASCII bytes survive (parse_qs on bytes insists on
    # ASCII and raises on the UTF-8 a browser form sends).
    text = body.decode("latin-1")
    values = parse_qs(text, keep_blank_values=True, encoding="latin-1").get(name)
    return values[0].encode("latin-1") if values else None
