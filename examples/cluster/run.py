"""The cluster example, one command: redis-server, N chat servers and
haproxy in front, all on 127.0.0.1.

    python3 examples/cluster/run.py            # 2 nodes, http://127.0.0.1:8080/
    python3 examples/cluster/run.py --nodes 4 --port 9000

Open the page in several tabs (or with ``?transport=xhr-polling`` etc.):
each tab shows which node answered it, and every message typed anywhere
reaches every tab, whichever node it is on. Ctrl-C stops everything.
Needs ``redis-server`` and ``haproxy`` (Debian: ``apt install
redis-server haproxy``), ``pip install -e .[redis]`` and ``npm ci``.
"""
import argparse
import os
import signal
import sys
import threading

from cluster import Cluster, free_port

HERE = os.path.dirname(os.path.abspath(__file__))


def main() -> None:
    parser = argparse.ArgumentParser(description="SockJS cluster example: haproxy + N nodes + Redis")
    parser.add_argument("--nodes", type=int, default=2, help="server processes (default 2)")
    parser.add_argument("--port", type=int, default=8080, help="haproxy's port (default 8080)")
    parser.add_argument("--redis-port", type=int, default=0, help="redis-server port (default: a free one)")
    args = parser.parse_args()
    if not os.path.exists(os.path.join(os.path.dirname(os.path.dirname(HERE)), "node_modules",
                                       "sockjs-client", "dist", "sockjs.min.js")):
        raise SystemExit("sockjs-client is missing: run `npm ci` at the repository root first")

    cluster = Cluster(nodes=args.nodes, port=args.port, redis_port=args.redis_port or free_port(),
                      quiet=False)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: done.set())
    cluster.start()
    try:
        print("\nhaproxy:  %s/  (config: %s/haproxy.cfg)" % (cluster.url, cluster.workdir))
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
