"""One websocket connection after its handshake: an asyncio (buffered) Protocol.

Once the handshake succeeds the connection leaves Tornado: the socket is
handed to a plain :class:`WebSocketConnection`, which parses every complete
frame of each read at once (:mod:`sockjs.tornado.wsframes`) and writes
without a Task or Future per message, several times the throughput of
``tornado.websocket`` (bench/README.md). What it reads and how it ends is
reported to a :class:`WebSocketDelegate` (the SockJS or raw receiver).

Broadcast frames written in one loop turn are *corked*: the first goes out
at once, the rest of the turn's leave together when the loop gets back to
its queue, in one write instead of one each.

However the connection ends on our side (a protocol error, a limit, the
application), the peer gets a close frame first, then a FIN; what it still
sends is read and dropped until it closes too (or ``CLOSE_GRACE`` passes),
so that its late data cannot turn our close into a reset that destroys the
close frame before it is read.
"""

import asyncio
import logging
import threading
import time
from typing import Any, Callable, List, Optional, Protocol, Union

from sockjs.tornado import wsframes
from sockjs.tornado.closecodes import CLOSE_QUEUE_OVERFLOW
from sockjs.tornado.wsdeflate import DeflateParams

__all__ = [
    "WebSocketDelegate",
    "WebSocketConnection",
    "CLOSE_WRITE_OVERFLOW",
    "CLOSE_GRACE",
    "READ_LIMIT",
    "WRITE_HIGH_WATER",
]

log = logging.getLogger("sockjs.tornado.websocket")

#: Bytes read from the socket at a time.
READ_LIMIT = 65536
#: Unsent bytes past which a connection counts as not keeping up (asyncio's
#: ``pause_writing``); its hard bound is ``max_queue_size``.
WRITE_HIGH_WATER = 256 * 1024
#: What the delegate hears when the peer reads too slowly for the write
#: buffer bound (``max_queue_size``).
CLOSE_WRITE_OVERFLOW = CLOSE_QUEUE_OVERFLOW
#: Seconds a closed connection may take to deliver its last bytes before
#: it is cut.
CLOSE_GRACE = 5.0


class WebSocketDelegate(Protocol):
    """What a :class:`WebSocketConnection` reports to."""

    def on_ws_open(self, conn: "WebSocketConnection") -> None:
        """The handshake answer is written; frames may follow."""

    def on_ws_messages(self, messages: List[Union[str, bytes]]) -> None:
        """The messages of one read, in order: text as ``str``, binary as
        ``bytes``."""

    def on_ws_closed(self, code: Optional[int], reason: str, by_peer: bool) -> None:
        """The connection ended (once)."""


class _Turn(threading.local):
    """Where this thread's event loop is, as far as broadcast frames care:
    a turn lasts from the first broadcast frame held until the loop gets
    back to its queue (``call_soon``). Per thread, since each loop runs in
    one (tests run servers in several)."""

    def __init__(self) -> None:
        self.loop: Optional[asyncio.AbstractEventLoop] = None
        self.ending = False
        self.corked: "List[WebSocketConnection]" = []


_turn = _Turn()


class _ReadBuffer(threading.local):
    """The buffer this thread's loop reads websocket bytes into
    (``READ_LIMIT`` bytes, one per thread, shared by its connections: each
    read is copied out before the next one starts). asyncio's own reads
    would allocate 256 KiB each, past glibc's mmap threshold: mapped and
    unmapped on every read until malloc adapts, which halved echo
    throughput on a fresh server (bench/README.md)."""

    def __init__(self) -> None:
        self.view = memoryview(bytearray(READ_LIMIT))


_read_buffer = _ReadBuffer()


def _end_turn(state: _Turn) -> None:
    state.ending = False
    corked, state.corked = state.corked, []
    for conn in corked:
        conn._uncork()


def _can_write_eof(transport: asyncio.BaseTransport) -> bool:
    try:
        return bool(transport.can_write_eof())  # type: ignore[attr-defined]
    except NotImplementedError:  # a transport that does not say (TLS)
        return False


