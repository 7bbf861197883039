"""What a session knows of the request that opened it, and why it ended."""

from typing import Any, Dict, List, NamedTuple, Optional

from tornado.httputil import HTTPHeaders

__all__ = ["ConnectionInfo", "CloseReason"]


class ConnectionInfo:
    """What the request that opened a session said, handed to ``on_open``.

    ``ip`` is the client's address (the proxy's client when the server runs
    with ``xheaders=True``); ``cookies`` maps names to ``str`` values;
    ``arguments`` maps query argument names to lists of ``str``;
    ``headers`` is the request's ``HTTPHeaders``; ``path`` the URL path.

    Headers given as ``HTTPHeaders`` are kept as the text of the header
    block and parsed again on each access to :attr:`headers`: a session
    lives long, and a parsed copy of its request costs an idle session
    about a kilobyte.
    """

    __slots__ = ("ip", "cookies", "arguments", "_headers", "path")

    def __init__(
        self, ip: str, cookies: Dict[str, str], arguments: Dict[str, List[str]], headers: Any, path: str
    ) -> None:
        self.ip = ip
        self.cookies = cookies
        self.arguments = arguments
        self.headers = headers
        self.path = path

    @property
    def headers(self) -> Any:
        """The request's headers (``HTTPHeaders``, a fresh copy each time
        when the request's were given)."""
        headers = self._headers
        if isinstance(headers, str):
            return HTTPHeaders.parse(headers)
        return headers

    @headers.setter
    def headers(self, headers: Any) -> None:
        if isinstance(headers, HTTPHeaders):
            headers = "".join("%s: %s\r\n" % kv for kv in headers.get_all())
        self._headers = headers

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
