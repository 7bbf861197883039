"""Base of the sending transports (``xhr_send``, ``jsonp_send``).

The body is read with our own size limit (``max_message_size``): a larger
one gets 413 before it is buffered. When an async ``on_message`` is still
running, the answer waits for it, so a client that sends faster than the
application handles is slowed down instead of buffered without bound.
"""
from typing import Any, List, Optional

from tornado import web

from sockjs.tornado import proto
from sockjs.tornado.basehandler import PreflightHandler

__all__ = ["SendHandlerBase"]


@web.stream_request_body
class SendHandlerBase(PreflightHandler):
    """Decode the client's messages and hand them to the session."""

    name = "send"

    def prepare(self) -> None:
        self._chunks: List[bytes] = []
        self._size = 0
        self._too_big = False
        if self.request.method != "OPTIONS" and not self.origin_allowed():
            # Refused before a byte of the body is read.
            self._too_big = True
            self.send_error_text(403, "Origin not allowed")
            return
        limit = self.server.settings["max_message_size"]
        length = self.request.headers.get("Content-Length")
        if length is not None and length.isdigit() and int(length) > limit:
            self._refuse_size()
            return
        # Tornado's own ceiling, as a second line for chunked bodies.
        connection: Any = self.request.connection
        connection.set_max_body_size(limit + 65536)

    def _refuse_size(self) -> None:
        self._too_big = True
        self.set_status(413)
        self._headers["Content-Type"] = "text/plain; charset=UTF-8"
        self._headers["Connection"] = "close"
        self.finish("Payload too large.")

    def data_received(self, chunk: bytes) -> None:
        if self._too_big:
            return
        self._size += len(chunk)
        if self._size > self.server.settings["max_message_size"]:
            self._chunks = []
            self._refuse_size()
            return
        self._chunks.append(chunk)

    def extract_payload(self, body: bytes) -> Any:
        """The JSON text inside the body."""
        raise NotImplementedError()

    def answer_success(self) -> None:
        raise NotImplementedError()

    async def post(self, session_id: str) -> None:
        if self._finished:
            return
        session = self.server.get_session(session_id)
        if session is None or not session.verify_ip(self.request.remote_ip or ""):
            return self.send_error_text(404, "Session not found.")
        self.handle_session_cookie()
        self.disable_cache()
        self.handle_origin()
        body = b"".join(self._chunks)
        self._chunks = []
        self.server.stats.on_bytes_recv(len(body))
        try:
            messages = proto.decode_messages(self.extract_payload(body))
        except proto.PayloadError as e:
            return self.send_error_text(500, str(e))
        session.on_messages(messages)
        if session.busy:
            await session.wait_idle()
        if not self._finished:
            self.answer_success()

    def on_connection_close(self) -> None:
        self._chunks = []
        # Ends the wait for the rest of the body (else the request would
        # hang for ever, holding this handler).
        super().on_connection_close()


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
