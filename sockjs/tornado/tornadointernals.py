"""Every private attribute of Tornado that sockjs-tornado uses, each with
the reason, in one place. There is one: ``HTTP1Connection.stream``. Nothing
of asyncio's private side is used (the websocket reads size their own
buffer through ``asyncio.BufferedProtocol``, which uvloop implements too).

Everything else runs on public API. ``tests/test_tornado_internals.py``
holds one canary per attribute: when a release renames or removes one, that
test fails naming it, instead of the server quietly behaving differently.
Nothing here falls back silently: a missing attribute raises an error that
names it.
"""

from typing import Any

__all__ = ["connection_stream", "connection_closed", "set_nodelay"]


def connection_stream(connection: Any) -> Any:
    """The ``IOStream`` under a ``tornado.http1connection.HTTP1Connection``
    (its ``stream`` attribute, not documented).

    Why: a streaming response writes many small chunks and must have
    Nagle's algorithm off while it lasts (``disable_nagle``); Tornado turns
    it on only around ``finish()``, and ``HTTPConnection`` has no public
    way to reach the socket option.

    ``None`` once the connection was detached (Tornado's own state then).
    """
    try:
        return connection.stream
    except AttributeError:
        raise AttributeError(
            "tornado.http1connection.HTTP1Connection has no 'stream' attribute in this Tornado release: "
            "see sockjs/tornado/tornadointernals.py"
        ) from None


def connection_closed(connection: Any) -> bool:
    """Whether the client already left (see :func:`connection_stream`).

    Why: ``HTTP1Connection.set_close_callback`` only fires for a close
    that happens after the request was read; a client that sent its
    request and hung up at once (the close read along with the request)
    is never reported, and its long poll would wait for ever.
    """
    stream = connection_stream(connection)
    return stream is None or bool(stream.closed())


def set_nodelay(connection: Any, value: bool = True) -> None:
    """``TCP_NODELAY`` on the connection's socket (see
    :func:`connection_stream`)."""
    stream = connection_stream(connection)
    if stream is not None and not stream.closed():
        stream.set_nodelay(value)
