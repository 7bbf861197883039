"""The cluster example, one command: redis-server, N chat servers and
haproxy (or nginx) in front, all on 127.0.0.1.

    python3 examples/cluster/run.py            # 2 nodes, http://127.0.0.1:8080/
    python3 examples/cluster/run.py --nodes 4 --port 9000
    python3 examples/cluster/run.py --balancer nginx
    python3 examples/cluster/run.py --chat     # the chat example as the nodes

Open the page in several tabs (or with ``?transport=xhr-polling`` etc.):
each tab shows which node answered it, and every message typed anywhere
reaches every tab, whichever node it is on. Ctrl-C stops everything.
Needs ``redis-server`` and ``haproxy`` or ``nginx`` (Debian: ``apt install
redis-server haproxy nginx``), ``pip install -e .[redis]`` and ``npm ci``.
When a port is taken, it says so and exits (status 1).
"""

import argparse
import os
import signal
import sys
import threading

from cluster import Cluster

HERE = os.path.dirname(os.path.abspath(__file__))


def main() -> None:
    parser = argparse.ArgumentParser(description="SockJS cluster example: haproxy or nginx + N nodes + Redis")
    parser.add_argument("--nodes", type=int, default=2, help="server processes (default 2)")
    parser.add_argument("--port", type=int, default=8080, help="the balancer's port (default 8080)")
    parser.add_argument(
        "--balancer",
        choices=["haproxy", "nginx"],
        default="haproxy",
        help="what runs in front of the nodes (default haproxy)",
    )
    parser.add_argument(
        "--chat",
        action="store_true",
        help="run the chat example (examples/chat/server.py) as the nodes: kill one, the pages carry on",
    )
    parser.add_argument("--redis-port", type=int, default=0, help="redis-server port (default: a free one)")
    args = parser.parse_args()
    if not os.path.exists(
        os.path.join(os.path.dirname(os.path.dirname(HERE)), "node_modules", "sockjs-client", "dist", "sockjs.min.js")
    ):
        raise SystemExit("sockjs-client is missing: run `npm ci` at the repository root first")

    try:
        cluster = Cluster(
            nodes=args.nodes,
            port=args.port,
            redis_port=args.redis_port or None,
            quiet=False,
            balancer=args.balancer,
            server=os.path.join(os.path.dirname(HERE), "chat", "server.py") if args.chat else None,
        )
    except ValueError as e:
        raise SystemExit("run.py: %s" % e) from None
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: done.set())
    try:
        cluster.start()
    except RuntimeError as e:
        cluster.cleanup()
        raise SystemExit("run.py: %s" % e) from None
    try:
        print(
            "\n%-9s %s/  (config: %s/%s)"
            % (
                args.balancer + ":",
                cluster.url,
                cluster.workdir,
                "nginx.conf" if args.balancer == "nginx" else "haproxy.cfg",
            )
        )
        for i in range(args.nodes):
            print("node%d:    %s/  (directly)" % (i + 1, cluster.node_url(i)))
        print("redis:    %s\nCtrl-C stops everything.\n" % cluster.redis_url)
        sys.stdout.flush()
        while not done.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        cluster.cleanup()


if __name__ == "__main__":
    main()
