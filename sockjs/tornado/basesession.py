"""What every session shares: the connection's life cycle.

A session owns the application's :class:`~sockjs.tornado.conn.SockJSConnection`
and calls its handlers: ``on_open`` once, ``on_message`` once per message in
arrival order (awaiting coroutines, one at a time), ``on_close`` exactly once
however the session ended. Handler exceptions become a logged traceback and a
close with 1011. How frames reach the client is the subclasses' business
(:mod:`sockjs.tornado.session` for SockJS framing, :mod:`sockjs.tornado.rawsession`
for the raw websocket).
"""

import asyncio
import inspect
import logging
import threading
from collections import deque
from typing import TYPE_CHECKING, Any, Callable, Deque, Iterable, List, Optional, Type

from tornado.web import HTTPError

from sockjs.tornado.closecodes import CLOSE_GO_AWAY, CLOSE_INTERNAL_ERROR, CLOSE_QUEUE_OVERFLOW
from sockjs.tornado.connectioninfo import CloseReason, ConnectionInfo
from sockjs.tornado.receiver import Broadcast
from sockjs.tornado.tasks import spawn
from sockjs.tornado.threadsafe import ThreadsafeCalls

if TYPE_CHECKING:  # pragma: no cover
    from sockjs.tornado.conn import SockJSConnection
    from sockjs.tornado.recovery import RecoveryState
    from sockjs.tornado.router import SockJSRouter

__all__ = ["BaseSession", "CONNECTING", "OPEN", "CLOSING", "CLOSED"]

log = logging.getLogger("sockjs.tornado.session")

# Session states (1.x values).
CONNECTING = 0
OPEN = 1
CLOSING = 2
CLOSED = 3

# Guards the lazy creation of a session's ThreadsafeCalls, which may race
# between two threads calling send_threadsafe at once.
_threadsafe_create_lock = threading.Lock()


