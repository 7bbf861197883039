"""``eventsource``: Server-Sent Events."""

from sockjs.tornado.transports.streamingbase import StreamingTransportBase

__all__ = ["EventSourceTransport"]


class EventSourceTransport(StreamingTransportBase):
    """``GET P/<server>/<session>/eventsource``: ``data: <frame>`` events.
    Frames are JSON, so they never hold a raw CR or LF."""

    name = "eventsource"
    access_methods = "OPTIONS, GET"
    content_type = "text/event-stream"
    # sockjs-client 1.x opens EventSource straight at the server, also from
    # other origins: without CORS headers the browser drops the stream.
    cors = True

    def prelude(self) -> bytes:
        return b"\r\n"

    def wrap_frame(self, frame: str) -> bytes:
        return ("data: " + frame + "\r\n\r\n").encode("utf-8")

    methods = ("GET", "OPTIONS")

    def get(self, session_id: str) -> None:
        self.serve(session_id)
