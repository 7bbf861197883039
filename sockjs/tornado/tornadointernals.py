"""Every private attribute of Tornado (and asyncio) that sockjs-tornado
uses, each with the reason, in one place.

Everything else runs on public API. ``tests/test_tornado_internals.py``
holds one canary per attribute: when a release renames or removes one, that
test fails naming it, instead of the server quietly behaving differently.
Nothing here falls back silently: a missing attribute raises.
"""

import asyncio
from typing import Any

__all__ = ["connection_stream", "connection_closed", "set_nodelay", "set_read_size"]


def connection_stream(connection: Any) -> Any:
    """The ``IOStream`` under a ``tornado.http1connection.HTTP1Connection``
    (its ``stream`` attribute, not documented).

    Why: a streaming response writes many small chunks and must have
    Nagle's algorithm off while it lasts (``disable_nagle``); Tornado turns
    it on only around ``finish()``, and ``HTTPConnection`` has no public
    way to reach the socket option.
    """
    return connection.stream


def connection_closed(connection: Any) -> bool:
    """Whether the client already left (see :func:`connection_stream`).

    Why: ``HTTP1Connection.set_close_callback`` only fires for a close
    that happens after the request was read; a client that sent its
    request and hung up at once (the close read along with the request)
    is never reported, and its long poll would wait for ever.
    """
    return bool(connection_stream(connection).closed())


def set_nodelay(connection: Any, value: bool = True) -> None:
    """``TCP_NODELAY`` on the connection's socket (see
    :func:`connection_stream`)."""
    stream = connection_stream(connection)
    if not stream.closed():
        stream.set_nodelay(value)


#: What :func:`set_read_size` sets.
READ_SIZE = 65536


def set_read_size(transport: asyncio.BaseTransport, size: int = READ_SIZE) -> None:
    """How much asyncio's selector transport reads at a time (its
    ``max_size``, 256 KiB by default).

    Why: a 256 KiB read buffer is past glibc's mmap threshold, mapped and
    unmapped on every read until malloc adapts, which halved websocket echo
    throughput on a fresh server. Speed only, never correctness: other
    loops (uvloop) have no such attribute and read their own way, so there
    it is left alone.
    """
    if type(transport).__module__.startswith("asyncio."):
        if not hasattr(transport, "max_size"):
            raise AttributeError(
                "asyncio's %s has no max_size any more: see sockjs/tornado/tornadointernals.py"
                % type(transport).__name__
            )
        transport.max_size = size
