"""``SockJSConnection``: the class applications subclass.

One instance per session. The session calls ``on_open`` once, then
``on_message`` once per message in arrival order, then ``on_close`` exactly
once, however the session ended. Each handler may be a plain method or an
``async def``; coroutines are awaited, and the next message of the same
session waits until the previous handler finished.
"""

from typing import TYPE_CHECKING, Any, FrozenSet, Iterable, List, Optional, overload

if TYPE_CHECKING:  # pragma: no cover
    from sockjs.tornado.basesession import BaseSession
    from sockjs.tornado.connectioninfo import CloseReason, ConnectionInfo

__all__ = ["SockJSConnection"]


class _SubscribedChannels:
    """``conn.channels``. No ``__set__`` on purpose: a 1.x subclass that
    assigns its own ``self.channels`` keeps working (its value shadows
    this one)."""

    @overload
    def __get__(self, conn: None, owner: Any) -> "_SubscribedChannels": ...

    @overload
    def __get__(self, conn: "SockJSConnection", owner: Any) -> FrozenSet[str]: ...

    def __get__(self, conn: "Optional[SockJSConnection]", owner: Any) -> Any:
        if conn is None:
            return self
        return conn.session.server.channels.channels_of(conn.session)


class SockJSConnection:
    """Base class of an application's connection.

    Subclass it and override :meth:`on_open`, :meth:`on_message` and
    :meth:`on_close`. Everything else is called by the application to talk
    back to the client.
    """

    def __init__(self, session: "BaseSession") -> None:
        #: The session this connection belongs to.
        self.session = session

    #: What :meth:`~sockjs.tornado.router.SockJSRouter.presence` lists for
    #: this connection's subscriptions (any JSON value), taken when it
    #: subscribes. Set it before subscribing.
    #:
    #: .. versionadded:: 2.0
    presence_info: Any = None

    #: ``None`` for a new connection; ``"resumed"`` when this very object
    #: continues after its client reconnected (:meth:`on_resume` ran, not
    #: :meth:`on_open` again); ``"restored"`` for a new object in another
    #: process taking over a client whose process died (:meth:`on_open`
    #: runs, with :attr:`data` and the channels already restored).
    #:
    #: .. versionadded:: 2.0
    recovered: Optional[str] = None

    #: Why the client's attempt to recover failed (``"expired"``: past the
    #: window or unknown; ``"overflow"``: it missed more than was kept;
    #: ``"position"``: it claimed a position the server never sent), or
    #: ``None``. Set before :meth:`on_open` of the fresh connection.
    #:
    #: .. versionadded:: 2.0
    recovery_failed: Optional[str] = None

    @property
    def data(self) -> Any:
        """Application state that survives a reconnect: a JSON-serialisable
        value (``None`` until set). With the Redis broker it is saved in
        Redis on every assignment (and with each subscription change), so a
        client whose process died finds it again in the next one: assign
        again after changing it in place.

        .. versionadded:: 2.0
        """
        return self.__dict__.get("_data")

    @data.setter
    def data(self, value: Any) -> None:
        self.__dict__["_data"] = value
        self.session.state_changed()

    @property
    def client_id(self) -> str:
        """This client's id in presence lists: random, kept across a
        recovered reconnect.

        .. versionadded:: 2.0
        """
        cid = self.__dict__.get("_client_id")
        if cid is None:
            import uuid

            cid = self.__dict__["_client_id"] = uuid.uuid4().hex[:16]
        return str(cid)

    def can_subscribe(self, channel: str) -> bool:
        """Whether the client may subscribe to ``channel`` itself (and read
        its presence and history) through the shipped browser client.
        Default: any channel. Override to restrict.

        .. versionadded:: 2.0
        """
        return True

    def can_publish(self, channel: str, message: Any) -> bool:
        """Whether the client may publish ``message`` to ``channel``
        through the shipped browser client. Default: no. Override to
        allow (the message then goes to ``router.publish`` as is).

        .. versionadded:: 2.0
        """
        return False

    def on_resume(self) -> Any:
        """The client came back within the recovery window: this connection
        goes on, and everything sent meanwhile is delivered first.
        :attr:`recovered` is ``"resumed"``. May be a coroutine.

        .. versionadded:: 2.0
        """

    # Callbacks for the application -------------------------------------

    def on_open(self, request: "ConnectionInfo") -> Any:
        """The session opened. ``request`` describes the HTTP request that
        opened it. Return ``False`` (or call :meth:`close`) to reject the
        connection: the client gets a close frame (3000 ``Go away!`` unless
        another code was given). May be a coroutine."""

    def on_message(self, message: Any) -> Any:
        """One message from the client, as ``str``; on the raw
        ``/websocket`` endpoint a binary message arrives as ``bytes``. May
        be a coroutine; the next message waits for it."""
        raise NotImplementedError()

    def on_close(self) -> Any:
        """The session ended. Called exactly once. :attr:`close_reason`
        says why. May be a coroutine."""

    # Talking to the client ---------------------------------------------

    def send(self, message: Any, binary: bool = False) -> None:
        """Queue one message for the client; a no-op once the session is
        closed. ``str`` (and ``bytes``, decoded as UTF-8) arrive as a
        string; any other JSON-able value (dict, list, number) arrives as
        that value in the client's ``e.data``, as in 1.x. On the raw
        ``/websocket`` endpoint such values go as JSON text, and
        ``binary=True`` sends a binary message (``bytes`` as they are,
        text as UTF-8), as Tornado's ``write_message`` does. SockJS
        sessions carry text only: there ``binary`` is ignored, and
        ``bytes`` must be UTF-8 (``UnicodeDecodeError`` otherwise)."""
        self.session.send_message(message, binary=binary)

    @classmethod
    def select_subprotocol(cls, subprotocols: List[str], request: "ConnectionInfo") -> Optional[str]:
        """Choose the subprotocol of a raw ``/websocket`` connection
        among ``subprotocols``, those the client offered
        (``Sec-WebSocket-Protocol``) in its order of preference; ``request``
        is the handshake's. Return one of them, or ``None`` (the default)
        for none: the answer then has no ``Sec-WebSocket-Protocol`` header,
        and the client decides whether to go on. Called once per
        handshake, before the session exists (hence a classmethod); the
        choice is then :attr:`selected_subprotocol`.

        .. versionadded:: 2.0
        """
        return None

    @property
    def selected_subprotocol(self) -> Optional[str]:
        """The subprotocol :meth:`select_subprotocol` chose for this
        connection; ``None`` when none was (and on SockJS sessions).

        .. versionadded:: 2.0
        """
        return getattr(self.session, "subprotocol", None)

    def broadcast(self, clients: Iterable["SockJSConnection"], message: Any) -> None:
        """Send ``message`` to every connection in ``clients``, encoding it
        once. Closed connections are skipped."""
        self.session.broadcast(clients, message)

    def subscribe(self, channel: str) -> None:
        """Receive every message published to ``channel`` with
        ``router.publish(channel, message)``, from any process of the
        service. Subscriptions end by themselves when the session closes.

        .. versionadded:: 2.0
        """
        self.session.server.channels.subscribe(self.session, channel)

    def unsubscribe(self, channel: str) -> None:
        """Stop receiving ``channel`` (no error if not subscribed).

        .. versionadded:: 2.0
        """
        self.session.server.channels.unsubscribe(self.session, channel)

    #: The channels this connection is subscribed to (a frozenset).
    #:
    #: .. versionadded:: 2.0
    channels = _SubscribedChannels()

    def publish(self, channel: str, message: Any) -> None:
        """``router.publish``: send ``message`` to every subscriber of
        ``channel`` in every process (this connection too, if subscribed).

        .. versionadded:: 2.0
        """
        self.session.server.publish(channel, message)

    def close(self, code: int = 3000, reason: str = "Go away!") -> None:
        """Close the session with ``code`` (3000-4999) and ``reason``.

        :raises ValueError: for a code outside 3000-4999.
        """
        self.session.close_by_application(code, reason)

    def send_threadsafe(self, message: Any, binary: bool = False) -> None:
        """:meth:`send`, callable from any thread: the message is handed to
        the session's event loop and sent from there, in call order."""
        self.session.call_threadsafe(self.send, message, binary)

    def close_threadsafe(self, code: int = 3000, reason: str = "Go away!") -> None:
        """:meth:`close`, callable from any thread."""
        if not 3000 <= code <= 4999:
            raise ValueError("close code must be within 3000-4999, not %r" % (code,))
        self.session.call_threadsafe(self.close, code, reason)

    @property
    def is_closed(self) -> bool:
        """True once the session is closing or closed."""
        return self.session.is_closed

    @property
    def close_reason(self) -> Optional["CloseReason"]:
        """Why the session ended: ``(code, reason, initiator)``, where
        initiator is ``"application"``, ``"client"``, ``"timeout"``,
        ``"error"`` or ``"server"``; ``None`` while open."""
        return self.session.close_reason


def restore_identity(conn: SockJSConnection, client_id: Optional[str], data: Any) -> None:
    """Give a connection restored after its process died the ``client_id``
    and ``data`` its client had (read back from the broker), without saving
    them again as an assignment to ``data`` would. For the recovery layer."""
    conn.__dict__["_client_id"] = client_id or conn.client_id
    conn.__dict__["_data"] = data
