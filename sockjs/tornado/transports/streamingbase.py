"""Base of the streaming transports: each frame is its own chunk, written
straight to the connection; the response ends after the frame that takes
it past ``response_limit`` (the prelude not counted), and the client
reconnects for more."""
import asyncio
from typing import Any, Optional

from sockjs.tornado import tornadointernals
from sockjs.tornado.receiver import Broadcast
from sockjs.tornado.transports.pollingbase import PollingTransportBase

__all__ = ["StreamingTransportBase"]


class StreamingTransportBase(PollingTransportBase):
    """A receiver that stays attached across frames. While a chunk is being
    written the receiver is not ``ready``; the session keeps queueing, and
    everything queued meanwhile leaves in one frame once it is."""

    ready = True
    _sent = 0

    def prelude(self) -> bytes:
        """What is sent before the first frame."""
        return b""

    def start_response(self) -> None:
        if self.request.version == "HTTP/1.0":
            # No chunking in HTTP/1.0: the end of the body is the end of the
            # connection, whatever keep-alive the client asked for.
            self.headers["Connection"] = "close"
        if self.server.settings["disable_nagle"]:
            tornadointernals.set_nodelay(self.connection)
        self._pending(self.start_stream(self.prelude()))

    def _pending(self, fut: "Optional[asyncio.Future[None]]") -> None:
        # Not ready until the loop's next turn even when the write went out
        # at once: what the application sends meanwhile leaves together,
        # in one frame.
        if fut is not None:
            self.ready = False
            fut.add_done_callback(self._flushed)

    def _flushed(self, fut: "asyncio.Future[Any]") -> None:
        if fut.cancelled() or fut.exception() is not None:
            return  # the client went away; on_gone handles it
        if not self.ready:
            self.ready = True
            session = self.session
            if session is not None and session.handler is self:
                session.flush()

    def send_frame(self, frame: str, shared: Optional[Broadcast] = None) -> None:
        if self.finished:
            return
        if shared is not None:
            # A broadcast: wrapped once for every stream of this transport.
            data = shared.cache.get(self.name)
            if data is None:
                data = shared.cache[self.name] = self.wrap_frame(frame)
        else:
            data = self.wrap_frame(frame)
        self.server.stats.on_bytes_sent(len(data))
        self._sent += len(data)
        fut = self.send_chunk(data)
        if self._sent >= self.server.settings["response_limit"]:
            self._detach()
            self._finish_stream()
        else:
            self._pending(fut)

    def send_final(self, frame: str) -> None:
        data = self._final_bytes(frame)
        if data is not None:
            self.send_chunk(data)
            self._finish_stream()

    def _finish_stream(self) -> None:
        self.end_stream(close=self.request.version == "HTTP/1.0")
        self._uncount()
