"""``htmlfile``: a page that calls its parent's
callback for each frame, for browsers without XHR streaming."""

from sockjs.tornado import proto
from sockjs.tornado.transports.callback import CallbackMixin
from sockjs.tornado.transports.streamingbase import StreamingTransportBase

__all__ = ["HtmlFileTransport", "HTMLFILE_HEAD"]

#: The page head as the protocol defines it; ``%s`` is the callback.
HTMLFILE_HEAD = """<!doctype html>
<html><head>
  <meta http-equiv="X-UA-Compatible" content="IE=edge" />
  <meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
</head><body><h2>Don't panic!</h2>
  <script>
    document.domain = document.domain;
    var c = parent.%s;
    c.start();
    function p(d) {c.message(d);};
    window.onload = function() {c.stop();};
  </script>
"""


class HtmlFileTransport(CallbackMixin, StreamingTransportBase):
    """``GET P/<server>/<session>/htmlfile?c=<callback>``."""

    name = "htmlfile"
    access_methods = "OPTIONS, GET"
    content_type = "text/html; charset=UTF-8"
    cors = False
    embedded = True

    def prelude(self) -> bytes:
        head = HTMLFILE_HEAD % self.callback
        # Padded past 1 KiB: browsers start rendering only after that much.
        return (head + " " * max(0, 1025 - len(head)) + "\r\n").encode("utf-8")

    def wrap_frame(self, frame: str) -> bytes:
        # "<" escaped: a message holding "</script>" must not end the
        # script element early (another client's message would run as HTML
        # on this origin). The client's string is the same.
        encoded = proto.encode_message(frame).replace("<", "\\u003c")
        return ("<script>\np(%s);\n</script>\r\n" % encoded).encode("utf-8")

    methods = ("GET", "OPTIONS")

    def get(self, session_id: str) -> None:
        self.serve(session_id)
