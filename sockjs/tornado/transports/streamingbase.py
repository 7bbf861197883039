"""Base of the streaming transports: each frame is its own flushed chunk;
the response ends after the frame that takes it past ``response_limit``
(the prelude not counted), and the client reconnects for more."""
import asyncio
from typing import Any, Optional

from sockjs.tornado.session import Broadcast
from sockjs.tornado.transports.pollingbase import PollingTransportBase

__all__ = ["StreamingTransportBase"]


class StreamingTransportBase(PollingTransportBase):
    """A receiver that stays attached across frames. While a chunk is being
    written the receiver is not ``ready``; the session keeps queueing, and
    everything queued meanwhile leaves in one frame once it is."""

    def initialize(self, server: Any) -> None:
        super().initialize(server)
        self.amount_limit = server.settings["response_limit"]
        self._sent = 0
        self.ready = True

    def prelude(self) -> bytes:
        """What is sent before the first frame."""
        return b""

    def start_response(self) -> None:
        if self.request.version == "HTTP/1.0":
            # No chunking in HTTP/1.0: the end of the body is the end of the
            # connection, whatever keep-alive the client asked for.
            self._headers["Connection"] = "close"
        if self.server.settings["disable_nagle"]:
            stream = getattr(self.request.connection, "stream", None)
            if stream is not None:
                stream.set_nodelay(True)
        prelude = self.prelude()
        if prelude:
            self.write(prelude)
        self._flush()

    def _flush(self) -> None:
        self.ready = False
        self.flush().add_done_callback(self._flushed)

    def _flushed(self, fut: "asyncio.Future[None]") -> None:
        if not fut.cancelled() and fut.exception() is not None:
            return  # the client went away; on_connection_close handles it
        self.ready = True
        session = self.session
        if session is not None and session.handler is self:
            session.flush()

    def send_frame(self, frame: str, shared: Optional[Broadcast] = None) -> None:
        if self._finished:
            return
        data = self.wrap_frame(frame)
        self.server.stats.on_bytes_sent(len(data))
        self._sent += len(data)
        if self._sent >= self.amount_limit:
            self.write(data)
            self._detach()
            self._finish_stream()
        elif self._headers_written and not self._transforms and not self._write_buffer:
            # The common case, straight to the connection: RequestHandler's
            # write + flush would only copy the bytes into a list, join it
            # and walk an empty transform list (bench/README.md).
            self.ready = False
            self.request.connection.write(data).add_done_callback(self._flushed)  # type: ignore[union-attr]
        else:
            self.write(data)
            self._flush()

    def send_final(self, frame: str) -> None:
        data = self._final_bytes(frame)
        if data is not None:
            self.write(data)
            self._finish_stream()

    def _finish_stream(self) -> None:
        fut = self.finish()
        if self.request.version == "HTTP/1.0":
            connection: Any = self.request.connection
            fut.add_done_callback(lambda f: connection.close())
        self._end()

