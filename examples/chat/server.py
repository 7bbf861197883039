"""Chat: rooms and nicknames over SockJS.

Run ``python examples/chat/server.py`` and open http://127.0.0.1:8081/ in
two windows. Messages are JSON objects:

* client to server: ``{"op": "join", "room": ..., "nick": ...}`` (joining
  another room leaves the current one), ``{"op": "say", "text": ...}``;
* server to client: ``{"op": "joined", "room", "nick", "members"}`` to the
  one who joined, ``{"op": "presence", "room", "event": "join"|"leave",
  "nick", "members"}`` and ``{"op": "msg", "room", "nick", "text"}`` to
  everyone in the room, ``{"op": "error", "text"}``.

Each room message is encoded once and broadcast to the room's members.
"""
import json
import os
import re
import sys
from typing import Any, Dict, Optional, Set

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import example_common
from tornado import web

from sockjs.tornado import SockJSConnection, SockJSRouter

HERE = os.path.dirname(os.path.abspath(__file__))
ROOM_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
MAX_NICK = 24
MAX_TEXT = 2000


class ChatConnection(SockJSConnection):
    #: room name -> members
    rooms: Dict[str, Set["ChatConnection"]] = {}
    room: Optional[str] = None
    nick: Optional[str] = None

    def on_message(self, message: str) -> None:
        try:
            data = json.loads(message)
            op = data["op"]
        except (ValueError, TypeError, KeyError):
            return self.error("messages are JSON objects with an 'op'")
        if op == "join":
            self.join(str(data.get("room", "")), str(data.get("nick", "")).strip())
        elif op == "say":
            text = str(data.get("text", ""))[:MAX_TEXT]
            if self.room is None:
                return self.error("join a room first")
            if text:
                self.to_room({"op": "msg", "room": self.room, "nick": self.nick, "text": text})
        else:
            self.error("unknown op %r" % (op,))

    def join(self, room: str, nick: str) -> None:
        if not ROOM_RE.match(room):
            return self.error("room names are 1-32 letters, digits, '-' or '_'")
        if not nick or len(nick) > MAX_NICK:
            return self.error("nicknames are 1-%d characters" % MAX_NICK)
        members = self.rooms.get(room, set())
        if any(m.nick == nick for m in members if m is not self):
            return self.error("%r is taken in %s" % (nick, room))
        self.leave()
        self.room, self.nick = room, nick
        self.rooms.setdefault(room, set()).add(self)
        self.send(json.dumps({"op": "joined", "room": room, "nick": nick, "members": self.members()}))
        self.to_room({"op": "presence", "room": room, "event": "join", "nick": nick, "members": self.members()})

    def leave(self) -> None:
        room = self.room
        if room is None:
            return
        members = self.rooms.get(room, set())
        members.discard(self)
        if not members:
            self.rooms.pop(room, None)
        else:
            self.broadcast(members, json.dumps({"op": "presence", "room": room, "event": "leave",
                                                "nick": self.nick, "members": sorted(m.nick or "" for m in members)}))
        self.room = None

    def members(self) -> Any:
        return sorted(m.nick or "" for m in self.rooms.get(self.room or "", ()))

    def to_room(self, data: Dict[str, Any]) -> None:
        self.broadcast(self.rooms.get(self.room or "", ()), json.dumps(data))

    def error(self, text: str) -> None:
        self.send(json.dumps({"op": "error", "text": text}))

    def on_close(self) -> None:
        self.leave()


def make_app() -> web.Application:
    router = SockJSRouter(ChatConnection, "/chat", example_common.SOCKJS_SETTINGS)
    return web.Application(router.urls + example_common.page_routes(HERE))


if __name__ == "__main__":
    args = example_common.parse_args("SockJS chat example (rooms and nicknames)", 8081)
    example_common.serve(make_app(), args, "chat")
