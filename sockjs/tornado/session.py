"""SockJS sessions: the protocol's session rules, apart from any transport.

A :class:`Session` adds SockJS framing to :class:`~sockjs.tornado.basesession.BaseSession`:
an outgoing queue and at most one *receiver*, whatever currently carries
frames to the client (a polling response, a stream, a websocket). Receivers
fit the small :class:`~sockjs.tornado.receiver.Receiver` protocol; the
session never imports a transport.

Rules kept here:

* ``o`` first; then ``a[...]`` frames batching everything queued; ``h``
  after ``heartbeat_delay`` of silence, driven by the router's sweep.
* one receiver at a time: a second gets ``c[2010,"Another connection still
  open"]``; once closed, every later receiver gets the close frame until
  the session expires;
* messages sent with no receiver wait, in order, for the next one;
* ``disconnect_delay`` after its last receiver left, the session closes
  and is forgotten; ``on_close`` runs exactly once.

The names this module had in 1.x and early 2.0 (``ConnectionInfo``,
``CloseReason``, ``BaseSession``, ``RawSession``, ``Broadcast``, the states)
are still importable from here.
"""

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any, Callable, List, Optional, Type

from sockjs.tornado import proto
from sockjs.tornado.basesession import CLOSED, CLOSING, CONNECTING, OPEN, BaseSession
from sockjs.tornado.closecodes import (
    CLOSE_ANOTHER_CONNECTION,
    CLOSE_DIFFERENT_IP,
    CLOSE_GO_AWAY,
    CLOSE_INTERNAL_ERROR,
    CLOSE_INTERRUPTED,
    CLOSE_PING_TIMEOUT,
    CLOSE_QUEUE_OVERFLOW,
    CLOSE_SHUTDOWN,
)
from sockjs.tornado.connectioninfo import CloseReason, ConnectionInfo
from sockjs.tornado.receiver import Broadcast, Receiver
from sockjs.tornado.sessioncontainer import SessionContainer, SessionMixin

if TYPE_CHECKING:  # pragma: no cover
    from sockjs.tornado.conn import SockJSConnection
    from sockjs.tornado.rawsession import RawSession
    from sockjs.tornado.router import SockJSRouter

__all__ = [
    "ConnectionInfo",
    "CloseReason",
    "Receiver",
    "BaseSession",
    "Session",
    "RawSession",
    "Broadcast",
    "CONNECTING",
    "OPEN",
    "CLOSING",
    "CLOSED",
    "CLOSE_GO_AWAY",
    "CLOSE_ANOTHER_CONNECTION",
    "CLOSE_INTERRUPTED",
    "CLOSE_INTERNAL_ERROR",
    "CLOSE_SHUTDOWN",
    "CLOSE_QUEUE_OVERFLOW",
    "CLOSE_PING_TIMEOUT",
]

log = logging.getLogger("sockjs.tornado.session")

_ANOTHER_CONNECTION_FRAME = proto.close_frame(*CLOSE_ANOTHER_CONNECTION)