class BaseSession:
    """What every session shares: the connection's life cycle.

    Calls ``on_open``, ``on_message`` (one at a time, in order, awaiting
    coroutines) and ``on_close`` (exactly once), turns handler exceptions
    into a logged traceback and a close, and keeps the stats.

    Messages that arrive while an async handler runs wait in an inbox;
    :attr:`inbox_size` lets the transport push back (a websocket pauses
    reading past ``max_inbox_messages``; a send request waits).
    """

    #: Recovery state of a session whose client asked for it (see
    #: :mod:`sockjs.tornado.recovery`); a class attribute otherwise, so
    #: sessions without recovery carry nothing for it.
    recovery: "Optional[RecoveryState]" = None
    #: Whether this kind of session can recover (SockJS sessions can; the
    #: raw websocket has no framing for it).
    recoverable = False

    # Slots: a server holds tens of thousands of sessions. ``__dict__``
    # stays for attributes applications and subclasses add.
    __slots__ = (
        "server",
        "stats",
        "state",
        "conn_info",
        "close_reason",
        "transport_name",
        "_inbox",
        "_idle_waiters",
        "_close_pending",
        "_on_close_task",
        "_threadsafe",
        "_loop",
        "conn",
        "_sweep_slot",
        "_sweep_schedule",
        "__dict__",
        "__weakref__",
    )

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
        # Made by the first call from another thread: most sessions never
        # get one.
        self._threadsafe: Optional[ThreadsafeCalls] = None
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
        thread, in call order, batched (:class:`ThreadsafeCalls`)."""
        calls = self._threadsafe
        if calls is None:
            with _threadsafe_create_lock:
                calls = self._threadsafe
                if calls is None:
                    loop = self._loop
                    if loop is None:
                        raise RuntimeError("session has no event loop yet")
                    calls = self._threadsafe = ThreadsafeCalls(loop, self._begin_batch, self._end_batch)
        calls.call(fn, *args)

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
        manager = self.server.recovery
        if manager is not None and self.recoverable and "_r" in info.arguments:
            outcome = manager.open(self, info)
            if outcome == "resumed":
                self._call_hook(self.conn.on_resume())
                return
            if outcome != "new":
                self._inbox = deque()
                spawn(
                    self.server,
                    self._run_open(self._open_after(outcome, info)),
                    "on_open of %s" % type(self.conn).__name__,
                )
                return
        try:
            result = self.conn.on_open(info)
        except Exception as e:
            self._open_failed(e)
            return
        if inspect.isawaitable(result):
            self._inbox = deque()
            spawn(self.server, self._run_open(result), "on_open of %s" % type(self.conn).__name__)
        elif result is False:
            self.close(*CLOSE_GO_AWAY, initiator="application")

    async def _open_after(self, restoring: Any, info: ConnectionInfo) -> Any:
        # A client whose process died: on_open once its state is back.
        await restoring
        if self.state != OPEN:
            return None
        result = self.conn.on_open(info)
        if inspect.isawaitable(result):
            result = await result
        return result

    def _call_hook(self, result: Any) -> None:
        if inspect.isawaitable(result):
            self._inbox = deque()
            spawn(self.server, self._run_open(result), "on_resume of %s" % type(self.conn).__name__)

    async def _run_open(self, awaitable: Any) -> None:
        try:
            result = await awaitable
        except asyncio.CancelledError:
            # Shutdown gave up on it: the session is closed; finish up so
            # that on_close still runs.
            result = None
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
        log.warning(
            "session %s: %d bytes waiting for the client, over max_queue_size; closing with 1013",
            self.session_id_for_log,
            queued,
        )
        self.stats.on_error()
        self.close(*CLOSE_QUEUE_OVERFLOW, initiator="server")

    # -- incoming ---------------------------------------------------------

    def on_messages(self, messages: List[Any]) -> None:
        """Hand client messages (``str``, or ``bytes`` for binary ones) to
        the application, in order."""
        if not messages:
            return
        if self.recovery is not None:
            messages = self._take_controls(messages)
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
                    self._inbox = deque(messages[i + 1 :])
                    spawn(self.server, self._run_message(result), "on_message of %s" % type(self.conn).__name__)
                    return
        finally:
            self._end_batch()

    async def _run_message(self, awaitable: Any) -> None:
        try:
            await awaitable
        except asyncio.CancelledError:
            pass  # shutdown gave up on it; on_close still runs
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
            except asyncio.CancelledError:
                break  # shutdown gave up on it; on_close still runs
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
        attached, run ``on_close`` once. Later calls do nothing.

        A recoverable session whose client vanished (initiator
        ``"client"`` or ``"timeout"`` without the client saying goodbye)
        does not close: it waits ``recovery_window`` for its client."""
        if self.state >= CLOSING:
            return
        if self.recovery is not None and self._recovery_close(code, initiator):
            return
        was_open = self.state == OPEN
        self.state = CLOSING
        self.close_reason = CloseReason(code, message, initiator)
        self._send_close(code, message)
        self.state = CLOSED
        self.server.session_closed(self)
        if was_open:
            self.stats.on_sess_closed(self.transport_name or "unknown")
            self.stats.on_close_code(code, initiator)
        log.debug(
            "close %s transport=%s code=%d initiator=%s reason=%r",
            self.session_id_for_log,
            self.transport_name,
            code,
            initiator,
            message,
        )
        if self._inbox is not None:
            # A handler is still running: on_close comes after it.
            self._close_pending = True
        else:
            self._call_on_close()

    # -- recovery (only sessions whose client asked for it) ---------------

    def _take_controls(self, messages: List[str]) -> List[str]:
        from sockjs.tornado.recovery import CONTROL_PREFIX

        manager = self.server.recovery
        assert manager is not None
        rest = []
        for m in messages:
            if m.startswith(CONTROL_PREFIX):
                manager.control(self, m)
            else:
                rest.append(m)
        return rest

    def _recovery_close(self, code: int, initiator: str) -> bool:
        """Whether a close became a wait for the client (True), or else
        lets the recovery forget the session."""
        rec = self.recovery
        manager = self.server.recovery
        assert rec is not None and manager is not None
        if self.state == OPEN and initiator in ("client", "timeout") and not rec.leaving and not rec.suspended:
            manager.suspend(self)
            self._suspend(manager.window)
            return True
        reason = "expired" if rec.suspended else "closed"
        # Shut down for a deploy: the saved state stays for another process.
        manager.forget(self, reason, keep_saved=(initiator == "server" and code == 1001))
        return False

    def _suspend(self, window: float) -> None:
        """Wait ``window`` seconds for the client (subclasses)."""
        raise NotImplementedError

    def state_changed(self) -> None:
        """What recovery saves of this session changed (``conn.data``)."""
        manager = self.server.recovery
        if manager is not None and self.recovery is not None:
            manager.changed(self)

    def _send_close(self, code: int, message: str) -> None:
        """Tell the receiver, if any, that the session closed."""

    def _call_on_close(self) -> None:
        try:
            result = self.conn.on_close()
        except Exception:
            log.exception("on_close of %s raised", type(self.conn).__name__)
            return
        if result is not None and inspect.isawaitable(result):
            self._on_close_task = spawn(
                self.server, self._run_close(result), "on_close of %s" % type(self.conn).__name__
            )

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
