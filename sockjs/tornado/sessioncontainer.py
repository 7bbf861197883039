"""Registry of live sessions, the expiry state every session carries, and
the schedule that tells the router's sweep which sessions need it.

The router sweeps the container on a single timer (``session_check_interval``);
no session owns a timer of its own, so nothing keeps a closed session alive.
A sweep does not visit every session: each session is filed under the
sweep slot of the next moment it needs one (its heartbeat, ping timeout or
expiry), and a sweep visits only the slots that are due. Deadlines that
move later (a write pushes the next heartbeat back) are found lazily, when
the session is visited; deadlines that move earlier (a receiver left: the
session now expires ``disconnect_delay`` from now) refile it at once. A
sweep's work per second is proportional to the sessions with something to
do, not to all sessions.
"""

import heapq
import math
import time
from typing import Any, Dict, Iterator, List, Optional, Set

__all__ = ["SessionMixin", "SessionContainer"]

#: Sessions a sweep visits before it lets the event loop serve I/O; the rest
#: of a due slot continues on the next loop turn (a slot of 10,000 heartbeats
#: must not stall every connection for tens of milliseconds).
SWEEP_BATCH = 128


class SessionMixin:
    """Expiry state of a session (1.x name).

    ``expiry`` is how long, in seconds, the session outlives its last
    receiver; ``expiry_date`` the monotonic time at which it expires, or
    ``None`` while a receiver is attached.
    """

    def __init__(self, session_id: Optional[str] = None, expiry: Optional[float] = None) -> None:
        self.session_id = session_id
        self.expiry = expiry
        self.expiry_date: Optional[float] = None
        self.promote()

    def promote(self) -> None:
        """Restart the expiry countdown from now."""
        if self.expiry is not None:
            self.expiry_date = time.monotonic() + self.expiry
            schedule = getattr(self, "_sweep_schedule", None)
            if schedule is not None:
                schedule.due(self, self.expiry_date)

    def is_alive(self) -> bool:
        """False once the countdown ran out."""
        return self.expiry_date is None or self.expiry_date > time.monotonic()

    def on_delete(self, forced: bool) -> None:
        """Called when the container drops the session."""


class SessionContainer:
    """Live sessions: those reachable by id, and websocket sessions, which
    have no id of their own but still need heartbeats and stats.

    A session put in is swept: its ``tick(now)`` runs at the moments it
    asks for, and returns the monotonic time it next needs one, or ``None``
    once it is gone (the container then forgets it). ``granularity`` is the
    sweep period in seconds: a tick runs no earlier than asked and at most
    one period (plus the sweep's own lateness) after.
    """

    def __init__(self, granularity: float = 1.0) -> None:
        self._items: Dict[str, Any] = {}
        self._unnamed: Set[Any] = set()
        self._granularity = granularity or 1.0
        # slot number -> sessions due then; a heap of the slot numbers.
        self._slots: Dict[int, Set[Any]] = {}
        self._heap: List[int] = []

    # -- membership -------------------------------------------------------

    def add(self, session: Any) -> None:
        """Register ``session`` (under its id when it has one); its first
        tick comes with the next sweep."""
        if session.session_id is None:
            self._unnamed.add(session)
        else:
            self._items[session.session_id] = session
        session._sweep_schedule = self
        self.due(session, time.monotonic())

    def get(self, session_id: str) -> Any:
        """The session with this id, or ``None``."""
        return self._items.get(session_id)

    def remove(self, session_id: Any) -> bool:
        """Forget a session (by id, or the session object itself), calling
        its ``on_delete(forced=True)``. Returns whether it was there."""
        session: Any
        if isinstance(session_id, str):
            session = self._items.pop(session_id, None)
        else:
            session = session_id
            sid = session.session_id
            if session in self._unnamed:
                self._unnamed.discard(session)
            elif sid is not None and self._items.get(sid) is session:
                del self._items[sid]
            else:
                session = None
        if session is None:
            return False
        self._unschedule(session)
        session.on_delete(True)
        return True

    def discard(self, session: Any) -> None:
        """Forget ``session`` without calling anything."""
        self._unnamed.discard(session)
        sid = session.session_id
        if sid is not None and self._items.get(sid) is session:
            del self._items[sid]
        self._unschedule(session)

    # -- the schedule -----------------------------------------------------

    def due(self, session: Any, when: float, after: Optional[int] = None) -> None:
        """Make sure ``session`` is ticked at ``when`` (monotonic) or within
        one sweep period after it. A session already due earlier stays
        where it is: its tick files it again."""
        slot = math.ceil(when / self._granularity)
        if after is not None and slot <= after:
            slot = after + 1
        current = getattr(session, "_sweep_slot", None)
        if current is not None:
            if current <= slot:
                return
            bucket = self._slots.get(current)
            if bucket is not None:
                bucket.discard(session)
        bucket = self._slots.get(slot)
        if bucket is None:
            bucket = self._slots[slot] = set()
            heapq.heappush(self._heap, slot)
        bucket.add(session)
        session._sweep_slot = slot

    def _unschedule(self, session: Any) -> None:
        slot = getattr(session, "_sweep_slot", None)
        if slot is not None:
            session._sweep_slot = None
            bucket = self._slots.get(slot)
            if bucket is not None:
                bucket.discard(session)

    def expire(self, current_time: Optional[float] = None, budget: Optional[int] = None) -> bool:
        """One sweep: heartbeats, liveness and expiry of the sessions due by
        ``current_time`` (default: now). With ``budget``, visit at most that
        many; returns False when some due ones are left for another call."""
        now = time.monotonic() if current_time is None else current_time
        limit = math.floor(now / self._granularity)
        heap = self._heap
        slots = self._slots
        visited = 0
        while heap and heap[0] <= limit:
            slot = heap[0]
            bucket = slots.get(slot)
            while bucket:
                if budget is not None and visited >= budget:
                    return False
                session = bucket.pop()
                session._sweep_slot = None
                visited += 1
                nxt = session.tick(now)
                if nxt is None:
                    self.discard(session)
                elif session._sweep_slot is None and self._tracked(session):
                    self.due(session, nxt, after=limit)
            heapq.heappop(heap)
            if slots.get(slot) is bucket:
                del slots[slot]
        return True

    def _tracked(self, session: Any) -> bool:
        sid = session.session_id
        if sid is None:
            return session in self._unnamed
        return self._items.get(sid) is session

    @property
    def scheduled(self) -> int:
        """Sessions filed under a sweep slot (every live one, normally)."""
        return sum(len(b) for b in self._slots.values())

    def __len__(self) -> int:
        return len(self._items) + len(self._unnamed)

    def __iter__(self) -> Iterator[Any]:
        yield from list(self._items.values())
        yield from list(self._unnamed)
