"""``xhr`` polling and ``xhr_send``."""

from typing import Any

from sockjs.tornado.transports.pollingbase import PollingTransportBase
from sockjs.tornado.transports.sendbase import SendHandlerBase

__all__ = ["XhrPollingTransport", "XhrSendHandler"]


class XhrPollingTransport(PollingTransportBase):
    """``POST P/<server>/<session>/xhr``: one frame and a newline, then the
    response ends."""

    name = "xhr"

    def wrap_frame(self, frame: str) -> bytes:
        return (frame + "\n").encode("utf-8")

    methods = ("POST", "OPTIONS")

    def post(self, session_id: str) -> None:
        self.serve(session_id)


class XhrSendHandler(SendHandlerBase):
    """``POST P/<server>/<session>/xhr_send``: a JSON array of strings in
    the body, whatever its Content-Type; 204 on success."""

    name = "xhr_send"

    def extract_payload(self, body: bytes) -> Any:
        return body

    def answer_success(self) -> None:
        # Content-Type even on a 204: Firefox otherwise parses the empty
        # body as XML and warns.
        self.headers["Content-Type"] = "text/plain; charset=UTF-8"
        self.reply(b"", 204)
