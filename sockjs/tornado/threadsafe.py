"""Calls from other threads, run on a session's event loop in batches.

``SockJSConnection.send_threadsafe`` and ``close_threadsafe`` end here.
Calls made while earlier ones still wait run together in one loop callback:
the loop is woken once per batch, not once per call, and what the calls send
leaves in one frame.
"""
import asyncio
import logging
from collections import deque
from typing import Any, Callable, Deque, Tuple

__all__ = ["ThreadsafeCalls"]

log = logging.getLogger("sockjs.tornado.session")


class ThreadsafeCalls:
    """A queue of ``(fn, args)`` filled from any thread and drained on
    ``loop``; ``begin`` and ``end`` bracket each drained batch (the session
    holds its flush until ``end``)."""

    __slots__ = ("_loop", "_calls", "_scheduled", "_begin", "_end")

    def __init__(self, loop: asyncio.AbstractEventLoop, begin: Callable[[], None],
                 end: Callable[[], None]) -> None:
        self._loop = loop
        self._calls: Deque[Tuple[Callable[..., Any], Tuple[Any, ...]]] = deque()
        self._scheduled = False
        self._begin = begin
        self._end = end

    def call(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` on the loop, after every call queued before it."""
        # deque.append and the flag are atomic under the GIL; the drain
        # clears the flag before it empties the deque, so a call that
        # misses one drain always schedules the next.
        self._calls.append((fn, args))
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_soon_threadsafe(self._run)

    def _run(self) -> None:
        self._scheduled = False
        calls = self._calls
        # Only what is here now: calls added meanwhile have scheduled the
        # next drain, so busy threads cannot keep the loop in this one.
        count = len(calls)
        self._begin()
        try:
            for _ in range(count):
                fn, args = calls.popleft()
                try:
                    fn(*args)
                except Exception:
                    log.exception("call from another thread failed: %r", fn)
        finally:
            self._end()
