"""Bench server: aiohttp ``sockjs`` 0.13 (PyPI, bench venv), same services
as ours.py."""

import sys

from aiohttp import web

import sockjs
from sockjs.transports.base import StreamingTransport

# The same effectively unlimited streaming response as the other servers.
StreamingTransport.maxsize = 1 << 30


async def echo(manager, session, msg):
    if msg.type == sockjs.MsgType.MESSAGE:
        session.send(msg.data)


async def bcast(manager, session, msg):
    if msg.type == sockjs.MsgType.MESSAGE:
        manager.broadcast(msg.data)


async def on_startup(app):
    print("LISTENING", flush=True)


def main():
    app = web.Application()
    sockjs.add_endpoint(app, echo, name="echo", prefix="/echo")
    sockjs.add_endpoint(app, bcast, name="bcast", prefix="/bcast")
    app.on_startup.append(on_startup)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, backlog=4096, access_log=None)


if __name__ == "__main__":
    main()
