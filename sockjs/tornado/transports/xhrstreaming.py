"""``xhr_streaming``."""

from sockjs.tornado.transports.streamingbase import StreamingTransportBase

__all__ = ["XhrStreamingTransport"]

# 2 KiB of "h" then a newline: browsers that buffer the start of a
# response hand the stream to the page only after that much.
_PRELUDE = b"h" * 2048 + b"\n"


class XhrStreamingTransport(StreamingTransportBase):
    """``POST P/<server>/<session>/xhr_streaming``: each frame plus a
    newline, one chunk each."""

    name = "xhr_streaming"

    def prelude(self) -> bytes:
        return _PRELUDE

    def wrap_frame(self, frame: str) -> bytes:
        return (frame + "\n").encode("utf-8")

    methods = ("POST", "OPTIONS")

    def post(self, session_id: str) -> None:
        self.serve(session_id)
