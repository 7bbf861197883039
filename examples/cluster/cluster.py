"""Start and stop a local cluster: redis-server, N example servers and
haproxy (or nginx) in front, all on 127.0.0.1, in a temporary directory.

Used by ``run.py`` (one command for a person), by the tests
(``tests/test_cluster.py``) and by ``bench/cluster_fanout.py``. Every
process started here is stopped by :meth:`Cluster.stop`.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from typing import Any, Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
#: The nginx site configuration the deployment docs show (they include this
#: file); :func:`nginx_config` runs it with the cluster's ports.
NGINX_SITE = os.path.join(HERE, "nginx.conf")
#: The node every cluster runs unless told otherwise.
CLUSTER_SERVER = os.path.join(HERE, "server.py")

#: haproxy in front of the nodes. Sticky by session: the SockJS session id
#: is the third path segment (/<prefix>/<server>/<session>/<transport>), so
#: hashing the first three segments keeps every request of a session on one
#: node; websocket upgrades pass through (``timeout tunnel``); every timeout
#: is well above the heartbeat, so an idle but healthy stream is never cut.
HAPROXY_TEMPLATE = """\
global
    maxconn {maxconn}
{log}
defaults
    mode http
    option forwardfor
    timeout connect 2s
    timeout client {idle}s
    timeout server {idle}s
    timeout tunnel 1h
    timeout http-request 10s
    retries 3
    option redispatch 1

frontend sockjs
    bind 127.0.0.1:{port}
    default_backend nodes

backend nodes
    # {depth} = segments of the prefix + server id + session id.
    balance uri depth {depth}
    hash-type consistent
    option httpchk GET {prefix}/info
    default-server check inter {check_ms} fall 2 rise 2
{servers}
"""


def free_port() -> int:
    """A port free on 127.0.0.1 right now."""
    return free_ports(1)[0]


def free_ports(n: int) -> List[int]:
    """``n`` different ports free on 127.0.0.1 right now. The sockets stay
    bound until all are chosen, so the kernel cannot hand out one twice."""
    sockets = []
    try:
        for _ in range(n):
            s = socket.socket()
            sockets.append(s)
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for s in sockets:
            s.close()


def check_port_free(port: int, what: str) -> None:
    """Fail with a clear message when ``port`` is taken on 127.0.0.1 (a
    balancer that cannot bind would otherwise leave whatever listens there
    answering in its place)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError as e:
            raise RuntimeError(
                "%s cannot listen on 127.0.0.1:%d: %s (choose another port)" % (what, port, e.strerror)
            ) from None


