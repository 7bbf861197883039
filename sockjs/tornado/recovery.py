"""Connection state recovery: a client that reconnects gets back its
connection, its channels and everything it missed.

Opt-in on both sides: the router setting ``recovery`` (with
``recovery_window`` and ``recovery_buffer``), and a client that asks for
it, i.e. the shipped browser client (``sockjs-tornado.js``). Plain SockJS
clients are served exactly as without it.

Wire design (all of it rides on ordinary SockJS messages):

* The client opens every SockJS connection with query arguments, which
  sockjs-client 1.x keeps on every transport request:
  ``_r`` (empty on its first connection, else the resume token the server
  gave it), ``_p`` (how many counted messages it received on the
  connection it resumes) and ``_c`` (JSON ``{channel: [epoch, offset]}``,
  the last publication it received per channel). ``_r`` present marks the
  session as recoverable.
* The server's first message on such a session is the control object
  ``{"$sockjs": "welcome", "t": token, "r": null | "resumed" | "restored",
  "f": null | "expired" | "overflow" | "position", "lost": [channels]}``.
  ``r`` says what was recovered, ``f`` why recovery failed (the client
  then starts afresh: it resubscribes its channels itself), ``lost`` the
  channels whose missed publications are gone from history.
* Counting. Every message the server sends to the session is *counted*
  (numbered 1, 2, 3, ... per connection) except the control objects
  ``welcome`` and ``reply``; the client counts the same way. The server
  keeps the last ``recovery_buffer`` counted messages (references to the
  encoded text, shared with broadcasts) within ``max_queue_size`` bytes.
* Control requests from the client are JSON objects whose text starts
  with ``{"$sockjs":`` (``sub``, ``unsub``, ``pub``, ``presence``,
  ``history``, ``bye``); each with an ``id`` gets a
  ``{"$sockjs": "reply", "id": ..., "ok": ..., ...}``. They never reach
  ``on_message``. ``bye`` announces a deliberate close.

What happens on a disconnect the client did not announce (network cut,
closed laptop, killed proxy): the session does not close; it waits
``recovery_window`` seconds, recording what is sent to it. If the client
comes back in time (a new SockJS session presenting the token and its
count), the *same* :class:`~sockjs.tornado.conn.SockJSConnection` moves
to the new session, ``on_resume`` runs (not ``on_open``), and the
messages after the client's count are sent first, once, in order. Past
the window (or when more was sent than is kept) the session closes
(``on_close``, initiator ``"timeout"`` or ``"server"``) and a client that
comes back later is told ``f``; its fresh connection's ``on_open`` sees
:attr:`~sockjs.tornado.conn.SockJSConnection.recovery_failed`.

Across processes (the Redis broker): each recoverable session's state
(client id, ``conn.data``, presence info, channels with the time of
subscription) is saved in Redis on every change and kept alive by its
process; it expires ``recovery_window`` seconds after that process stops
refreshing it. A client whose process died comes back to another process
(through the load balancer), which restores it: a *new* connection object
with ``recovered == "restored"``, its ``data`` and channels, and every
publication it missed on those channels, read from channel history
(``history_size``) after the position the client reported. Not recovered
after a process death: direct ``send``\\ s and ``broadcast``\\ s that only
the dead process knew, and publications on channels without history.
"""

import asyncio
import json
import logging
import uuid
from collections import OrderedDict, deque
from typing import TYPE_CHECKING, Any, Deque, Dict, List, Optional, Tuple

from sockjs.tornado.broker.base import Position
from sockjs.tornado.channels import wrap_publication
from sockjs.tornado.conn import restore_identity
from sockjs.tornado.tasks import spawn

if TYPE_CHECKING:  # pragma: no cover
    from sockjs.tornado.router import SockJSRouter

__all__ = ["RecoveryState", "Recovery", "CONTROL_PREFIX"]

log = logging.getLogger("sockjs.tornado.recovery")

#: How a client's control request starts (the shipped client writes
#: exactly this).
CONTROL_PREFIX = '{"$sockjs":'

