"""Bench server: plain Tornado, the ceiling of the stack sockjs-tornado
stands on: /websocket (echo), /bcast (websocket broadcast), /hello (HTTP)."""

import asyncio
import sys

from tornado import web, websocket


class Echo(websocket.WebSocketHandler):
    def check_origin(self, origin: str) -> bool:
        return True

    def on_message(self, message: "str | bytes") -> None:
        self.write_message(message)


class Bcast(websocket.WebSocketHandler):
    clients: "set[Bcast]" = set()

    def check_origin(self, origin: str) -> bool:
        return True

    def open(self) -> None:
        self.clients.add(self)

    def on_message(self, message: "str | bytes") -> None:
        for c in self.clients:
            c.write_message(message)

    def on_close(self) -> None:
        self.clients.discard(self)


class Hello(web.RequestHandler):
    def get(self) -> None:
        self.write("Hello, world")

    def post(self) -> None:
        self.write("Hello, world")


async def main() -> None:
    app = web.Application([("/websocket", Echo), ("/bcast", Bcast), ("/hello", Hello)])
    app.listen(int(sys.argv[1]), "127.0.0.1", backlog=4096)
    print("LISTENING", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
