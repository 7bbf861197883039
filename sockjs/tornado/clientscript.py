"""Serving the shipped browser client, ``sockjs-tornado.js``.

The file lives in the package (``sockjs/tornado/client/``) and each router
serves it as ``<prefix>/sockjs-tornado.js``, so a page needs no build step
and no copy of it: ``<script src="/chat/sockjs-tornado.js">`` after
sockjs-client.
"""

import os

from tornado import web

__all__ = ["CLIENT_DIR", "CLIENT_FILE", "ClientScriptHandler"]

#: Directory of the shipped client.
CLIENT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "client")
#: Path of ``sockjs-tornado.js``.
CLIENT_FILE = os.path.join(CLIENT_DIR, "sockjs-tornado.js")


class ClientScriptHandler(web.StaticFileHandler):
    """``sockjs-tornado.js`` with validation by ETag/Last-Modified (cached
    briefly: a page always gets the copy of the running version)."""

    def set_extra_headers(self, path: str) -> None:
        self.set_header("Cache-Control", "public, max-age=300")
