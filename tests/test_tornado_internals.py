"""Canaries: one per private attribute of Tornado or asyncio used by
``sockjs/tornado/tornadointernals.py``. When a release renames or drops
one, the test fails naming it; nothing falls back quietly. And no other
module uses Tornado's private names."""

import asyncio
import os
import re
import socket

from tornado import http1connection, iostream

from sockjs.tornado import tornadointernals

ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "sockjs")


def test_http1connection_stream() -> None:
    async def check() -> None:
        a, b = socket.socketpair()
        stream = iostream.IOStream(a)
        try:
            conn = http1connection.HTTP1Connection(stream, is_client=False)
            assert getattr(conn, "stream", None) is stream, (
                "tornado.http1connection.HTTP1Connection.stream changed: "
                "tornadointernals.connection_stream() needs a new way to reach the IOStream"
            )
            assert tornadointernals.connection_stream(conn) is stream
            assert tornadointernals.connection_closed(conn) is False
            tornadointernals.set_nodelay(conn)
            stream.close()
            assert tornadointernals.connection_closed(conn) is True
        finally:
            stream.close()
            b.close()

    asyncio.run(check())


def test_asyncio_selector_transport_max_size() -> None:
    async def check() -> None:
        # The server side closes at once: from Python 3.12 on, wait_closed()
        # below waits for every accepted connection to end.
        server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        transport, _ = await asyncio.get_running_loop().create_connection(asyncio.Protocol, "127.0.0.1", port)
        try:
            assert isinstance(getattr(transport, "max_size", None), int), (
                "asyncio's %s.max_size changed: tornadointernals.set_read_size() needs a new way"
                % type(transport).__name__
            )
            tornadointernals.set_read_size(transport, 4096)
            assert transport.max_size == 4096  # type: ignore[attr-defined]
        finally:
            transport.close()
            server.close()
            await server.wait_closed()

    asyncio.run(check())


# Tornado names that were used before and must not come back outside the
# one module (RequestHandler's and IOStream's insides).
_PRIVATE = re.compile(
    r"\._(headers|finished|write_buffer|read_buffer\w*|transforms|status_code|"
    r"clear_representation_headers|request_summary|log|headers_written)\b"
    r"|\bconnection\.stream\b|\.max_size\b"
)


def test_no_private_tornado_names_outside_the_one_module() -> None:
    found = []
    for dirpath, _, files in os.walk(ROOT):
        for name in files:
            path = os.path.join(dirpath, name)
            if not name.endswith(".py") or path.endswith("tornadointernals.py"):
                continue
            with open(path, encoding="utf-8") as f:
                for n, line in enumerate(f, 1):
                    code = line.split("#", 1)[0]
                    if _PRIVATE.search(code) and "self._" not in code:
                        found.append("%s:%d: %s" % (os.path.relpath(path, ROOT), n, line.strip()))
    assert not found, "private Tornado/asyncio names outside tornadointernals.py:\n" + "\n".join(found)
