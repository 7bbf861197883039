"""SockJS sessions: the protocol's session rules, apart from any transport.

A session owns the application's :class:`~sockjs.tornado.conn.SockJSConnection`,
an outgoing queue, and at most one *receiver*: whatever currently carries
frames to the client (a polling response, a stream, a websocket). Receivers
are anything that fits the small :class:`Receiver` protocol; the session
never imports a transport.

Rules kept here:

* ``o`` first; then ``a[...]`` frames batching everything queued; ``h``
  after ``heartbeat_delay`` of silence, driven by the router's sweep.
* one receiver at a time: a second gets ``c[2010,"Another connection still
  open"]``; once closed, every later receiver gets the close frame until
  the session expires;
* messages sent with no receiver wait, in order, for the next one;
* ``disconnect_delay`` after its last receiver left, the session closes
  and is forgotten; ``on_close`` runs exactly once.
"""
import asyncio
import inspect
import logging
import time
from collections import deque
from typing import TYPE_CHECKING, Any, Callable, Deque, Dict, Iterable, List, NamedTuple, Optional, Tuple, Type

from tornado.web import HTTPError

from sockjs.tornado import proto
from sockjs.tornado.sessioncontainer import SessionMixin

if TYPE_CHECKING:  # pragma: no cover
    from typing_extensions import Protocol

    from sockjs.tornado.conn import SockJSConnection
    from sockjs.tornado.router import SockJSRouter
else:
    from typing import Protocol

__all__ = [
    "ConnectionInfo", "CloseReason", "Receiver", "BaseSession", "Session",
    "RawSession", "Broadcast", "CONNECTING", "OPEN", "CLOSING", "CLOSED",
]

log = logging.getLogger("sockjs.tornado.session")

# Session states (1.x values).
CONNECTING = 0
OPEN = 1
CLOSING = 2
CLOSED = 3

#: Close codes the server itself uses.
CLOSE_GO_AWAY = (3000, "Go away!")
CLOSE_ANOTHER_CONNECTION = (2010, "Another connection still open")
CLOSE_INTERRUPTED = (1002, "Connection interrupted")
CLOSE_INTERNAL_ERROR = (1011, "Internal error")
CLOSE_SHUTDOWN = (1001, "Server shutting down")

_ANOTHER_CONNECTION_FRAME = proto.close_frame(*CLOSE_ANOTHER_CONNECTION)


class ConnectionInfo:
    """What the request that opened a session said, handed to ``on_open``.

    ``ip`` is the client's address (the proxy's client when the server runs
    with ``xheaders=True``); ``cookies`` maps names to ``str`` values;
    ``arguments`` maps query argument names to lists of ``str``;
    ``headers`` is the request's ``HTTPHeaders``; ``path`` the URL path.
    """

    __slots__ = ("ip", "cookies", "arguments", "headers", "path")

    def __init__(self, ip: str, cookies: Dict[str, str], arguments: Dict[str, List[str]],
                 headers: Any, path: str) -> None:
        self.ip = ip
        self.cookies = cookies
        self.arguments = arguments
        self.headers = headers
        self.path = path

    def get_argument(self, name: str) -> Optional[str]:
        """First value of query argument ``name``, or ``None``."""
        values = self.arguments.get(name)
        return values[0] if values else None

    def get_cookie(self, name: str) -> Optional[str]:
        """Value of cookie ``name``, or ``None``."""
        return self.cookies.get(name)

    def get_header(self, name: str) -> Optional[str]:
        """Value of header ``name`` (case-insensitive), or ``None``."""
        value = self.headers.get(name)
        return None if value is None else str(value)

    @property
    def remote_ip(self) -> str:
        """``ip``, under the name ``tornado.httputil.HTTPServerRequest``
        uses (code moved from ``tornado.websocket`` reads it)."""
        return self.ip


class CloseReason(NamedTuple):
    """Why a session ended. ``initiator`` is one of ``"application"``,
    ``"client"``, ``"timeout"``, ``"error"``, ``"server"``."""

    code: int
    reason: str
    initiator: str


