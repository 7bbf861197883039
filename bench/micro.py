#!/usr/bin/env python3
"""In-process cost of our hot paths, without sockets: CPU microseconds per
message for websocket echo (SockJS and raw), per delivery for a broadcast.
A fake transport swallows writes, so only our Python is timed. Used while
optimising (bench/README.md); the real figures come from bench/run.py.

    python3 bench/micro.py
"""

import asyncio
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from servers.ours import Bcast, Echo  # the bench server's own services

from sockjs.tornado import SockJSRouter
from sockjs.tornado.session import ConnectionInfo
from sockjs.tornado.transports.rawwebsocket import RawWebSocketReceiver
from sockjs.tornado.transports.websocket import WebSocketReceiver
from sockjs.tornado.websocket import WebSocketConnection


class FakeTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.n = 0

    def write(self, data: bytes) -> None:  # type: ignore[override]
        self.n += 1

    def get_write_buffer_size(self) -> int:
        return 0

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass


def masked(payload: bytes) -> bytes:
    mask = b"\x11\x22\x33\x44"
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes((0x81, 0x80 | len(payload))) + mask + body


INFO = ConnectionInfo("127.0.0.1", {}, {}, {}, "/")


def conn_for(receiver: object) -> "tuple[WebSocketConnection, FakeTransport]":
    c = WebSocketConnection(receiver, 1 << 20, 1 << 22)  # type: ignore[arg-type]
    t = FakeTransport()
    c.connection_made(t)
    return c, t


def per_us(fn, n: int) -> float:
    t = time.process_time()
    fn(n)
    return (time.process_time() - t) * 1e6 / n


async def main() -> None:
    router = SockJSRouter(Echo, "/echo")
    n = 200000

    c, t = conn_for(WebSocketReceiver(router, INFO))
    frame = masked(b'["hello, world!"]')

    def sockjs_echo(k: int) -> None:
        for _ in range(k):
            c.data_received(frame)

    print("sockjs websocket echo: %.2f us/msg" % per_us(sockjs_echo, n))

    rc, rt = conn_for(RawWebSocketReceiver(router, INFO))
    rframe = masked(b"hello, world!")

    def raw_echo(k: int) -> None:
        for _ in range(k):
            rc.data_received(rframe)

    print("raw websocket echo:    %.2f us/msg" % per_us(raw_echo, n))

    brouter = SockJSRouter(Bcast, "/bcast")
    conns = [conn_for(WebSocketReceiver(brouter, INFO)) for _ in range(10000)]
    clients = list(Bcast.clients)
    m = 20

    for burst in (1, 4):
        # ``burst`` broadcasts per loop turn, then the turn ends (corked
        # frames go out then).
        t0 = time.process_time()
        for _ in range(m):
            for _ in range(burst):
                brouter.broadcast(clients, "@")
            await asyncio.sleep(0)
        await asyncio.sleep(0)
        per = (time.process_time() - t0) * 1e6 / (m * burst * len(clients))
        writes = conns[0][1].n
        print(
            "broadcast to 10k, %d per loop turn: %.2f us/delivery (%d writes on one connection so far)"
            % (burst, per, writes)
        )


if __name__ == "__main__":
    asyncio.run(main())
