"""Calls from other threads, run on a session's event loop in batches.

``SockJSConnection.send_threadsafe`` and ``close_threadsafe`` end here.
Calls made while earlier ones still wait run together in one loop callback:
the loop is woken once per batch, not once per call, and what the calls send
leaves in one frame.

Correct without the GIL (free-threaded Python): the queue and the
"a drain is scheduled" flag change together under one lock, so a call can
never land in a queue whose drain has already taken its batch without
scheduling the next one, and two threads never both schedule a drain.
The lock is held only to append or to swap the queue, never while a call
runs or while the loop is being woken.
"""

import asyncio
import logging
import threading
from collections import deque
from typing import Any, Callable, Deque, Tuple

__all__ = ["ThreadsafeCalls"]

log = logging.getLogger("sockjs.tornado.session")

_Call = Tuple[Callable[..., Any], Tuple[Any, ...]]


class ThreadsafeCalls:
    """A queue of ``(fn, args)`` filled from any thread and drained on
    ``loop``; ``begin`` and ``end`` bracket each drained batch (the session
    holds its flush until ``end``). Calls run in the order they were made
    (for calls made by one thread; calls of different threads in the order
    they took the lock)."""

    __slots__ = ("_loop", "_lock", "_calls", "_scheduled", "_begin", "_end")

    def __init__(self, loop: asyncio.AbstractEventLoop, begin: Callable[[], None], end: Callable[[], None]) -> None:
        self._loop = loop
        self._lock = threading.Lock()
        self._calls: Deque[_Call] = deque()
        self._scheduled = False
        self._begin = begin
        self._end = end

    def call(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` on the loop, after every call queued before it.

        :raises RuntimeError: the loop is closed.
        """
        with self._lock:
            self._calls.append((fn, args))
            if self._scheduled:
                return  # the drain already scheduled will take this one
            self._scheduled = True
        try:
            self._loop.call_soon_threadsafe(self._run)
        except RuntimeError:
            with self._lock:
                self._scheduled = False
            raise

    def _run(self) -> None:
        # Take the batch as it is now: calls made meanwhile go to a fresh
        # queue and schedule the next drain, so busy threads cannot keep the
        # loop in this one.
        with self._lock:
            self._scheduled = False
            calls, self._calls = self._calls, deque()
        self._begin()
        try:
            for fn, args in calls:
                try:
                    fn(*args)
                except Exception:
                    log.exception("call from another thread failed: %r", fn)
        finally:
            self._end()

    def pending(self) -> int:
        """Calls waiting for the next drain."""
        with self._lock:
            return len(self._calls)
