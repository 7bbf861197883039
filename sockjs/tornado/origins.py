"""Origin checks: which web pages may talk to a service (pure, no I/O).

An ``Origin`` header is ``scheme://host[:port]`` (RFC 6454), or ``null``.
The ``allowed_origins`` setting is ``"*"``, a callable ``(origin) -> bool``,
or a list whose entries are each

* an exact origin, ``"https://app.example.com"`` (default ports are
  implied: ``https://app.example.com:443`` is the same origin), or ``"null"``;
* a pattern whose host starts with ``*.``, ``"https://*.example.com"``:
  the ``*`` stands for one or more whole DNS labels, so it matches
  ``https://a.example.com`` and ``https://a.b.example.com`` but never
  ``https://example.com``, ``https://xexample.com``,
  ``https://example.com.evil.com`` or ``https://evil.com/.example.com``;
* a pattern whose port is ``*``, ``"http://localhost:*"``: any port;
* ``"*"``: every origin.

Scheme and host compare case-insensitively. An origin that is not a
well-formed ``scheme://host[:port]`` (a path, user info, a query, an empty
host) matches no pattern and no exact entry but ``null``'s own.
"""
import logging
import re
from typing import Any, Callable, List, NamedTuple, Optional, Set, Tuple

__all__ = ["OriginMatcher", "parse_origin", "host_port_allowed"]

log = logging.getLogger("sockjs.tornado.origins")

_DEFAULT_PORTS = {"http": "80", "https": "443", "ws": "80", "wss": "443"}
_SCHEME = re.compile(r"[a-z][a-z0-9+.\-]*\Z")
# A DNS name, an IPv4 address, or a bracketed IPv6 literal.
_HOST = re.compile(r"(?:[a-z0-9_](?:[a-z0-9_\-]*[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_\-]*[a-z0-9_])?)*\.?"
                   r"|\[[0-9a-f:.]+\])\Z")
_LABELS = re.compile(r"[a-z0-9_](?:[a-z0-9_\-]*[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_\-]*[a-z0-9_])?)*\Z")
_PORT = re.compile(r"[0-9]{1,5}\Z")


class Origin(NamedTuple):
    scheme: str
    host: str
    #: The port, ``""`` for the scheme's default.
    port: str


def parse_origin(value: str) -> Optional[Origin]:
    """``value`` as an :class:`Origin`, or ``None`` when it is not a
    well-formed ``scheme://host[:port]``."""
    scheme, sep, rest = value.strip().lower().partition("://")
    if not sep or not _SCHEME.match(scheme) or not rest:
        return None
    host, port = rest, ""
    if rest.startswith("["):
        end = rest.find("]")
        if end < 0:
            return None
        host, tail = rest[:end + 1], rest[end + 1:]
        if tail:
            if not tail.startswith(":"):
                return None
            port = tail[1:]
    elif ":" in rest:
        host, _, port = rest.rpartition(":")
    if not _HOST.match(host):
        return None
    if port:
        if not _PORT.match(port):
            return None
        port = str(int(port))
        if _DEFAULT_PORTS.get(scheme) == port:
            port = ""
    return Origin(scheme, host, port)


class _Pattern(NamedTuple):
    scheme: str
    #: ``".example.com"`` for ``*.example.com``, else the exact host.
    host: str
    wildcard_host: bool
    #: ``None`` for any port.
    port: Optional[str]

    def matches(self, o: Origin) -> bool:
        if o.scheme != self.scheme:
            return False
        if self.port is not None and o.port != self.port:
            return False
        if not self.wildcard_host:
            return o.host == self.host
        if not o.host.endswith(self.host):
            return False
        labels = o.host[:-len(self.host)]
        return bool(labels) and _LABELS.match(labels) is not None


def _compile(entry: str) -> Tuple[Optional[Origin], Optional[_Pattern]]:
    """An entry as an exact origin or a pattern.

    :raises ValueError: the entry is neither.
    """
    text = entry.strip().lower()
    if "*" not in text:
        parsed = parse_origin(text)
        if parsed is None:
            raise ValueError("allowed_origins: %r is not an origin (scheme://host[:port])" % entry)
        return parsed, None
    scheme, sep, rest = text.partition("://")
    if not sep or not _SCHEME.match(scheme):
        raise ValueError("allowed_origins: %r has no scheme" % entry)
    host, port = rest, ""
    if ":" in rest and not rest.startswith("["):
        host, _, port = rest.rpartition(":")
    wildcard = host.startswith("*.")
    suffix = host[1:] if wildcard else host
    if "*" in suffix or (wildcard and not _LABELS.match(suffix[1:])) \
            or (not wildcard and not _HOST.match(host)):
        raise ValueError("allowed_origins: in %r, '*' may only stand for the leftmost "
                         "labels of the host ('https://*.example.com') or the port" % entry)
    if port == "*":
        port_spec: Optional[str] = None
    elif not port:
        port_spec = ""
    elif _PORT.match(port):
        port_spec = str(int(port))
        if _DEFAULT_PORTS.get(scheme) == port_spec:
            port_spec = ""
    else:
        raise ValueError("allowed_origins: %r has a bad port" % entry)
    return None, _Pattern(scheme, suffix, wildcard, port_spec)


class OriginMatcher:
    """Decides whether an ``Origin`` header value is allowed by an
    ``allowed_origins`` setting (see the module docstring).

    :raises ValueError: an entry of the list is neither an origin nor a
        pattern this module understands.
    """

    def __init__(self, setting: Any) -> None:
        self._callable: Optional[Callable[[str], Any]] = None
        self._exact: Set[Origin] = set()
        self._patterns: List[_Pattern] = []
        self._allow_null = False
        self.allow_all = setting == "*"
        if self.allow_all:
            return
        if callable(setting):
            self._callable = setting
            return
        for entry in setting:
            if entry.strip() == "*":
                self.allow_all = True
            elif entry.strip().lower() == "null":
                self._allow_null = True
            else:
                exact, pattern = _compile(entry)
                if exact is not None:
                    self._exact.add(exact)
                if pattern is not None:
                    self._patterns.append(pattern)

    def __call__(self, origin: str) -> bool:
        """Whether ``origin`` (a header value) is allowed."""
        if self.allow_all:
            return True
        if self._callable is not None:
            try:
                return bool(self._callable(origin))
            except Exception:
                # The application's check is broken: refuse, loudly.
                log.exception("allowed_origins callable raised for %r; refusing", origin)
                return False
        if origin.strip().lower() == "null":
            return self._allow_null
        parsed = parse_origin(origin)
        if parsed is None:
            return False
        return parsed in self._exact or any(p.matches(parsed) for p in self._patterns)


def host_port_allowed(origin: str, allowed: Set[str]) -> bool:
    """The 1.x ``websocket_allow_origin`` rule: the ``host[:port]`` of
    ``origin``, exactly as the client wrote it (lower-cased), is one of
    ``allowed`` (lower-cased entries). Never a substring match."""
    scheme, sep, rest = origin.strip().lower().partition("://")
    if not sep or not rest or any(c in rest for c in "/@?#\\ "):
        return False
    return rest in allowed
