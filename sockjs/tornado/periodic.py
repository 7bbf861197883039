"""A periodic callback that starts on the loop running when it starts.

Kept for 1.x importers; the library itself runs one sweep timer per router.
Unlike 1.0.7's, ``stop()`` cancels the scheduled handle, so nothing it
references stays alive after it stops.
"""

import asyncio
from typing import Any, Callable, Optional

__all__ = ["Callback"]


class Callback:
    """Call ``callback`` every ``callback_time`` milliseconds once started.

    ``delay()`` pushes the next call a full period away. The loop is taken
    when :meth:`start` runs (``io_loop`` is accepted for 1.x and ignored).
    """

    def __init__(self, callback: Callable[[], Any], callback_time: float, io_loop: Any = None) -> None:
        self.callback = callback
        self.callback_time = callback_time
        self._handle: Optional[asyncio.TimerHandle] = None
        self._running = False

    def start(self) -> None:
        """Schedule the first call, ``callback_time`` from now, on the
        running loop."""
        self._running = True
        self._schedule()

    def stop(self) -> None:
        """Stop: the pending call is cancelled, nothing else runs."""
        self._running = False
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def delay(self) -> None:
        """Push the next call a full period from now (if running)."""
        if self._running:
            self._schedule()

    def _schedule(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
        loop = asyncio.get_running_loop()
        self._handle = loop.call_later(self.callback_time / 1000.0, self._run)

    def _run(self) -> None:
        self._handle = None
        if not self._running:
            return
        try:
            self.callback()
        finally:
            if self._running and self._handle is None:
                self._schedule()
