"""Channels: named groups of sessions, and publishing to them from any
process of a service.

:class:`Channels` is the router's registry of who listens to what. A
publication is delivered to this process's subscribers at once, encoded
once (one :class:`~sockjs.tornado.session.Broadcast` for all of them), and
handed to the router's broker, which carries it to the other processes,
where their hub delivers it the same way. ``publish_all`` reaches every
open session of the service, subscribed or not.

Promises: each subscribed session gets each publication once, and the
publications of one publisher in publish order; a closed session is
unsubscribed from everything by itself.

History and presence live here too (:mod:`sockjs.tornado.history`,
:mod:`sockjs.tornado.presence`): with ``history_size`` set, each
publication to a channel is kept and numbered before delivery (in memory,
or by the Redis broker, which then delivers it to every process, this one
included, in offset order); with ``presence`` on, each subscription is
listed in the presence store.

Sessions of the shipped browser client (those with recovery state) get
publications wrapped as ``{"$sockjs": "pub", "c": channel, "d": message,
"o": offset, "e": epoch}`` so the client can route them by channel and
remember its position; every other session gets the message as
published. Each form is encoded once per publication.
"""

import logging
import time
from typing import TYPE_CHECKING, Any, Dict, FrozenSet, Iterable, Optional, Set

from sockjs.tornado import session as sessionmod
from sockjs.tornado.broker import Broker
from sockjs.tornado.broker.base import Position
from sockjs.tornado.history import HistoryPage, HistoryStore, MemoryHistory
from sockjs.tornado.presence import MemoryPresence, PresenceStore

if TYPE_CHECKING:  # pragma: no cover
    from sockjs.tornado.router import SockJSRouter

__all__ = ["Channels"]

log = logging.getLogger("sockjs.tornado.channels")


def _check_name(channel: Any) -> str:
    if not isinstance(channel, str) or not channel:
        raise ValueError("a channel name must be a non-empty str, not %r" % (channel,))
    return channel


def wrap_publication(channel: Optional[str], message: Any, position: Optional[Position]) -> "sessionmod.Broadcast":
    """A publication as the shipped client receives it."""
    body: Dict[str, Any] = {"$sockjs": "pub", "c": channel, "d": message}
    if position is not None:
        body["e"], body["o"] = position
    return sessionmod.Broadcast(body)


