"""Redis pub/sub broker (``pip install sockjs-tornado[redis]``).

Every process of a service publishes to, and subscribes to, one Redis
channel (the *namespace*). A publication travels as a small JSON envelope
``[process_id, seq, channel, message]``: ``process_id`` is random per broker
instance and ``seq`` counts that publisher's publications, so a receiver
drops its own publications (already delivered locally), drops duplicates
(a batch re-sent after a failed write) and counts gaps (publications it
never saw).

Outages. Redis pub/sub keeps nothing for absent subscribers, so the broker
does what it can around a Redis restart:

* it notices the outage on whichever of its two connections fails first
  (the subscriber sees the socket close at once), logs one WARNING for the
  whole outage, and reconnects by itself with exponential backoff capped at
  ``retry_max`` seconds, resubscribing when it does;
* publications made meanwhile are delivered to this process's own
  subscribers at once (the hub does that) and wait, in order, in a bounded
  buffer of ``buffer_size`` publications (the same buffer absorbs bursts
  faster than Redis takes them); when it is full the *oldest* is dropped
  and counted (``dropped``);
* once both connections are back, it waits ``retry_max`` more seconds, the
  longest another process can take to retry and resubscribe, then sends the
  buffer in order. A process that is still away by then misses them (and
  counts the gap in ``lost`` when it next hears from that publisher).

So delivery across processes is at most once, in publish order per
publisher, and, when Redis comes back within the buffer's span, complete.

Kept channels. With channel history on (the ``history_size`` setting),
publications go through one Lua script that appends them to the channel's
Redis Stream, numbers them and publishes the envelope with two more items,
``[..., offset, epoch]`` (see :mod:`~sockjs.tornado.broker.redisstate`).
Such a publication reaches the subscribers of *every* process, the
publisher's own included, when Redis hands it back: one order per channel
everywhere, the order of the offsets. During an outage they wait in the
same buffer.
"""

import asyncio
import itertools
import json
import logging
import time
import uuid
from collections import OrderedDict, deque
from typing import TYPE_CHECKING, Any, Deque, Dict, List, Optional, Tuple

from sockjs.tornado.broker.base import Broker, Deliver
from sockjs.tornado.tasks import spawn

if TYPE_CHECKING:  # pragma: no cover
    from sockjs.tornado.broker.redisstate import RedisHistory, RedisPresence, RedisState

__all__ = ["RedisBroker"]

log = logging.getLogger("sockjs.tornado.broker")

_MIN_DELAY = 0.05
_BATCH = 256
# Publishers remembered for duplicate detection; a restarted process comes
# back under a new id, so old ids only need to age out.
_MAX_PUBLISHERS = 4096


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


async def _aclose(obj: Any) -> None:
    # redis-py 5 renamed close() to aclose(); 4.2+ is supported.
    closer = getattr(obj, "aclose", None) or obj.close
    await closer()


