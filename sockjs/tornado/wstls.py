"""Websockets over TLS: the TLS state lives in Tornado's ``SSLIOStream`` and
cannot be moved to an asyncio transport, so :class:`IOStreamTransport`
drives the same :class:`~sockjs.tornado.wsconnection.WebSocketConnection`
from the stream, with the flow control asyncio's transports give."""

import asyncio
from typing import Any, Optional

from tornado import iostream

from sockjs.tornado.tasks import retrieve_exception
from sockjs.tornado.wsconnection import READ_LIMIT, WRITE_HIGH_WATER, WebSocketConnection

__all__ = ["IOStreamTransport"]


class IOStreamTransport(asyncio.Transport):
    """Drives a :class:`WebSocketConnection` from a Tornado ``IOStream``
    (used for TLS, whose state cannot leave the stream)."""

    def __init__(self, stream: iostream.IOStream, protocol: WebSocketConnection) -> None:
        super().__init__()
        self._stream = stream
        self._protocol = protocol
        self._paused: Optional[asyncio.Future[None]] = None
        self._closing = False
        self._writing_paused = False
        # Bytes handed to the stream whose write has not completed: each
        # write's future resolves once its bytes left (public API only).
        self._unsent = 0
        stream.set_close_callback(self._on_close)

    async def run(self) -> None:
        self._protocol.connection_made(self)
        try:
            while not self._closing:
                if self._paused is not None:
                    await self._paused
                data = await self._stream.read_bytes(READ_LIMIT, partial=True)
                self._protocol.data_received(data)
        except iostream.StreamClosedError:
            pass

    def _on_close(self) -> None:
        self._protocol.connection_lost(None)

    def write(self, data: Any) -> None:
        if not self._stream.closed():
            size = len(data)
            self._unsent += size
            fut = self._stream.write(data)
            fut.add_done_callback(lambda f: self._written(f, size))
            # The same flow control asyncio's transports give, so that the
            # protocol's bound on a slow reader holds under TLS too.
            if not self._writing_paused and self.get_write_buffer_size() > WRITE_HIGH_WATER:
                self._writing_paused = True
                self._protocol.pause_writing()

    def _written(self, fut: "asyncio.Future[Any]", size: int) -> None:
        retrieve_exception(fut)
        self._unsent -= size
        if self._writing_paused and self.get_write_buffer_size() <= WRITE_HIGH_WATER // 4:
            self._writing_paused = False
            self._protocol.resume_writing()

    def get_write_buffer_size(self) -> int:
        return self._unsent

    def pause_reading(self) -> None:
        if self._paused is None:
            self._paused = asyncio.get_running_loop().create_future()

    def resume_reading(self) -> None:
        if self._paused is not None:
            self._paused.set_result(None)
            self._paused = None

    def is_closing(self) -> bool:
        return self._closing or self._stream.closed()

    def close(self) -> None:
        self._closing = True
        if self._stream.closed():
            return
        # Close after what was written has gone out.
        fut = self._stream.write(b"")
        fut.add_done_callback(lambda f: self._stream.close())

    def abort(self) -> None:
        self._closing = True
        self._stream.close()
