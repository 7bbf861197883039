"""What the Redis broker keeps besides carrying publications: channel
history, presence, and the saved state of recoverable sessions.

Keys, all under the broker's namespace ``ns``:

* ``ns:h:<channel>`` a Stream of kept publications (fields ``o`` offset,
  ``d`` JSON data), trimmed by ``MAXLEN ~ history_size`` and by
  ``MINID`` to ``history_ttl``; ``ns:hm:<channel>`` a hash with the
  channel's epoch ``e`` and last offset ``o``. Both expire after
  ``history_ttl`` of silence; the next publication then starts a new epoch.
  One Lua script appends, numbers and publishes, so offsets follow the
  order in which subscribers everywhere receive the publications.
* ``ns:seq:<process_id>`` the sequence number of the last kept
  publication of that process that Redis applied (so a re-sent one is
  stored once), expiring after ``history_ttl``.
* ``ns:p:<channel>`` a hash ``client_id -> [process_id, info]``;
  ``ns:alive:<process_id>`` a key each process refreshes every third of
  ``presence_ttl``. Readers ignore (and delete) entries of a process whose
  key expired.
* ``ns:r:<token>`` the JSON state of a recoverable session (see
  :mod:`sockjs.tornado.recovery`), expiring ``recovery_window`` seconds
  after its process last refreshed it.

Writes are fire-and-forget and leave in call order, pipelined by one
task; a Redis outage delays them (the task retries) and logs once.
"""

import asyncio
import json
import logging
import time
from typing import TYPE_CHECKING, Any, Deque, Dict, List, Optional, Tuple

from sockjs.tornado.history import HistoryPage, HistoryStore, Publication, new_epoch, page
from sockjs.tornado.presence import PresenceStore
from sockjs.tornado.tasks import spawn

if TYPE_CHECKING:  # pragma: no cover
    from sockjs.tornado.broker.redisbroker import RedisBroker

__all__ = ["RedisState", "RedisHistory", "RedisPresence", "PUBLISH_KEPT_LUA"]

log = logging.getLogger("sockjs.tornado.broker")

#: Append to a channel's history, number the publication and publish it,
#: atomically, once: a publication the writer sends again (its pipeline
#: failed after Redis ran part of it) is skipped. KEYS: stream, meta, the
#: publishing process's mark. ARGV: pub/sub channel, envelope head (a JSON
#: array missing its last two items and closing bracket), data JSON,
#: maxlen, ttl in ms, a candidate epoch, the publication's sequence number
#: in its process. A process's kept publications reach Redis in sequence
#: order, so the mark (the highest number applied) tells what was applied.
#: Returns the offset, or 0 for a publication applied before.
PUBLISH_KEPT_LUA = """
local seq = tonumber(ARGV[7])
local mark = tonumber(redis.call('GET', KEYS[3]) or '0')
if seq <= mark then
  return 0
end
redis.call('SET', KEYS[3], ARGV[7], 'PX', ARGV[5])
local epoch = redis.call('HGET', KEYS[2], 'e')
if not epoch then
  epoch = ARGV[6]
  redis.call('HSET', KEYS[2], 'e', epoch)
end
local off = redis.call('HINCRBY', KEYS[2], 'o', 1)
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[4], '*', 'o', off, 'd', ARGV[3])
local t = redis.call('TIME')
local horizon = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - tonumber(ARGV[5])
redis.call('XTRIM', KEYS[1], 'MINID', '~', string.format('%d', horizon))
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
redis.call('PUBLISH', ARGV[1], ARGV[2] .. off .. ',"' .. epoch .. '"]')
return off
"""

#: A channel's epoch (made if none), last offset and kept entries. A meta
#: hash made by a read expires like one made by a publication.
READ_KEPT_LUA = """
if redis.call('HSETNX', KEYS[2], 'e', ARGV[1]) == 1 then
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
end
local m = redis.call('HMGET', KEYS[2], 'e', 'o')
return {m[1], m[2] or '0', redis.call('XRANGE', KEYS[1], '-', '+')}
"""


#: Delete presence entries of dead processes, each only if it is still the
#: value read: a client restored meanwhile by a live process has rewritten
#: its entry, which must stay. KEYS: the hash. ARGV: field, value, ...
DROP_DEAD_LUA = """
for i = 1, #ARGV, 2 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then
    redis.call('HDEL', KEYS[1], ARGV[i])
  end
end
return 0
"""


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


