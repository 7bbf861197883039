"""``SockJSRouter``: settings, the URL table of one SockJS service, and the
parts every session shares (registry, stats, sweep timer).

The router is the one place that knows every part; transports, sessions and
the protocol code know nothing of each other beyond the session's receiver
interface.
"""

import asyncio
import logging
import time
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple, Type

from sockjs.tornado import chunkingtest, sessioncontainer, static, stats, transports
from sockjs.tornado import session as sessionmod
from sockjs.tornado.channels import Channels
from sockjs.tornado.clientlog import ClientErrorLog
from sockjs.tornado.clientscript import CLIENT_DIR, ClientScriptHandler
from sockjs.tornado.conn import SockJSConnection
from sockjs.tornado.history import HistoryPage
from sockjs.tornado.httpexchange import Endpoint, HTTPExchange
from sockjs.tornado.origins import Verdict, host_port_allowed
from sockjs.tornado.rawsession import RawSession
from sockjs.tornado.recovery import Recovery
from sockjs.tornado.session import Broadcast
from sockjs.tornado.settings import DEFAULT_SETTINGS, origin_policy, validate_settings
from sockjs.tornado.tasks import TaskGroup

__all__ = ["SockJSRouter", "DEFAULT_SETTINGS"]

log = logging.getLogger("sockjs.tornado")
log_origins = logging.getLogger("sockjs.tornado.origins")

# (url suffix, handler) for the session transports.
TRANSPORTS: Dict[str, Type[HTTPExchange]] = {
    "websocket": transports.WebSocketTransport,
    "xhr": transports.XhrPollingTransport,
    "xhr_streaming": transports.XhrStreamingTransport,
    "jsonp": transports.JSONPTransport,
    "eventsource": transports.EventSourceTransport,
    "htmlfile": transports.HtmlFileTransport,
}

# Send handlers, routed when the receiving transport they serve is enabled.
SEND_HANDLERS: Dict[str, Tuple[Type[HTTPExchange], Tuple[str, ...]]] = {
    "xhr_send": (transports.XhrSendHandler, ("xhr", "xhr_streaming", "eventsource", "htmlfile")),
    "jsonp_send": (transports.JSONPSendHandler, ("jsonp", "htmlfile")),
}


def _publishable(message: Any) -> Any:
    """A publication as it crosses processes: ``bytes`` decoded as UTF-8,
    anything else as given (it must be JSON-serialisable)."""
    if isinstance(message, (bytes, bytearray, memoryview)):
        return bytes(message).decode("utf-8")
    return message


