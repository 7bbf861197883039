"""The broker interface, and the in-process broker."""
import abc
from typing import Any, Callable, Dict, Optional

__all__ = ["Broker", "Deliver", "LocalBroker"]

#: ``deliver(channel, message)``: hand a publication that came from another
#: process to this process's subscribers. ``channel`` is ``None`` for a
#: publication to every session.
Deliver = Callable[[Optional[str], Any], Any]


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
