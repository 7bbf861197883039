"""Server statistics: the 1.x ``dump()`` keys, and counters for metrics.

``dump()`` gives ``sessions_active``, ``connections_active``,
``connections_ps``, ``packets_sent_ps``, ``packets_recv_ps`` and
``transp_<name>`` for each transport; the ``_ps`` figures are moving
averages over the last 10 seconds of per-second counts. Counting costs an
integer addition; the averages roll on the router's sweep, not on a timer
of their own.
"""

import time
from collections import Counter, deque
from typing import Any, Deque, Dict, Tuple

__all__ = ["StatsCollector", "MovingAverage", "TRANSPORTS"]

#: Transport names counted in ``transp_<name>``.
TRANSPORTS = ("websocket", "xhr", "xhr_streaming", "jsonp", "eventsource", "htmlfile", "rawwebsocket")


class MovingAverage:
    """Average of the last ``period`` one-second samples."""

    def __init__(self, period: int = 10) -> None:
        self.period = period
        self.stream: Deque[float] = deque(maxlen=period)
        self.sum = 0.0
        self.accumulator = 0
        self.last_average = 0.0

    def add(self, n: int) -> None:
        """Count ``n`` events in the current sample."""
        self.accumulator += n

    def flush(self, seconds: float = 1.0) -> None:
        """Close the current sample, ``seconds`` long."""
        rate = self.accumulator / seconds if seconds > 0 else 0.0
        self.accumulator = 0
        if len(self.stream) == self.period:
            self.sum -= self.stream[0]
        self.stream.append(rate)
        self.sum += rate
        self.last_average = self.sum / len(self.stream)


class StatsCollector:
    """Counters of one router. The ``on_*`` methods are called by sessions
    and transports; :meth:`dump` is what 1.x applications read."""

    def __init__(self, io_loop: Any = None) -> None:
        self.sess_active = 0
        self.conn_active = 0
        self.sess_transports: Dict[str, int] = {t: 0 for t in TRANSPORTS}
        self.conn_ps = MovingAverage()
        self.pack_sent_ps = MovingAverage()
        self.pack_recv_ps = MovingAverage()
        # Totals, for metrics exposition.
        self.sessions_opened = 0
        self.sessions_closed = 0
        #: Sessions opened since start, by transport.
        self.sessions_opened_by_transport: "Counter[str]" = Counter()
        self.connections_opened = 0
        self.packets_sent = 0
        self.packets_recv = 0
        self.bytes_sent = 0
        self.bytes_recv = 0
        self.errors = 0
        #: Requests refused by ``allowed_origins`` (403, no session).
        self.origin_refusals = 0
        self.heartbeat_timeouts = 0
        self.broadcasts = 0
        self.broadcast_deliveries = 0
        self.close_codes: "Counter[Tuple[int, str]]" = Counter()
        self._last_roll = time.monotonic()

    # -- events -----------------------------------------------------------

    def on_sess_opened(self, transport: str) -> None:
        """A session opened on ``transport`` (``sessions_active``, ``transp_<name>``)."""
        self.sess_active += 1
        self.sessions_opened += 1
        self.sessions_opened_by_transport[transport] += 1
        self.sess_transports[transport] = self.sess_transports.get(transport, 0) + 1

    def on_sess_closed(self, transport: str) -> None:
        """A session of ``transport`` closed."""
        self.sess_active -= 1
        self.sessions_closed += 1
        self.sess_transports[transport] = self.sess_transports.get(transport, 0) - 1

    def on_conn_opened(self) -> None:
        """A receiver attached: a websocket, a stream or a poll (``connections_active``,
        ``connections_ps``)."""
        self.conn_active += 1
        self.connections_opened += 1
        self.conn_ps.accumulator += 1

    def on_conn_closed(self) -> None:
        """A receiver went away."""
        self.conn_active -= 1

    def on_pack_sent(self, num: int) -> None:
        """``num`` messages were queued for clients (``packets_sent_ps``)."""
        self.packets_sent += num
        self.pack_sent_ps.accumulator += num

    def on_pack_recv(self, num: int) -> None:
        """``num`` messages came from a client (``packets_recv_ps``)."""
        self.packets_recv += num
        self.pack_recv_ps.accumulator += num

    def on_bytes_sent(self, num: int) -> None:
        """``num`` bytes of frames were written."""
        self.bytes_sent += num

    def on_bytes_recv(self, num: int) -> None:
        """``num`` bytes of client payload were read."""
        self.bytes_recv += num

    def on_origin_refused(self) -> None:
        """A request was refused for its origin."""
        self.origin_refusals += 1

    def on_close_code(self, code: int, initiator: str) -> None:
        """A session closed with ``code``, ended by ``initiator``."""
        self.close_codes[(code, initiator)] += 1

    def on_heartbeat_timeout(self) -> None:
        """A websocket peer missed its ping deadline."""
        self.heartbeat_timeouts += 1

    def on_error(self) -> None:
        """A session closed because of an error (a handler raised, a limit was passed)."""
        self.errors += 1

    def on_broadcast(self, deliveries: int) -> None:
        """One broadcast reached ``deliveries`` sessions."""
        self.broadcasts += 1
        self.broadcast_deliveries += deliveries

    # -- averages ---------------------------------------------------------

    def roll(self, now: "float | None" = None) -> None:
        """Close the per-second samples of the moving averages, once at
        least a second passed since the last roll."""
        now = time.monotonic() if now is None else now
        elapsed = now - self._last_roll
        if elapsed < 1.0:
            return
        self._last_roll = now
        for avg in (self.conn_ps, self.pack_sent_ps, self.pack_recv_ps):
            avg.flush(elapsed)

    def dump(self) -> Dict[str, Any]:
        """The 1.x statistics dictionary."""
        self.roll()
        data: Dict[str, Any] = {
            "sessions_active": self.sess_active,
            "connections_active": self.conn_active,
            "connections_ps": self.conn_ps.last_average,
            "packets_sent_ps": self.pack_sent_ps.last_average,
            "packets_recv_ps": self.pack_recv_ps.last_average,
        }
        for name, count in self.sess_transports.items():
            data["transp_" + name] = count
        return data