class Session(BaseSession, SessionMixin):
    """A SockJS session, reachable by id across receivers."""

    recoverable = True

    __slots__ = (
        "session_id",
        "expiry",
        "expiry_date",
        "handler",
        "_queue",
        "_queued_bytes",
        "_max_queue",
        "_immediate_flush",
        "_heartbeat_delay",
        "_verify_ip",
        "_batching",
        "_flush_scheduled",
        "_last_write",
        "bound_to_receiver",
        "on_idle",
    )

    def __init__(
        self,
        conn: "Type[SockJSConnection]",
        server: "SockJSRouter",
        session_id: Optional[str] = None,
        expiry: Optional[float] = None,
    ) -> None:
        self._sweep_slot: Optional[int] = None
        self._sweep_schedule: Optional[SessionContainer] = None
        SessionMixin.__init__(self, session_id, expiry)
        BaseSession.__init__(self, conn, server)
        settings = server.settings
        self.handler: Optional[Receiver] = None
        self._queue: List[str] = []
        self._queued_bytes = 0
        self._max_queue = settings["max_queue_size"]
        self._immediate_flush = settings["immediate_flush"]
        self._heartbeat_delay: float = settings["heartbeat_delay"]
        self._verify_ip = settings["verify_ip"]
        self._batching = 0
        self._flush_scheduled = False
        self._last_write = time.monotonic()
        # Websocket sessions live exactly as long as their connection.
        self.bound_to_receiver = False
        #: Called when the inbox drains (a websocket resumes reading).
        self.on_idle: Optional[Callable[[], None]] = None

    @property
    def send_expects_json(self) -> bool:
        """True: messages go out JSON-encoded inside SockJS frames (1.x)."""
        return True

    # -- receivers --------------------------------------------------------

    def set_handler(
        self, handler: Receiver, info_factory: Callable[[], ConnectionInfo], ip: Optional[str] = None
    ) -> bool:
        """Attach ``handler`` as the receiver; open the session if new.

        Returns False (after answering the receiver with the right close
        frame) when it cannot attach.
        """
        if self.handler is not None:
            handler.send_final(_ANOTHER_CONNECTION_FRAME)
            return False
        if self.state >= CLOSING:
            if self._queue:
                # Sent before the close, with no receiver then: delivered
                # ahead of the close frame, never dropped (as 1.x did).
                frame = proto.message_frame(self._queue)
                self._queue = []
                self._queued_bytes = 0
                handler.send_frame(frame)
            handler.send_final(proto.close_frame(*self.get_close_reason()))
            return False
        if self._verify_ip and ip is not None and self.conn_info is not None and ip != self.conn_info.ip:
            log.info(
                "session %s: receiver from %s refused, session belongs to %s", self.session_id, ip, self.conn_info.ip
            )
            handler.send_final(proto.close_frame(*CLOSE_DIFFERENT_IP))
            return False
        self.handler = handler
        self.expiry_date = None
        if self.recovery is not None and self.recovery.suspended:
            # The client's transport came back to this very session.
            self.recovery.suspended = False
            self.bound_to_receiver = handler.transport_name == "websocket"
        if self.state == CONNECTING:
            self.transport_name = handler.transport_name
            self._write(proto.CONNECT)
            self._open(info_factory())
        elif self._queue:
            self.flush()
        schedule = self._sweep_schedule
        if schedule is not None and self.handler is handler:
            # The session was filed under its expiry; a heartbeat due
            # earlier (heartbeat_delay below disconnect_delay) must not
            # wait for it.
            schedule.due(self, self._last_write + self._heartbeat_delay)
        return True

    def remove_handler(self, handler: Receiver) -> None:
        """Detach ``handler`` (its response ended); the session now expires
        ``disconnect_delay`` from now unless another receiver comes."""
        if self.handler is handler:
            self.handler = None
            self.promote()

    def handler_lost(self, handler: Receiver) -> None:
        """The client went away mid-response: close with 1002."""
        if self.handler is handler:
            self.handler = None
            self.promote()
            self.close(*CLOSE_INTERRUPTED, initiator="client")

    def verify_ip(self, ip: str) -> bool:
        """Whether a request from ``ip`` may use this session."""
        return not self._verify_ip or self.conn_info is None or self.conn_info.ip == ip

    # -- outgoing ---------------------------------------------------------

    def _write(self, frame: str, shared: Optional[Broadcast] = None) -> None:
        handler = self.handler
        assert handler is not None
        self._last_write = time.monotonic()
        handler.send_frame(frame, shared)

    def send_message(self, message: Any, stats: bool = True, binary: bool = False) -> None:
        """Queue one message (``str``, or ``bytes`` decoded as UTF-8, as a
        string; any other JSON-able value as itself, as 1.x sent it); it
        leaves with everything else queued in one ``a[...]`` frame. A no-op
        once closed; ``binary`` is ignored."""
        self.send_jsonified(proto.message_json(message), stats)

    def send_jsonified(self, msg: str, stats: bool = True, record: bool = True) -> None:
        """Queue a message already JSON-encoded with
        :func:`proto.encode_message` (1.x API). ``record=False`` keeps it
        out of what recovery replays (control messages)."""
        if self.state >= CLOSING:
            return
        if self.recovery is not None and record and not self.recovery.record(msg):
            self._not_recorded()
            return
        self._queue.append(msg)
        self._queued_bytes += proto.utf8_len(msg)
        if stats:
            self.stats.on_pack_sent(1)
        self._after_queue()

    def send_broadcast(self, message: Broadcast) -> None:
        """Queue a broadcast message; when nothing else waits it goes out
        as the frame the broadcast built once."""
        if self.state >= CLOSING:
            return
        rec = self.recovery
        if rec is not None and not rec.record(message.encoded):
            self._not_recorded()
            return
        handler = self.handler
        if handler is not None and not self._queue and not self._batching and self._immediate_flush and handler.ready:
            # _write(), inlined: this runs once per receiver of a broadcast.
            self._last_write = time.monotonic()
            handler.send_frame(message.frame, message)
            return
        self._queue.append(message.encoded)
        self._queued_bytes += message.encoded_size
        self._after_queue()

    def send_control(self, body: Any) -> None:
        """Send a recovery control object (not counted, not replayed)."""
        self.send_jsonified(proto.json_encode(body), stats=False, record=False)

    def _not_recorded(self) -> None:
        # A message recovery did not let out: held back while the session
        # is restored (nothing to do), or the away client has now missed
        # more than is kept.
        rec = self.recovery
        assert rec is not None
        if rec.holding is None:
            manager = self.server.recovery
            assert manager is not None
            manager.overflowed(self)

    def _suspend(self, window: float) -> None:
        self.bound_to_receiver = False
        self.expiry_date = time.monotonic() + window
        self.server.track(self)

    def adopt(self, old: "Session") -> None:
        """Continue ``old`` (same connection object, recovery state and
        channels) in this session, which just opened; ``old`` ends without
        ``on_close`` (its connection lives on here)."""
        conn = self.conn = old.conn
        conn.session = self
        self.recovery, old.recovery = old.recovery, None
        channels = self.server._channels
        if channels is not None:
            channels.replace(old, self)
        handler = old.handler
        old.handler = None
        old.state = CLOSED
        old.close_reason = CloseReason(CLOSE_INTERRUPTED[0], CLOSE_INTERRUPTED[1], "client")
        self.server.sessions.discard(old)
        self.stats.on_sess_closed(old.transport_name or "unknown")
        if handler is not None:
            handler.send_final(_ANOTHER_CONNECTION_FRAME)

    def _after_queue(self) -> None:
        if self._queued_bytes > self._max_queue:
            queued = self._queued_bytes
            self._queue.clear()
            self._queued_bytes = 0
            self.overflow(queued)
            return
        if self._batching or self.handler is None:
            return
        if self._immediate_flush:
            self.flush()
        elif not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._scheduled_flush)

    def _scheduled_flush(self) -> None:
        self._flush_scheduled = False
        self.flush()

    def flush(self) -> None:
        """Send everything queued as one ``a[...]`` frame, if a receiver
        can take it now."""
        handler = self.handler
        if handler is None or not self._queue or not handler.ready:
            return
        frame = proto.message_frame(self._queue)
        self._queue = []
        self._queued_bytes = 0
        self._write(frame)

    def _begin_batch(self) -> None:
        self._batching += 1

    def _end_batch(self) -> None:
        self._batching -= 1
        if not self._batching and self._queue and self.handler is not None:
            self.flush()

    def _on_idle(self) -> None:
        if self.on_idle is not None:
            self.on_idle()

    # -- closing ----------------------------------------------------------

    def _send_close(self, code: int, message: str) -> None:
        handler = self.handler
        if handler is not None:
            if self._queue:
                # Out ahead of the close frame even while a streaming
                # receiver is still flushing (not ``ready``): messages sent
                # just before a close must not be lost.
                frame = proto.message_frame(self._queue)
                self._queue = []
                self._queued_bytes = 0
                self._write(frame)
            if self.handler is handler:
                self.handler = None
                self.promote()
                handler.send_final(proto.close_frame(code, message))

    # -- the router's sweep ----------------------------------------------

    def tick(self, now: float) -> Optional[float]:
        """Heartbeat, liveness and expiry, called by the router's sweep.
        Returns the monotonic time of the next moment it needs a tick, or
        ``None`` once the session is gone and must be forgotten."""
        handler = self.handler
        delay = self._heartbeat_delay
        if handler is not None:
            if not handler.alive(now):
                self.stats.on_heartbeat_timeout()
                self.close(*CLOSE_PING_TIMEOUT, initiator="timeout")
                if self.bound_to_receiver:
                    return None
                return self.expiry_date if self.expiry_date is not None else now + delay
            due = self._last_write + delay
            if now < due:
                return due
            if not handler.ready:
                # A flush in progress: try again with the next sweep.
                return now
            self._write(proto.HEARTBEAT)
            handler.send_ping(now)
            ping_timeout: Optional[float] = self.server.settings["ping_timeout"]
            if ping_timeout is not None and ping_timeout < delay:
                # Back in time to see whether the ping was answered.
                return now + ping_timeout
            return now + delay
        if self.bound_to_receiver:
            return None if self.state >= CLOSING else now + delay
        if self.expiry_date is not None:
            if now < self.expiry_date:
                return self.expiry_date
            log.debug(
                "expire %s transport=%s idle=%.1fs",
                self.session_id_for_log,
                self.transport_name,
                now - self.expiry_date + self.server.settings["disconnect_delay"],
            )
            self.close(*CLOSE_GO_AWAY, initiator="timeout")
            return None
        return now + delay

    def on_delete(self, forced: bool) -> None:
        """1.x hook, called when the container drops the session."""
        self.close(*CLOSE_GO_AWAY, initiator="timeout" if not forced else "server")


def __getattr__(name: str) -> Any:
    # RawSession lives in its own module, which imports this one.
    if name == "RawSession":
        from sockjs.tornado.rawsession import RawSession

        return RawSession
    raise AttributeError("module %r has no attribute %r" % (__name__, name))
