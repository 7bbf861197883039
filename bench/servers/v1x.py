"""Bench server: sockjs-tornado 1.0.7 from PyPI (bench venv), same services
as ours.py, on the same Tornado."""

import asyncio
import sys

from tornado import web

from sockjs.tornado import SockJSConnection, SockJSRouter

SETTINGS = {"response_limit": 1 << 30}


class Echo(SockJSConnection):
    def on_message(self, message):
        self.send(message)


class Bcast(SockJSConnection):
    clients = set()

    def on_open(self, info):
        self.clients.add(self)

    def on_message(self, message):
        self.broadcast(self.clients, message)

    def on_close(self):
        self.clients.discard(self)


async def main():
    # Routers are built inside the running loop: 1.0.7 grabs
    # IOLoop.instance() at construction, which under Tornado 6 must be the
    # asyncio loop that serves.
    urls = []
    urls += SockJSRouter(Echo, "/echo", SETTINGS).urls
    urls += SockJSRouter(Bcast, "/bcast", SETTINGS).urls
    web.Application(urls).listen(int(sys.argv[1]), "127.0.0.1", backlog=4096)
    print("LISTENING", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
