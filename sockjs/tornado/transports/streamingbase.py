"""Base of the streaming transports: each frame is its own chunk, written
straight to the connection; the response ends after the frame that takes
it past ``response_limit`` (the prelude not counted), and the client
reconnects for more."""

import asyncio
import threading
from typing import Any, List, Optional

from sockjs.tornado import tornadointernals
from sockjs.tornado.receiver import Broadcast
from sockjs.tornado.transports.pollingbase import PollingTransportBase

__all__ = ["StreamingTransportBase"]


class _Turn(threading.local):
    """The streams holding broadcast frames until the end of this
    thread's current loop turn."""

    def __init__(self) -> None:
        self.loop: Optional[asyncio.AbstractEventLoop] = None
        self.corked: "List[StreamingTransportBase]" = []


_turn = _Turn()


def _cork(stream: "StreamingTransportBase") -> None:
    state = _turn
    loop = asyncio.get_running_loop()
    if not state.corked or state.loop is not loop:
        # The first of this turn (or a loop of this thread stopped
        # mid-turn and left its list behind): one callback for them all.
        state.loop = loop
        state.corked = []
        loop.call_soon(_end_turn, state)
    state.corked.append(stream)


def _end_turn(state: _Turn) -> None:
    corked, state.corked = state.corked, []
    for stream in corked:
        stream._uncork()


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

    #: Broadcast frames of this loop turn, written together at its end.
    _corked: Optional[List[bytes]] = None

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
        corked = self._corked
        if corked is not None:
            corked.append(data)
            if self._sent >= self.server.settings["response_limit"]:
                self._corked = None
                self._write_and_end(b"".join(corked))
            return
        if self._sent >= self.server.settings["response_limit"]:
            self._write_and_end(data)
        elif shared is not None:
            # Broadcasts come in bursts: hold this one until the end of
            # the loop turn, when it leaves in one write with whatever else
            # the turn sends (the session queues while we are not ready).
            self._corked = [data]
            self.ready = False
            _cork(self)
        else:
            self._pending(self.send_chunk(data))

    def _uncork(self) -> None:
        corked = self._corked
        if corked is None or self.finished:
            self._corked = None
            return
        # Ready for a moment: the session hands over what it queued this
        # turn (appended to the cork), then it all leaves in one write.
        self.ready = True
        session = self.session
        if session is not None and session.handler is self:
            session.flush()
        corked = self._corked
        if corked is None:
            return  # the flush ended the response
        self._corked = None
        self._pending(self.send_chunk(corked[0] if len(corked) == 1 else b"".join(corked)))

    def _write_and_end(self, data: bytes) -> None:
        self.send_chunk(data)
        self._detach()
        self._finish_stream()

    def send_final(self, frame: str) -> None:
        data = self._final_bytes(frame)
        if data is not None:
            corked = self._corked
            if corked is not None:
                self._corked = None
                data = b"".join(corked) + data
            self.send_chunk(data)
            self._finish_stream()

    def _finish_stream(self) -> None:
        self.end_stream(close=self.request.version == "HTTP/1.0")
        self._uncount()
