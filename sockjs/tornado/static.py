"""The service's fixed pages: greeting, ``/info`` and the iframe page."""

import hashlib
import json
import secrets
from typing import Any, Dict, Tuple

from sockjs.tornado.basehandler import BaseHandler

__all__ = ["GreetingsHandler", "InfoHandler", "IFrameHandler", "IFRAME_TEMPLATE", "iframe_page", "iframe_page_and_etag"]

#: The iframe page, byte for byte as the protocol defines it; ``%s`` is
#: the ``sockjs_url`` setting.
IFRAME_TEMPLATE = """<!DOCTYPE html>
<html>
<head>
  <meta http-equiv="X-UA-Compatible" content="IE=edge" />
  <meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
  <script src="%s"></script>
  <script>
    document.domain = document.domain;
    SockJS.bootstrap_iframe();
  </script>
</head>
<body>
  <h2>Don't panic!</h2>
  <p>This is a SockJS hidden iframe. It's used for cross domain magic.</p>
</body>
</html>"""


def iframe_page(sockjs_url: str) -> bytes:
    """The iframe page for ``sockjs_url`` (HTML-escaped into the page)."""
    safe = sockjs_url.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
    return (IFRAME_TEMPLATE % safe).encode("utf-8")


class GreetingsHandler(BaseHandler):
    """``P`` and ``P/``: the greeting."""

    def get(self) -> None:
        self.headers["Content-Type"] = "text/plain; charset=UTF-8"
        self.reply(b"Welcome to SockJS!\n")


class InfoHandler(BaseHandler):
    """``P/info``: what the client needs to know before it picks a
    transport, with fresh entropy for its random numbers."""

    methods = ("GET", "OPTIONS")

    def get(self) -> None:
        if not self.origin_allowed():
            return self.send_error_text(403, "Origin not allowed")
        self.headers["Content-Type"] = "application/json; charset=UTF-8"
        self.disable_cache()
        self.handle_origin()
        info: Dict[str, Any] = {
            "websocket": self.server.websockets_enabled,
            "cookie_needed": self.server.cookie_needed,
            "origins": ["*:*"],
            "entropy": secrets.randbits(32),
        }
        self.reply(json.dumps(info).encode("utf-8"))

    def options(self) -> None:
        if not self.origin_allowed():
            return self.send_error_text(403, "Origin not allowed")
        self.preflight("OPTIONS, GET")


class IFrameHandler(BaseHandler):
    """``P/iframe.html`` and ``P/iframe-<version>.html``: the page that
    bootstraps the iframe-based transports; cacheable, with an ETag.
    Only the service itself and the allowed origins may frame it
    (``Content-Security-Policy: frame-ancestors``, and 403 for a page
    the origin check refuses)."""

    embedded = True

    def get(self) -> None:
        if not self.origin_allowed():
            return self.send_error_text(403, "Origin not allowed")
        frame_ancestors = self.server.origin_policy.frame_ancestors()
        if frame_ancestors is not None:
            self.headers["Content-Security-Policy"] = frame_ancestors
        page, etag = self.server.iframe_page()
        inm = self.request.headers.get("If-None-Match")
        self.headers["ETag"] = etag
        if inm and etag in inm:
            self.reply(b"", 304)
            return
        self.headers["Content-Type"] = "text/html; charset=UTF-8"
        self.enable_cache()
        del self.headers["Access-Control-Max-Age"]
        self.reply(page)


def iframe_page_and_etag(sockjs_url: str) -> Tuple[bytes, str]:
    """The iframe page for ``sockjs_url`` and its (stable) ETag."""
    body = iframe_page(sockjs_url)
    return body, '"%s"' % hashlib.md5(body).hexdigest()
