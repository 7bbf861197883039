"""What a session knows of the request that opened it, and why it ended."""
from typing import Any, Dict, List, NamedTuple, Optional

__all__ = ["ConnectionInfo", "CloseReason"]


class ConnectionInfo:
    """What the request that opened a session said, handed to ``on_open``.

    ``ip`` is the client's address (the proxy's client when the server runs
    with ``xheaders=True``); ``cookies`` maps names to ``str`` values;
    ``arguments`` maps query argument names to lists of ``str``;
    ``headers`` is the request's ``HTTPHeaders``; ``path`` the URL path.
    """

    __slots__ = ("ip", "cookies", "arguments", "headers", "path")

    def __init__(self, ip: str, cookies: Dict[str, str], arguments: Dict[str, List[str]],
                 headers: Any, path: str) -> None:
        self.ip = ip
        self.cookies = cookies
        self.arguments = arguments
        self.headers = headers
        self.path = path

    def get_argument(self, name: str) -> Optional[str]:
        """First value of query argument ``name``, or ``None``."""
        values = self.arguments.get(name)
        return values[0] if values else None

    def get_cookie(self, name: str) -> Optional[str]:
        """Value of cookie ``name``, or ``None``."""
        return self.cookies.get(name)

    def get_header(self, name: str) -> Optional[str]:
        """Value of header ``name`` (case-insensitive), or ``None``."""
        value = self.headers.get(name)
        return None if value is None else str(value)

    @property
    def remote_ip(self) -> str:
        """``ip``, under the name ``tornado.httputil.HTTPServerRequest``
        uses (code moved from ``tornado.websocket`` reads it)."""
        return self.ip


class CloseReason(NamedTuple):
    """Why a session ended. ``initiator`` is one of ``"application"``,
    ``"client"``, ``"timeout"``, ``"error"``, ``"server"``."""

    code: int
    reason: str
    initiator: str
