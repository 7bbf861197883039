"""What every SockJS HTTP endpoint shares: CORS, caching headers,
JSESSIONID, preflight answers, the protocol's error answers and the
:class:`ConnectionInfo` of a request.

.. versionchanged:: 2.0
   ``BaseHandler`` is no longer a ``tornado.web.RequestHandler`` but an
   :class:`~sockjs.tornado.httpexchange.HTTPExchange` on Tornado's public
   HTTP API.
"""

import time
from email.utils import formatdate
from typing import Any, Optional

from sockjs.tornado.connectioninfo import ConnectionInfo
from sockjs.tornado.httpexchange import HTTPExchange
from sockjs.tornado.service import Service

__all__ = ["BaseHandler", "PreflightHandler", "CACHE_TIME"]

#: One year, in seconds: how long cacheable answers may be cached.
CACHE_TIME = 31536000
NO_CACHE = "no-store, no-cache, no-transform, must-revalidate, max-age=0"
CACHE_FOREVER = "public, max-age=%d" % CACHE_TIME
TEXT_PLAIN = "text/plain; charset=UTF-8"


class BaseHandler(HTTPExchange):
    """Base of every SockJS endpoint. ``server`` is the service (the
    router) seen through :class:`~sockjs.tornado.service.Service`."""

    server: Service

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
        headers = self.headers
        if origin:
            headers["Access-Control-Allow-Origin"] = origin
            headers["Access-Control-Allow-Credentials"] = "true"
        else:
            headers["Access-Control-Allow-Origin"] = "*"
        # Either answer depends on Origin: caches must keep them apart.
        headers["Vary"] = "Origin"

    def enable_cache(self) -> None:
        """Cacheable for a year."""
        self.headers["Cache-Control"] = CACHE_FOREVER
        self.headers["Expires"] = formatdate(time.time() + CACHE_TIME, usegmt=True)
        self.headers["Access-Control-Max-Age"] = str(CACHE_TIME)

    def disable_cache(self) -> None:
        """Never cached."""
        self.headers["Cache-Control"] = NO_CACHE

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
        self.headers["Set-Cookie"] = "JSESSIONID=%s; path=/" % value

    def preflight(self, methods: str) -> None:
        """Answer a CORS preflight allowing ``methods``."""
        self.enable_cache()
        self.handle_origin()
        self.headers["Access-Control-Allow-Methods"] = methods
        requested = self.request.headers.get("Access-Control-Request-Headers")
        if requested:
            self.headers["Access-Control-Allow-Headers"] = requested
        self.reply(b"", 204)

    # -- request info ----------------------------------------------------

    def get_conn_info(self) -> ConnectionInfo:
        """The :class:`ConnectionInfo` handed to ``on_open``."""
        req = self.request
        cookies = {name: morsel.value for name, morsel in req.cookies.items()}
        arguments = {k: [v.decode("utf-8", "replace") for v in vs] for k, vs in req.query_arguments.items()}
        return ConnectionInfo(req.remote_ip or "", cookies, arguments, req.headers, req.path)

    def get_query_argument(self, name: str) -> Optional[str]:
        """The last value of query argument ``name``, unstripped."""
        values = self.request.query_arguments.get(name)
        return values[-1].decode("utf-8", "replace") if values else None

    # -- errors -----------------------------------------------------------

    def send_error_text(self, status: int, text: str) -> None:
        """A plain-text answer to a client's mistake (the protocol's 500s
        and 404s, refusals): logged as a warning, never an error."""
        self.client_error = True
        self.headers["Content-Type"] = TEXT_PLAIN
        self.reply(text.encode("utf-8"), status)

    def method_not_allowed(self) -> None:
        self.headers["Content-Type"] = TEXT_PLAIN
        self.reply(b"405 Method Not Allowed", 405)

    def log_client_error(self, status: int, summary: str, ms: float) -> None:
        # A client's mistakes (and the protocol's 500s for bad callbacks
        # or broken JSON) go to the service's rate-limited log.
        self.server.client_errors.log("%d %s %.2fms (client error)", status, summary, ms)


def _cookie_safe(value: str) -> bool:
    return all(c.isalnum() or c in "-_.~+/=%" for c in value) and len(value) <= 256


class PreflightHandler(BaseHandler):
    """A handler whose OPTIONS answers a preflight (1.x name)."""

    access_methods = "OPTIONS, POST"

    def options(self, **kwargs: Any) -> None:
        if not self.origin_allowed():
            return self.send_error_text(403, "Origin not allowed")
        self.handle_session_cookie()
        self.preflight(self.access_methods)

    def verify_origin(self) -> Optional[bool]:
        return self.origin_allowed()
