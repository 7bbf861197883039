#!/usr/bin/env python3
"""What recovery, history and presence cost, as ratios measured in one
invocation (the machine is shared and noisy: only ratios count).

    python3 bench/recovery.py            # needs redis-server for the last figure
    python3 bench/recovery.py --quick

1. Memory per idle websocket session (tracemalloc, real sessions on fake
   sockets): a recovering client's session with ``recovery`` on, against a
   plain session with it off. Target: at most 2 KB more.
2. Broadcast deliveries per CPU second, ``router.publish`` to 10,000
   subscribers: with in-memory history against without. Target >= 0.8x.
3. Publications per second through a real redis-server, from one router
   to a subscriber on another: kept in history (Redis Streams, one Lua
   script per publication) against plain pub/sub. Target >= 0.5x.

In-process, so the load generator is this process too: figures 1 and 2
time only our Python (CPU time of this process); figure 3 is wall time
(Redis works in its own process, pinned to CPU 1 when taskset exists,
this process to CPU 0).
"""

import argparse
import asyncio
import gc
import os
import shutil
import subprocess
import sys
import time
import tracemalloc
from typing import Any, Dict, List

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "examples", "cluster"))

from micro import FakeTransport  # noqa: E402

from sockjs.tornado import SockJSConnection, SockJSRouter  # noqa: E402
from sockjs.tornado.connectioninfo import ConnectionInfo  # noqa: E402
from sockjs.tornado.transports.websocket import WebSocketReceiver  # noqa: E402
from sockjs.tornado.websocket import WebSocketConnection  # noqa: E402

PLAIN = ConnectionInfo("127.0.0.1", {}, {}, {}, "/")
RECOVERING = ConnectionInfo("127.0.0.1", {}, {"_r": [""]}, {}, "/")


class Sub(SockJSConnection):
    def on_open(self, info: Any) -> None:
        self.subscribe("news")

    def on_message(self, message: str) -> None:
        pass


def open_sessions(router: SockJSRouter, info: ConnectionInfo, n: int) -> List[Any]:
    out = []
    for _ in range(n):
        c = WebSocketConnection(WebSocketReceiver(router, info), 1 << 20, 1 << 22)  # type: ignore[arg-type]
        c.connection_made(FakeTransport())
        out.append(c)
    return out


def memory_per_session(settings: Dict[str, Any], info: ConnectionInfo, n: int) -> float:
    router = SockJSRouter(Sub, "/m", settings)
    router.channels.start()  # built before measuring: shared, not per session
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    keep = open_sessions(router, info, n)
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert len(router.sessions) >= n and keep
    return (after - before) / n


async def deliveries_per_cpu_second(settings: Dict[str, Any], info: ConnectionInfo, subs: int, pubs: int) -> float:
    router = SockJSRouter(Sub, "/b", settings)
    keep = open_sessions(router, info, subs)
    assert router.channels.subscribers("news") == subs and keep
    t0 = time.process_time()
    for i in range(pubs):
        router.publish("news", "@")
        if i % 4 == 3:
            await asyncio.sleep(0)  # corked frames leave at the end of a turn
    await asyncio.sleep(0)
    return subs * pubs / (time.process_time() - t0)


async def redis_publications_per_second(redis_url: str, history: bool, n: int) -> float:
    settings = {
        "broker": redis_url,
        "broker_namespace": "bench-%s" % history,
        "broker_buffer_size": n + 1,
        "history_size": 1000 if history else 0,
    }
    a = SockJSRouter(Sub, "/r", settings)
    b = SockJSRouter(Sub, "/r", settings)
    got = []
    b.channels.start()
    a.channels.start()
    deliver = b.channels.deliver

    def counting(channel: Any, message: Any, position: Any = None) -> int:
        got.append(message)
        return deliver(channel, message, position)

    b.channels.broker._deliver = counting  # count what reaches process b
    while not (a.channels.broker.connected and b.channels.broker.connected):  # noqa: ASYNC110 - polls a flag
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.3)
    t0 = time.monotonic()
    for i in range(n):
        a.publish("news", i)
        if i % 256 == 255:
            await asyncio.sleep(0)
    while len(got) < n and time.monotonic() - t0 < 60:  # noqa: ASYNC110 - bounded poll
        await asyncio.sleep(0.005)
    elapsed = time.monotonic() - t0
    assert len(got) == n and got == list(range(n)), "lost or reordered: %d of %d" % (len(got), n)
    await a.shutdown()
    await b.shutdown()
    return n / elapsed


def pin(cpu: str, pid: int) -> None:
    if shutil.which("taskset"):
        subprocess.run(["taskset", "-pc", cpu, str(pid)], capture_output=True)


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true")
    args = p.parse_args()
    pin("0", os.getpid())
    n_idle = 2000 if args.quick else 10000
    subs, pubs = (2000, 20) if args.quick else (10000, 40)
    n_redis = 5000 if args.quick else 20000

    off = memory_per_session({}, PLAIN, n_idle)
    on = memory_per_session({"recovery": True}, RECOVERING, n_idle)
    print("1. idle session memory: off %.0f B, recovery on %.0f B: +%.0f B (target <= 2048)" % (off, on, on - off))

    plain = await deliveries_per_cpu_second({}, PLAIN, subs, pubs)
    kept = await deliveries_per_cpu_second({"history_size": 1000}, PLAIN, subs, pubs)
    rec = await deliveries_per_cpu_second({"history_size": 1000, "recovery": True}, RECOVERING, subs, pubs)
    print(
        "2. publish to %d: %.0f deliveries/CPU-s plain, %.0f with history: %.2fx (target >= 0.8); "
        "%.0f to recovering clients: %.2fx" % (subs, plain, kept, kept / plain, rec, rec / plain)
    )

    from cluster import Cluster

    cluster = Cluster(nodes=0)
    try:
        cluster.start_redis()
        assert cluster.redis is not None
        pin("1", cluster.redis.pid)
        plain_r = await redis_publications_per_second(cluster.redis_url, False, n_redis)
        kept_r = await redis_publications_per_second(cluster.redis_url, True, n_redis)
        print(
            "3. through redis: %.0f publications/s plain pub/sub, %.0f kept in history: %.2fx (target >= 0.5)"
            % (plain_r, kept_r, kept_r / plain_r)
        )
    finally:
        cluster.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
