"""Fan-out across processes: 1 and 2 sockjs-tornado processes behind
haproxy, linked by Redis. Standalone: ``python3 bench/cluster_fanout.py``.

For each node count it starts the cluster example (``examples/cluster``:
redis-server, N nodes, haproxy, all on 127.0.0.1), opens ``--clients``
SockJS websocket sessions through haproxy, subscribes each to one channel,
then publishes ``--messages`` messages in bursts of ``--burst`` through
node 1 and measures, until every client has every message:

* deliveries per second (messages x clients / wall time);
* latency from publish to receipt (p50, p99), each message carrying its
  publish time;
* CPU seconds used by each node, haproxy, redis-server, and this load
  generator (which is a single Python process: when its CPU nears the wall
  time, it is the bottleneck, and the figure is a lower bound).

Everything is bounded (count and a --timeout) and every process is
stopped at the end. Results print as a table and, with ``--json``, as
JSON.
"""

import argparse
import asyncio
import json
import os
import resource
import statistics
import sys
import time
import urllib.request
from typing import Any, Dict, List, Optional

from tornado.websocket import websocket_connect

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "examples", "cluster"))
from cluster import Cluster  # noqa: E402

CLK = os.sysconf("SC_CLK_TCK")


def cpu_of(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK


def self_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


class Receiver:
    """One SockJS websocket session; records latency of bench messages."""

    def __init__(self) -> None:
        self.count = 0
        self.latencies: List[float] = []
        self.node: Optional[str] = None
        self.subscribed = asyncio.Event()

    async def run(self, url: str, expected: int, done: "asyncio.Future[None]") -> None:
        ws = await websocket_connect(url, max_message_size=1 << 24)
        self.ws = ws
        ws.write_message(json.dumps([json.dumps({"sub": "bench"})]))
        while True:
            frame = await ws.read_message()
            if frame is None:
                raise ConnectionError("session closed")
            if not isinstance(frame, str) or frame[0] != "a":
                continue
            now = time.time()
            for m in json.loads(frame[1:]):
                if m.startswith("b:"):
                    self.count += 1
                    self.latencies.append(now - float(m.split(":", 2)[1]))
                elif '"subscribed"' in m:
                    self.subscribed.set()
                elif '"hello"' in m:
                    self.node = json.loads(m)["node"]
            if self.count >= expected and not done.done():
                done.set_result(None)


async def run_case(nodes: int, clients: int, messages: int, burst: int, timeout: float) -> Dict[str, Any]:
    cluster = Cluster(nodes=nodes, heartbeat=25)
    cluster.start()
    loop = asyncio.get_running_loop()
    try:
        ws_base = cluster.url.replace("http://", "ws://") + "/chat/000/"
        receivers = [Receiver() for _ in range(clients)]
        dones = [loop.create_future() for _ in receivers]
        tasks = [
            asyncio.ensure_future(r.run(ws_base + "b%05d/websocket" % i, messages, d))
            for i, (r, d) in enumerate(zip(receivers, dones))
        ]
        await asyncio.wait_for(asyncio.gather(*(r.subscribed.wait() for r in receivers)), timeout)
        per_node = {n: sum(1 for r in receivers if r.node == n) for n in sorted({r.node for r in receivers})}

        procs = {"node%d" % (i + 1): p.pid for i, p in enumerate(cluster.nodes) if p is not None}
        procs["haproxy"] = cluster.haproxy.pid  # type: ignore[union-attr]
        procs["redis"] = cluster.redis.pid  # type: ignore[union-attr]
        cpu0 = {k: cpu_of(p) for k, p in procs.items()}
        gen0 = self_cpu()
        t0 = time.monotonic()

        def publish(n: int) -> None:
            url = cluster.node_url(0) + "/publish?channel=bench&repeat=%d" % n
            body = ("b:%.6f:" % time.time()).encode()
            req = urllib.request.Request(url, data=body, method="POST")
            with urllib.request.urlopen(req, timeout=10) as r:
                r.read()

        sent = 0
        while sent < messages:
            n = min(burst, messages - sent)
            await loop.run_in_executor(None, publish, n)
            sent += n
            await asyncio.sleep(0.01)
        await asyncio.wait_for(asyncio.gather(*dones), timeout)
        wall = time.monotonic() - t0
        cpu = {k: round(cpu_of(p) - cpu0[k], 2) for k, p in procs.items()}
        cpu["loadgen"] = round(self_cpu() - gen0, 2)
        lat = sorted(x for r in receivers for x in r.latencies)
        for t in tasks:
            t.cancel()
        for r in receivers:
            try:
                r.ws.close()
            except Exception:
                pass
        statuses = [cluster.status(i)["broker"] for i in range(nodes)]
        node_cpu = [cpu["node%d" % (i + 1)] for i in range(nodes)]
        deliveries = clients * messages
        return {
            "nodes": nodes,
            "clients": clients,
            "clients_per_node": per_node,
            "messages": messages,
            "deliveries": clients * messages,
            "wall_s": round(wall, 3),
            "deliveries_per_s": round(clients * messages / wall),
            "latency_ms_p50": round(1000 * statistics.median(lat), 1),
            "latency_ms_p99": round(1000 * lat[int(len(lat) * 0.99) - 1], 1),
            "cpu_s": cpu,
            # On a busy or shared machine wall time says little; CPU does:
            # what the nodes spend per delivery, and what the busiest node
            # could deliver with one core to itself.
            "node_cpu_us_per_delivery": round(1e6 * sum(node_cpu) / deliveries, 2),
            "busiest_node_deliveries_per_cpu_s": round(deliveries / max(max(node_cpu), 0.01)),
            "load_average": os.getloadavg()[0],
            "broker_lost": sum(s["lost"] for s in statuses),
            "broker_dropped": sum(s["dropped"] for s in statuses),
        }
    finally:
        cluster.cleanup()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", type=int, default=200)
    ap.add_argument("--messages", type=int, default=500)
    ap.add_argument("--burst", type=int, default=50, help="messages per publish request")
    ap.add_argument("--nodes", default="1,2", help="node counts to run, e.g. 1,2")
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    results = []
    for n in [int(x) for x in args.nodes.split(",")]:
        results.append(asyncio.run(run_case(n, args.clients, args.messages, args.burst, args.timeout)))
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(
        "%-5s %-8s %-9s %-10s %-8s %-8s %-10s %-12s %s"
        % ("nodes", "clients", "deliv.", "deliv./s", "p50 ms", "p99 ms", "us/deliv.", "busiest/cpu-s", "CPU seconds")
    )
    for r in results:
        print(
            "%-5d %-8d %-9d %-10d %-8.1f %-8.1f %-10.2f %-12d %s"
            % (
                r["nodes"],
                r["clients"],
                r["deliveries"],
                r["deliveries_per_s"],
                r["latency_ms_p50"],
                r["latency_ms_p99"],
                r["node_cpu_us_per_delivery"],
                r["busiest_node_deliveries_per_cpu_s"],
                " ".join("%s=%.2f" % kv for kv in r["cpu_s"].items()),
            )
        )
    print("load average: %.1f on %d CPUs" % (os.getloadavg()[0], os.cpu_count() or 0))


if __name__ == "__main__":
    main()
