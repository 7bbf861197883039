"""The interface between a session and whatever carries its frames out.

A session never imports a transport: it talks to its current receiver
(a polling response, a stream, a websocket) only through :class:`Receiver`.
:class:`Broadcast` is a message on its way to many sessions, encoded once.
"""

from typing import TYPE_CHECKING, Any, Dict, Optional

from sockjs.tornado import proto

if TYPE_CHECKING:  # pragma: no cover
    from typing_extensions import Protocol
else:
    from typing import Protocol

__all__ = ["Receiver", "Broadcast"]


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

    def send_frame(self, frame: str, shared: Optional["Broadcast"] = None) -> None:
        """Write one frame. A polling receiver ends its response after it
        and detaches itself from the session. With ``shared``, ``frame`` is
        that broadcast's ``frame``: what a transport derives from it may be
        kept in ``shared.cache`` for the other receivers."""

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

    __slots__ = ("message", "message_size", "encoded", "encoded_size", "frame", "frame_size", "cache")

    def __init__(self, message: Any) -> None:
        self.message = proto.message_text(message)
        #: ``message`` in UTF-8 bytes (sizes are counted once per broadcast,
        #: not once per receiver).
        self.message_size = proto.utf8_len(self.message)
        self.encoded = proto.message_json(message)
        #: ``encoded`` in UTF-8 bytes.
        self.encoded_size = proto.utf8_len(self.encoded)
        self.frame = "a[" + self.encoded + "]"
        #: ``frame`` in UTF-8 bytes.
        self.frame_size = self.encoded_size + 3
        self.cache: Dict[str, Any] = {}
