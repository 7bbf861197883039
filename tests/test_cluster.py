"""Several server processes behind haproxy, linked by Redis.

Everything here is real and started by the tests on free ports in a
temporary directory: ``redis-server``, two ``examples/cluster/server.py``
processes and ``haproxy`` in front (the configuration of the cluster
example). Clients go through haproxy over websocket, xhr-streaming and
xhr-polling.
"""

import os
import sys
import time
from typing import Any, Dict, List

import pytest
from cluster_clients import TRANSPORTS, Client, wait_for

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples", "cluster"))
from cluster import Cluster

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(120)]

RETRY_MAX = 0.5


@pytest.fixture
def cluster() -> Any:
    c = Cluster(
        nodes=2, heartbeat=1, check_ms=200, node_args=["--retry-max", str(RETRY_MAX), "--disconnect-delay", "3"]
    )
    c.start()
    clients: List[Client] = []
    c.clients = clients  # type: ignore[attr-defined]
    yield c
    for cl in clients:
        cl.close()
    c.cleanup()


def connect(c: Cluster, transport: str) -> Client:
    cl = TRANSPORTS[transport](c.url).start()
    c.clients.append(cl)  # type: ignore[attr-defined]
    wait_for(lambda: cl.node, what="hello")
    cl.send({"sub": "chat"})
    cl.wait_subscribed()
    return cl


def spread(c: Cluster, transports: List[str]) -> Dict[str, Dict[str, Client]]:
    """For each transport, one subscribed client on each node (new session
    ids until haproxy's hash puts one on each)."""
    found: Dict[str, Dict[str, Client]] = {}
    for t in transports:
        found[t] = {}
        for _ in range(30):
            cl = connect(c, t)
            if cl.node in found[t]:
                cl.close()
                continue
            found[t][str(cl.node)] = cl
            if len(found[t]) == 2:
                break
        assert sorted(found[t]) == ["node1", "node2"], (t, sorted(found[t]))
    return found


def check_received(clients: List[Client], expected: List[str], prefix: str, timeout: float = 10) -> None:
    """Each client got ``expected`` exactly once each, in that order."""
    for cl in clients:
        wait_for(
            lambda cl=cl: len(cl.payloads(prefix)) >= len(expected),
            timeout=timeout,
            what="%s on %s: %d/%d" % (cl.transport, cl.node, len(cl.payloads(prefix)), len(expected)),
        )
    time.sleep(0.3)  # anything extra (a duplicate) would arrive by now
    for cl in clients:
        assert cl.payloads(prefix) == expected, (cl.transport, cl.node)


def test_every_transport_on_every_node_gets_every_publication_once_in_order(cluster: Cluster) -> None:
    by_transport = spread(cluster, ["websocket", "xhr_streaming", "xhr"])
    clients = [cl for nodes in by_transport.values() for cl in nodes.values()]

    # Two publishers, interleaved: each one's publications must arrive in
    # its order; all of them exactly once. Channel "chat" and everyone.
    expected = []
    for i in range(40):
        node = i % 2
        msg = "p%d-%03d" % (node + 1, i)
        cluster.publish(node, msg, "chat" if i % 3 else None)
        expected.append(msg)
    # Per publisher the order is the publish order; across publishers only
    # the set is fixed. Check both.
    for cl in clients:
        wait_for(lambda cl=cl: len(cl.payloads("p")) >= len(expected), what="%s on %s" % (cl.transport, cl.node))
    time.sleep(0.3)
    for cl in clients:
        got = cl.payloads("p")
        assert sorted(got) == sorted(expected), (cl.transport, cl.node)
        for pub in ("p1-", "p2-"):
            assert [m for m in got if m.startswith(pub)] == [m for m in expected if m.startswith(pub)]

    # A publication from a client's own session goes through its node too.
    by_transport["xhr"]["node2"].send({"say": "from-a-client"})
    for cl in clients:
        wait_for(
            lambda cl=cl: any(isinstance(m, dict) and m.get("text") == "from-a-client" for m in cl.json_messages()),
            what="client publication",
        )

    # Polling sessions stayed on their node: never a second "o", and each
    # session is known to exactly the node that said hello.
    statuses = {s["node"]: set(s["sessions"]) for s in (cluster.status(0), cluster.status(1))}
    for cl in clients:
        assert cl.opens == 1 and not cl.ended, (cl.transport, cl.closed, cl.errors)
        if cl.transport != "websocket":
            other = "node1" if cl.node == "node2" else "node2"
            assert cl.session_id in statuses[str(cl.node)]
            assert cl.session_id not in statuses[other]

    for i in (0, 1):
        b = cluster.status(i)["broker"]
        assert b["duplicates"] == 0 and b["lost"] == 0 and b["dropped"] == 0, b
        assert b["received"] == 20 + (1 if i == 0 else 0), b


