"""Channel history: the last publications of each channel, with positions.

Switched on per router by the ``history_size`` setting (publications kept
per channel; ``0``, the default, keeps none) and bounded in age by
``history_ttl`` (seconds). Read it with ``await router.history(channel)``.

Positions. Each publication on a channel gets an *offset*: 1, 2, 3, ... in
publish order. Each channel's history has an *epoch*, an opaque string that
changes whenever the offsets restart, i.e. whenever the history was lost
(a process restarted with in-memory history, a Redis history key expired
after ``history_ttl`` of silence, Redis restarted empty). A reader holding
``(epoch, offset)`` therefore learns for sure whether it can continue where
it left off: same epoch and its next offset still kept means nothing was
missed; anything else means a gap, reported, never silently skipped.

Two stores:

* :class:`MemoryHistory` (one process, or brokers other than Redis): a
  bounded ``deque`` per channel. Appending is synchronous and costs one
  tuple; a channel silent for ``history_ttl`` is forgotten entirely (its
  next publication starts a new epoch).
* :class:`~sockjs.tornado.broker.redisstate.RedisHistory`: a Redis Stream
  per channel (``XADD`` trimmed with ``MAXLEN`` and ``MINID``) plus a small
  hash holding the epoch and the last offset. Offsets are given by Redis in
  the same script that publishes, so every process sees one order per
  channel.
"""

import time
import uuid
from collections import deque
from typing import Any, Deque, Dict, List, NamedTuple, Optional, Tuple

__all__ = ["Publication", "HistoryPage", "HistoryStore", "MemoryHistory", "new_epoch"]


class Publication(NamedTuple):
    """One kept publication: its ``offset`` in the channel, the message
    as published (a str or another JSON value), and ``time`` (Unix
    seconds) of publication."""

    offset: int
    data: Any
    time: float


class HistoryPage(NamedTuple):
    """What ``router.history`` returns.

    ``epoch`` and ``offset`` are the channel's current position (the offset
    of its latest publication, 0 when none); ``publications`` those kept
    after ``since`` (oldest first, at most ``limit``); ``complete`` is
    False when ``since`` was given but publications after it were lost
    (another epoch, or trimmed by size or age): the caller missed
    something that no store can give back.
    """

    epoch: str
    offset: int
    publications: List[Publication]
    complete: bool


def new_epoch() -> str:
    """A fresh epoch: random, short, safe in URLs and JSON."""
    return uuid.uuid4().hex[:8]


def page(
    epoch: str, top: int, kept: List[Publication], since: Optional[Tuple[str, int]], limit: Optional[int]
) -> HistoryPage:
    """Cut a :class:`HistoryPage` out of the kept publications (oldest
    first); shared by the stores so both answer alike."""
    if since is None:
        chosen = kept
        complete = True
    else:
        s_epoch, s_offset = since
        if s_epoch != epoch:
            chosen, complete = kept, False
        else:
            chosen = [p for p in kept if p.offset > s_offset]
            first_needed = s_offset + 1
            complete = s_offset >= top or (bool(chosen) and chosen[0].offset <= first_needed)
    if limit is not None and len(chosen) > limit:
        chosen = chosen[:limit] if since is not None else chosen[-limit:]
    return HistoryPage(epoch, top, chosen, complete)


class HistoryStore:
    """Where a router keeps channel history. Subclasses: the two stores."""

    def __init__(self, size: int, ttl: float) -> None:
        #: Publications kept per channel.
        self.size = size
        #: Seconds a publication is kept.
        self.ttl = ttl

    async def read(
        self, channel: str, since: Optional[Tuple[str, int]] = None, limit: Optional[int] = None
    ) -> HistoryPage:
        """The channel's history after ``since`` (``(epoch, offset)``)."""
        raise NotImplementedError


class _Channel:
    __slots__ = ("epoch", "top", "items", "last")

    def __init__(self, size: int) -> None:
        self.epoch = new_epoch()
        self.top = 0
        self.items: Deque[Publication] = deque(maxlen=size)
        self.last = 0.0


class MemoryHistory(HistoryStore):
    """History in this process's memory (lost when it exits: the next
    publication after a restart starts a new epoch)."""

    def __init__(self, size: int, ttl: float) -> None:
        super().__init__(size, ttl)
        self._channels: Dict[str, _Channel] = {}
        self._next_sweep = 0.0

    def append(self, channel: str, data: Any) -> Tuple[str, int]:
        """Keep one publication; returns its ``(epoch, offset)``."""
        now = time.time()
        ch = self._channels.get(channel)
        if ch is None or now - ch.last > self.ttl:
            ch = self._channels[channel] = _Channel(self.size)
        ch.top += 1
        ch.last = now
        ch.items.append(Publication(ch.top, data, now))
        if now >= self._next_sweep:
            self._sweep(now)
        return ch.epoch, ch.top

    def position(self, channel: str) -> Tuple[str, int]:
        """The channel's current ``(epoch, offset)`` (starting one if none)."""
        ch = self._channels.get(channel)
        if ch is None or time.time() - ch.last > self.ttl:
            ch = self._channels[channel] = _Channel(self.size)
            ch.last = time.time()
        return ch.epoch, ch.top

    def _sweep(self, now: float) -> None:
        # Forget channels silent for longer than the ttl, at most once per
        # ttl/4: memory stays bounded by the channels recently used.
        self._next_sweep = now + max(self.ttl / 4, 1.0)
        dead = [name for name, ch in self._channels.items() if now - ch.last > self.ttl]
        for name in dead:
            del self._channels[name]

    def read_now(
        self, channel: str, since: Optional[Tuple[str, int]] = None, limit: Optional[int] = None
    ) -> HistoryPage:
        """:meth:`read`, synchronously."""
        epoch, top = self.position(channel)
        ch = self._channels[channel]
        horizon = time.time() - self.ttl
        kept = [p for p in ch.items if p.time >= horizon]
        return page(epoch, top, kept, since, limit)

    async def read(
        self, channel: str, since: Optional[Tuple[str, int]] = None, limit: Optional[int] = None
    ) -> HistoryPage:
        return self.read_now(channel, since, limit)
