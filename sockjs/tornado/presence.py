"""Presence: who is subscribed to a channel, in every process.

Switched on per router by the ``presence`` setting. Then every
subscription (``conn.subscribe(channel)``, or a subscription made by the
shipped browser client) is listed by ``await router.presence(channel)``
as ``{client_id: info}``: ``client_id`` is the connection's
:attr:`~sockjs.tornado.conn.SockJSConnection.client_id` (kept across a
recovered reconnect), ``info`` its
:attr:`~sockjs.tornado.conn.SockJSConnection.presence_info` as it was when
it subscribed (any JSON value; ``None`` unless the application set it).

Two stores:

* :class:`MemoryPresence`: this process's subscriptions (the default, and
  with brokers other than Redis).
* :class:`~sockjs.tornado.broker.redisstate.RedisPresence`: one Redis hash
  per channel, each entry tagged with the process that wrote it; each
  process refreshes one liveness key every ``presence_ttl / 3`` seconds.
  Entries of a process whose key expired (it died without cleaning up) are
  ignored by readers and deleted, so a dead process's subscribers
  disappear within ``presence_ttl`` seconds.
"""

from typing import Any, Dict

__all__ = ["PresenceStore", "MemoryPresence"]


class PresenceStore:
    """Where a router keeps presence."""

    def join(self, channel: str, client_id: str, info: Any) -> None:
        """``client_id`` subscribed to ``channel`` with ``info``."""
        raise NotImplementedError

    def leave(self, channel: str, client_id: str) -> None:
        """``client_id`` left ``channel``."""
        raise NotImplementedError

    async def members(self, channel: str) -> Dict[str, Any]:
        """``{client_id: info}`` of the channel's subscribers."""
        raise NotImplementedError

    async def close(self) -> None:
        """Forget this process's entries (shutdown)."""


class MemoryPresence(PresenceStore):
    """Presence of this process only."""

    def __init__(self) -> None:
        self._channels: Dict[str, Dict[str, Any]] = {}

    def join(self, channel: str, client_id: str, info: Any) -> None:
        self._channels.setdefault(channel, {})[client_id] = info

    def leave(self, channel: str, client_id: str) -> None:
        members = self._channels.get(channel)
        if members is not None:
            members.pop(client_id, None)
            if not members:
                del self._channels[channel]

    def local(self, channel: str) -> Dict[str, Any]:
        """This process's entries (a copy)."""
        return dict(self._channels.get(channel, ()))

    async def members(self, channel: str) -> Dict[str, Any]:
        return self.local(channel)