def test_unsubscribed_and_closed_sessions_get_nothing(cluster: Cluster) -> None:
    a = connect(cluster, "websocket")
    b = connect(cluster, "websocket")
    b.send({"unsub": "chat"})
    wait_for(
        lambda: sum(cluster.status(i)["subscribers"].get("chat", 0) for i in (0, 1)) == 1, what="one subscriber left"
    )
    cluster.publish(0, "only-a")
    cluster.publish(1, "only-a-too")
    # Two publishers: their relative order is not promised.
    wait_for(lambda: sorted(a.payloads("only-a")) == ["only-a", "only-a-too"])
    time.sleep(0.3)
    assert b.payloads("only-a") == []
    a.close()
    # The closed websocket session is unsubscribed by itself.
    wait_for(
        lambda: sum(cluster.status(i)["subscribers"].get("chat", 0) for i in (0, 1)) == 0,
        what="closed session unsubscribed",
    )


def test_redis_restart_buffers_and_flushes_in_order(cluster: Cluster) -> None:
    by_transport = spread(cluster, ["websocket", "xhr_streaming"])
    clients = [cl for nodes in by_transport.values() for cl in nodes.values()]
    on1 = [cl for cl in clients if cl.node == "node1"]
    on2 = [cl for cl in clients if cl.node == "node2"]

    cluster.publish(0, "before")
    check_received(clients, ["before"], "before")

    cluster.stop_redis()
    wait_for(
        lambda: not cluster.status(0)["broker"]["connected"] and not cluster.status(1)["broker"]["connected"],
        what="outage noticed",
    )
    during = ["during-%02d" % i for i in range(10)]
    for m in during:
        cluster.publish(0, m)
    # Documented: local subscribers get them at once...
    check_received(on1, during, "during-")
    # ...the other node only once Redis is back.
    assert all(cl.payloads("during-") == [] for cl in on2)
    assert cluster.status(0)["broker"]["buffered"] == 10

    time.sleep(1.0)  # a real outage, several retries long
    cluster.start_redis()
    cluster.wait_ready(timeout=10)
    check_received(clients, during, "during-", timeout=10)

    cluster.publish(1, "after")
    check_received(clients, ["after"], "after")
    b1, b2 = cluster.status(0)["broker"], cluster.status(1)["broker"]
    assert b1["outages"] == 1 and b1["buffered"] == 0 and b1["dropped"] == 0, b1
    assert b2["outages"] == 1 and b2["lost"] == 0 and b2["duplicates"] == 0, b2
    # One WARNING per outage, not one per retry.
    for name in ("node1", "node2"):
        with open(os.path.join(cluster.workdir, name + ".log")) as f:
            log = f.read()
        assert log.count("unreachable") == 1, log[-3000:]
        assert "WARNING" in log and "reconnected" in log


def test_killed_node_clients_reconnect_through_haproxy(cluster: Cluster) -> None:
    by_transport = spread(cluster, ["websocket", "xhr_streaming", "xhr"])
    clients = [cl for nodes in by_transport.values() for cl in nodes.values()]
    cluster.publish(0, "k-before")
    check_received(clients, ["k-before"], "k-before")

    cluster.kill_node(1)
    victims = [cl for cl in clients if cl.node == "node2"]
    survivors = [cl for cl in clients if cl.node == "node1"]
    for cl in victims:
        wait_for(lambda cl=cl: cl.ended, what="%s noticed the dead node" % cl.transport)
    # As sockjs-client does: a new session, through the same haproxy.
    again = [connect(cluster, cl.transport) for cl in victims]
    assert {cl.node for cl in again} == {"node1"}

    expected = ["k-after-%02d" % i for i in range(10)]
    for m in expected:
        cluster.publish(0, m)
    check_received(survivors + again, expected, "k-after-")
    assert all(not cl.ended for cl in survivors)