class Channels:
    """Subscriptions of one router's sessions, and publication through its
    broker. Built by the router; reach it as ``router.channels``."""

    def __init__(self, router: "SockJSRouter", broker: Broker) -> None:
        self._router = router
        self.broker = broker
        self._members: Dict[str, Set[Any]] = {}
        self._of_session: Dict[Any, Set[str]] = {}
        self._started = False
        settings = router.settings
        #: Channel history, or ``None`` (``history_size`` 0).
        self.history: Optional[HistoryStore] = None
        self._memory_history: Optional[MemoryHistory] = None
        if settings["history_size"]:
            self.history = broker.history_store(settings["history_size"], settings["history_ttl"])
            if self.history is None:
                self._memory_history = MemoryHistory(settings["history_size"], settings["history_ttl"])
                self.history = self._memory_history
        #: Presence, or ``None`` (``presence`` off).
        self.presence: Optional[PresenceStore] = None
        if settings["presence"]:
            self.presence = broker.presence_store(settings["presence_ttl"]) or MemoryPresence()
        self._presence_events = bool(settings["presence"] and settings["presence_events"])

    def start(self) -> None:
        """Start the broker (once; needs the running loop)."""
        if not self._started:
            self._started = True
            self.broker.start(self.deliver)

    # -- subscriptions ----------------------------------------------------

    def subscribe(self, session: Any, channel: str) -> None:
        """Add ``session`` to ``channel``; a closed session is ignored."""
        _check_name(channel)
        if session.state >= sessionmod.CLOSING:
            return
        members = self._members.setdefault(channel, set())
        if session in members:
            return
        members.add(session)
        self._of_session.setdefault(session, set()).add(channel)
        self.start()
        if self.presence is not None:
            conn = session.conn
            self.presence.join(channel, conn.client_id, conn.presence_info)
            if self._presence_events:
                self._announce("join", channel, conn)
        if session.recovery is not None:
            session.recovery.subscribed_at[channel] = time.time()
            session.state_changed()

    def unsubscribe(self, session: Any, channel: str) -> None:
        """Remove ``session`` from ``channel`` (no error if it was not in)."""
        members = self._members.get(channel)
        if members is not None:
            if session in members and self.presence is not None:
                self.presence.leave(channel, session.conn.client_id)
                if self._presence_events:
                    self._announce("leave", channel, session.conn)
            members.discard(session)
            if not members:
                del self._members[channel]
        if session.recovery is not None and channel in session.recovery.subscribed_at:
            del session.recovery.subscribed_at[channel]
            session.state_changed()
        mine = self._of_session.get(session)
        if mine is not None:
            mine.discard(channel)
            if not mine:
                del self._of_session[session]

    def forget(self, session: Any) -> None:
        """Remove ``session`` from every channel (it closed)."""
        for channel in self._of_session.pop(session, ()):
            members = self._members.get(channel)
            if self.presence is not None:
                self.presence.leave(channel, session.conn.client_id)
                if self._presence_events:
                    if members is not None:
                        members.discard(session)
                    self._announce("leave", channel, session.conn)
            if members is not None:
                members.discard(session)
                if not members:
                    del self._members[channel]

    def replace(self, old: Any, new: Any) -> None:
        """``new`` takes over every subscription of ``old`` (a recovered
        session continues in another session object); presence is
        unchanged, the connection being the same."""
        channels = self._of_session.pop(old, None)
        if not channels:
            return
        self._of_session[new] = channels
        for channel in channels:
            members = self._members[channel]
            members.discard(old)
            members.add(new)

    def channels_of(self, session: Any) -> FrozenSet[str]:
        """The channels ``session`` is subscribed to."""
        return frozenset(self._of_session.get(session, ()))

    def subscribers(self, channel: str) -> int:
        """How many sessions of this process are subscribed to ``channel``."""
        return len(self._members.get(channel, ()))

    @property
    def names(self) -> FrozenSet[str]:
        """Channels with at least one subscriber in this process."""
        return frozenset(self._members)

    def _announce(self, kind: str, channel: str, conn: Any) -> None:
        # Join and leave events: to every subscriber in every process, not
        # kept in history (presence itself is the lasting record).
        event = {"$sockjs": kind, "c": channel, "id": conn.client_id, "info": conn.presence_info}
        self.deliver(channel, event)
        self.broker.publish(channel, event)

    # -- publishing -------------------------------------------------------

    def publish(self, channel: Optional[str], message: Any) -> None:
        """Deliver here, then hand to the broker for the other processes.
        ``channel`` ``None`` means every session. A kept publication is
        numbered first; when the broker keeps the history, the broker
        delivers it here too."""
        self.start()
        if channel is None or self.history is None:
            self.deliver(channel, message)
            self.broker.publish(channel, message)
        elif self._memory_history is not None:
            self.deliver(channel, message, self._memory_history.append(channel, message))
            self.broker.publish(channel, message)
        else:
            self.broker.publish_kept(channel, message)

    async def read_history(
        self, channel: str, since: Optional[Position] = None, limit: Optional[int] = None
    ) -> HistoryPage:
        """``router.history``."""
        if self.history is None:
            raise RuntimeError("channel history is off: set the router setting 'history_size'")
        self.start()
        return await self.history.read(_check_name(channel), since, limit)

    async def members(self, channel: str) -> Dict[str, Any]:
        """``router.presence``."""
        if self.presence is None:
            raise RuntimeError("presence is off: set the router setting 'presence' to True")
        self.start()
        return await self.presence.members(_check_name(channel))

    def deliver(self, channel: Optional[str], message: Any, position: Optional[Position] = None) -> int:
        """Send a publication to this process's sessions; returns how many
        got it. The broker calls this for publications of other processes
        (and for kept ones of this process), with their history
        ``position`` if kept."""
        targets: Iterable[Any]
        if channel is None:
            targets = self._router.sessions
        else:
            members = self._members.get(channel)
            if not members:
                return 0
            targets = list(members)
        shared = sessionmod.Broadcast(message)
        wrapped: Optional[sessionmod.Broadcast] = None
        count = 0
        for s in targets:
            if s.state < sessionmod.CLOSING:
                rec = s.recovery
                if channel is None or rec is None:
                    s.send_broadcast(shared)
                elif position is not None and rec.caught_up is not None and rec.already_sent(channel, position):
                    continue
                else:
                    if wrapped is None:
                        wrapped = wrap_publication(channel, message, position)
                    s.send_broadcast(wrapped)
                count += 1
        stats = self._router.stats
        stats.on_pack_sent(count)
        stats.on_broadcast(count)
        return count
