"""permessage-deflate (RFC 7692) compression of websocket messages, without
I/O.

:class:`DeflateParams` is what the handshake agreed on
(:mod:`sockjs.tornado.wsnegotiate`); it makes the :class:`Deflater` that
compresses the server's messages and the :class:`Inflater` that
decompresses the client's (for :class:`~sockjs.tornado.wsframes.FrameParser`).

Without context takeover each message is compressed on its own: the same
message compresses to the same bytes for every connection with the same
parameters, so a broadcast is compressed once (:attr:`DeflateParams.share_key`),
and such connections share one compressor per thread instead of holding
one each.
"""

import threading
import zlib
from typing import Any, Dict, Mapping, NamedTuple, Optional, Tuple

from sockjs.tornado.wsframes import ProtocolError

__all__ = ["DeflateParams", "Deflater", "Inflater", "check_options", "DEFAULT_LEVEL", "DEFAULT_MEM_LEVEL"]

#: What ends every compressed message on the wire (RFC 7692 7.2.1): the
#: sender strips it, the receiver puts it back.
_TAIL = b"\x00\x00\xff\xff"

#: zlib's defaults, as Tornado uses them.
DEFAULT_LEVEL = zlib.Z_DEFAULT_COMPRESSION
DEFAULT_MEM_LEVEL = 8

#: The keys of the ``websocket_compression`` setting: Tornado's
#: ``get_compression_options()`` keys, and one of ours.
OPTION_KEYS = ("compression_level", "mem_level", "server_no_context_takeover")


def check_options(key: str, value: Any) -> None:
    """Validate a ``websocket_compression`` setting named ``key``: ``None``
    (off) or a dict of :data:`OPTION_KEYS`.

    :raises TypeError: not ``None`` nor a dict, or a value of the wrong type.
    :raises ValueError: an unknown key, or a value out of range.
    """
    if value is None:
        return
    if not isinstance(value, Mapping):
        raise TypeError("setting %r must be None or a dict, not %r" % (key, value))
    for name, v in value.items():
        if name not in OPTION_KEYS:
            raise ValueError("setting %r: unknown option %r (known: %s)" % (key, name, ", ".join(OPTION_KEYS)))
        if name == "server_no_context_takeover":
            if not isinstance(v, bool):
                raise TypeError("setting %r: %r must be a bool, not %r" % (key, name, v))
            continue
        if isinstance(v, bool) or not isinstance(v, int):
            raise TypeError("setting %r: %r must be an int, not %r" % (key, name, v))
    level = value.get("compression_level", DEFAULT_LEVEL)
    if not -1 <= level <= 9:
        raise ValueError("setting %r: compression_level must be within -1..9, not %r" % (key, level))
    mem_level = value.get("mem_level", DEFAULT_MEM_LEVEL)
    if not 1 <= mem_level <= 9:
        raise ValueError("setting %r: mem_level must be within 1..9, not %r" % (key, mem_level))


class DeflateParams(NamedTuple):
    """The agreed permessage-deflate parameters, and the server's own
    options (``compression_level``, ``mem_level``)."""

    server_no_context_takeover: bool = False
    client_no_context_takeover: bool = False
    #: The window the server compresses with (8-15).
    server_max_window_bits: int = 15
    compression_level: int = DEFAULT_LEVEL
    mem_level: int = DEFAULT_MEM_LEVEL

    @property
    def share_key(self) -> Optional[str]:
        """A key under which a compressed frame may be shared with every
        connection that has the same key; ``None`` when each connection
        compresses with its own context (context takeover)."""
        if not self.server_no_context_takeover:
            return None
        return "deflate:%d:%d:%d" % (self._wbits, self.compression_level, self.mem_level)

    @property
    def _wbits(self) -> int:
        # zlib has no raw deflate with a 256-byte window; with 512 bytes its
        # matches still reach back at most 250 bytes (512 minus its
        # look-ahead), which a 256-byte window decodes.
        return max(self.server_max_window_bits, 9)

    def deflater(self) -> "Deflater":
        """The compressor of the server's messages: one per connection with
        context takeover, else one shared per thread."""
        if not self.server_no_context_takeover:
            return Deflater(self._wbits, self.compression_level, self.mem_level, False)
        shared: Dict[Tuple[Any, ...], Deflater] = _shared.__dict__.setdefault("deflaters", {})
        key = (self._wbits, self.compression_level, self.mem_level)
        deflater = shared.get(key)
        if deflater is None:
            deflater = shared[key] = Deflater(*key, True)
        return deflater

    def inflater(self) -> "Inflater":
        """The decompressor of the client's messages."""
        return Inflater(self.client_no_context_takeover)


_shared = threading.local()


class Deflater:
    """Compresses whole messages for the wire. With ``no_context_takeover``
    each message is compressed on its own (and the object may serve any
    number of connections of one thread)."""

    __slots__ = ("_obj", "_flush")

    def __init__(self, wbits: int, level: int, mem_level: int, no_context_takeover: bool) -> None:
        self._obj = zlib.compressobj(level, zlib.DEFLATED, -wbits, mem_level)
        # A full flush also forgets everything before it: the next message
        # starts from an empty window, as without context takeover it must.
        self._flush = zlib.Z_FULL_FLUSH if no_context_takeover else zlib.Z_SYNC_FLUSH

    def compress(self, payload: bytes) -> bytes:
        """The compressed payload of one message (its frame has RSV1 set)."""
        obj = self._obj
        data = obj.compress(payload) + obj.flush(self._flush)
        # Both flushes end with an empty stored block: the tail to strip.
        return data[:-4]


class Inflater:
    """Decompresses the messages of one client, bounding their size.
    Implements :class:`sockjs.tornado.wsframes.Inflater`."""

    __slots__ = ("_obj", "_no_context_takeover")

    def __init__(self, no_context_takeover: bool) -> None:
        self._obj: Optional[Any] = None
        self._no_context_takeover = no_context_takeover

    def decompress(self, data: bytes, limit: int) -> bytes:
        obj = self._obj
        if obj is None:
            # Whatever window the client used, a 32 KiB one decodes it.
            obj = self._obj = zlib.decompressobj(-zlib.MAX_WBITS)
        try:
            # At most one byte past the limit: enough to know it is passed,
            # without inflating a bomb.
            out: bytes = obj.decompress(data, max(limit, 0) + 1)
        except zlib.error:
            raise ProtocolError(1002, "Invalid compressed data") from None
        if len(out) > limit:
            raise ProtocolError(1009, "Message too big")
        return out

    def finish(self, limit: int) -> bytes:
        out = self.decompress(_TAIL, limit)
        if self._no_context_takeover:
            # Nothing carries over to the next message: free the window.
            self._obj = None
        return out
