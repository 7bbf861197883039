"""sockjs-tornado: a SockJS server for Tornado.

Usage::

    from tornado import web, ioloop
    from sockjs.tornado import SockJSRouter, SockJSConnection

    class EchoConnection(SockJSConnection):
        def on_message(self, msg):
            self.send(msg)

    EchoRouter = SockJSRouter(EchoConnection, '/echo')
    app = web.Application(EchoRouter.urls)
    app.listen(9999)
    ioloop.IOLoop.current().start()
"""

from sockjs.tornado.conn import SockJSConnection
from sockjs.tornado.connectioninfo import CloseReason, ConnectionInfo
from sockjs.tornado.router import SockJSRouter
from sockjs.tornado.version import __version__

__all__ = ["SockJSRouter", "SockJSConnection", "ConnectionInfo", "CloseReason", "__version__"]
