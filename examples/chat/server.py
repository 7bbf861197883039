"""Chat: rooms and nicknames over SockJS, on one process or many, and a
conversation that survives a lost network or a killed process.

Run ``python examples/chat/server.py`` and open http://127.0.0.1:8081/ in
two windows. For several processes, start Redis and give each process the
same ``--redis redis://127.0.0.1:6379/0`` (behind haproxy or nginx, or on
two ports: the online list and the rooms span both).

The page uses the shipped browser client (``/chat/sockjs-tornado.js``):
it reconnects by itself, and the server keeps each connection for
``recovery_window`` seconds, so a pulled network cable or a sleeping
laptop loses nothing; with Redis, a client whose process died continues on
another one with its room and nickname (``conn.data``) and every message
of the room it missed (channel history).

Messages are JSON text:

* client to server: ``{"op": "join", "room": ..., "nick": ...}`` (joining
  another room leaves the current one), ``{"op": "say", "text": ...}``;
* server to client: ``{"op": "joined", "room", "nick", "members"}`` to the
  one who joined, ``{"op": "presence", "room", "event": "join"|"leave",
  "nick", "members"}`` and ``{"op": "msg", "room", "nick", "text"}`` to
  everyone in the room (a channel publication), ``{"op": "error", "text"}``.

``members`` comes from presence: every process's subscribers of the room.
Presence also keeps the online list right when a process dies: its
entries vanish within ``presence_ttl`` seconds (``--presence-ttl``), and
each process checks the rooms of its own clients every third of that,
sending them ``{"op": "members", "room", "members"}`` when the list
changed without anyone saying so (a process died with its people).
"""

import argparse
import json
import logging
import os
import re
import sys
from typing import Any, Dict, List, Optional, Set

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import example_common
from tornado import ioloop, web

from sockjs.tornado import SockJSConnection, SockJSRouter

HERE = os.path.dirname(os.path.abspath(__file__))
ROOM_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
MAX_NICK = 24
MAX_TEXT = 2000
log = logging.getLogger("chat")


class Rooms:
    """This process's clients by room, and the online list each was last
    shown. A timer compares that list with presence (every process's
    subscribers) and sends the new one to this process's clients when it
    changed: each process tells only its own clients, so nobody gets a
    list twice."""

    def __init__(self, router: SockJSRouter, interval: float) -> None:
        self.router = router
        self.interval = interval
        self.local: Dict[str, Set["ChatConnection"]] = {}
        self.shown: Dict[str, List[str]] = {}
        self._timer: Optional[ioloop.PeriodicCallback] = None

    def enter(self, conn: "ChatConnection", room: str, members: Optional[List[str]]) -> None:
        """``conn`` is in ``room`` here, shown ``members`` (``None``: not
        known, the next check sends the list to the room's clients)."""
        self.local.setdefault(room, set()).add(conn)
        if members is None:
            self.shown.pop(room, None)
        else:
            self.shown[room] = members
        if self._timer is None:  # started here: the loop runs by now
            loop = ioloop.IOLoop.current()
            self._timer = ioloop.PeriodicCallback(lambda: loop.spawn_callback(self.check), self.interval * 1000)
            self._timer.start()

    def exit(self, conn: "ChatConnection", room: str) -> None:
        conns = self.local.get(room)
        if conns is not None:
            conns.discard(conn)
            if not conns:
                del self.local[room]
                self.shown.pop(room, None)

    def shows(self, room: str, members: List[str]) -> None:
        """A join or leave told everyone this list."""
        if room in self.local:
            self.shown[room] = members

    async def members(self, room: str) -> Dict[str, str]:
        """client id -> nick of everyone in ``room``, in every process."""
        present = await self.router.presence(room)
        return {cid: info["nick"] for cid, info in present.items() if isinstance(info, dict) and "nick" in info}

    async def check(self) -> None:
        for room in list(self.local):
            try:
                members = sorted(set((await self.members(room)).values()))
            except Exception as e:  # Redis away, say: the next check tries again
                log.warning("online list of %s not checked: %s", room, e)
                return
            conns = self.local.get(room)
            if conns and members != self.shown.get(room):
                self.shown[room] = members
                self.router.broadcast(conns, json.dumps({"op": "members", "room": room, "members": members}))


