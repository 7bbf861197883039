"""Canaries: one per private attribute of Tornado used by
``sockjs/tornado/tornadointernals.py`` (``HTTP1Connection.stream``). When a release renames or drops
one, the test fails naming it; nothing falls back quietly. And no other
module uses Tornado's private names."""

import asyncio
import os
import re
import socket

import pytest
from tornado import http1connection, iostream

from sockjs.tornado import tornadointernals
from sockjs.tornado.wsconnection import WebSocketConnection

ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "sockjs")


def test_http1connection_stream() -> None:
    async def check() -> None:
        listener = socket.create_server(("127.0.0.1", 0))
        client = socket.create_connection(listener.getsockname())
        server_side, _ = listener.accept()
        stream = iostream.IOStream(server_side)
        try:
            conn = http1connection.HTTP1Connection(stream, is_client=False)
            assert getattr(conn, "stream", None) is stream, (
                "tornado.http1connection.HTTP1Connection.stream changed: "
                "tornadointernals.connection_stream() needs a new way to reach the IOStream"
            )
            assert tornadointernals.connection_stream(conn) is stream
            assert tornadointernals.connection_closed(conn) is False
            tornadointernals.set_nodelay(conn, True)
            assert server_side.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
            tornadointernals.set_nodelay(conn, False)
            assert not server_side.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
            # A client that hung up is seen once the stream noticed.
            client.close()
            await asyncio.wait_for(stream.read_until_close(), 5)
            assert tornadointernals.connection_closed(conn) is True
            tornadointernals.set_nodelay(conn)  # a closed stream: nothing to do, no error
        finally:
            stream.close()
            client.close()
            listener.close()

    asyncio.run(check())


def test_a_detached_connection_counts_as_closed() -> None:
    async def check() -> None:
        a, b = socket.socketpair()
        stream = iostream.IOStream(a)
        try:
            conn = http1connection.HTTP1Connection(stream, is_client=False)
            assert conn.detach() is stream
            assert tornadointernals.connection_stream(conn) is None
            assert tornadointernals.connection_closed(conn) is True
            tornadointernals.set_nodelay(conn)
        finally:
            stream.close()
            b.close()

    asyncio.run(check())


def test_a_missing_attribute_is_named_not_worked_around() -> None:
    with pytest.raises(AttributeError, match="HTTP1Connection has no 'stream' attribute"):
        tornadointernals.connection_stream(object())
    with pytest.raises(AttributeError, match="'stream'"):
        tornadointernals.connection_closed(object())


def test_websocket_reads_use_public_asyncio_api() -> None:
    # The read size is ours through asyncio.BufferedProtocol (asyncio and
    # uvloop alike), not asyncio's private transport.max_size (which the
    # scan below keeps out of every module).
    assert issubclass(WebSocketConnection, asyncio.BufferedProtocol)


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
