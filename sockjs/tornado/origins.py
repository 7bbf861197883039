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
from typing import Any, Callable, Dict, List, Mapping, NamedTuple, Optional, Set, Tuple

__all__ = [
    "OriginMatcher",
    "OriginPolicy",
    "Verdict",
    "ANONYMOUS_POLICIES",
    "parse_origin",
    "referer_origin",
    "same_origin",
    "host_port_allowed",
]

log = logging.getLogger("sockjs.tornado.origins")

_DEFAULT_PORTS = {"http": "80", "https": "443", "ws": "80", "wss": "443"}
_SCHEME = re.compile(r"[a-z][a-z0-9+.\-]*\Z")
# A DNS name, an IPv4 address, or a bracketed IPv6 literal.
_HOST = re.compile(
    r"(?:[a-z0-9_](?:[a-z0-9_\-]*[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_\-]*[a-z0-9_])?)*\.?"
    r"|\[[0-9a-f:.]+\])\Z"
)
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
        host, tail = rest[: end + 1], rest[end + 1 :]
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
        labels = o.host[: -len(self.host)]
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
    if "*" in suffix or (wildcard and not _LABELS.match(suffix[1:])) or (not wildcard and not _HOST.match(host)):
        raise ValueError(
            "allowed_origins: in %r, '*' may only stand for the leftmost "
            "labels of the host ('https://*.example.com') or the port" % entry
        )
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

    @property
    def is_callable(self) -> bool:
        """Whether the setting is the application's own callable."""
        return self._callable is not None

    def frame_ancestors(self) -> Optional[str]:
        """The allowed origins as a CSP ``frame-ancestors`` value, the
        service itself (``'self'``) first; ``None`` for ``"*"`` and
        callables. ``null`` has no CSP spelling and is left out."""
        if self.allow_all or self._callable is not None:
            return None
        sources = ["'self'"]
        for o in sorted(self._exact):
            sources.append("%s://%s%s" % (o.scheme, o.host, ":" + o.port if o.port else ""))
        for p in self._patterns:
            host = ("*" + p.host) if p.wildcard_host else p.host
            port = ":*" if p.port is None else (":" + p.port if p.port else "")
            sources.append("%s://%s%s" % (p.scheme, host, port))
        return "frame-ancestors " + " ".join(sources)

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


# -- deciding a request, as browsers really send them ------------------------

#: Values of the ``anonymous_requests`` setting: what to do with a request
#: that names no page at all (no ``Origin``, no ``Sec-Fetch-Site``, no
#: ``Referer``).
ANONYMOUS_POLICIES = ("allow", "refuse", "refuse_embedded")


class Verdict(NamedTuple):
    """Whether a request may be served, and why (for logs and tests)."""

    allowed: bool
    reason: str


#: The verdict of the default policy, made once (asked on every request).
_ALLOW_ALL = Verdict(True, "every origin allowed")


def referer_origin(referer: str) -> Optional[str]:
    """The ``scheme://host[:port]`` that a ``Referer`` URL starts with, or
    ``None`` when it is not an absolute URL with a host."""
    scheme, sep, rest = referer.strip().partition("://")
    if not sep:
        return None
    end = len(rest)
    for c in "/?#":
        i = rest.find(c)
        if 0 <= i < end:
            end = i
    netloc = rest[:end]
    if not netloc or "@" in netloc or "\\" in netloc:
        return None
    candidate = scheme + "://" + netloc
    return candidate if parse_origin(candidate) is not None else None


def same_origin(origin: str, host: str) -> bool:
    """Whether ``origin`` names the service itself: its host and port are
    the request's ``Host`` (a browser cannot send another site's ``Host``).
    The scheme's default port counts as no port on both sides."""
    parsed = parse_origin(origin)
    if parsed is None or not host:
        return False
    target = parse_origin(parsed.scheme + "://" + host.strip())
    return target is not None and (target.host, target.port) == (parsed.host, parsed.port)


