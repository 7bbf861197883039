"""What every transport shares, whatever carries it."""

from typing import Optional

from sockjs.tornado.session import Broadcast

__all__ = ["BaseTransportMixin"]


class BaseTransportMixin:
    """A session receiver's defaults (1.x name). ``name`` is the
    transport's name as ``stats`` and ``disabled_transports`` spell it."""

    __slots__ = ()
    name = "override_me_please"
    #: Whether the receiver can take a frame now.
    ready = True

    @property
    def transport_name(self) -> str:
        return self.name

    def send_ping(self, now: float) -> None:
        """HTTP transports have no ping; heartbeats keep them alive."""

    def alive(self, now: float) -> bool:
        return True

    def send_frame(self, frame: str, shared: Optional[Broadcast] = None) -> None:
        raise NotImplementedError()

    def send_final(self, frame: str) -> None:
        raise NotImplementedError()
