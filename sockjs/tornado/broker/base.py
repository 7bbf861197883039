"""The broker interface, and the in-process broker."""

import abc
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, Tuple

if TYPE_CHECKING:  # pragma: no cover
    from sockjs.tornado.history import HistoryStore
    from sockjs.tornado.presence import PresenceStore

__all__ = ["Broker", "Deliver", "LocalBroker", "Position"]

#: ``(epoch, offset)`` of a publication kept in channel history.
Position = Tuple[str, int]

#: ``deliver(channel, message, position)``: hand a publication to this
#: process's subscribers. ``channel`` is ``None`` for a publication to
#: every session; ``position`` is its place in the channel's history, or
#: ``None`` when the channel keeps none.
Deliver = Callable[[Optional[str], Any, Optional[Position]], Any]


class Broker(abc.ABC):
    """Carries publications between the processes of one service.

    Promises every implementation keeps:

    * :meth:`publish` never blocks and never raises for a broker outage;
    * publications of one publisher reach each other process at most once
      and in publish order;
    * a publication is never handed back to the process that made it (the
      hub has already delivered it there).
    """

    @abc.abstractmethod
    def start(self, deliver: Deliver) -> None:
        """Begin carrying publications; called once, on the running loop,
        when the router first needs the broker."""

    @abc.abstractmethod
    def publish(self, channel: Optional[str], message: Any) -> None:
        """Send one publication (a str or another JSON value) to the other
        processes."""

    def history_store(self, size: int, ttl: float) -> "Optional[HistoryStore]":
        """A history store shared by every process, or ``None`` when this
        broker has none (the router then keeps history in memory). A
        broker that returns one takes publications to kept channels with
        :meth:`publish_kept` and hands them back to *every* process, its
        own included, with their position."""
        return None

    def publish_kept(self, channel: str, message: Any) -> None:
        """Publish to a channel whose history this broker keeps (only
        called when :meth:`history_store` returned a store)."""
        raise NotImplementedError

    def presence_store(self, ttl: float) -> "Optional[PresenceStore]":
        """A presence store shared by every process, or ``None`` (the
        router then keeps presence in memory)."""
        return None

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Stop; publications not yet sent are dropped."""

    @property
    def connected(self) -> bool:
        """Whether publications currently reach the other processes."""
        return True

    def stats(self) -> Dict[str, Any]:
        """Counters for monitoring (names depend on the broker)."""
        return {"connected": self.connected}


class LocalBroker(Broker):
    """The default: a single process, nothing to carry."""

    def start(self, deliver: Deliver) -> None:
        pass

    def publish(self, channel: Optional[str], message: Any) -> None:
        pass