class RedisState:
    """The broker's second job: ordered, pipelined writes of state, reads,
    and this process's liveness key. Built by the broker; started with it."""

    def __init__(self, broker: "RedisBroker") -> None:
        self.broker = broker
        self.ns = broker.namespace
        self._writes: Deque[Tuple[Any, ...]] = Deque()
        self._wakeup: Optional[asyncio.Event] = None
        self._task: "Optional[asyncio.Future[Any]]" = None
        self._alive_task: "Optional[asyncio.Future[Any]]" = None
        self._alive_ttl: Optional[float] = None
        self._warned = False

    def key(self, kind: str, name: str) -> str:
        """``ns:kind:name``."""
        return "%s:%s:%s" % (self.ns, kind, name)

    def start(self) -> None:
        """Start the writer (and the liveness refresher, if presence is on);
        called by the broker's start."""
        self._wakeup = asyncio.Event()
        self._task = spawn(None, self._run_writer(), "redis state writer")
        if self._alive_ttl is not None and self._alive_task is None:
            self._alive_task = spawn(None, self._run_alive(), "redis liveness refresher")

    def keep_alive(self, ttl: float) -> None:
        """Refresh this process's liveness key (presence)."""
        self._alive_ttl = ttl
        if self._wakeup is not None and self._alive_task is None:
            self._alive_task = spawn(None, self._run_alive(), "redis liveness refresher")

    def write(self, *command: Any) -> None:
        """Queue one Redis command; commands leave in call order."""
        self._writes.append(command)
        if self._wakeup is not None:
            self._wakeup.set()

    async def read(self, *command: Any) -> Any:
        """Run one command now and return its answer."""
        return await self.broker.client.execute_command(*command)

    async def close(self) -> None:
        """Stop the tasks (after a last attempt to send queued writes)."""
        if self._writes and self.broker.client is not None:
            try:
                await asyncio.wait_for(self._flush(), 1.0)
            except Exception:
                pass
        for task in (self._task, self._alive_task):
            if task is not None:
                task.cancel()
                try:
                    await task
                except BaseException:
                    pass
        self._task = self._alive_task = None

    async def _flush(self) -> None:
        while self._writes:
            batch = list(self._writes)[:512]
            pipe = self.broker.client.pipeline(transaction=False)
            for command in batch:
                pipe.execute_command(*command)
            await pipe.execute(raise_on_error=False)
            for _ in batch:
                self._writes.popleft()

    async def _run_writer(self) -> None:
        wakeup = self._wakeup
        assert wakeup is not None
        delay = 0.05
        while True:
            await wakeup.wait()
            wakeup.clear()
            try:
                await self._flush()
                delay = 0.05
                self._warned = False
            except asyncio.CancelledError:
                raise
            except Exception as e:
                if not self._warned:
                    self._warned = True
                    log.warning("redis state writes for %s delayed: %s", self.ns, e)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.broker.retry_max)
                wakeup.set()

    async def _run_alive(self) -> None:
        ttl = self._alive_ttl
        assert ttl is not None
        key = self.key("alive", self.broker.process_id)
        while True:
            self.write("SET", key, "1", "PX", int(ttl * 1000))
            await asyncio.sleep(ttl / 3)


class RedisHistory(HistoryStore):
    """Channel history in Redis Streams, shared by every process."""

    def __init__(self, state: RedisState, size: int, ttl: float) -> None:
        super().__init__(size, ttl)
        self._state = state

    def publish_args(self, channel: str, head: str, data: str, seq: int) -> Tuple[List[str], List[Any]]:
        """KEYS and ARGV of :data:`PUBLISH_KEPT_LUA` for publication number
        ``seq`` of this process."""
        st = self._state
        return (
            [st.key("h", channel), st.key("hm", channel), st.key("seq", st.broker.process_id)],
            [st.ns, head, data, self.size, int(self.ttl * 1000), new_epoch(), seq],
        )

    async def read(
        self, channel: str, since: Optional[Tuple[str, int]] = None, limit: Optional[int] = None
    ) -> HistoryPage:
        st = self._state
        ttl_ms = int(self.ttl * 1000)
        epoch_raw, top_raw, entries = await st.read(
            "EVAL", READ_KEPT_LUA, 2, st.key("h", channel), st.key("hm", channel), new_epoch(), ttl_ms
        )
        horizon_ms = time.time() * 1000 - ttl_ms
        kept: List[Publication] = []
        for entry_id, fields in entries:
            ms = int(_text(entry_id).split("-", 1)[0])
            if ms < horizon_ms:
                continue
            f = {_text(k): v for k, v in zip(fields[::2], fields[1::2])}
            kept.append(Publication(int(f["o"]), json.loads(_text(f["d"])), ms / 1000.0))
        if len(kept) > self.size:
            kept = kept[-self.size :]
        return page(_text(epoch_raw), int(top_raw), kept, since, limit)


class RedisPresence(PresenceStore):
    """Presence in Redis hashes, shared by every process."""

    def __init__(self, state: RedisState, ttl: float) -> None:
        self._state = state
        self.ttl = ttl
        self._pid = state.broker.process_id
        state.keep_alive(ttl)

    def join(self, channel: str, client_id: str, info: Any) -> None:
        self._state.write("HSET", self._state.key("p", channel), client_id, json.dumps([self._pid, info]))

    def leave(self, channel: str, client_id: str) -> None:
        self._state.write("HDEL", self._state.key("p", channel), client_id)

    async def members(self, channel: str) -> Dict[str, Any]:
        st = self._state
        key = st.key("p", channel)
        raw = await st.read("HGETALL", key)
        entries: Dict[str, Tuple[str, Any, str]] = {}
        items = list(raw.items()) if isinstance(raw, dict) else list(zip(raw[::2], raw[1::2]))
        for k, v in items:
            try:
                pid, info = json.loads(_text(v))
            except (ValueError, TypeError):
                continue
            entries[_text(k)] = (str(pid), info, _text(v))
        pids = sorted({pid for pid, _, _ in entries.values() if pid != self._pid})
        alive = {self._pid}
        if pids:
            flags = await st.read("MGET", *[st.key("alive", p) for p in pids])
            alive.update(p for p, flag in zip(pids, flags) if flag is not None)
        dead = [(cid, value) for cid, (pid, _, value) in entries.items() if pid not in alive]
        if dead:
            st.write("EVAL", DROP_DEAD_LUA, 1, key, *[item for pair in dead for item in pair])
        return {cid: info for cid, (pid, info, _) in entries.items() if pid in alive}

    async def close(self) -> None:
        self._state.write("DEL", self._state.key("alive", self._pid))