# Tokens of sessions that ended, with why: a client coming back later is
# told the reason. Bounded; an unknown token reads as "expired".
_TOMBSTONES = 10000


class RecoveryState:
    """What a recoverable session keeps (only those have one)."""

    __slots__ = (
        "token",
        "count",
        "ring",
        "ring_bytes",
        "max_bytes",
        "suspended",
        "away",
        "leaving",
        "holding",
        "subscribed_at",
        "caught_up",
    )

    def __init__(self, token: str, limit: int, max_bytes: int) -> None:
        self.token = token
        #: Counted messages sent so far.
        self.count = 0
        #: The last ``limit`` counted messages, as encoded JSON text (the
        #: deque drops the oldest by itself), and at most ``max_bytes`` of
        #: them (trimmed on the rare overflow).
        self.ring: Deque[str] = deque(maxlen=limit)
        self.ring_bytes = 0
        self.max_bytes = max_bytes
        #: True while the client is away.
        self.suspended = False
        #: Counted messages sent while away.
        self.away = 0
        #: The client announced its close.
        self.leaving = False
        #: While restoring: counted messages held back, in order.
        self.holding: Optional[List[str]] = None
        #: Channel -> Unix time of subscription (for the saved state).
        self.subscribed_at: Dict[str, float] = {}
        #: After a restore, channel -> the history position its catch-up
        #: ended at, until a newer publication of that channel arrives.
        self.caught_up: Optional[Dict[str, Position]] = None

    def record(self, encoded: str) -> bool:
        """Keep one message; True when it goes out now. False when it is
        held back (the session is being restored: :attr:`holding`), or
        when the client, away, has now surely missed more than is kept.
        Runs once per delivery of every broadcast: keep it lean."""
        if self.holding is not None:
            self.holding.append(encoded)
            return False
        self.count += 1
        ring = self.ring
        if len(ring) == ring.maxlen:
            self.ring_bytes -= len(ring[0])
        ring.append(encoded)
        self.ring_bytes += len(encoded)
        if self.ring_bytes > self.max_bytes:
            while self.ring_bytes > self.max_bytes and len(ring) > 1:
                self.ring_bytes -= len(ring.popleft())
        if self.suspended:
            self.away += 1
            return self.away <= len(ring)
        return True

    def already_sent(self, channel: str, position: Position) -> bool:
        """True for a publication a restore's catch-up already sent: it was
        read from the channel's history while Redis was still handing it
        to this process, live. The first newer publication of a channel
        ends the check for that channel."""
        caught_up = self.caught_up
        if caught_up is None or channel not in caught_up:
            return False
        epoch, offset = caught_up[channel]
        if position[0] == epoch and position[1] <= offset:
            return True
        del caught_up[channel]
        if not caught_up:
            self.caught_up = None
        return False

    def replay(self, position: int) -> Optional[List[str]]:
        """The messages after the client's ``position``, or ``None`` when
        some of them are no longer kept."""
        missed = self.count - position
        if missed < 0 or missed > len(self.ring):
            return None
        return list(self.ring)[len(self.ring) - missed :] if missed else []


def _query(info: Any, name: str) -> Optional[str]:
    values = info.arguments.get(name)
    return values[0] if values else None


def token_of(info: Any) -> str:
    """The resume token a request presents ('' for none)."""
    return _query(info, "_r") or ""