class RedisBroker(Broker):
    """Carries publications between processes through Redis pub/sub.

    ``url`` is a redis-py URL (``redis://host:port/db``); ``namespace`` the
    Redis channel all processes of the service share. Nothing connects
    before :meth:`start`, which the router calls on its running loop.
    ``client_kwargs`` go to ``redis.asyncio.Redis.from_url``.
    """

    def __init__(
        self,
        url: str,
        namespace: str,
        buffer_size: int = 10000,
        retry_max: float = 2.0,
        client_kwargs: Optional[Dict[str, Any]] = None,
    ) -> None:
        if buffer_size <= 0:
            raise ValueError("buffer_size must be positive, not %r" % (buffer_size,))
        self.url = url
        self.namespace = namespace
        #: This publisher's id in envelopes.
        self.process_id = uuid.uuid4().hex[:16]
        self.buffer_size = buffer_size
        self.retry_max = max(float(retry_max), _MIN_DELAY)
        self._client_kwargs = client_kwargs or {}
        self._client: Any = None
        self._deliver: Optional[Deliver] = None
        self._seq = 0
        # (seq, envelope, script arguments for a kept channel or None)
        self._outbox: Deque[Tuple[int, str, Optional[Tuple[List[str], List[Any]]]]] = deque()
        self._state: "Optional[RedisState]" = None
        self._history: "Optional[RedisHistory]" = None
        self._presence: "Optional[RedisPresence]" = None
        self._script_sha: Optional[str] = None
        self._last_seen: "OrderedDict[str, int]" = OrderedDict()
        self._wakeup: Optional[asyncio.Event] = None
        self._tasks: Tuple["asyncio.Future[Any]", ...] = ()
        self._writer_up = False
        self._reader_up = False
        self._outage_since: Optional[float] = None
        self._hold_until = 0.0
        self._drop_warned = False
        self._closed = False
        self.counters: Dict[str, int] = dict.fromkeys(
            ("published", "sent", "received", "duplicates", "lost", "dropped", "malformed", "outages"), 0
        )

    # -- Broker -----------------------------------------------------------

    def start(self, deliver: Deliver) -> None:
        import redis.asyncio as aioredis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        self._deliver = deliver
        kwargs: Dict[str, Any] = {"socket_connect_timeout": 2.0, "retry": Retry(NoBackoff(), 0)}
        kwargs.update(self._client_kwargs)
        self._client = aioredis.Redis.from_url(self.url, **kwargs)
        self._wakeup = asyncio.Event()
        self._tasks = (
            spawn(None, self._run_reader(), "redis broker reader"),
            spawn(None, self._run_writer(), "redis broker writer"),
        )
        if self._state is not None:
            self._state.start()

    @property
    def client(self) -> Any:
        """The ``redis.asyncio.Redis`` client (``None`` before start)."""
        return self._client

    @property
    def state(self) -> "RedisState":
        """History, presence and recovery records in this Redis."""
        if self._state is None:
            from sockjs.tornado.broker.redisstate import RedisState

            self._state = RedisState(self)
            if self._client is not None:
                self._state.start()
        return self._state

    def history_store(self, size: int, ttl: float) -> "RedisHistory":
        if self._history is None:
            from sockjs.tornado.broker.redisstate import RedisHistory

            self._history = RedisHistory(self.state, size, ttl)
        return self._history

    def presence_store(self, ttl: float) -> "RedisPresence":
        if self._presence is None:
            from sockjs.tornado.broker.redisstate import RedisPresence

            self._presence = RedisPresence(self.state, ttl)
        return self._presence

    def publish(self, channel: Optional[str], message: Any) -> None:
        self._enqueue(channel, message, False)

    def publish_kept(self, channel: str, message: Any) -> None:
        self._enqueue(channel, message, True)

    def _enqueue(self, channel: Optional[str], message: Any, kept: bool) -> None:
        self._seq += 1
        self.counters["published"] += 1
        if len(self._outbox) >= self.buffer_size:
            self._outbox.popleft()
            self.counters["dropped"] += 1
            if not self._drop_warned:
                self._drop_warned = True
                log.warning(
                    "redis broker %s: %d publications waiting, dropping the oldest", self.url, len(self._outbox) + 1
                )
        # ensure_ascii keeps lone surrogates (valid in SockJS JSON) encodable.
        envelope = json.dumps([self.process_id, self._seq, channel, message])
        script = None
        if kept:
            assert self._history is not None and channel is not None
            script = self._history.publish_args(channel, envelope[:-1] + ",", json.dumps(message), self._seq)
        self._outbox.append((self._seq, envelope, script))
        if self._wakeup is not None:
            self._wakeup.set()

    async def close(self) -> None:
        if self._presence is not None:
            await self._presence.close()
        if self._state is not None:
            await self._state.close()
        self._closed = True
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            try:
                await t
            except BaseException:
                pass
        self._tasks = ()
        if self._client is not None:
            try:
                await _aclose(self._client)
            except Exception:
                pass
            self._client = None

    @property
    def connected(self) -> bool:
        return self._writer_up and self._reader_up and self._outage_since is None

    def stats(self) -> Dict[str, Any]:
        out: Dict[str, Any] = dict(self.counters)
        out["connected"] = self.connected
        out["buffered"] = len(self._outbox)
        out["process_id"] = self.process_id
        return out

    # -- outage bookkeeping ----------------------------------------------

    def _down(self, side: str, exc: BaseException) -> None:
        # Either side down means Redis is: the writer must check its own
        # (pooled, maybe stale) connection before sending again.
        self._writer_up = False
        if side == "reader":
            self._reader_up = False
            if self._wakeup is not None:
                self._wakeup.set()
        if self._closed or self._outage_since is not None:
            log.debug("redis broker %s: %s still down: %s", self.url, side, exc)
            return
        self._outage_since = time.monotonic()
        self.counters["outages"] += 1
        log.warning(
            "redis broker %s unreachable (%s: %s); reconnecting in the background, keeping up to %d publications",
            self.url,
            side,
            exc or type(exc).__name__,
            self.buffer_size,
        )

    def _up(self, side: str) -> None:
        if side == "reader":
            self._reader_up = True
        else:
            self._writer_up = True
        if not (self._reader_up and self._writer_up) or self._outage_since is None:
            return
        log.info(
            "redis broker %s reconnected after %.1fs; sending %d buffered publications in %.1fs",
            self.url,
            time.monotonic() - self._outage_since,
            len(self._outbox),
            self.retry_max,
        )
        self._outage_since = None
        self._drop_warned = False
        # Give every other process time to retry and resubscribe.
        self._hold_until = time.monotonic() + self.retry_max
        assert self._wakeup is not None
        asyncio.get_running_loop().call_later(self.retry_max, self._wakeup.set)

    def _holding(self) -> bool:
        return self._outage_since is not None or time.monotonic() < self._hold_until

    # -- subscriber -------------------------------------------------------

    async def _run_reader(self) -> None:
        delay = _MIN_DELAY
        while not self._closed:
            pubsub = self._client.pubsub()
            try:
                await pubsub.subscribe(self.namespace)
                while True:
                    msg = await pubsub.get_message(timeout=2.0)
                    if msg is None:
                        raise ConnectionError("no subscribe confirmation")
                    if msg["type"] == "subscribe":
                        break
                self._up("reader")
                delay = _MIN_DELAY
                while True:
                    msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if msg is not None and msg["type"] == "message":
                        self._on_envelope(msg["data"])
            except asyncio.CancelledError:
                raise
            except Exception as e:
                self._down("reader", e)
            finally:
                try:
                    await _aclose(pubsub)
                except Exception:
                    pass
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.retry_max)

    def _on_envelope(self, data: Any) -> None:
        try:
            fields = json.loads(data)
            pid, seq, channel, message = fields[:4]
            position: Optional[Tuple[str, int]] = None
            if len(fields) == 6:
                offset, epoch = fields[4:]
                if not isinstance(offset, int) or not isinstance(epoch, str):
                    raise ValueError("bad position")
                position = (epoch, offset)
            elif len(fields) != 4:
                raise ValueError("bad length")
            if not (isinstance(pid, str) and isinstance(seq, int) and (channel is None or isinstance(channel, str))):
                raise ValueError("bad field types")
        except (ValueError, TypeError) as e:
            self.counters["malformed"] += 1
            log.warning("redis broker %s: ignoring a malformed publication (%s)", self.namespace, e)
            return
        if pid == self.process_id:
            if position is not None:
                # Kept publications come back here too, numbered.
                self._hand_over(channel, message, position)
            return
        self.counters["received"] += 1
        last = self._last_seen.get(pid)
        if last is not None:
            if seq <= last:
                self.counters["duplicates"] += 1
                return
            if seq > last + 1:
                self.counters["lost"] += seq - last - 1
                log.info("redis broker %s: missed %d publications of %s", self.namespace, seq - last - 1, pid)
            self._last_seen.move_to_end(pid)
        self._last_seen[pid] = seq
        if len(self._last_seen) > _MAX_PUBLISHERS:
            self._last_seen.popitem(last=False)
        self._hand_over(channel, message, position)

    def _hand_over(self, channel: Optional[str], message: Any, position: Optional[Tuple[str, int]]) -> None:
        assert self._deliver is not None
        try:
            self._deliver(channel, message, position)
        except Exception:
            log.exception("delivering a publication on %r failed", channel)

    # -- publisher --------------------------------------------------------

    async def _connect_writer(self) -> None:
        delay = _MIN_DELAY
        while not self._closed:
            try:
                await self._client.ping()
                # Loaded again on every (re)connection: a restarted Redis
                # forgot it.
                self._script_sha = None
            except asyncio.CancelledError:
                raise
            except Exception as e:
                self._down("writer", e)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.retry_max)
                continue
            self._up("writer")
            return

    async def _run_writer(self) -> None:
        wakeup = self._wakeup
        assert wakeup is not None
        while not self._closed:
            if not self._writer_up:
                await self._connect_writer()
            await wakeup.wait()
            wakeup.clear()
            while self._outbox and self._writer_up and not self._holding():
                batch = list(itertools.islice(self._outbox, 0, _BATCH))
                try:
                    if self._script_sha is None and any(item[2] is not None for item in batch):
                        from sockjs.tornado.broker.redisstate import PUBLISH_KEPT_LUA

                        self._script_sha = _text(await self._client.script_load(PUBLISH_KEPT_LUA))
                    pipe = self._client.pipeline(transaction=False)
                    for _, envelope, script in batch:
                        if script is None:
                            pipe.publish(self.namespace, envelope)
                        else:
                            keys, args = script
                            pipe.execute_command("EVALSHA", self._script_sha, len(keys), *keys, *args)
                    await pipe.execute()
                except asyncio.CancelledError:
                    raise
                except Exception as e:
                    # Kept in the outbox: re-sent after reconnecting; the
                    # receivers drop whatever of it got through already,
                    # and the history script skips what it stored.
                    self._down("writer", e)
                    break
                last = batch[-1][0]
                while self._outbox and self._outbox[0][0] <= last:
                    self._outbox.popleft()
                self.counters["sent"] += len(batch)
