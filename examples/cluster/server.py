"""One node of the cluster example: a chat service at ``/chat`` whose
messages reach every node through Redis.

Run by ``run.py`` (several of them behind haproxy); alone it works too:
``python examples/cluster/server.py --port 8081 --redis redis://127.0.0.1:6379/0``.

Client protocol (one SockJS message each way):

* server -> client, on open: ``{"type": "hello", "node": "node1"}``;
* client -> server: ``{"sub": "chat"}`` subscribes (answered with
  ``{"type": "subscribed", "channel": "chat", "node": ...}``),
  ``{"unsub": "chat"}`` leaves, ``{"say": "text"}`` publishes
  ``{"type": "said", "text": ..., "via": <node>}`` to ``chat``;
* anything published with ``POST /publish?channel=<name>`` (body: the
  message; no channel: to everyone) arrives as it was sent.

``POST /publish?channel=c&repeat=N`` publishes N numbered copies.
``GET /status`` answers JSON: the node's name, pid, session ids and broker
counters.
"""

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from typing import Any, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
try:
    import sockjs.tornado  # noqa: F401
except ImportError:  # pragma: no cover - run from a checkout
    sys.path.insert(0, ROOT)

# The examples' shared routes (sockjs-client, style, icon).
sys.path.insert(0, os.path.dirname(HERE))

import example_common  # noqa: E402
from tornado import httpserver, web  # noqa: E402

from sockjs.tornado import SockJSConnection, SockJSRouter  # noqa: E402

NODE = "node"


class ChatConnection(SockJSConnection):
    def on_open(self, info: Any) -> None:
        # JSON text, like the published messages, so the page parses one form.
        self.send(json.dumps({"type": "hello", "node": NODE, "pid": os.getpid()}))

    def on_message(self, message: str) -> None:
        try:
            cmd = json.loads(message)
        except ValueError:
            cmd = {"say": message}
        if not isinstance(cmd, dict):
            return
        if isinstance(cmd.get("sub"), str) and cmd["sub"]:
            self.subscribe(cmd["sub"])
            self.send(json.dumps({"type": "subscribed", "channel": cmd["sub"], "node": NODE}))
        elif isinstance(cmd.get("unsub"), str):
            self.unsubscribe(cmd["unsub"])
        elif "say" in cmd:
            self.publish("chat", {"type": "said", "text": str(cmd["say"]), "via": NODE})


class PublishHandler(web.RequestHandler):
    def initialize(self, router: SockJSRouter) -> None:
        self.router = router

    def post(self) -> None:
        channel: Optional[str] = self.get_argument("channel", None)
        message = self.request.body.decode("utf-8")
        # ?repeat=N publishes N messages "<body><i>" in one go (benchmarks).
        repeat = int(self.get_argument("repeat", "0"))
        for text in [message + str(i) for i in range(repeat)] if repeat else [message]:
            if channel:
                self.router.publish(channel, text)
            else:
                self.router.publish_all(text)
        self.set_status(204)


class StatusHandler(web.RequestHandler):
    def initialize(self, router: SockJSRouter) -> None:
        self.router = router

    def get(self) -> None:
        sessions = [s.session_id for s in self.router.sessions if s.session_id]
        self.set_header("Content-Type", "application/json")
        self.write(
            json.dumps(
                {
                    "node": NODE,
                    "pid": os.getpid(),
                    "sessions": sessions,
                    "sessions_total": len(self.router.sessions),
                    "subscribers": {c: self.router.channels.subscribers(c) for c in self.router.channels.names},
                    "broker": self.router.channels.broker.stats(),
                }
            )
        )


def make_app(
    redis_url: Optional[str],
    heartbeat: float = 25,
    retry_max: float = 2.0,
    buffer_size: int = 10000,
    disconnect_delay: float = 5,
    recovery: bool = False,
) -> web.Application:
    settings = {
        "heartbeat_delay": heartbeat,
        "disconnect_delay": disconnect_delay,
        "broker": redis_url,
        "broker_retry_max": retry_max,
        "broker_buffer_size": buffer_size,
        "sockjs_url": "/static/sockjs.min.js",
    }
    if recovery:
        # Clients of the shipped sockjs-tornado.js survive this node's death.
        settings.update({"recovery": True, "history_size": 1000, "presence": True})
    router = SockJSRouter(ChatConnection, "/chat", settings)
    routes: list = [
        (r"/publish", PublishHandler, {"router": router}),
        (r"/status", StatusHandler, {"router": router}),
        (r"/()", web.StaticFileHandler, {"path": HERE, "default_filename": "index.html"}),
    ] + example_common.client_routes(require_client=False)
    app = web.Application(routes + router.urls)
    app.sockjs_router = router  # type: ignore[attr-defined]
    return app


async def main(args: argparse.Namespace) -> None:
    global NODE
    NODE = args.name
    app = make_app(args.redis, args.heartbeat, args.retry_max, args.buffer_size, args.disconnect_delay, args.recovery)
    # Behind haproxy: the client's address comes from X-Forwarded-For.
    server = httpserver.HTTPServer(app, xheaders=True)
    server.listen(args.port, args.host)
    # Start the broker now: another node may publish to everyone before a
    # client arrives here, and /status should show the connection.
    app.sockjs_router.channels.start()  # type: ignore[attr-defined]
    logging.info("%s listening on http://%s:%d (pid %d)", NODE, args.host, args.port, os.getpid())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.stop()
    await app.sockjs_router.shutdown(timeout=1)  # type: ignore[attr-defined]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--name", default="node")
    parser.add_argument("--redis", default=None, help="redis:// URL (none: single process)")
    parser.add_argument("--heartbeat", type=float, default=25)
    parser.add_argument("--disconnect-delay", type=float, default=5)
    parser.add_argument("--retry-max", type=float, default=2.0)
    parser.add_argument("--buffer-size", type=int, default=10000)
    parser.add_argument(
        "--recovery", action="store_true", help="connection state recovery, channel history and presence on"
    )
    parser.add_argument("--debug", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.INFO,
        format="%(asctime)s " + args.name + " %(name)s %(levelname)s %(message)s",
    )
    if not args.debug:
        # haproxy's health checks would fill the terminal.
        logging.getLogger("tornado.access").setLevel(logging.WARNING)
    asyncio.run(main(args))
