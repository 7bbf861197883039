"""Channels over one SockJS connection: the websocket-multiplex wire format.

Every SockJS message on a multiplexed connection is one of::

    sub,<topic>              client: open channel <topic>
    msg,<topic>,<payload>    either way: one message on channel <topic>
    uns,<topic>              client: close channel <topic>;
                             server: channel <topic> is closed

The topic never contains a comma; the payload is everything after the
second comma, commas included. This is the format of the
``websocket-multiplex`` JavaScript client, so that client (or the helper
shipped in ``examples/multiplex/``) talks to this module unchanged.

Usage, in the spirit of the 1.x multiplex example::

    class AnnConnection(SockJSConnection):
        def on_message(self, message):
            self.send("Ann says: " + message)

    Mux = MultiplexConnection.get(ann=AnnConnection, bob=BobConnection)
    router = SockJSRouter(Mux, "/multiplex")

Each channel gets its own instance of its :class:`SockJSConnection`
subclass, with the usual promises: ``on_open(info)`` once (``info`` is the
underlying session's :class:`ConnectionInfo`), ``on_message`` in order
(``async def`` allowed; channels do not wait for each other), ``on_close``
exactly once, ``send``, ``broadcast`` and ``close``. Closing a channel from
the server sends ``uns,<topic>``; the underlying SockJS session stays open.
When the session ends, every open channel's ``on_close`` runs.
"""

import logging
from typing import Any, ClassVar, Dict, Mapping, Optional, Type

from sockjs.tornado.basesession import OPEN, BaseSession
from sockjs.tornado.conn import SockJSConnection
from sockjs.tornado.connectioninfo import ConnectionInfo
from sockjs.tornado.proto import message_text
from sockjs.tornado.receiver import Broadcast

__all__ = ["MultiplexConnection", "ChannelSession"]

log = logging.getLogger("sockjs.tornado.multiplex")


class _ChannelStats:
    """Stats seen by a channel. Sessions, packets and bytes are counted once,
    by the underlying SockJS session; a channel adds only its errors."""

    def __init__(self, parent: Any) -> None:
        self._parent = parent

    def on_error(self) -> None:
        self._parent.on_error()

    def on_heartbeat_timeout(self) -> None:
        self._parent.on_heartbeat_timeout()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("on_"):
            return _ignore
        raise AttributeError(name)


def _ignore(*args: Any, **kwargs: Any) -> None:
    return None


class ChannelSession(BaseSession):
    """The session behind one channel: it carries its messages as
    ``msg,<topic>,...`` over the parent SockJS connection."""

    def __init__(self, conn: Type[SockJSConnection], parent: "MultiplexConnection", topic: str) -> None:
        self.parent = parent
        self.topic = topic
        self.session_id = "%s/%s" % (parent.session.session_id_for_log, topic)
        self._prefix = "msg," + topic + ","
        super().__init__(conn, parent.session.server)
        self.stats = _ChannelStats(parent.session.stats)  # type: ignore[assignment]
        self.transport_name = "multiplex"

    def open(self, info: ConnectionInfo) -> None:
        """Run the channel connection's ``on_open``."""
        self._open(info)

    def send_message(self, message: Any, stats: bool = True, binary: bool = False) -> None:
        """Send ``msg,<topic>,<message>`` on the parent connection (text
        only: ``binary`` is ignored)."""
        if self.state != OPEN:
            return
        self.parent.send(self._prefix + message_text(message))

    def send_broadcast(self, message: Broadcast) -> None:
        """One delivery of a broadcast: the shared message, on this topic."""
        if self.state != OPEN:
            return
        # The router counted this delivery already.
        self.parent.session.send_message(self._prefix + message.message, stats=False)

    def _send_close(self, code: int, message: str) -> None:
        self.parent._channel_closed(self)
        initiator = self.close_reason.initiator if self.close_reason else "application"
        # The client knows already when it unsubscribed or went away.
        if initiator != "client" and not self.parent.is_closed:
            self.parent.send("uns," + self.topic)


class MultiplexConnection(SockJSConnection):
    """A SockJS connection that demultiplexes channels.

    Do not subclass it by hand: :meth:`get` builds the subclass that knows
    its channels. A ``sub`` for an unknown topic is answered with
    ``uns,<topic>``; malformed messages are ignored (and logged at DEBUG).
    """

    #: Topic -> channel connection class, set by :meth:`get`.
    channel_classes: ClassVar[Mapping[str, Type[SockJSConnection]]] = {}

    def __init__(self, session: BaseSession) -> None:
        super().__init__(session)
        #: Open channels of this connection, by topic.
        self.endpoints: Dict[str, ChannelSession] = {}
        self._info: Optional[ConnectionInfo] = None

    @classmethod
    def get(cls, **channels: Type[SockJSConnection]) -> Type["MultiplexConnection"]:
        """A :class:`MultiplexConnection` subclass serving ``channels``
        (topic name -> :class:`SockJSConnection` subclass); pass it to
        :class:`SockJSRouter`.

        :raises ValueError: for a topic that is empty or contains a comma.
        :raises TypeError: for a value that is not a SockJSConnection subclass.
        """
        for topic, kls in channels.items():
            if not topic or "," in topic:
                raise ValueError("multiplex topic must be non-empty and contain no comma: %r" % (topic,))
            if not (isinstance(kls, type) and issubclass(kls, SockJSConnection)):
                raise TypeError("channel %r: expected a SockJSConnection subclass, not %r" % (topic, kls))
        return type("MultiplexConnection", (cls,), {"channel_classes": dict(channels)})

    def on_open(self, info: ConnectionInfo) -> None:
        """Remember ``info``: every channel's ``on_open`` gets it."""
        self._info = info

    def on_message(self, message: str) -> None:
        """Route one multiplex message to its channel, opening or closing
        channels on ``sub`` and ``uns``."""
        op, sep, rest = message.partition(",")
        if not sep:
            log.debug("session %s: not a multiplex message: %.40r", self.session.session_id_for_log, message)
            return
        topic, _, payload = rest.partition(",")
        channel = self.endpoints.get(topic)
        if op == "msg":
            if channel is not None:
                channel.on_messages([payload])
        elif op == "sub":
            if channel is None:
                self._subscribe(topic)
        elif op == "uns":
            if channel is not None:
                channel.close(3000, "Unsubscribed", initiator="client")
        else:
            log.debug("session %s: unknown multiplex operation %.10r", self.session.session_id_for_log, op)

    def _subscribe(self, topic: str) -> None:
        kls = self.channel_classes.get(topic)
        if kls is None or self._info is None:
            self.send("uns," + topic)
            return
        channel = ChannelSession(kls, self, topic)
        self.endpoints[topic] = channel
        channel.open(self._info)

    def _channel_closed(self, channel: ChannelSession) -> None:
        if self.endpoints.get(channel.topic) is channel:
            del self.endpoints[channel.topic]

    def on_close(self) -> None:
        """Close every open channel with the session's close code; each
        channel's ``on_close`` runs once."""
        reason = self.close_reason
        code, text = (reason.code, reason.reason) if reason else (3000, "Go away!")
        for channel in list(self.endpoints.values()):
            channel.close(code, text, initiator="client" if reason is None else reason.initiator)
        self.endpoints.clear()
