"""Echo: every message comes straight back. The smallest SockJS service.

Run ``python examples/echo/server.py`` (or ``bash scripts/demo.sh``) and
open http://127.0.0.1:8080/.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import example_common
from tornado import web

from sockjs.tornado import SockJSConnection, SockJSRouter

HERE = os.path.dirname(os.path.abspath(__file__))


class EchoConnection(SockJSConnection):
    def on_message(self, message: str) -> None:
        self.send(message)


def make_app() -> web.Application:
    router = SockJSRouter(EchoConnection, "/echo", example_common.SOCKJS_SETTINGS)
    return web.Application(router.urls + example_common.page_routes(HERE))


if __name__ == "__main__":
    args = example_common.parse_args("SockJS echo example", 8080)
    example_common.serve(make_app(), args, "echo")