class ChatConnection(SockJSConnection):
    room: Optional[str] = None
    nick: Optional[str] = None

    def on_open(self, info: Any) -> None:
        if self.recovered == "restored" and isinstance(self.data, dict):
            # Another process died: its client is back here, in its room
            # (the next check of the rooms brings its online list up to date).
            self.room, self.nick = self.data.get("room"), self.data.get("nick")
            if self.room is not None:
                self.rooms.enter(self, self.room, None)

    async def on_message(self, message: str) -> None:
        try:
            data = json.loads(message)
            op = data["op"]
        except (ValueError, TypeError, KeyError):
            return self.error("messages are JSON objects with an 'op'")
        if op == "join":
            await self.join(str(data.get("room", "")), str(data.get("nick", "")).strip())
        elif op == "say":
            text = str(data.get("text", ""))[:MAX_TEXT]
            if self.room is None:
                return self.error("join a room first")
            if text:
                self.to_room({"op": "msg", "room": self.room, "nick": self.nick, "text": text})
        else:
            self.error("unknown op %r" % (op,))

    async def join(self, room: str, nick: str) -> None:
        if not ROOM_RE.match(room):
            return self.error("room names are 1-32 letters, digits, '-' or '_'")
        if not nick or len(nick) > MAX_NICK:
            return self.error("nicknames are 1-%d characters" % MAX_NICK)
        others = {cid: n for cid, n in (await self.rooms.members(room)).items() if cid != self.client_id}
        if nick in others.values():
            return self.error("%r is taken in %s" % (nick, room))
        await self.leave()
        self.room, self.nick = room, nick
        self.presence_info = {"nick": nick}
        self.subscribe(room)
        self.data = {"room": room, "nick": nick}
        members = sorted(set(others.values()) | {nick})
        self.send(json.dumps({"op": "joined", "room": room, "nick": nick, "members": members}))
        self.rooms.enter(self, room, members)
        self.to_room({"op": "presence", "room": room, "event": "join", "nick": nick, "members": members})

    async def leave(self) -> None:
        room = self.room
        if room is None:
            return
        self.room = None
        self.unsubscribe(room)
        self.rooms.exit(self, room)
        self.data = None
        members = sorted(n for cid, n in (await self.rooms.members(room)).items() if cid != self.client_id)
        self.rooms.shows(room, members)
        self.router.publish(
            room, json.dumps({"op": "presence", "room": room, "event": "leave", "nick": self.nick, "members": members})
        )

    @property
    def router(self) -> SockJSRouter:
        return self.session.server  # type: ignore[no-any-return]

    @property
    def rooms(self) -> Rooms:
        return self.router.chat_rooms  # type: ignore[attr-defined,no-any-return]

    def to_room(self, data: Dict[str, Any]) -> None:
        # JSON text: plain SockJS clients parse one form for everything.
        self.router.publish(data["room"], json.dumps(data))

    def error(self, text: str) -> None:
        self.send(json.dumps({"op": "error", "text": text}))

    async def on_close(self) -> None:
        await self.leave()


def make_app(redis: Optional[str] = None, presence_ttl: float = 15) -> web.Application:
    settings: Dict[str, Any] = dict(example_common.SOCKJS_SETTINGS)
    settings.update(
        {
            "recovery": True,  # keep a vanished client's connection for a while
            "history_size": 200,  # the last 200 messages of each room
            "presence": True,  # who is in which room, in every process
            "presence_ttl": presence_ttl,  # a dead process's people vanish within this
            "broker": redis,  # None: one process
        }
    )
    router = SockJSRouter(ChatConnection, "/chat", settings)
    router.chat_rooms = Rooms(router, presence_ttl / 3)  # type: ignore[attr-defined]
    app = web.Application(router.urls + example_common.page_routes(HERE))
    app.sockjs_router = router  # type: ignore[attr-defined]
    return app


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="SockJS chat example (rooms, nicknames, recovery)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8081, help="port (default 8081)")
    parser.add_argument("--redis", default=None, help="redis:// URL shared by several processes")
    parser.add_argument(
        "--presence-ttl", type=float, default=15, help="seconds within which a dead process's people leave (15)"
    )
    parser.add_argument("--debug", action="store_true", help="log at DEBUG (shows every session event)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    args = parse_args()
    example_common.serve(make_app(args.redis, args.presence_ttl), args, "chat")
