"""Registry of live sessions, and the expiry state every session carries.

The router sweeps the container on a single timer (``session_check_interval``);
no session owns a timer of its own, so an idle session costs no work and
nothing keeps a closed session alive.
"""
import time
from typing import Any, Dict, Iterator, Optional, Set

__all__ = ["SessionMixin", "SessionContainer"]


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

    def is_alive(self) -> bool:
        """False once the countdown ran out."""
        return self.expiry_date is None or self.expiry_date > time.monotonic()

    def on_delete(self, forced: bool) -> None:
        """Called when the container drops the session."""


class SessionContainer:
    """Live sessions: those reachable by id, and websocket sessions, which
    have no id of their own but still need heartbeats and stats."""

    def __init__(self) -> None:
        self._items: Dict[str, Any] = {}
        self._unnamed: Set[Any] = set()

    def add(self, session: Any) -> None:
        """Register ``session`` (under its id when it has one)."""
        if session.session_id is None:
            self._unnamed.add(session)
        else:
            self._items[session.session_id] = session

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
        session.on_delete(True)
        return True

    def discard(self, session: Any) -> None:
        """Forget ``session`` without calling anything."""
        self._unnamed.discard(session)
        sid = session.session_id
        if sid is not None and self._items.get(sid) is session:
            del self._items[sid]

    def expire(self, current_time: Optional[float] = None) -> None:
        """One sweep: heartbeats, liveness and expiry of every session."""
        now = time.monotonic() if current_time is None else current_time
        # Copies: a tick may close a session, and closing may untrack it.
        dead = [s for s in list(self._items.values()) if not s.tick(now)]
        for session in dead:
            self.discard(session)
        dead = [s for s in list(self._unnamed) if not s.tick(now)]
        for session in dead:
            self._unnamed.discard(session)

    def __len__(self) -> int:
        return len(self._items) + len(self._unnamed)

    def __iter__(self) -> Iterator[Any]:
        yield from list(self._items.values())
        yield from list(self._unnamed)
