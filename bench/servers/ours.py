"""Bench server: this package (sockjs-tornado 2.x), services /echo and /bcast,
and /pub (channels: every session subscribes to "news", every message is
published to it) where the package has channels.

python ours.py PORT [uvloop]     # "uvloop": run on uvloop, not asyncio's loop
"""

import asyncio
import json
import os
import sys

# BENCH_OURS_ROOT: another copy of the package (run.py --base).
sys.path.insert(
    0, os.environ.get("BENCH_OURS_ROOT") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
)

from tornado import web

from sockjs.tornado import SockJSConnection, SockJSRouter

SETTINGS = {"response_limit": 1 << 30}
# Extra router settings as JSON, for experiments (e.g. '{"disable_nagle": false}').
SETTINGS.update(json.loads(os.environ.get("BENCH_SETTINGS") or "{}"))


class Echo(SockJSConnection):
    def on_message(self, message: str) -> None:
        self.send(message)


class Bcast(SockJSConnection):
    clients: "set[Bcast]" = set()

    def on_open(self, info: object) -> None:
        self.clients.add(self)

    def on_message(self, message: str) -> None:
        self.broadcast(self.clients, message)

    def on_close(self) -> None:
        self.clients.discard(self)


class Pub(SockJSConnection):
    def on_open(self, info: object) -> None:
        self.subscribe("news")

    def on_message(self, message: str) -> None:
        self.publish("news", message)


async def main() -> None:
    urls: list = []
    SockJSRouter(Echo, "/echo", SETTINGS).apply_routes(urls)
    SockJSRouter(Bcast, "/bcast", SETTINGS).apply_routes(urls)
    try:
        # The compressed echo (ws_echo_deflate), where the package has it.
        SockJSRouter(Echo, "/zecho", dict(SETTINGS, websocket_compression={})).apply_routes(urls)
    except ValueError:
        pass
    if hasattr(SockJSConnection, "subscribe"):
        SockJSRouter(Pub, "/pub", SETTINGS).apply_routes(urls)
    web.Application(urls).listen(int(sys.argv[1]), "127.0.0.1", backlog=4096)
    if os.environ.get("BENCH_GC_FREEZE"):
        import gc

        gc.freeze()
    print("LISTENING", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    if sys.argv[2:] == ["uvloop"]:
        import uvloop

        uvloop.run(main())
    else:
        asyncio.run(main())