class OriginPolicy:
    """Decides whether a request comes from a page ``allowed_origins``
    lets in, from the headers browsers actually send:

    * ``Origin``, on every websocket handshake, cross-origin XHR and
      EventSource, and every POST (form posts included);
    * ``Sec-Fetch-Site`` (current Chromium, Firefox, Safari), on every
      request: ``same-origin``, ``same-site``, ``cross-site`` or ``none``
      (the user typed the address);
    * ``Referer``'s origin, which browsers send by default on ``<script>``
      and ``<iframe>`` loads (the jsonp and htmlfile transports), where
      there is no ``Origin``.

    The service's own origin is always served (the ``iframe.html`` page's
    requests carry it). ``anonymous`` (one of :data:`ANONYMOUS_POLICIES`)
    decides requests that carry none of the three: ``"allow"``,
    ``"refuse"``, or ``"refuse_embedded"``, refused only where a page
    embeds the request as a script or frame (``embedded=True``: jsonp,
    htmlfile, jsonp_send, iframe.html), since a browser always sends
    ``Origin`` on a cross-origin XHR, EventSource or websocket.

    :raises ValueError: a bad ``allowed_origins`` entry or policy name.
    """

    def __init__(self, allowed_origins: Any, anonymous: str = "refuse_embedded") -> None:
        if anonymous not in ANONYMOUS_POLICIES:
            raise ValueError(
                "anonymous_requests must be one of %s, not %r" % (", ".join(ANONYMOUS_POLICIES), anonymous)
            )
        self.matcher = OriginMatcher(allowed_origins)
        self.anonymous = anonymous
        self._known: Dict[str, bool] = {}

    @property
    def allow_all(self) -> bool:
        """Whether every request is served (``allowed_origins="*"``)."""
        return bool(self.matcher.allow_all)

    def _listed(self, origin: str) -> bool:
        # A service sees few distinct origins: remember the answers (a
        # callable is asked every time; it may change its mind).
        if self.matcher.is_callable:
            return self.matcher(origin)
        known = self._known.get(origin)
        if known is None:
            if len(self._known) >= 1024:
                self._known.clear()  # many distinct origins: a scan, not a service
            known = self._known[origin] = self.matcher(origin)
        return known

    def _named(self, origin: str, host: str, what: str) -> Verdict:
        if self._listed(origin):
            return Verdict(True, "allowed " + what)
        if same_origin(origin, host):
            return Verdict(True, "same origin")
        return Verdict(False, what + " not allowed")

    def check(self, headers: Mapping[str, str], embedded: bool = False) -> Verdict:
        """The verdict on a request with these ``headers`` (any mapping
        with case-insensitive ``get``, such as Tornado's ``HTTPHeaders``).
        ``embedded``: the endpoint is one a page loads as a script or a
        frame (no ``Origin`` from the browser)."""
        if self.matcher.allow_all:
            return _ALLOW_ALL
        site = (headers.get("Sec-Fetch-Site") or "").strip().lower()
        if site == "same-origin":
            return Verdict(True, "same origin")
        host = headers.get("Host") or ""
        origin = headers.get("Origin")
        if origin:
            return self._named(origin, host, "origin")
        if site == "none":
            return Verdict(True, "user navigation")
        referer = headers.get("Referer")
        if referer:
            from_page = referer_origin(referer)
            if from_page is None:
                return Verdict(False, "unreadable referer")
            return self._named(from_page, host, "referer origin")
        if site:
            # A browser says "from another page" and hides which one.
            return Verdict(False, "cross-site request naming no origin")
        if self.anonymous == "allow" or (self.anonymous == "refuse_embedded" and not embedded):
            return Verdict(True, "no origin information")
        return Verdict(False, "no origin information")

    def frame_ancestors(self) -> Optional[str]:
        """A ``Content-Security-Policy`` value that lets only the service
        itself and the allowed origins frame a page, or ``None`` when
        ``allowed_origins`` cannot be written as one (``"*"`` or a
        callable: then :meth:`check` on the page's request is the guard)."""
        return self.matcher.frame_ancestors()
