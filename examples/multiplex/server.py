"""Multiplex: three channels over one SockJS connection.

Run ``python examples/multiplex/server.py`` and open http://127.0.0.1:8082/.
The server side is :mod:`sockjs.tornado.multiplex`; the page uses
``multiplex.js`` (in this directory), a small client helper for the same
wire format. Each channel is an ordinary ``SockJSConnection`` subclass:

* ``ann`` answers every message;
* ``bob`` is an ``async def`` handler that takes its time, without holding
  up the other channels;
* ``carl`` greets, then closes his channel from the server side.
"""

import asyncio
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import example_common
from tornado import web

from sockjs.tornado import ConnectionInfo, SockJSConnection, SockJSRouter
from sockjs.tornado.multiplex import MultiplexConnection

HERE = os.path.dirname(os.path.abspath(__file__))


class AnnConnection(SockJSConnection):
    def on_open(self, info: ConnectionInfo) -> None:
        self.send("Ann says hi!")

    def on_message(self, message: str) -> None:
        self.send("Ann heard: " + message)


class BobConnection(SockJSConnection):
    def on_open(self, info: ConnectionInfo) -> None:
        self.send("Bob is thinking slowly today.")

    async def on_message(self, message: str) -> None:
        await asyncio.sleep(0.5)
        self.send("Bob, reversed: " + message[::-1])


class CarlConnection(SockJSConnection):
    def on_open(self, info: ConnectionInfo) -> None:
        self.send("Carl says goodbye!")
        self.close()

    def on_message(self, message: str) -> None:
        pass


def make_app() -> web.Application:
    mux = MultiplexConnection.get(ann=AnnConnection, bob=BobConnection, carl=CarlConnection)
    router = SockJSRouter(mux, "/multiplex", example_common.SOCKJS_SETTINGS)
    return web.Application(router.urls + example_common.page_routes(HERE))


if __name__ == "__main__":
    args = example_common.parse_args("SockJS multiplex example", 8082)
    example_common.serve(make_app(), args, "multiplex")