def haproxy_config(
    port: int, node_ports: List[int], prefix: str = "/chat", heartbeat: float = 25, check_ms: int = 1000, log: str = ""
) -> str:
    """The haproxy configuration for nodes on ``node_ports``."""
    depth = len([p for p in prefix.split("/") if p]) + 2
    servers = "\n".join("    server node%d 127.0.0.1:%d" % (i + 1, p) for i, p in enumerate(node_ports))
    import resource

    # haproxy needs two descriptors per connection and refuses to start when
    # it cannot raise its limit that far.
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    maxconn = 10000 if hard == resource.RLIM_INFINITY else max(256, min(10000, (hard - 200) // 2))
    return HAPROXY_TEMPLATE.format(
        maxconn=maxconn,
        port=port,
        depth=depth,
        prefix=prefix,
        servers=servers,
        idle=max(60, int(heartbeat * 3)),
        check_ms=check_ms,
        log=log,
    )


def nginx_config(port: int, node_ports: List[int], workdir: str) -> str:
    """A complete nginx configuration around :data:`NGINX_SITE`, the site
    configuration the docs show, listening on ``port`` in front of
    ``node_ports``. Only the ports differ from the file."""
    with open(NGINX_SITE) as f:
        site = f.read()
    servers = "".join("    server 127.0.0.1:%d;\n" % p for p in node_ports)
    site, n = re.subn(r"(?m)^    server 127\.0\.0\.1:\d+;\n(?:    server 127\.0\.0\.1:\d+;\n)*", servers, site)
    assert n == 1, "nginx.conf: expected one block of server lines"
    site, n = re.subn(r"listen 127\.0\.0\.1:\d+;", "listen 127.0.0.1:%d;" % port, site)
    assert n == 1, "nginx.conf: expected one listen line"
    temp = "\n".join(
        "    %s_temp_path %s;" % (kind, os.path.join(workdir, kind))
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        "daemon off;\nmaster_process on;\nworker_processes 1;\npid %s;\n"
        "error_log %s warn;\nevents { worker_connections 1024; }\n"
        "http {\n    access_log off;\n%s\n%s\n}\n"
    ) % (os.path.join(workdir, "nginx.pid"), os.path.join(workdir, "nginx-error.log"), temp, site)


def _wait_port(port: int, proc: "subprocess.Popen[bytes]", what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("%s exited with %s" % (what, proc.returncode))
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("%s did not listen on %d within %ss" % (what, port, timeout))


class Cluster:
    """redis-server, ``nodes`` example servers and a balancer in front:
    ``balancer="haproxy"`` (the default) or ``"nginx"``.

    ``node_args`` are extra command-line options for every node (see
    ``server.py --help``). Ports are free ones unless given; no two
    processes get the same one.

    ``server`` runs another example as the nodes (for instance
    ``examples/chat/server.py``): it is given ``--port`` and ``--redis``
    (which every example server with a Redis option takes) and
    ``node_args``; its routers must serve ``/chat``. Only this directory's
    server has ``/status``, so :meth:`status` and the broker check of
    :meth:`start` are for it alone.
    """

    def __init__(
        self,
        nodes: int = 2,
        port: Optional[int] = None,
        redis_port: Optional[int] = None,
        node_ports: Optional[List[int]] = None,
        node_args: Optional[List[str]] = None,
        heartbeat: float = 25,
        check_ms: int = 1000,
        workdir: Optional[str] = None,
        quiet: bool = True,
        balancer: str = "haproxy",
        server: Optional[str] = None,
    ) -> None:
        if balancer not in ("haproxy", "nginx"):
            raise ValueError("balancer must be 'haproxy' or 'nginx', not %r" % balancer)
        self.balancer = balancer
        self.server = server or CLUSTER_SERVER
        self._own_workdir = workdir is None
        self.workdir = workdir or tempfile.mkdtemp(prefix="sockjs-cluster-")
        given = [p for p in [port, redis_port] + list(node_ports or []) if p]
        if len(set(given)) != len(given):
            raise ValueError("two processes of the cluster were given the same port: %s" % given)
        spare = iter(p for p in free_ports(nodes + 2 + len(given)) if p not in given)
        self.port = port or next(spare)
        self.redis_port = redis_port or next(spare)
        self.node_ports = node_ports or [next(spare) for _ in range(nodes)]
        self.node_args = list(node_args or [])
        self.heartbeat = heartbeat
        self.check_ms = check_ms
        self.quiet = quiet
        self.redis: Optional["subprocess.Popen[bytes]"] = None
        self.haproxy: Optional["subprocess.Popen[bytes]"] = None
        self.nodes: List[Optional["subprocess.Popen[bytes]"]] = [None] * len(self.node_ports)

    @property
    def url(self) -> str:
        """The balancer's address."""
        return "http://127.0.0.1:%d" % self.port

    @property
    def redis_url(self) -> str:
        return "redis://127.0.0.1:%d/0" % self.redis_port

    def node_url(self, i: int) -> str:
        return "http://127.0.0.1:%d" % self.node_ports[i]

    def _out(self, name: str) -> Any:
        if self.quiet:
            return open(os.path.join(self.workdir, name + ".log"), "ab")
        return None

    # -- processes --------------------------------------------------------

    def start_redis(self) -> None:
        self.redis = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                str(self.redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self.workdir,
                "--loglevel",
                "warning",
            ],
            stdout=self._out("redis"),
            stderr=subprocess.STDOUT,
        )
        _wait_port(self.redis_port, self.redis, "redis-server")

    def stop_redis(self) -> None:
        self._stop(self.redis)
        self.redis = None

    def start_node(self, i: int) -> None:
        cmd = [sys.executable, self.server, "--port", str(self.node_ports[i]), "--redis", self.redis_url]
        if self.server == CLUSTER_SERVER:
            cmd += ["--name", "node%d" % (i + 1), "--heartbeat", str(self.heartbeat)]
        cmd += self.node_args
        env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
        proc = subprocess.Popen(cmd, stdout=self._out("node%d" % (i + 1)), stderr=subprocess.STDOUT, env=env)
        self.nodes[i] = proc
        _wait_port(self.node_ports[i], proc, "node%d" % (i + 1))

    def kill_node(self, i: int) -> None:
        """SIGKILL: the node vanishes without closing anything."""
        proc = self.nodes[i]
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(5)
        self.nodes[i] = None

    def start_haproxy(self) -> None:
        """Start the balancer (haproxy, or nginx when ``balancer="nginx"``),
        and check that it is the one answering on :attr:`port`."""
        check_port_free(self.port, self.balancer)
        if self.balancer == "nginx":
            # nginx's workers run as an unprivileged user when started by root.
            os.chmod(self.workdir, 0o755)
            cfg = os.path.join(self.workdir, "nginx.conf")
            with open(cfg, "w") as f:
                f.write(nginx_config(self.port, self.node_ports, self.workdir))
            cmd = [NGINX, "-p", self.workdir, "-c", cfg, "-e", os.path.join(self.workdir, "nginx-error.log")]
        else:
            cfg = os.path.join(self.workdir, "haproxy.cfg")
            with open(cfg, "w") as f:
                f.write(haproxy_config(self.port, self.node_ports, heartbeat=self.heartbeat, check_ms=self.check_ms))
            cmd = [HAPROXY, "-db", "-f", cfg]
        self.haproxy = subprocess.Popen(cmd, stdout=self._out(self.balancer), stderr=subprocess.STDOUT)
        _wait_port(self.port, self.haproxy, self.balancer)
        self._check_balancer()

    def _check_balancer(self, timeout: float = 10) -> None:
        """The SockJS service answers through the balancer, and the balancer
        is still running (not some other program on its port)."""
        deadline = time.monotonic() + timeout
        while True:
            if self.haproxy is None or self.haproxy.poll() is not None:
                raise RuntimeError("%s exited (see %s)" % (self.balancer, self.workdir))
            try:
                with urllib.request.urlopen(self.url + "/chat/info", timeout=2) as r:
                    if "websocket" in json.loads(r.read().decode()):
                        return
            except (OSError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("%s on port %d does not reach the nodes" % (self.balancer, self.port))
            time.sleep(0.1)

    def start(self) -> "Cluster":
        """Everything, in dependency order; stops what started on failure."""
        check_port_free(self.port, self.balancer)  # before anything starts
        try:
            self.start_redis()
            for i in range(len(self.node_ports)):
                self.start_node(i)
            self.start_haproxy()
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def wait_ready(self, timeout: float = 10) -> None:
        """Until every live node's broker is connected (this directory's
        server; another example's nodes answered ``/chat/info`` already)."""
        if self.server != CLUSTER_SERVER:
            return
        deadline = time.monotonic() + timeout
        for i, proc in enumerate(self.nodes):
            if proc is None:
                continue
            while not self.status(i)["broker"]["connected"]:
                if time.monotonic() > deadline:
                    raise RuntimeError("node%d: broker not connected within %ss" % (i + 1, timeout))
                time.sleep(0.05)

    def _stop(self, proc: "Optional[subprocess.Popen[bytes]]") -> None:
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)

    def stop(self) -> None:
        """Stop every process this cluster started."""
        self._stop(self.haproxy)
        self.haproxy = None
        for i, proc in enumerate(self.nodes):
            self._stop(proc)
            self.nodes[i] = None
        self.stop_redis()

    def cleanup(self) -> None:
        """:meth:`stop`, then remove the temporary directory (logs too)."""
        self.stop()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> "Cluster":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- talking to nodes --------------------------------------------------

    def status(self, i: int) -> Dict[str, Any]:
        """A node's ``/status``: name, sessions, broker counters."""
        with urllib.request.urlopen(self.node_url(i) + "/status", timeout=5) as r:
            return json.loads(r.read().decode())  # type: ignore[no-any-return]

    def publish(self, i: int, message: str, channel: Optional[str] = "chat", repeat: int = 0) -> None:
        """Publish through node ``i`` (``channel`` None: to everyone);
        ``repeat`` N publishes ``message + "0"`` ... ``message + str(N-1)``."""
        query = ["channel=" + channel] if channel else []
        if repeat:
            query.append("repeat=%d" % repeat)
        url = self.node_url(i) + "/publish" + ("?" + "&".join(query) if query else "")
        req = urllib.request.Request(url, data=message.encode(), method="POST")
        with urllib.request.urlopen(req, timeout=5) as r:
            r.read()
