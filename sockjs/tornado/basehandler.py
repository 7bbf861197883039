"""What every SockJS HTTP handler shares: CORS, caching headers,
JSESSIONID, preflight answers, and quiet handling of clients that go away."""
import logging
import time
from email.utils import formatdate
from http.client import responses
from typing import TYPE_CHECKING, Any, Optional

from tornado import iostream, web
from tornado.log import access_log

from sockjs.tornado.session import ConnectionInfo

if TYPE_CHECKING:  # pragma: no cover
    from sockjs.tornado.router import SockJSRouter

__all__ = ["BaseHandler", "PreflightHandler", "CACHE_TIME"]

log = logging.getLogger("sockjs.tornado.http")

#: One year, in seconds: how long cacheable answers may be cached.
CACHE_TIME = 31536000
NO_CACHE = "no-store, no-cache, no-transform, must-revalidate, max-age=0"
CACHE_FOREVER = "public, max-age=%d" % CACHE_TIME


class BaseHandler(web.RequestHandler):
    """Base of every SockJS handler. ``server`` is the router."""

    server: "SockJSRouter"

    def initialize(self, server: "SockJSRouter") -> None:
        self.server = server

    def set_default_headers(self) -> None:
        # Tornado's default Content-Type must not leak into answers that
        # have none (405, 304, preflights).
        self.clear_header("Content-Type")

    # -- headers ----------------------------------------------------------

    #: Whether pages load this endpoint as a script or a frame (no
    #: ``Origin`` header from the browser): see ``anonymous_requests``.
    embedded = False

    def origin_allowed(self) -> bool:
        """Whether the page the request comes from passes ``allowed_origins``."""
        return self.server.check_origin(self.request.headers, self.embedded).allowed

    def handle_origin(self) -> None:
        """CORS headers: echo the Origin with credentials, or ``*``."""
        origin = self.request.headers.get("Origin")
        if origin:
            self._headers["Access-Control-Allow-Origin"] = origin
            self._headers["Access-Control-Allow-Credentials"] = "true"
        else:
            self._headers["Access-Control-Allow-Origin"] = "*"
        # Either answer depends on Origin: caches must keep them apart.
        self._headers["Vary"] = "Origin"

    def enable_cache(self) -> None:
        """Cacheable for a year."""
        self._headers["Cache-Control"] = CACHE_FOREVER
        self._headers["Expires"] = formatdate(time.time() + CACHE_TIME, usegmt=True)
        self._headers["Access-Control-Max-Age"] = str(CACHE_TIME)

    def disable_cache(self) -> None:
        """Never cached."""
        self._headers["Cache-Control"] = NO_CACHE

    def handle_session_cookie(self) -> None:
        """``Set-Cookie: JSESSIONID=...; path=/`` when JSESSIONID handling
        is on: the request's own value, else ``dummy``."""
        if not self.server.cookie_needed:
            return
        value = "dummy"
        raw = self.request.headers.get("Cookie")
        if raw and "JSESSIONID" in raw:
            for part in raw.split(";"):
                name, _, v = part.strip().partition("=")
                if name == "JSESSIONID" and v and _cookie_safe(v):
                    value = v
                    break
        self._headers["Set-Cookie"] = "JSESSIONID=%s; path=/" % value

    def preflight(self, methods: str) -> None:
        """Answer a CORS preflight allowing ``methods``."""
        self.set_status(204)
        self.enable_cache()
        self.handle_origin()
        self._headers["Access-Control-Allow-Methods"] = methods
        requested = self.request.headers.get("Access-Control-Request-Headers")
        if requested:
            self._headers["Access-Control-Allow-Headers"] = requested
        self.finish()

    # -- request info ----------------------------------------------------

    def get_conn_info(self) -> ConnectionInfo:
        """The :class:`ConnectionInfo` handed to ``on_open``."""
        req = self.request
        cookies = {name: morsel.value for name, morsel in req.cookies.items()}
        arguments = {k: [v.decode("utf-8", "replace") for v in vs]
                     for k, vs in req.query_arguments.items()}
        return ConnectionInfo(req.remote_ip or "", cookies, arguments, req.headers, req.path)

    # -- errors -----------------------------------------------------------

    #: Set when the answer is the protocol's reply to a client mistake
    #: (its 500s included), which is never logged as an ERROR.
    _client_error = False

    def send_error_text(self, status: int, text: str) -> None:
        """A plain-text error answer (the protocol's 500s and 404s)."""
        self._client_error = True
        self.set_status(status)
        self._headers["Content-Type"] = "text/plain; charset=UTF-8"
        self.finish(text)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        # Tornado's HTML error pages are not ours to send; keep it short.
        self._headers["Content-Type"] = "text/plain; charset=UTF-8"
        if status_code == 405:
            # HTTP requires a 405 to say which methods the URL takes.
            self._headers["Allow"] = ", ".join(
                m for m in self.SUPPORTED_METHODS
                if getattr(type(self), m.lower(), None) is not getattr(web.RequestHandler, m.lower(), None))
        self.finish("%d %s" % (status_code, responses.get(status_code, "Error")))

    def _log(self) -> None:
        if ("log_function" not in self.application.settings and self.get_status() >= 500
                and self._client_gone()):
            # Tornado turns a client that vanished mid-request into a 500
            # it cannot even send: not an error of ours.
            access_log.debug("%d %s %.2fms (client went away)", self.get_status(),
                             self._request_summary(), 1000.0 * self.request.request_time())
            return
        # Tornado logs 4xx as WARNING and 5xx as ERROR, one line each: a
        # client's mistakes (and the protocol's 500s for bad callbacks or
        # broken JSON) go to the router's rate-limited log instead.
        status = self.get_status()
        if ((400 <= status < 500 or (self._client_error and status >= 500))
                and "log_function" not in self.application.settings):
            self.server.client_errors.log("%d %s %.2fms (client error)", status, self._request_summary(),
                                          1000.0 * self.request.request_time())
            return
        super()._log()

    def _client_gone(self) -> bool:
        connection = self.request.connection
        stream = getattr(connection, "stream", None)
        return connection is not None and (stream is None or stream.closed())

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        # A client that went away is not an error of ours.
        if isinstance(value, (iostream.StreamClosedError, web.Finish)):
            log.debug("client went away: %s", value)
            return
        super().log_exception(typ, value, tb)


def _cookie_safe(value: str) -> bool:
    return all(c.isalnum() or c in "-_.~+/=%" for c in value) and len(value) <= 256


class PreflightHandler(BaseHandler):
    """1.x name: a handler whose OPTIONS answers a preflight."""

    access_methods = "OPTIONS, POST"

    def options(self, *args: Any, **kwargs: Any) -> None:
        if not self.origin_allowed():
            return self.send_error_text(403, "Origin not allowed")
        self.handle_session_cookie()
        self.preflight(self.access_methods)

    def verify_origin(self) -> Optional[bool]:
        return self.origin_allowed()
