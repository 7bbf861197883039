"""The SockJS conformance test server.

Run ``python examples/test_server.py --port 8081`` and point the public
protocol suite, or a sockjs-client test page, at http://127.0.0.1:8081.
docs/protocol.rst says how to run the public suite against it.
"""

import argparse
import asyncio
import logging
from typing import Any, Dict, Set

from tornado import web

from sockjs.tornado import SockJSConnection, SockJSRouter
from sockjs.tornado.settings import DEFAULT_SOCKJS_URL


class EchoConnection(SockJSConnection):
    def on_message(self, message: str) -> None:
        self.send(message)


class CloseConnection(SockJSConnection):
    def on_open(self, info: Any) -> None:
        self.close()

    def on_message(self, message: str) -> None:
        pass


class TickerConnection(SockJSConnection):
    def on_open(self, info: Any) -> None:
        self._ticker = asyncio.get_running_loop().call_later(1, self._tick)

    def _tick(self) -> None:
        self.send("tick!")
        self._ticker = asyncio.get_running_loop().call_later(1, self._tick)

    def on_message(self, message: str) -> None:
        pass

    def on_close(self) -> None:
        self._ticker.cancel()


class AmplifyConnection(SockJSConnection):
    def on_message(self, message: str) -> None:
        try:
            n = int(message)
        except ValueError:
            n = 1
        if not 0 < n < 19:
            n = 1
        self.send("x" * 2**n)


class BroadcastConnection(SockJSConnection):
    clients: Set["BroadcastConnection"] = set()

    def on_open(self, info: Any) -> None:
        self.clients.add(self)

    def on_message(self, message: str) -> None:
        self.broadcast(self.clients, message)

    def on_close(self) -> None:
        self.clients.discard(self)


def make_app(sockjs_url: str = DEFAULT_SOCKJS_URL, **overrides: Any) -> web.Application:
    """The application with every service of the conformance suite;
    ``overrides`` are extra settings for every service (tests use it)."""
    base: Dict[str, Any] = {"sockjs_url": sockjs_url, "jsessionid": False}
    base.update(overrides)
    routers = [
        SockJSRouter(EchoConnection, "/echo", dict(base, response_limit=4096)),
        SockJSRouter(CloseConnection, "/close", base),
        SockJSRouter(TickerConnection, "/ticker", base),
        SockJSRouter(AmplifyConnection, "/amplify", base),
        SockJSRouter(BroadcastConnection, "/broadcast", base),
        SockJSRouter(EchoConnection, "/disabled_websocket_echo", dict(base, disabled_transports=["websocket"])),
        SockJSRouter(EchoConnection, "/cookie_needed_echo", dict(base, jsessionid=True)),
    ]
    urls: list = []
    for r in routers:
        r.apply_routes(urls)
    return web.Application(urls)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--sockjs-url", default=DEFAULT_SOCKJS_URL)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    app = make_app(args.sockjs_url)
    app.listen(args.port, args.host)
    logging.info("SockJS test server on http://%s:%d", args.host, args.port)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