class SockJSRouter:
    """One SockJS service: pass :attr:`urls` to ``tornado.web.Application``.

    ``connection`` is the application's :class:`SockJSConnection` subclass,
    ``prefix`` the service's URL prefix (e.g. ``"/echo"``), ``user_settings``
    overrides :data:`DEFAULT_SETTINGS` (unknown keys and wrong types raise
    ``ValueError``/``TypeError`` naming the key). ``io_loop`` is accepted
    for 1.x and otherwise ignored: timers start lazily on whichever loop
    serves the first session, so the router may be built at import time,
    before ``asyncio.run()``. ``session_kls`` replaces
    :class:`sockjs.tornado.session.Session` (same constructor).

    .. versionchanged:: 2.0
       ``io_loop`` is no longer needed; :attr:`io_loop` reads the current
       ``IOLoop``. Sessions are swept by one timer per router, started with
       the first session and stopped by :meth:`shutdown`.
    """

    def __init__(
        self,
        connection: Type[SockJSConnection],
        prefix: str = "",
        user_settings: Optional[Mapping[str, Any]] = None,
        io_loop: Any = None,
        session_kls: Optional[Type[sessionmod.Session]] = None,
    ) -> None:
        if not (isinstance(connection, type) and issubclass(connection, SockJSConnection)):
            raise TypeError("connection must be a SockJSConnection subclass, not %r" % (connection,))
        self._connection = connection
        self._io_loop = io_loop
        self.prefix = prefix.rstrip("/")
        self.settings: Dict[str, Any] = validate_settings(user_settings or {})
        self.websockets_enabled = "websocket" not in self.settings["disabled_transports"]
        self.cookie_needed = bool(self.settings["jsessionid"])
        self._session_kls = session_kls or sessionmod.Session
        self.stats = stats.StatsCollector()
        self._sweeper: Optional[asyncio.Handle] = None
        self._sweep_loop: Optional[asyncio.AbstractEventLoop] = None
        self._sweep_interval = (
            min(
                self.settings["session_check_interval"],
                self.settings["heartbeat_delay"],
                self.settings["disconnect_delay"],
            )
            or 1
        )
        self._sessions = sessioncontainer.SessionContainer(self._sweep_interval)
        # Monotonic time of the next periodic sweep (a sweep split over
        # several loop turns keeps its period).
        self._next_sweep = 0.0
        self._shutting_down = False
        #: The tasks sessions start (async handlers), kept until done.
        self.tasks = TaskGroup()
        #: Where the handlers log clients' mistakes (rate-limited).
        self.client_errors = ClientErrorLog(
            self.settings["client_error_log_level"], self.settings["client_error_log_rate"]
        )
        self._iframe_cache: Optional[Tuple[bytes, str]] = None
        # Built on first use; a session's close looks it up to unsubscribe.
        self._channels: Optional[Channels] = None
        self._recovery: Optional[Recovery] = None
        if self.settings["recovery"]:
            self._recovery = Recovery(self)
        self.origin_policy = origin_policy(self.settings)
        ws_origins = self.settings["websocket_allow_origin"]
        self._ws_allow_all = ws_origins == "*"
        self._ws_origins = set() if self._ws_allow_all else {o.lower() for o in ws_origins}
        self._transport_urls = self._build_urls()

    @property
    def io_loop(self) -> Any:
        """The ``IOLoop`` given to the constructor, else the current one
        (1.x applications call ``router.io_loop.add_timeout`` and the
        like)."""
        if self._io_loop is not None:
            return self._io_loop
        from tornado.ioloop import IOLoop

        return IOLoop.current()

    @io_loop.setter
    def io_loop(self, value: Any) -> None:
        self._io_loop = value

    # -- origins ----------------------------------------------------------

    def check_origin(self, headers: Mapping[str, str], embedded: bool = False) -> Verdict:
        """Whether a request with these headers may be served
        (``allowed_origins``, ``anonymous_requests``; see
        :class:`~sockjs.tornado.origins.OriginPolicy`). A refusal is
        counted (``stats.origin_refusals``) and logged at DEBUG."""
        verdict = self.origin_policy.check(headers, embedded)
        if not verdict.allowed:
            self.stats.on_origin_refused()
            log_origins.debug(
                "refused: %s (Origin %r, Sec-Fetch-Site %r, Referer %r)",
                verdict.reason,
                headers.get("Origin"),
                headers.get("Sec-Fetch-Site"),
                headers.get("Referer"),
            )
        return verdict

    def origin_allowed(self, origin: Optional[str]) -> bool:
        """Whether a request carrying only this ``Origin`` header (or
        none) may be served; not counted."""
        return self.origin_policy.check({"Origin": origin} if origin else {}).allowed

    def websocket_origin_allowed(self, origin: Optional[str], host: str) -> bool:
        """``allowed_origins`` (the service's own origin always passes),
        then the 1.x ``websocket_allow_origin`` (exact ``host[:port]``
        match, never a substring). Refusals are counted."""
        headers = {"Host": host}
        if origin:
            headers["Origin"] = origin
        if not self.check_origin(headers).allowed:
            return False
        if self._ws_allow_all or not origin:
            return True
        if host_port_allowed(origin, self._ws_origins):
            return True
        self.stats.on_origin_refused()
        return False

    # -- URLs -------------------------------------------------------------

    def _build_urls(self) -> List[Tuple[Any, ...]]:
        p = self.prefix
        disabled = set(self.settings["disabled_transports"])
        # Every session transport under one route: one regular expression
        # tried instead of one per transport, the transport's name picking
        # the exchange class (Endpoint's "endpoint" group).
        session_urls: Dict[str, Type[HTTPExchange]] = {
            name: handler for name, handler in TRANSPORTS.items() if name not in disabled
        }
        for name, (handler, users) in SEND_HANDLERS.items():
            if any(u not in disabled for u in users):
                session_urls[name] = handler
        specs: List[Tuple[str, Any]] = []
        if session_urls:
            names = "|".join(sorted(session_urls, key=len, reverse=True))
            specs.append((p + r"/[^/.]+/(?P<session_id>[^/.]+)/(?P<endpoint>%s)$" % names, session_urls))
        if self.websockets_enabled:
            specs.append((p + "/websocket$", transports.RawWebSocketTransport))
        specs.append((p + "/info$", static.InfoHandler))
        specs.append((p + "/chunking_test$", chunkingtest.ChunkingTestHandler))
        specs.append((p + r"/iframe(?:-[^/]*)?\.html$", static.IFrameHandler))
        specs.append((p + "/?$", static.GreetingsHandler))
        urls: List[Tuple[Any, ...]] = [(pattern, Endpoint(handler, self, pattern)) for pattern, handler in specs]
        # The shipped browser client (recovery, channels, presence): a
        # static file, served by Tornado's own StaticFileHandler.
        urls.insert(-2, (p + r"/(sockjs-tornado\.js)$", ClientScriptHandler, {"path": CLIENT_DIR}))
        return urls

    @property
    def urls(self) -> List[Tuple[Any, ...]]:
        """The routes of this service, for ``tornado.web.Application``
        (alone or with the application's own): ``(path pattern, target)``
        pairs whose targets are Tornado ``HTTPServerConnectionDelegate``
        objects (and a ``StaticFileHandler`` route for the shipped
        client script).

        .. versionchanged:: 2.0
           Targets are :class:`~sockjs.tornado.httpexchange.Endpoint`
           objects instead of ``(pattern, RequestHandler, kwargs)``.
        """
        return self._transport_urls

    def apply_routes(self, routes: List[Any]) -> List[Any]:
        """Append :attr:`urls` to ``routes`` and return it."""
        routes.extend(self._transport_urls)
        return routes

    def iframe_page(self) -> Tuple[bytes, str]:
        """The iframe page of this service and its ETag (built once)."""
        if self._iframe_cache is None:
            self._iframe_cache = static.iframe_page_and_etag(self.settings["sockjs_url"])
        return self._iframe_cache

    # -- sessions ---------------------------------------------------------

    def get_connection_class(self) -> Type[SockJSConnection]:
        """The application's connection class."""
        return self._connection

    def create_session(self, session_id: Optional[str], register: bool = True) -> sessionmod.Session:
        """Make a session; ``register`` makes it reachable by id (websocket
        sessions are not: each connection is its own session)."""
        s = self._session_kls(self._connection, self, session_id, self.settings["disconnect_delay"])
        if register:
            self._sessions.add(s)
        self._ensure_sweeper()
        self._ensure_broker()
        return s

    def get_session(self, session_id: str) -> Optional[sessionmod.Session]:
        """The live session with this id, or ``None``."""
        return self._sessions.get(session_id)  # type: ignore[no-any-return]

    def make_raw_session(self) -> RawSession:
        """A session of the raw ``/websocket`` endpoint (never registered
        by id; :meth:`track` puts it under the sweep)."""
        return RawSession(self._connection, self)

    def track(self, session: Any) -> None:
        """Put a session without id (websocket) under the sweep."""
        self._sessions.add(session)
        self._ensure_sweeper()
        self._ensure_broker()

    def untrack(self, session: Any) -> None:
        """Take a session put under the sweep by :meth:`track` out again."""
        self._sessions.discard(session)

    @property
    def sessions(self) -> sessioncontainer.SessionContainer:
        """The live sessions."""
        return self._sessions

    # -- sweep ------------------------------------------------------------

    def _ensure_sweeper(self) -> None:
        loop = asyncio.get_running_loop()
        if self._sweeper is not None and self._sweep_loop is loop:
            return
        self._sweep_loop = loop
        self._next_sweep = time.monotonic() + self._sweep_interval
        self._sweeper = loop.call_later(self._sweep_interval, self._sweep)

    def _sweep(self) -> None:
        """Tick the sessions that are due (the container knows which), a
        batch per loop turn, so that a slot of many heartbeats does not hold
        up every connection's I/O; then wait for the next period."""
        self._sweeper = None
        loop = self._sweep_loop
        assert loop is not None
        now = time.monotonic()
        finished = True
        try:
            finished = self._sessions.expire(now, budget=sessioncontainer.SWEEP_BATCH)
            if now >= self._next_sweep:
                if self._recovery is not None:
                    self._recovery.refresh(now)
                self.stats.roll(now)
                self._next_sweep = now + self._sweep_interval
        except Exception:
            log.exception("session sweep failed")
        if self._shutting_down or not len(self._sessions):
            return
        if not finished:
            self._sweeper = loop.call_soon(self._sweep)
        else:
            self._sweeper = loop.call_later(max(self._next_sweep - now, 0.0), self._sweep)

    @property
    def recovery(self) -> Optional[Recovery]:
        """Connection state recovery (``recovery`` setting), or ``None``."""
        return self._recovery

    # -- broadcast --------------------------------------------------------

    def broadcast(self, clients: Iterable[SockJSConnection], msg: Any) -> None:
        """Send ``msg`` to every open connection in ``clients``, encoding it
        once (and, for websockets, building the frame once)."""
        shared = Broadcast(msg)
        count = 0
        for c in clients:
            s = c.session
            if s.state < sessionmod.CLOSING:
                s.send_broadcast(shared)
                count += 1
        self.stats.on_pack_sent(count)
        self.stats.on_broadcast(count)

    # -- channels (across processes through the broker) ------------------

    @property
    def channels(self) -> Channels:
        """Who is subscribed to what in this process, and the broker
        (``channels.broker``) that links the processes of this service."""
        if self._channels is None:
            from sockjs.tornado.broker import make_broker

            namespace = self.settings["broker_namespace"] or "sockjs:" + (self.prefix or "/")
            self._channels = Channels(self, make_broker(self.settings, namespace))
        return self._channels

    def session_closed(self, session: Any) -> None:
        """Called by a session as it closes: it leaves every channel it was
        subscribed to (nothing to do when channels were never used)."""
        if self._channels is not None:
            self._channels.forget(session)

    def _ensure_broker(self) -> None:
        # Another process may publish to everyone: a non-local broker must
        # listen as soon as this process has a session.
        if self._channels is None and self.settings["broker"] is not None:
            self.channels.start()

    def publish(self, channel: str, message: Any) -> None:
        """Send ``message`` to every session subscribed to ``channel``
        (:meth:`SockJSConnection.subscribe`) in every process of this
        service: here at once, elsewhere through the broker. Encoded once
        per process; one publisher's publications arrive in order. Call it
        on the event loop thread. ``message`` takes the forms of
        :meth:`SockJSConnection.send`: text arrives as a string, another
        JSON value as that value."""
        if not isinstance(channel, str) or not channel:
            raise ValueError("a channel name must be a non-empty str, not %r" % (channel,))
        self.channels.publish(channel, _publishable(message))

    async def history(
        self, channel: str, since: "Optional[Tuple[str, int]]" = None, limit: Optional[int] = None
    ) -> HistoryPage:
        """The publications kept for ``channel`` (``history_size`` setting),
        oldest first: all of them, or the first ``limit`` after ``since``
        (an ``(epoch, offset)`` pair from an earlier page or publication),
        or without ``since`` the latest ``limit``. The page's ``epoch`` and
        ``offset`` are the channel's current position; ``complete`` is
        False when publications after ``since`` were lost. Shared by every
        process with the Redis broker.

        :raises RuntimeError: history is off.

        .. versionadded:: 2.0
        """
        return await self.channels.read_history(channel, since, limit)

    async def presence(self, channel: str) -> Dict[str, Any]:
        """Who is subscribed to ``channel`` in every process (``presence``
        setting): ``{client_id: presence_info}``.

        :raises RuntimeError: presence is off.

        .. versionadded:: 2.0
        """
        return await self.channels.members(channel)

    def publish_all(self, message: Any) -> None:
        """:meth:`broadcast` to every open session of this service, in every
        process, subscribed or not."""
        self.channels.publish(None, _publishable(message))

    # -- shutdown ---------------------------------------------------------

    async def shutdown(self, code: int = 1001, reason: str = "Server shutting down", timeout: float = 5.0) -> None:
        """Close every session gracefully; afterwards the router holds no
        task, timer or session, and refuses new sessions (503).

        In order: new sessions are refused and the sweep timer stops;
        handlers still running get up to ``timeout`` seconds to finish
        (what they send reaches the client ahead of the close frame); then
        every session is closed with ``code`` and ``reason`` (its client
        gets the close frame: websockets, streams and pending polls end),
        ``on_close`` runs with initiator ``"server"``, and async
        ``on_close`` handlers get what is left of ``timeout``. Handlers
        still running at the deadline are cancelled (a WARNING names
        them), and ``on_close`` still runs for their sessions.
        Calling it again does nothing more.
        """
        self._shutting_down = True
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        deadline = time.monotonic() + timeout

        async def settle(futures: "List[asyncio.Future[None]]") -> None:
            remaining = deadline - time.monotonic()
            if futures and remaining > 0:
                await asyncio.wait(futures, timeout=remaining)

        await settle([s.wait_idle() for s in self._sessions if s.busy])
        sessions = list(self._sessions)
        for s in sessions:
            s.close(code, reason, initiator="server")
        # A handler still running delays its on_close until it returns.
        await settle([s.wait_idle() for s in sessions if s.busy])
        await settle([t for t in (s.on_close_task for s in sessions) if t is not None])
        # Anything else the sessions started; past the deadline, cancelled.
        await self.tasks.wait(max(0.0, deadline - time.monotonic()))
        for s in list(self._sessions):
            self._sessions.discard(s)
        if self._channels is not None:
            await self._channels.broker.close()

    @property
    def shutting_down(self) -> bool:
        """True once :meth:`shutdown` started: new sessions get 503."""
        return self._shutting_down
