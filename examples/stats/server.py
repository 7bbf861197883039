"""Stats: a live chart of ``router.stats.dump()``, plus the Prometheus
endpoint.

Run ``python examples/stats/server.py`` and open http://127.0.0.1:8083/.
The page opens echo clients to make the numbers move and draws the echo
router's statistics once a second, pushed over a second SockJS service,
``/statsfeed``. ``/metrics`` serves the same counters (and more) in the
Prometheus text format.
"""

import asyncio
import json
import os
import sys
import time
from typing import Optional, Set

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import example_common
from tornado import web

from sockjs.tornado import ConnectionInfo, SockJSConnection, SockJSRouter
from sockjs.tornado.metrics import MetricsHandler

HERE = os.path.dirname(os.path.abspath(__file__))


class EchoConnection(SockJSConnection):
    def on_message(self, message: str) -> None:
        self.send(message)


class StatsFeed(SockJSConnection):
    """Pushes the watched router's ``stats.dump()`` every second to every
    open feed; the timer runs only while someone watches."""

    watched: Optional[SockJSRouter] = None
    clients: Set["StatsFeed"] = set()
    _timer: Optional[asyncio.TimerHandle] = None

    def on_open(self, info: ConnectionInfo) -> None:
        cls = type(self)
        cls.clients.add(self)
        self.send(cls.sample())
        if cls._timer is None:
            cls._timer = asyncio.get_running_loop().call_later(1.0, cls._tick)

    def on_message(self, message: str) -> None:
        pass

    def on_close(self) -> None:
        cls = type(self)
        cls.clients.discard(self)
        if not cls.clients and cls._timer is not None:
            cls._timer.cancel()
            cls._timer = None

    @classmethod
    def sample(cls) -> str:
        assert cls.watched is not None
        return json.dumps({"time": time.time(), "stats": cls.watched.stats.dump()})

    @classmethod
    def _tick(cls) -> None:
        cls._timer = None
        if not cls.clients:
            return
        next(iter(cls.clients)).broadcast(cls.clients, cls.sample())
        cls._timer = asyncio.get_running_loop().call_later(1.0, cls._tick)


def make_app() -> web.Application:
    echo = SockJSRouter(EchoConnection, "/echo", example_common.SOCKJS_SETTINGS)
    feed_class = type("StatsFeed", (StatsFeed,), {"watched": echo, "clients": set()})
    feed = SockJSRouter(feed_class, "/statsfeed", example_common.SOCKJS_SETTINGS)
    return web.Application(
        echo.urls
        + feed.urls
        + example_common.page_routes(HERE)
        + [
            (r"/metrics", MetricsHandler, {"routers": [echo, feed]}),
        ]
    )


if __name__ == "__main__":
    args = example_common.parse_args("SockJS stats example (live chart of stats.dump())", 8083)
    example_common.serve(make_app(), args, "stats")
