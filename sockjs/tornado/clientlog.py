"""Access-log lines for clients' mistakes, at a chosen level, rate-limited.

Tornado logs every 4xx answer on ``tornado.access`` at WARNING. Refused
origins, unknown sessions, wrong methods and oversized bodies are what any
public service gets all day, and what an attacker can make it log as fast
as it can send: one line each would flood the log. The routers' handlers
log them through a :class:`ClientErrorLog` instead: on ``tornado.access``,
at the level of the ``client_error_log_level`` setting (default INFO),
at most ``client_error_log_rate`` lines a minute; the lines left out are
counted, and the next line that is written says how many.
"""

import logging
import time
from typing import Any, Callable, Optional, Union

from tornado.log import access_log

__all__ = ["ClientErrorLog", "parse_level"]


def parse_level(value: Union[int, str]) -> int:
    """A logging level given as a number or a name (``"INFO"``).

    :raises ValueError: an unknown name.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        level = logging.getLevelName(value.strip().upper())
        if isinstance(level, int):
            return level
    raise ValueError("%r is not a logging level (DEBUG, INFO, WARNING, ERROR or a number)" % (value,))


class ClientErrorLog:
    """A token bucket of ``per_minute`` lines (refilled continuously, as
    many at once as ``per_minute``) in front of ``logger``. ``clock`` is
    for tests."""

    __slots__ = ("logger", "level", "per_minute", "_tokens", "_last", "_suppressed", "_clock")

    def __init__(
        self,
        level: Union[int, str] = logging.INFO,
        per_minute: int = 60,
        logger: logging.Logger = access_log,
        clock: Optional[Callable[[], float]] = None,
    ) -> None:
        self.logger = logger
        self.level = parse_level(level)
        self.per_minute = per_minute
        self._tokens = float(per_minute)
        self._clock = clock or time.monotonic
        self._last = self._clock()
        #: Lines left out since the last one written.
        self._suppressed = 0

    @property
    def suppressed(self) -> int:
        """Lines left out since the last one written."""
        return self._suppressed

    def log(self, msg: str, *args: Any) -> bool:
        """Write one line (``msg % args``) unless over the rate or the
        logger would drop it anyway; returns whether it was written."""
        if not self.logger.isEnabledFor(self.level):
            return False  # costs nothing, and uses no budget
        now = self._clock()
        self._tokens = min(float(self.per_minute), self._tokens + (now - self._last) * self.per_minute / 60.0)
        self._last = now
        if self._tokens < 1.0:
            self._suppressed += 1
            return False
        self._tokens -= 1.0
        if self._suppressed:
            msg += " (%d more client errors not logged)"
            args = args + (self._suppressed,)
            self._suppressed = 0
        self.logger.log(self.level, msg, *args)
        return True