class Receiver(Protocol):
    """What a session needs from the thing that carries frames out.

    ``ready`` is False while the receiver cannot take a frame yet (a flush
    in progress): the session keeps queueing and the receiver calls
    :meth:`Session.flush` when it is ready again, so everything queued
    meanwhile leaves in one frame.
    """

    @property
    def transport_name(self) -> str:
        """The transport's name, as ``stats`` and settings spell it."""

    @property
    def ready(self) -> bool:
        """Whether a frame may be written now."""

    def send_frame(self, frame: str, shared: "Optional[Broadcast]" = None) -> None:
        """Write one frame. A polling receiver ends its response after it
        and detaches itself from the session."""

    def send_final(self, frame: str) -> None:
        """Write one last frame, then end (and detach)."""

    def send_ping(self, now: float) -> None:
        """Liveness probe, sent with each heartbeat (a websocket ping)."""

    def alive(self, now: float) -> bool:
        """False once the peer failed to answer a probe in time."""


class Broadcast:
    """A message sent to many sessions: encoded once, with a cache where
    transports keep what they derive from it once (e.g. a websocket frame
    carrying ``a["msg"]``)."""

    __slots__ = ("message", "encoded", "frame", "cache")

    def __init__(self, message: Any) -> None:
        self.message = _coerce(message)
        self.encoded = _encode(message)
        self.frame = "a[" + self.encoded + "]"
        self.cache: Dict[str, Any] = {}


def _coerce(message: Any) -> str:
    """A message as text (raw websocket, multiplex payloads): ``bytes``
    decoded as UTF-8, other non-``str`` values as JSON text."""
    if isinstance(message, str):
        return message
    if isinstance(message, (bytes, bytearray, memoryview)):
        return bytes(message).decode("utf-8")
    return proto.json_encode(message)


def _encode(message: Any) -> str:
    """A message as it goes inside ``a[...]``: text (``bytes`` decoded)
    as a JSON string; any other value as that JSON value, so the client's
    ``e.data`` is the object itself, as in 1.x."""
    if isinstance(message, str):
        return proto.encode_message(message)
    if isinstance(message, (bytes, bytearray, memoryview)):
        return proto.encode_message(bytes(message).decode("utf-8"))
    return proto.json_encode(message)