class WebSocketConnection(asyncio.BufferedProtocol):
    """One websocket connection after its handshake.

    ``max_message_size`` bounds a message; ``max_write_buffer`` bounds what
    may wait unsent for a slow reader before the connection is dropped.
    On connection, ``greeting`` (the handshake answer) is written first,
    then the delegate hears ``on_ws_open``, then ``initial`` (bytes read
    along with the request head) is parsed before anything from the socket.
    ``deflate`` and ``subprotocol`` are what the handshake agreed on.
    """

    # Slots: one per connection, tens of thousands per server; ``__dict__``
    # for attributes subclasses add.
    __slots__ = (
        "delegate",
        "transport",
        "_greeting",
        "_initial",
        "_hixie_keys",
        "_hixie_pending",
        "hixie76",
        "_parser",
        "_max_write_buffer",
        "_closed",
        "_close_sent",
        "_reading_paused",
        "_writing_paused",
        "_dropped_backlog",
        "_cork",
        "last_pong",
        "ping_sent_at",
        "on_writable",
        "subprotocol",
        "_deflater",
        "frame_key",
        "_plain",
        "_grace",
        "__dict__",
    )

    def __init__(
        self,
        delegate: WebSocketDelegate,
        max_message_size: int,
        max_write_buffer: int,
        greeting: bytes = b"",
        initial: bytes = b"",
        hixie76_keys: Optional["tuple[str, str]"] = None,
        deflate: Optional[DeflateParams] = None,
        subprotocol: Optional[str] = None,
    ) -> None:
        self.delegate = delegate
        #: The subprotocol the handshake answered with, if any.
        self.subprotocol = subprotocol
        self.transport: Optional[asyncio.BaseTransport] = None
        self._greeting = greeting
        self._initial = initial
        self._hixie_keys = hixie76_keys
        self._hixie_pending = b""
        self.hixie76 = hixie76_keys is not None
        self._deflater = None
        #: Connections whose ``frame_key`` is equal may share the frames
        #: :meth:`frame_text` builds; ``None``: build them for this one.
        self.frame_key: Optional[str] = "hixie76" if self.hixie76 else "rfc6455"
        if self.hixie76:
            self._parser: Any = wsframes.Hixie76Parser(max_message_size)
        elif deflate is not None:
            self._parser = wsframes.FrameParser(max_message_size, deflate.inflater())
            self._deflater = deflate.deflater()
            self.frame_key = deflate.share_key
        else:
            self._parser = wsframes.FrameParser(max_message_size)
        # Neither hixie-76 nor compressed: the frames of the fast path.
        self._plain = self._deflater is None and not self.hixie76
        self._max_write_buffer = max_write_buffer
        self._grace: Optional[asyncio.TimerHandle] = None
        self._closed = False
        self._close_sent = False
        self._reading_paused = False
        self._writing_paused = False
        self._dropped_backlog = 0
        # Broadcast frames held until the loop turn ends (send_prebuilt).
        self._cork: Optional[List[bytes]] = None
        self.last_pong = time.monotonic()
        self.ping_sent_at: Optional[float] = None
        self.on_writable: Optional[Callable[[], None]] = None

    # -- asyncio.Protocol ---------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        # Not kept: an idle connection should hold nothing it no longer needs.
        greeting, self._greeting = self._greeting, b""
        if self._hixie_keys is None:
            # The answer, the open frame and whatever on_open sends leave
            # in one write, not one each (the answer's head ends on a
            # 128-byte boundary: no client reads frames with its end).
            self._cork = [greeting]
            self.delegate.on_ws_open(self)
            self._uncork()
        else:
            # hixie-76 opens once the key bytes arrived and the answer
            # went out; nothing may be written before it.
            transport.write(greeting)  # type: ignore[attr-defined]
        if self._initial:
            data, self._initial = self._initial, b""
            self.data_received(data)

    # asyncio.BufferedProtocol (public on asyncio and uvloop alike): the
    # loop reads into our buffer, so how much it reads at a time is ours.

    def get_buffer(self, sizehint: int) -> memoryview:
        """Where the loop reads to: this thread's read buffer."""
        return _read_buffer.view

    def buffer_updated(self, nbytes: int) -> None:
        """``nbytes`` were read into the buffer: copied out and parsed."""
        self.data_received(bytes(_read_buffer.view[:nbytes]))

    def data_received(self, data: bytes) -> None:
        """Bytes from the peer (the TLS adapter hands them in here)."""
        if self._closed:
            return
        if self._hixie_keys is not None:
            data = self._hixie_handshake(data)
            if not data:
                return
        error: Optional[wsframes.ProtocolError] = None
        frames: List[wsframes.Message]
        try:
            frames = self._parser.feed(data)
        except wsframes.ProtocolError as e:
            # What came before the bad frame is delivered first.
            frames = e.messages
            error = e
        messages: List[Union[str, bytes]] = []
        for opcode, payload in frames:
            if opcode < wsframes.OP_CLOSE:
                messages.append(payload)
            elif opcode == wsframes.OP_PING:
                self._write(wsframes.build_frame(wsframes.OP_PONG, payload))  # type: ignore[arg-type]
            elif opcode == wsframes.OP_PONG:
                self.last_pong = time.monotonic()
                self.ping_sent_at = None
            elif opcode == wsframes.OP_CLOSE:
                self._deliver(messages)
                code, reason = wsframes.parse_close_payload(payload)  # type: ignore[arg-type]
                self.close(code if code is not None else 1000, reason, by_peer=True)
                return
        self._deliver(messages)
        if error is not None:
            log.debug("websocket protocol error: %s", error.reason)
            self.close(error.code, error.reason, by_peer=True)

    def _deliver(self, messages: List[Union[str, bytes]]) -> None:
        if messages and not self._closed:
            self.delegate.on_ws_messages(messages)

    def _hixie_handshake(self, data: bytes) -> bytes:
        buf = self._hixie_pending + data
        if len(buf) < 8:
            self._hixie_pending = buf
            return b""
        assert self._hixie_keys is not None
        key1, key2 = self._hixie_keys
        self._hixie_keys = None
        self._hixie_pending = b""
        try:
            answer = wsframes.hixie76_answer(key1, key2, buf[:8])
        except wsframes.ProtocolError:
            self.abort()
            return b""
        self._write(answer)
        self.delegate.on_ws_open(self)
        return buf[8:]

    def connection_lost(self, exc: Optional[Exception]) -> None:
        if self._grace is not None:
            self._grace.cancel()
            self._grace = None
        if not self._closed:
            self._closed = True
            self.delegate.on_ws_closed(None, "", True)

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        if self.on_writable is not None:
            self.on_writable()

    # -- flow control -------------------------------------------------------

    def pause_reading(self) -> None:
        """Stop reading from the peer (its handler is behind)."""
        if not self._reading_paused and self.transport is not None and not self._closed:
            self._reading_paused = True
            self.transport.pause_reading()  # type: ignore[attr-defined]

    def resume_reading(self) -> None:
        if self._reading_paused and self.transport is not None and not self._closed:
            self._reading_paused = False
            self.transport.resume_reading()  # type: ignore[attr-defined]

    @property
    def writable(self) -> bool:
        """False while the peer reads slower than we write."""
        return not self._writing_paused

    # -- writing ------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        transport = self.transport
        if transport is None or self._closed or transport.is_closing():
            # Lost, and asyncio has not told us yet: writing more would
            # only make it warn.
            return
        if self._cork is not None:
            # Broadcast frames are waiting for the end of the turn: keep
            # the order.
            self._cork.append(data)
            return
        transport.write(data)  # type: ignore[attr-defined]
        if self._writing_paused and transport.get_write_buffer_size() > self._max_write_buffer:  # type: ignore[attr-defined]
            # The peer reads slower than we write: close rather than let
            # its backlog grow without bound. The close frame follows what
            # is queued, and CLOSE_GRACE bounds how long that may take; the
            # delegate hears 1013, not from the peer (it logs, naming its
            # session).
            self._dropped_backlog = transport.get_write_buffer_size()  # type: ignore[attr-defined]
            log.debug("websocket peer reads too slowly (%d bytes unsent); closing", self._dropped_backlog)
            self.close(*CLOSE_WRITE_OVERFLOW)

    def _payload(self, opcode: int, payload: bytes) -> bytes:
        """The frame of one message, compressed if that was agreed."""
        if self.hixie76:
            return wsframes.build_hixie76_frame(payload)
        deflater = self._deflater
        if deflater is not None:
            return wsframes.build_frame(opcode, deflater.compress(payload), True)
        return wsframes.build_frame(opcode, payload)

    def send_text(self, text: str) -> None:
        """One text message."""
        payload = text.encode("utf-8", "surrogatepass")
        if self._plain:
            self._write(wsframes.build_frame(wsframes.OP_TEXT, payload))
        else:
            self._write(self._payload(wsframes.OP_TEXT, payload))

    def send_binary(self, data: bytes) -> None:
        """One binary message (a text frame under hixie-76, which has no
        other)."""
        self._write(self._payload(wsframes.OP_BINARY, data))

    def send_prebuilt(self, frame: bytes) -> None:
        """Bytes already framed (a broadcast frame built once).

        Broadcast frames wait for the end of the loop turn, with anything
        else sent to the connection meanwhile, in order, and leave in one
        write: a burst of broadcasts costs each connection one ``send``
        instead of one each, and the loop that hands a broadcast to
        thousands of connections makes no system call per connection
        (bench/README.md, "cork").
        """
        cork = self._cork
        if cork is not None:
            cork.append(frame)
            return
        if self.transport is None or self._closed:
            return
        self._cork = [frame]
        state = _turn
        if not state.ending or state.loop is not asyncio.get_running_loop():
            # The first held frame of this turn (or a loop of this thread
            # stopped mid-turn: start afresh on this one).
            if state.ending:
                state.corked = []
            state.ending = True
            state.loop = asyncio.get_running_loop()
            state.loop.call_soon(_end_turn, state)
        state.corked.append(self)

    def _uncork(self) -> None:
        cork = self._cork
        if cork is not None:
            self._cork = None
            self._write(cork[0] if len(cork) == 1 else b"".join(cork))

    def frame_text(self, text: str) -> bytes:
        """The frame :meth:`send_text` would write: any connection with the
        same :attr:`frame_key` (not ``None``) may send it too."""
        return self._payload(wsframes.OP_TEXT, text.encode("utf-8", "surrogatepass"))

    def ping(self) -> None:
        """Send a ping (not under hixie-76, which has none)."""
        if not self.hixie76 and self.ping_sent_at is None:
            self.ping_sent_at = time.monotonic()
            self._write(wsframes.build_frame(wsframes.OP_PING, b""))

    def close(self, code: Optional[int] = 1000, reason: str = "", by_peer: bool = False) -> None:
        """Send a close frame (``code``, ``reason``) after what is queued,
        then end the connection (see the module's docstring)."""
        if self._closed:
            return
        self._uncork()
        if self._closed:  # the corked frames overflowed the bound
            return
        self._closed = True
        try:
            self._end_transport(code, reason)
        finally:
            self.delegate.on_ws_closed(code, reason, by_peer)

    def _end_transport(self, code: Optional[int], reason: str) -> None:
        """The close frame, then a FIN (or a close where the transport has
        no half-close); the grace period for the rest."""
        transport = self.transport
        if transport is not None and not transport.is_closing():
            if not self._close_sent:
                self._close_sent = True
                if self.hixie76:
                    frame = b"\xff\x00"
                elif code is None or code in (1005, 1006, 1015):
                    frame = wsframes.build_frame(wsframes.OP_CLOSE, b"")
                else:
                    frame = wsframes.build_frame(wsframes.OP_CLOSE, wsframes.close_payload(code, reason))
                transport.write(frame)  # type: ignore[attr-defined]
            if self._reading_paused:
                transport.resume_reading()  # type: ignore[attr-defined]
            try:
                if _can_write_eof(transport):
                    transport.write_eof()  # type: ignore[attr-defined]
                else:
                    transport.close()
            except OSError:
                # The peer is already gone (a reset): nothing to deliver.
                transport.abort()  # type: ignore[attr-defined]
                return
            # A peer that never reads, or never closes, would hold the
            # socket (and its backlog) open for ever: a grace period, no more.
            self._grace = asyncio.get_running_loop().call_later(CLOSE_GRACE, transport.abort)  # type: ignore[attr-defined]

    def abort(self, why: "Optional[tuple[int, str]]" = None) -> None:
        """Drop the connection at once. ``why`` is the ``(code, reason)``
        the delegate hears as a close not made by the peer; without it, the
        peer is taken to have gone (1006)."""
        self._cork = None
        if self.transport is not None:
            self.transport.abort()  # type: ignore[attr-defined]
        if not self._closed:
            self._closed = True
            if why is None:
                self.delegate.on_ws_closed(1006, "", True)
            else:
                self.delegate.on_ws_closed(why[0], why[1], False)

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def unsent_bytes(self) -> int:
        """Bytes written but not yet taken by the peer (for a connection
        dropped for reading too slowly: what it left behind)."""
        transport = self.transport
        if transport is None or self._dropped_backlog:
            return self._dropped_backlog
        return transport.get_write_buffer_size()  # type: ignore[attr-defined,no-any-return]
