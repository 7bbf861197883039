"""What the transports and fixed pages may ask of the service they serve.

:class:`~sockjs.tornado.router.SockJSRouter` implements :class:`Service`;
the endpoints see it only through this interface, never through its
private attributes, so the router may change inside without them.
"""

from typing import TYPE_CHECKING, Any, Dict, Mapping, Optional, Tuple

from sockjs.tornado.clientlog import ClientErrorLog
from sockjs.tornado.origins import OriginPolicy, Verdict
from sockjs.tornado.stats import StatsCollector
from sockjs.tornado.tasks import TaskGroup

if TYPE_CHECKING:  # pragma: no cover
    from typing_extensions import Protocol

    from sockjs.tornado.conn import SockJSConnection
    from sockjs.tornado.rawsession import RawSession
    from sockjs.tornado.session import Session
else:
    from typing import Protocol

__all__ = ["Service"]


class Service(Protocol):
    """One SockJS service, as its endpoints see it."""

    @property
    def settings(self) -> Dict[str, Any]:
        """The validated settings."""

    @property
    def stats(self) -> StatsCollector:
        """Counters the endpoints report to."""

    @property
    def websockets_enabled(self) -> bool:
        """Whether the websocket transport is on (``/info`` says so)."""

    @property
    def cookie_needed(self) -> bool:
        """Whether JSESSIONID cookies are set."""

    @property
    def shutting_down(self) -> bool:
        """True once shutdown started: new sessions are refused."""

    @property
    def tasks(self) -> TaskGroup:
        """The tasks the service's handlers started, kept until done."""

    @property
    def client_errors(self) -> ClientErrorLog:
        """The rate-limited log of clients' mistakes."""

    @property
    def origin_policy(self) -> OriginPolicy:
        """The ``allowed_origins`` policy (its ``frame_ancestors()`` is
        the iframe page's CSP)."""

    def check_origin(self, headers: Mapping[str, str], embedded: bool = False) -> Verdict:
        """Whether the page a request comes from may be served
        (``embedded``: loaded as a script or frame, without Origin)."""

    def origin_allowed(self, origin: Optional[str]) -> bool:
        """Whether a request with this Origin may be served."""

    def websocket_origin_allowed(self, origin: Optional[str], host: str) -> bool:
        """Whether a websocket handshake with this Origin may be served."""

    def get_session(self, session_id: str) -> "Optional[Session]":
        """The live session with this id, or None."""

    def create_session(self, session_id: Optional[str], register: bool = True) -> "Session":
        """A new session (registered under ``session_id`` when
        ``register``)."""

    def make_raw_session(self) -> "RawSession":
        """A new session of the raw websocket endpoint."""

    def get_connection_class(self) -> "type[SockJSConnection]":
        """The application's connection class."""

    def track(self, session: Any) -> None:
        """Put a session without id (websocket) under the sweep."""

    def untrack(self, session: Any) -> None:
        """Take a tracked session out of the sweep."""

    def iframe_page(self) -> Tuple[bytes, str]:
        """The iframe page and its ETag (built once)."""