class BaseSession:
    """What every session shares: the connection's life cycle.

    Calls ``on_open``, ``on_message`` (one at a time, in order, awaiting
    coroutines) and ``on_close`` (exactly once), turns handler exceptions
    into a logged traceback and a close, and keeps the stats.

    Messages that arrive while an async handler runs wait in an inbox;
    :attr:`inbox_size` lets the transport push back (a websocket pauses
    reading past ``max_inbox_messages``; a send request waits).
    """

    def __init__(self, conn: "Type[SockJSConnection]", server: "SockJSRouter") -> None:
        self.server = server
        self.stats = server.stats
        self.state = CONNECTING
        self.conn_info: Optional[ConnectionInfo] = None
        self.close_reason: Optional[CloseReason] = None
        self.transport_name: Optional[str] = None
        self._inbox: Optional[Deque[Any]] = None
        self._idle_waiters: List["asyncio.Future[None]"] = []
        self._close_pending = False
        self._on_close_task: "Optional[asyncio.Future[None]]" = None
        self._threadsafe_calls: Deque[Tuple[Callable[..., Any], Tuple[Any, ...]]] = deque()
        self._threadsafe_scheduled = False
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        try:
            self._loop = asyncio.get_running_loop()
        except RuntimeError:
            pass
        self.conn = conn(self)

    # -- state ----------------------------------------------------------

    @property
    def is_closed(self) -> bool:
        """True once closing or closed."""
        return self.state >= CLOSING

    def get_close_reason(self) -> "tuple[int, str]":
        """``(code, reason)`` of the close (1.x API); 3000 before one."""
        if self.close_reason is None:
            return CLOSE_GO_AWAY
        return self.close_reason.code, self.close_reason.reason

    @property
    def inbox_size(self) -> int:
        """Messages waiting for a running async handler."""
        return len(self._inbox) if self._inbox is not None else 0

    @property
    def busy(self) -> bool:
        """True while an async handler runs."""
        return self._inbox is not None

    @property
    def on_close_task(self) -> "Optional[asyncio.Future[None]]":
        """The async ``on_close`` being awaited, or ``None``."""
        task = self._on_close_task
        return task if task is not None and not task.done() else None

    def wait_idle(self) -> "asyncio.Future[None]":
        """A future done when no handler is running any more."""
        fut = asyncio.get_running_loop().create_future()
        if self._inbox is None:
            fut.set_result(None)
        else:
            self._idle_waiters.append(fut)
        return fut

    def call_threadsafe(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` on this session's event loop; safe from any
        thread, in call order.

        Calls made while earlier ones wait are run together in one loop
        callback, as one batch: the loop is woken once, not per call, and
        the messages they send leave in one frame.
        """
        loop = self._loop
        if loop is None:
            raise RuntimeError("session has no event loop yet")
        # deque.append and the flag are atomic under the GIL; the drain
        # clears the flag before it empties the deque, so a call that
        # misses one drain always schedules the next.
        self._threadsafe_calls.append((fn, args))
        if not self._threadsafe_scheduled:
            self._threadsafe_scheduled = True
            loop.call_soon_threadsafe(self._run_threadsafe_calls)

    def _run_threadsafe_calls(self) -> None:
        self._threadsafe_scheduled = False
        calls = self._threadsafe_calls
        # Only what is here now: calls added meanwhile have scheduled the
        # next drain, so busy threads cannot keep the loop in this one.
        count = len(calls)
        self._begin_batch()
        try:
            for _ in range(count):
                fn, args = calls.popleft()
                try:
                    fn(*args)
                except Exception:
                    log.exception("call from another thread failed: %r", fn)
        finally:
            self._end_batch()

    # -- opening ----------------------------------------------------------

    def _open(self, info: ConnectionInfo) -> None:
        """Mark open and run ``on_open``."""
        self.state = OPEN
        self.conn_info = info
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        self.stats.on_sess_opened(self.transport_name or "unknown")
        # Lifecycle lines read like an access log: event, session, key=value.
        log.debug("open %s transport=%s ip=%s", self.session_id_for_log, self.transport_name, info.ip)
        try:
            result = self.conn.on_open(info)
        except Exception as e:
            self._open_failed(e)
            return
        if inspect.isawaitable(result):
            self._inbox = deque()
            asyncio.ensure_future(self._run_open(result))
        elif result is False:
            self.close(*CLOSE_GO_AWAY, initiator="application")

    async def _run_open(self, awaitable: Any) -> None:
        try:
            result = await awaitable
        except Exception as e:
            self._open_failed(e)
            result = None
        if result is False:
            self.close(*CLOSE_GO_AWAY, initiator="application")
        await self._drain_inbox()

    def _open_failed(self, exc: Exception) -> None:
        if isinstance(exc, HTTPError):
            # 1.x documented raising tornado's HTTPError in on_open as a way
            # to refuse a connection: the application's choice, not an error.
            log.info("on_open of %s refused the session: %s", type(self.conn).__name__, exc)
            self.close(*CLOSE_GO_AWAY, initiator="application")
            return
        log.error("on_open of %s raised; closing the session", type(self.conn).__name__, exc_info=exc)
        self.close(*CLOSE_GO_AWAY, initiator="error")

    @property
    def session_id_for_log(self) -> str:
        """The session id, or for sessions without one (websocket) the
        transport, client address and object id: enough to find it in logs."""
        sid = getattr(self, "session_id", None)
        if sid:
            return str(sid)
        ip = self.conn_info.ip if self.conn_info is not None else "?"
        return "%s:%s:%x" % (self.transport_name or "session", ip, id(self))

    def overflow(self, queued: int) -> None:
        """Close with 1013 ``Send queue overflow``: the client does not take
        what is sent to it, and holding more would grow memory without
        bound. Logged as a WARNING naming the session."""
        if self.state >= CLOSING:
            return
        log.warning("session %s: %d bytes waiting for the client, over max_queue_size; "
                    "closing with 1013", self.session_id_for_log, queued)
        self.stats.on_error()
        self.close(*CLOSE_QUEUE_OVERFLOW, initiator="server")

    # -- incoming ---------------------------------------------------------

    def on_messages(self, messages: List[str]) -> None:
        """Hand client messages to the application, in order."""
        if not messages:
            return
        self.stats.on_pack_recv(len(messages))
        if self._inbox is not None:
            self._inbox.extend(messages)
            return
        self._begin_batch()
        try:
            on_message = self.conn.on_message
            for i, message in enumerate(messages):
                if self.state != OPEN:
                    return
                try:
                    result = on_message(message)
                except Exception:
                    self._handler_failed("on_message")
                    return
                if result is not None and inspect.isawaitable(result):
                    self._inbox = deque(messages[i + 1:])
                    asyncio.ensure_future(self._run_message(result))
                    return
        finally:
            self._end_batch()

    async def _run_message(self, awaitable: Any) -> None:
        try:
            await awaitable
        except Exception:
            self._handler_failed("on_message")
        await self._drain_inbox()

    async def _drain_inbox(self) -> None:
        inbox = self._inbox
        assert inbox is not None
        on_message = self.conn.on_message
        while inbox and self.state == OPEN:
            message = inbox.popleft()
            try:
                result = on_message(message)
                if result is not None and inspect.isawaitable(result):
                    await result
            except Exception:
                self._handler_failed("on_message")
        inbox.clear()
        self._inbox = None
        waiters, self._idle_waiters = self._idle_waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)
        self._on_idle()
        if self._close_pending:
            self._close_pending = False
            self._call_on_close()

    def _on_idle(self) -> None:
        """Hook: the inbox drained (a transport may resume reading)."""

    def _handler_failed(self, name: str) -> None:
        log.exception("%s of %s raised; closing the session", name, type(self.conn).__name__)
        self.stats.on_error()
        self.close(*CLOSE_INTERNAL_ERROR, initiator="error")

    def _begin_batch(self) -> None:
        """Hook: messages from one read are being handled."""

    def _end_batch(self) -> None:
        """Hook: the batch is handled (flush what it queued)."""

    # -- outgoing ---------------------------------------------------------

    def send_message(self, message: Any, stats: bool = True, binary: bool = False) -> None:
        """Queue one message for the client (no-op once closed)."""
        raise NotImplementedError()

    def send_broadcast(self, message: Broadcast) -> None:
        """Queue a message encoded once for many sessions."""
        raise NotImplementedError()

    def broadcast(self, clients: Iterable["SockJSConnection"], message: Any) -> None:
        """1.x helper: ``server.broadcast``."""
        self.server.broadcast(clients, message)

    # -- closing ----------------------------------------------------------

    def close_by_application(self, code: int = 3000, reason: str = "Go away!") -> None:
        """``SockJSConnection.close``: validates the code, then closes."""
        if not isinstance(code, int) or not 3000 <= code <= 4999:
            raise ValueError("close code must be within 3000-4999, not %r" % (code,))
        self.close(code, reason, initiator="application")

    def close(self, code: int = 3000, message: str = "Go away!", initiator: str = "application") -> None:
        """Close the session: send the close frame where a receiver is
        attached, run ``on_close`` once. Later calls do nothing."""
        if self.state >= CLOSING:
            return
        was_open = self.state == OPEN
        self.state = CLOSING
        self.close_reason = CloseReason(code, message, initiator)
        self._send_close(code, message)
        self.state = CLOSED
        channels = getattr(self.server, "_channels", None)
        if channels is not None:
            channels.forget(self)
        if was_open:
            self.stats.on_sess_closed(self.transport_name or "unknown")
            self.stats.on_close_code(code, initiator)
        log.debug("close %s transport=%s code=%d initiator=%s reason=%r", self.session_id_for_log,
                  self.transport_name, code, initiator, message)
        if self._inbox is not None:
            # A handler is still running: on_close comes after it.
            self._close_pending = True
        else:
            self._call_on_close()

    def _send_close(self, code: int, message: str) -> None:
        """Tell the receiver, if any, that the session closed."""

    def _call_on_close(self) -> None:
        try:
            result = self.conn.on_close()
        except Exception:
            log.exception("on_close of %s raised", type(self.conn).__name__)
            return
        if result is not None and inspect.isawaitable(result):
            self._on_close_task = asyncio.ensure_future(self._run_close(result))

    async def _run_close(self, awaitable: Any) -> None:
        try:
            await awaitable
        except Exception:
            log.exception("on_close of %s raised", type(self.conn).__name__)

    def delayed_close(self) -> None:
        """Close on the next loop turn (1.x API); ``is_closed`` is True
        from now on."""
        state = self.state
        if state >= CLOSING:
            return
        self.state = CLOSING
        asyncio.get_running_loop().call_soon(self._finish_delayed_close, state)

    def _finish_delayed_close(self, state: int) -> None:
        # close() does nothing once CLOSING: give it back the state it had.
        self.state = state
        self.close()


class Session(BaseSession, SessionMixin):
    """A SockJS session, reachable by id across receivers."""

    def __init__(self, conn: "Type[SockJSConnection]", server: "SockJSRouter",
                 session_id: Optional[str] = None, expiry: Optional[float] = None) -> None:
        SessionMixin.__init__(self, session_id, expiry)
        BaseSession.__init__(self, conn, server)
        settings = server.settings
        self.handler: Optional[Receiver] = None
        self._queue: List[str] = []
        self._queued_bytes = 0
        self._max_queue = settings["max_queue_size"]
        self._immediate_flush = settings["immediate_flush"]
        self._heartbeat_delay = settings["heartbeat_delay"]
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

    def set_handler(self, handler: Receiver, info_factory: Callable[[], ConnectionInfo],
                    ip: Optional[str] = None) -> bool:
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
        if (self._verify_ip and ip is not None and self.conn_info is not None
                and ip != self.conn_info.ip):
            log.info("session %s: receiver from %s refused, session belongs to %s",
                     self.session_id, ip, self.conn_info.ip)
            handler.send_final(proto.close_frame(2010, "Attempted to connect to session from different IP"))
            return False
        self.handler = handler
        self.expiry_date = None
        if self.state == CONNECTING:
            self.transport_name = handler.transport_name
            self._write(proto.CONNECT)
            self._open(info_factory())
        elif self._queue:
            self.flush()
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
        self.send_jsonified(_encode(message), stats)

    def send_jsonified(self, msg: str, stats: bool = True) -> None:
        """Queue a message already JSON-encoded with
        :func:`proto.encode_message` (1.x API)."""
        if self.state >= CLOSING:
            return
        self._queue.append(msg)
        self._queued_bytes += len(msg)
        if stats:
            self.stats.on_pack_sent(1)
        self._after_queue()

    def send_broadcast(self, message: Broadcast) -> None:
        """Queue a broadcast message; when nothing else waits it goes out
        as the frame the broadcast built once."""
        if self.state >= CLOSING:
            return
        handler = self.handler
        if (handler is not None and not self._queue and not self._batching
                and self._immediate_flush and handler.ready):
            self._write(message.frame, message)
            return
        self._queue.append(message.encoded)
        self._queued_bytes += len(message.encoded)
        self._after_queue()

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

    def tick(self, now: float) -> bool:
        """Heartbeat and expiry, called by the router's sweep. Returns False
        once the session is gone and must be forgotten."""
        handler = self.handler
        if handler is not None:
            if not handler.alive(now):
                self.stats.on_heartbeat_timeout()
                self.close(*CLOSE_PING_TIMEOUT, initiator="timeout")
                return not self.bound_to_receiver
            if now - self._last_write >= self._heartbeat_delay and handler.ready:
                self._write(proto.HEARTBEAT)
                handler.send_ping(now)
            return True
        if self.bound_to_receiver:
            return self.state < CLOSING
        if self.expiry_date is not None and now >= self.expiry_date:
            log.debug("expire %s transport=%s idle=%.1fs", self.session_id_for_log, self.transport_name,
                      now - self.expiry_date + self.server.settings["disconnect_delay"])
            self.close(*CLOSE_GO_AWAY, initiator="timeout")
            return False
        return True

    def on_delete(self, forced: bool) -> None:
        """1.x hook, called when the container drops the session."""
        self.close(*CLOSE_GO_AWAY, initiator="timeout" if not forced else "server")


#: Outgoing queue over ``max_queue_size``.
CLOSE_QUEUE_OVERFLOW = (1013, "Send queue overflow")
#: The websocket peer did not answer a ping within ``ping_timeout``.
CLOSE_PING_TIMEOUT = (1001, "Ping timeout")


class RawSession(BaseSession):
    """Session of the raw ``/websocket`` endpoint: no SockJS framing, each
    message goes out as its own websocket message."""

    def __init__(self, conn: "Type[SockJSConnection]", server: "SockJSRouter") -> None:
        super().__init__(conn, server)
        self.transport_name = "rawwebsocket"
        self.handler: Any = None
        self.on_idle: Optional[Callable[[], None]] = None
        # No id: each raw websocket is its own session (the registry keeps
        # it among the unnamed ones, for shutdown and stats).
        self.session_id: Optional[str] = None
        self._heartbeat_delay = server.settings["heartbeat_delay"]
        self._next_ping = time.monotonic() + self._heartbeat_delay

    def tick(self, now: float) -> bool:
        """The router's sweep: a raw session lives exactly as long as its
        websocket (which has no SockJS heartbeat). Its liveness is checked
        as on the SockJS websocket: a ping every ``heartbeat_delay``, and a
        close with 1001 ``Ping timeout`` when one is not answered in time."""
        handler = self.handler
        if handler is not None and self.state == OPEN:
            if not handler.alive(now):
                self.stats.on_heartbeat_timeout()
                self.close(*CLOSE_PING_TIMEOUT, initiator="timeout")
                return False
            if now >= self._next_ping:
                self._next_ping = now + self._heartbeat_delay
                handler.send_ping(now)
        return self.state < CLOSING

    def on_delete(self, forced: bool) -> None:
        """Called when the registry drops the session."""
        self.close(*CLOSE_GO_AWAY, initiator="server")

    @property
    def send_expects_json(self) -> bool:
        """False: messages go out as they are, one websocket message each."""
        return False

    def set_handler(self, handler: Any, info: ConnectionInfo) -> None:
        """Attach the websocket and open the session (runs ``on_open``)."""
        self.handler = handler
        self._open(info)

    def send_message(self, message: Any, stats: bool = True, binary: bool = False) -> None:
        """Send one websocket message now: a binary one for ``bytes`` with
        ``binary=True``, else text. A no-op once closed."""
        if self.state >= CLOSING or self.handler is None:
            return
        if binary and isinstance(message, (bytes, bytearray, memoryview)):
            self.handler.send_binary(bytes(message))
        else:
            self.handler.send_text(_coerce(message))
        if stats:
            self.stats.on_pack_sent(1)

    def send_broadcast(self, message: Broadcast) -> None:
        """Send a broadcast message, with the frame built once for all."""
        if self.state >= CLOSING or self.handler is None:
            return
        self.handler.send_raw_broadcast(message)

    def _send_close(self, code: int, message: str) -> None:
        if self.handler is not None:
            self.handler.close(code, message)

    def _on_idle(self) -> None:
        if self.on_idle is not None:
            self.on_idle()
