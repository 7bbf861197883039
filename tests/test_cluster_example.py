"""examples/cluster/run.py and its Cluster helper: distinct ports for every
process, and a clear failure (no URL, status 1) when the balancer's port is
taken, instead of a URL that another program answers."""

import os
import socket
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLUSTER_DIR = os.path.join(ROOT, "examples", "cluster")
sys.path.insert(0, CLUSTER_DIR)
# Imported as a module: its tests need no running cluster, so the safety
# net in conftest.py (a module with Cluster gets the cluster marker) leaves
# them in the fast subset.
import cluster as cluster_example  # noqa: E402


def test_free_ports_are_distinct() -> None:
    ports = cluster_example.free_ports(64)
    assert len(set(ports)) == 64


def test_every_process_of_a_cluster_gets_its_own_port() -> None:
    for _ in range(20):
        c = cluster_example.Cluster(nodes=8)
        try:
            ports = [c.port, c.redis_port] + c.node_ports
            assert len(set(ports)) == len(ports) == 10
        finally:
            c.cleanup()  # nothing started: only the temporary directory


def test_given_ports_are_not_handed_out_again() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        taken = s.getsockname()[1]
    c = cluster_example.Cluster(nodes=4, port=taken)
    try:
        assert c.port == taken and taken not in [c.redis_port] + c.node_ports
    finally:
        c.cleanup()
    with pytest.raises(ValueError, match="same port"):
        cluster_example.Cluster(nodes=1, port=taken, redis_port=taken)


def test_a_taken_balancer_port_fails_before_anything_starts() -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        port = blocker.getsockname()[1]
        c = cluster_example.Cluster(nodes=1, port=port)
        try:
            with pytest.raises(RuntimeError, match="cannot listen on 127.0.0.1:%d" % port):
                c.start()
            assert c.redis is None and c.nodes == [None] and c.haproxy is None
        finally:
            c.cleanup()


@pytest.mark.cluster
def test_run_py_says_the_port_is_taken_and_prints_no_url() -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        port = blocker.getsockname()[1]
        r = subprocess.run(
            [sys.executable, os.path.join(CLUSTER_DIR, "run.py"), "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert r.returncode == 1, r.stdout + r.stderr
    assert "cannot listen on 127.0.0.1:%d" % port in r.stderr
    assert "http://" not in r.stdout
    assert "Traceback" not in r.stderr
