"""``jsonp`` polling and ``jsonp_send``."""

from typing import Any

from sockjs.tornado import proto
from sockjs.tornado.transports.callback import CallbackMixin
from sockjs.tornado.transports.pollingbase import PollingTransportBase
from sockjs.tornado.transports.sendbase import SendHandlerBase, form_field

__all__ = ["JSONPTransport", "JSONPSendHandler"]


class JSONPTransport(CallbackMixin, PollingTransportBase):
    """``GET P/<server>/<session>/jsonp?c=<callback>``: one frame as
    ``/**/callback("frame");``, then the response ends."""

    name = "jsonp"
    access_methods = "OPTIONS, GET"
    cors = False
    embedded = True

    def set_transport_headers(self) -> None:
        super().set_transport_headers()
        self.headers["X-Content-Type-Options"] = "nosniff"

    def wrap_frame(self, frame: str) -> bytes:
        return ("/**/%s(%s);\r\n" % (self.callback, proto.encode_message(frame))).encode("utf-8")

    methods = ("GET", "OPTIONS")

    def get(self, session_id: str) -> None:
        self.serve(session_id)


class JSONPSendHandler(SendHandlerBase):
    """``POST P/<server>/<session>/jsonp_send``: a form with ``d=<json>``,
    or the raw JSON for any other Content-Type; answers 200 ``ok``."""

    name = "jsonp_send"
    embedded = True

    def extract_payload(self, body: bytes) -> Any:
        ctype = self.request.headers.get("Content-Type", "")
        if ctype.split(";")[0].strip().lower() == "application/x-www-form-urlencoded":
            return form_field(body, "d") or b""
        return body

    def answer_success(self) -> None:
        self.headers["Content-Type"] = "text/plain; charset=UTF-8"
        self.reply(b"ok")
