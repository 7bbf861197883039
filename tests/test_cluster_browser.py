"""The cluster example's page in real Chromium, through haproxy.

Four pages, one transport each, load ``examples/cluster/index.html`` from
haproxy in front of two nodes linked by Redis. Each page shows the node
that answered it; once every page has subscribed, the test publishes one
message through each node, and every page must receive both, once.
"""

import os
import sys
import threading
from typing import Any, List

import pytest
from browser import TRANSPORTS, Browser
from cluster_clients import wait_for

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples", "cluster"))
from cluster import Cluster

pytestmark = [pytest.mark.browser, pytest.mark.cluster, pytest.mark.timeout(120)]

PAGES = ["websocket", "xhr-streaming", "xhr-polling", "iframe-eventsource"]
DONE = (
    "(function (s) { return s && s.seen.indexOf('go-1') >= 0 && s.seen.indexOf('go-2') >= 0"
    " ? s : undefined; })(window.__cluster)"
)


def test_example_page_on_every_node_gets_publications_from_every_node() -> None:
    cluster = Cluster(nodes=2, heartbeat=2, node_args=["--retry-max", "0.5"])
    cluster.start()
    try:
        with Browser() as browser:
            results: List[Any] = []
            urls = [
                (cluster.url + "/?transport=" + t, {"timeout": 60, "done": DONE, "progress": "window.__cluster"})
                for t in PAGES
            ]
            runner = threading.Thread(target=lambda: results.extend(browser.run_many(urls)), daemon=True)
            runner.start()
            wait_for(
                lambda: sum(cluster.status(i)["subscribers"].get("chat", 0) for i in (0, 1)) == len(PAGES),
                timeout=60,
                what="every page subscribed",
            )
            cluster.publish(0, "go-1")
            cluster.publish(1, "go-2")
            runner.join(70)
        assert len(results) == len(PAGES)
        for transport, res in zip(PAGES, results):
            assert res.ok, res.describe()
            state = res.result
            assert state["transport"] == transport, res.describe()
            assert state["node"] in ("node1", "node2"), res.describe()
            assert state["seen"].count("go-1") == 1 and state["seen"].count("go-2") == 1, res.describe()
            assert not res.errors, res.describe()
    finally:
        cluster.cleanup()


def test_nginx_config_from_the_docs_carries_every_transport() -> None:
    """nginx 1.22 (Debian's) in front of two nodes, configured with
    examples/cluster/nginx.conf, the file docs/deployment.rst shows: the
    example page on every transport gets publications from both nodes."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(root, "docs", "deployment.rst")) as f:
        assert ".. literalinclude:: ../examples/cluster/nginx.conf" in f.read()
    cluster = Cluster(nodes=2, heartbeat=2, node_args=["--retry-max", "0.5"], balancer="nginx")
    cluster.start()
    try:
        with Browser() as browser:
            results: List[Any] = []
            urls = [
                (cluster.url + "/?transport=" + t, {"timeout": 90, "done": DONE, "progress": "window.__cluster"})
                for t in TRANSPORTS
            ]
            runner = threading.Thread(target=lambda: results.extend(browser.run_many(urls)), daemon=True)
            runner.start()
            # Browser.run_many opens a few pages at a time: publish until every
            # page has seen both messages (each page counts each message once).
            seen_all = threading.Event()

            def publish_until_done() -> None:
                while not seen_all.wait(0.5) and runner.is_alive():
                    cluster.publish(0, "go-1")
                    cluster.publish(1, "go-2")

            publisher = threading.Thread(target=publish_until_done, daemon=True)
            publisher.start()
            runner.join(150)
            seen_all.set()
            publisher.join(5)
        assert len(results) == len(TRANSPORTS)
        for transport, res in zip(TRANSPORTS, results):
            assert res.ok, res.describe()
            state = res.result
            assert state["transport"] == transport, res.describe()
            assert state["node"] in ("node1", "node2"), res.describe()
            assert "go-1" in state["seen"] and "go-2" in state["seen"], res.describe()
            assert not res.errors, res.describe()
    finally:
        cluster.cleanup()
