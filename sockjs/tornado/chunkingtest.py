"""``P/chunking_test``: the probe sockjs-client 0.3 runs before it picks a
streaming transport (SockJS protocol 0.2 and 0.3; later clients no longer
ask for it).

A POST gets a chunked answer of heartbeat lines: ``h``, then 2 KiB of
spaces and ``h`` (the prelude that makes some browsers start rendering a
stream), then one ``h`` after each of :data:`DELAYS`, then the end. The
client stops reading as soon as it saw more than one chunk arrive, which
tells it that chunks get through (no proxy on the way buffers the answer).
OPTIONS answers the CORS preflight for POST.
"""

import asyncio
from typing import Optional

from sockjs.tornado.basehandler import PreflightHandler

__all__ = ["ChunkingTestHandler", "DELAYS", "PRELUDE"]

#: Seconds before each of the last heartbeat lines, as the protocol sets
#: them (5 ms to about 3 s: a buffering proxy shows up in one of them).
DELAYS = (0.005, 0.025, 0.125, 0.625, 3.125)

#: The second chunk: what browsers need before they hand a stream's first
#: bytes to the page.
PRELUDE = b" " * 2048 + b"h\n"


class ChunkingTestHandler(PreflightHandler):
    """Serves ``P/chunking_test`` (POST and its OPTIONS preflight)."""

    methods = ("POST", "OPTIONS")
    access_methods = "OPTIONS, POST"
    _left: "Optional[asyncio.Event]" = None

    async def post(self) -> None:
        if not self.origin_allowed():
            return self.send_error_text(403, "Origin not allowed")
        self._left = asyncio.Event()
        self.watch_close()
        self.headers["Content-Type"] = "application/javascript; charset=UTF-8"
        self.disable_cache()
        self.handle_origin()
        if self.request.version == "HTTP/1.0":
            # No chunks in HTTP/1.0: the body ends with the connection.
            self.headers["Connection"] = "close"
        self.start_stream()
        for chunk in (b"h\n", PRELUDE):
            if not await self._sent(chunk):
                return
        for delay in DELAYS:
            if await self._left_within(delay) or not await self._sent(b"h\n"):
                return
        self.end_stream(close=self.request.version == "HTTP/1.0")

    async def _sent(self, chunk: bytes) -> bool:
        """Send ``chunk`` as one HTTP chunk, on the wire before the next;
        False once the client is gone."""
        fut = self.send_chunk(chunk)
        if fut is None:
            return False
        try:
            await fut
        except Exception:  # the write failed: the client went away
            return False
        return not self.gone

    async def _left_within(self, seconds: float) -> bool:
        """Wait ``seconds``; True as soon as the client went away (no timer
        outlives the request)."""
        assert self._left is not None
        if self.gone:
            return True
        try:
            await asyncio.wait_for(self._left.wait(), seconds)
        except asyncio.TimeoutError:
            return False
        return True

    def on_gone(self) -> None:
        if self._left is not None:
            self._left.set()
