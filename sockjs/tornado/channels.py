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
"""
import logging
from typing import TYPE_CHECKING, Any, Dict, FrozenSet, Iterable, Optional, Set

from sockjs.tornado import session as sessionmod
from sockjs.tornado.broker import Broker

if TYPE_CHECKING:  # pragma: no cover
    from sockjs.tornado.router import SockJSRouter

__all__ = ["Channels"]

log = logging.getLogger("sockjs.tornado.channels")


def _check_name(channel: Any) -> str:
    if not isinstance(channel, str) or not channel:
        raise ValueError("a channel name must be a non-empty str, not %r" % (channel,))
    return channel


class Channels:
    """Subscriptions of one router's sessions, and publication through its
    broker. Built by the router; reach it as ``router.channels``."""

    def __init__(self, router: "SockJSRouter", broker: Broker) -> None:
        self._router = router
        self.broker = broker
        self._members: Dict[str, Set[Any]] = {}
        self._of_session: Dict[Any, Set[str]] = {}
        self._started = False

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
        self._members.setdefault(channel, set()).add(session)
        self._of_session.setdefault(session, set()).add(channel)
        self.start()

    def unsubscribe(self, session: Any, channel: str) -> None:
        """Remove ``session`` from ``channel`` (no error if it was not in)."""
        members = self._members.get(channel)
        if members is not None:
            members.discard(session)
            if not members:
                del self._members[channel]
        mine = self._of_session.get(session)
        if mine is not None:
            mine.discard(channel)
            if not mine:
                del self._of_session[session]

    def forget(self, session: Any) -> None:
        """Remove ``session`` from every channel (it closed)."""
        for channel in self._of_session.pop(session, ()):
            members = self._members.get(channel)
            if members is not None:
                members.discard(session)
                if not members:
                    del self._members[channel]

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

    # -- publishing -------------------------------------------------------

    def publish(self, channel: Optional[str], message: Any) -> None:
        """Deliver here, then hand to the broker for the other processes.
        ``channel`` ``None`` means every session."""
        self.start()
        self.deliver(channel, message)
        self.broker.publish(channel, message)

    def deliver(self, channel: Optional[str], message: Any) -> int:
        """Send a publication to this process's sessions; returns how many
        got it. The broker calls this for publications of other processes."""
        targets: Iterable[Any]
        if channel is None:
            targets = self._router.sessions
        else:
            members = self._members.get(channel)
            if not members:
                return 0
            targets = list(members)
        shared = sessionmod.Broadcast(message)
        count = 0
        for s in targets:
            if s.state < sessionmod.CLOSING:
                s.send_broadcast(shared)
                count += 1
        stats = self._router.stats
        stats.on_pack_sent(count)
        stats.on_broadcast(count)
        return count