class Recovery:
    """A router's recoverable sessions. Built by the router when the
    ``recovery`` setting is on."""

    def __init__(self, router: "SockJSRouter") -> None:
        self.router = router
        settings = router.settings
        self.window = float(settings["recovery_window"])
        self.buffer = int(settings["recovery_buffer"])
        self.max_bytes = int(settings["max_queue_size"])
        self._sessions: Dict[str, Any] = {}
        self._failed: "OrderedDict[str, str]" = OrderedDict()
        self._dirty: Dict[str, Any] = {}
        self._flush_scheduled = False
        self._refresh_at = 0.0
        self._state: Any = None
        self._state_checked = False

    def _new_state(self, token: str) -> RecoveryState:
        return RecoveryState(token, self.buffer, self.max_bytes)

    # -- the saved state (Redis broker only) ------------------------------

    def _redis(self) -> Any:
        if not self._state_checked:
            self._state_checked = True
            broker = self.router.channels.broker
            self._state = getattr(broker, "state", None)
        return self._state

    def _key(self, token: str) -> str:
        return str(self._redis().key("r", token))

    def changed(self, session: Any) -> None:
        """The session's saved state changed (data, channels): write it on
        the next loop turn (coalesced)."""
        rec = session.recovery
        if rec is None or self._redis() is None or session.state != 1:
            return
        self._dirty[rec.token] = session
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        dirty, self._dirty = self._dirty, {}
        ttl_ms = int(self.window * 1000)
        for token, session in dirty.items():
            conn = session.conn
            try:
                text = json.dumps(
                    {
                        "cid": conn.client_id,
                        "data": conn.data,
                        "info": conn.presence_info,
                        "ch": session.recovery.subscribed_at if session.recovery else {},
                    }
                )
            except (TypeError, ValueError) as e:
                log.warning(
                    "session %s: conn.data is not JSON-serialisable, not saved: %s", session.session_id_for_log, e
                )
                continue
            self._redis().write("SET", self._key(token), text, "PX", ttl_ms)

    def refresh(self, now: float) -> None:
        """Keep the saved state of this process's sessions alive (called
        by the router's sweep; writes at most every third of the window)."""
        if self._redis() is None or now < self._refresh_at or not self._sessions:
            return
        self._refresh_at = now + self.window / 3
        ttl_ms = int(self.window * 1000)
        for token in self._sessions:
            self._redis().write("PEXPIRE", self._key(token), ttl_ms)

    # -- opening ----------------------------------------------------------

    def open(self, session: Any, info: Any) -> Any:
        """A recoverable session opens (its welcome is sent from here).
        Returns ``"resumed"`` when it continues an earlier connection (the
        session runs ``on_resume``, not ``on_open``), ``"new"`` when it
        starts afresh (``on_open`` runs), or an awaitable that restores a
        client whose process died (``on_open`` runs after it)."""
        token = _query(info, "_r") or ""
        if not token:
            self._start_fresh(session, None)
            return "new"
        old = self._sessions.get(token)
        if old is not None and old is not session:
            return "resumed" if self._resume(session, old, info) else "new"
        if self._redis() is not None and token not in self._failed:
            return self._restore(session, token, info)
        self._start_fresh(session, self._failed.get(token, "expired"))
        return "new"

    def _start_fresh(self, session: Any, failure: Optional[str]) -> None:
        rec = session.recovery = self._new_state(uuid.uuid4().hex)
        self._sessions[rec.token] = session
        if failure is not None:
            session.conn.recovery_failed = failure
        session.send_control({"$sockjs": "welcome", "t": rec.token, "r": None, "f": failure, "lost": []})
        self.changed(session)

    def _resume(self, session: Any, old: Any, info: Any) -> bool:
        rec = old.recovery
        try:
            position = int(_query(info, "_p") or "0")
        except ValueError:
            position = -1
        missed = rec.replay(position)
        if missed is None:
            reason = "position" if position > rec.count or position < 0 else "overflow"
            self.forget(old, reason)
            old.close(1013, "Recovery failed: " + reason, initiator="server")
            self._failed[token_of(info)] = reason
            self._start_fresh(session, reason)
            return False
        rec.suspended = False
        rec.away = 0
        session.adopt(old)
        session.send_control({"$sockjs": "welcome", "t": rec.token, "r": "resumed", "f": None, "lost": []})
        for encoded in missed:
            session.send_jsonified(encoded, stats=False, record=False)
        self._sessions[rec.token] = session
        log.debug("resume %s position=%d replayed=%d", session.session_id_for_log, position, len(missed))
        return True

    async def _restore(self, session: Any, token: str, info: Any) -> bool:
        """Restore a client whose process died; True if restored."""
        try:
            raw = await self._redis().read("GET", self._key(token))
        except Exception as e:
            log.warning("recovery record of a reconnecting client unreadable: %s", e)
            raw = None
        if raw is None or session.state != 1:
            self._start_fresh(session, "expired")
            return False
        saved = json.loads(raw.decode("utf-8") if isinstance(raw, bytes) else raw)
        try:
            positions = json.loads(_query(info, "_c") or "{}")
            if not isinstance(positions, dict):
                positions = {}
        except ValueError:
            positions = {}
        conn = session.conn
        restore_identity(conn, saved.get("cid"), saved.get("data"))
        conn.presence_info = saved.get("info")
        conn.recovered = "restored"
        rec = session.recovery = self._new_state(token)
        self._sessions[token] = session
        rec.holding = []
        channels = self.router.channels
        lost: List[str] = []
        catch_up: List[str] = []
        last: Dict[str, Position] = {}
        for channel, since_time in (saved.get("ch") or {}).items():
            channels.subscribe(session, channel)
            rec.subscribed_at[channel] = since_time
            if channels.history is None:
                continue
            pos = positions.get(channel)
            since: Optional[Tuple[str, int]] = None
            if isinstance(pos, list) and len(pos) == 2:
                since = (str(pos[0]), int(pos[1]))
            try:
                page = await channels.history.read(channel, since)
            except Exception as e:
                log.warning("history of %r unreadable while restoring a client: %s", channel, e)
                lost.append(channel)
                continue
            if since is not None and not page.complete:
                lost.append(channel)
            pubs = page.publications
            if since is None:
                pubs = [p for p in pubs if p.time >= since_time]
            for p in pubs:
                catch_up.append(wrap_publication(channel, p.data, (page.epoch, p.offset)).encoded)
                last[channel] = (page.epoch, p.offset)
        if session.state != 1:
            return False
        held, rec.holding = rec.holding, None
        # Publications held meanwhile, and those Redis still hands over
        # after this (channels.deliver asks), may be in the catch-up.
        rec.caught_up = last or None
        session.send_control({"$sockjs": "welcome", "t": token, "r": "restored", "f": None, "lost": lost})
        for encoded in catch_up:
            session.send_jsonified(encoded, stats=False)
        for encoded in held:
            if encoded.startswith('{"$sockjs":"pub"'):
                pub = json.loads(encoded)
                if pub.get("o") is not None and rec.already_sent(pub["c"], (pub["e"], pub["o"])):
                    continue
            session.send_jsonified(encoded, stats=False)
        self.changed(session)
        log.debug(
            "restore %s channels=%d caught_up=%d lost=%s",
            session.session_id_for_log,
            len(rec.subscribed_at),
            len(catch_up),
            lost,
        )
        return True

    # -- closing ----------------------------------------------------------

    def suspend(self, session: Any) -> None:
        """The client went away without saying so: wait for it."""
        rec = session.recovery
        rec.suspended = True
        rec.away = 0
        log.debug("suspend %s window=%.0fs", session.session_id_for_log, self.window)

    def overflowed(self, session: Any) -> None:
        """More was sent to an away client than is kept: give up now."""
        self.forget(session, "overflow")
        session.close(1013, "Recovery failed: overflow", initiator="server")

    def forget(self, session: Any, reason: str, keep_saved: bool = False) -> None:
        """The session ended for good: a client that comes back is told
        ``reason``; its saved state goes (unless ``keep_saved``: another
        process may restore it)."""
        rec = session.recovery
        if rec is None or (rec.token in self._failed and not keep_saved):
            return
        if self._sessions.get(rec.token) is session:
            del self._sessions[rec.token]
        self._failed[rec.token] = reason
        if len(self._failed) > _TOMBSTONES:
            self._failed.popitem(last=False)
        if keep_saved:
            del self._failed[rec.token]
            return
        self._dirty.pop(rec.token, None)
        if self._redis() is not None:
            self._redis().write("DEL", self._key(rec.token))

    # -- control requests -------------------------------------------------

    def control(self, session: Any, text: str) -> None:
        """One control request from the client."""
        try:
            req = json.loads(text)
            kind = req["$sockjs"]
        except (ValueError, TypeError, KeyError):
            session.send_control({"$sockjs": "reply", "id": None, "ok": False, "error": "bad request"})
            return
        rid = req.get("id")
        channel = req.get("c")
        conn = session.conn
        if kind == "bye":
            session.recovery.leaving = True
            if session.recovery.suspended:
                session.close(1000, "Normal closure", initiator="client")
            return
        if not isinstance(channel, str) or not channel:
            self._reply(session, rid, False, error="bad channel")
            return
        if kind == "unsub":
            conn.unsubscribe(channel)
            self._reply(session, rid, True)
            return
        if not conn.can_subscribe(channel):
            self._reply(session, rid, False, error="forbidden")
            return
        if kind == "sub":
            spawn(self.router, self._subscribe(session, rid, channel, req.get("since")), "recovery subscribe")
        elif kind == "pub":
            if not conn.can_publish(channel, req.get("d")):
                self._reply(session, rid, False, error="forbidden")
                return
            self.router.publish(channel, req.get("d"))
            self._reply(session, rid, True)
        elif kind == "presence":
            spawn(self.router, self._ask(session, rid, self.router.presence(channel), lambda m: m), "recovery presence")
        elif kind == "history":
            spawn(
                self.router,
                self._ask(
                    session,
                    rid,
                    self.router.history(channel, limit=req.get("limit")),
                    lambda p: {
                        "e": p.epoch,
                        "o": p.offset,
                        "pubs": [{"o": x.offset, "d": x.data, "t": x.time} for x in p.publications],
                    },
                ),
                "recovery history",
            )
        else:
            self._reply(session, rid, False, error="unknown request")

    def _reply(self, session: Any, rid: Any, ok: bool, **fields: Any) -> None:
        body = {"$sockjs": "reply", "id": rid, "ok": ok}
        body.update(fields)
        session.send_control(body)

    async def _ask(self, session: Any, rid: Any, awaitable: Any, shape: Any) -> None:
        try:
            result = await awaitable
        except Exception as e:
            self._reply(session, rid, False, error=str(e))
            return
        self._reply(session, rid, True, result=shape(result))

    async def _subscribe(self, session: Any, rid: Any, channel: str, since: Any) -> None:
        """Subscribe; with ``since`` ``[epoch, offset]``, first send the
        publications after it from history (held-back live ones after)."""
        channels = self.router.channels
        rec = session.recovery
        if since is None or channels.history is None or rec is None:
            session.conn.subscribe(channel)
            self._reply(session, rid, True)
            return
        own_hold = rec.holding is None
        if own_hold:
            rec.holding = []
        session.conn.subscribe(channel)
        lost = False
        catch_up: List[str] = []
        last = 0
        try:
            page = await channels.history.read(channel, (str(since[0]), int(since[1])))
            lost = not page.complete
            from sockjs.tornado.channels import wrap_publication

            for p in page.publications:
                catch_up.append(wrap_publication(channel, p.data, (page.epoch, p.offset)).encoded)
                last = p.offset
        except Exception as e:
            log.info("history of %r unreadable for a resubscription: %s", channel, e)
            lost = True
        if session.state != 1 or session.recovery is not rec:
            return
        held: List[str] = []
        if own_hold:
            held, rec.holding = rec.holding or [], None
        self._reply(session, rid, True, lost=lost)
        for encoded in catch_up:
            session.send_jsonified(encoded, stats=False)
        if own_hold:
            for encoded in held:
                if encoded.startswith('{"$sockjs":"pub"'):
                    pub = json.loads(encoded)
                    if pub.get("c") == channel and pub.get("o") is not None and pub["o"] <= last:
                        continue
                session.send_jsonified(encoded, stats=False)
