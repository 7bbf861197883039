#!/usr/bin/env python3
"""Side-by-side benchmark: this sockjs-tornado against its references.

    python3 bench/run.py             # everything, 3 interleaved runs
    python3 bench/run.py --quick     # shorter windows, 1 run (a smoke test)
    python3 bench/run.py --only ws_echo,bcast_1k --servers ours,node
    python3 bench/run.py --profile ws_echo   # py-spy on our server

On first use it installs the references into bench-local, git-ignored
places (bench/.venv-*, bench/.node) and compiles the load generator
(bench/loadgen.c) into bench/.build. Every server runs pinned to CPU 0 with
``taskset -c 0``, the load generator on CPU 1; everything is on
127.0.0.1 and every process started is killed at the end. See
bench/README.md for what each workload does.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BUILD = os.path.join(HERE, ".build")
NODE_DIR = os.path.join(HERE, ".node")
RESULTS = os.path.join(HERE, "results")
LOADGEN = os.path.join(BUILD, "loadgen")

TORNADO = "tornado==6.6.1"
VENVS = {
    # ours and raw Tornado: the Tornado we build on, plus py-spy
    # and picows (the frame-path ceiling, raw_ws_echo only) and uvloop
    # (ours_uv: our server on uvloop), redis-py for the Redis workload
    ".venv-tornado": [TORNADO, "py-spy", "picows==2.3.1", "uvloop==0.23.0", "redis==8.1.0"],
    ".venv-1x": [TORNADO, "sockjs-tornado==1.0.7"],
    ".venv-aio": ["sockjs==0.13.0", "aiohttp"],
}
SERVER_CPU = "0"
LOADGEN_CPU = "1"


def log(*a: Any) -> None:
    print(*a, file=sys.stderr, flush=True)


# -- installation -------------------------------------------------------------


def venv_python(name: str) -> str:
    return os.path.join(HERE, name, "bin", "python")


BASE_DIR = os.path.join(BUILD, "base")


def extract_base(commit: str) -> None:
    """Put this package as of ``commit`` into bench/.build/base (git archive:
    the working tree and index are left alone)."""
    shutil.rmtree(BASE_DIR, ignore_errors=True)
    os.makedirs(BASE_DIR)
    archive = subprocess.run(["git", "-C", ROOT, "archive", commit, "sockjs"], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", BASE_DIR], input=archive, check=True)


def install() -> None:
    for name, pkgs in VENVS.items():
        py = venv_python(name)
        marker = os.path.join(HERE, name, ".bench-installed")
        if os.path.exists(marker) and open(marker).read() == " ".join(pkgs):
            continue
        log("installing %s: %s" % (name, " ".join(pkgs)))
        subprocess.check_call([sys.executable, "-m", "venv", os.path.join(HERE, name)])
        subprocess.check_call([py, "-m", "pip", "install", "-q"] + pkgs)
        with open(marker, "w") as f:
            f.write(" ".join(pkgs))
    if not os.path.exists(os.path.join(NODE_DIR, "node_modules", "sockjs", "package.json")):
        log("installing sockjs@0.3.24 (npm) into bench/.node")
        os.makedirs(NODE_DIR, exist_ok=True)
        with open(os.path.join(NODE_DIR, "package.json"), "w") as f:
            f.write('{"private": true}\n')
        subprocess.check_call(
            ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", "--prefix", NODE_DIR, "sockjs@0.3.24"]
        )
    src = os.path.join(HERE, "loadgen.c")
    if not os.path.exists(LOADGEN) or os.path.getmtime(LOADGEN) < os.path.getmtime(src):
        os.makedirs(BUILD, exist_ok=True)
        subprocess.check_call(["gcc", "-O2", "-Wall", "-o", LOADGEN, src])


def versions() -> Dict[str, str]:
    def out(cmd: List[str]) -> str:
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=20).stdout.strip()
        except Exception as e:
            return "? (%s)" % e

    return {
        "python": out([venv_python(".venv-tornado"), "-c", "import sys; print(sys.version.split()[0])"]),
        "tornado": out([venv_python(".venv-tornado"), "-c", "import tornado; print(tornado.version)"]),
        "aiohttp": out([venv_python(".venv-aio"), "-c", "import aiohttp; print(aiohttp.__version__)"]),
        "node": out(["node", "--version"]),
        "kernel": out(["uname", "-r"]),
        "cpu": out(["sh", "-c", "lscpu | grep -E 'Model name|^CPU\\(s\\)' | tr -s ' ' | paste -sd ';'"]),
    }


# -- servers ------------------------------------------------------------------


def _py(venv: str, script: str, *args: str) -> Callable[[int], List[str]]:
    return lambda port: [venv_python(venv), os.path.join(HERE, "servers", script), str(port), *args]


SERVERS: Dict[str, Tuple[str, Callable[[int], List[str]]]] = {
    "ours": ("sockjs-tornado (this)", _py(".venv-tornado", "ours.py")),
    # The same server on uvloop instead of asyncio's own loop.
    "ours_uv": ("sockjs-tornado (this) on uvloop", _py(".venv-tornado", "ours.py", "uvloop")),
    "v1x": ("sockjs-tornado 1.0.7", _py(".venv-1x", "v1x.py")),
    "aio": ("aiohttp sockjs 0.13", _py(".venv-aio", "aio.py")),
    "node": ("sockjs-node 0.3.24", lambda p: ["node", os.path.join(HERE, "servers", "node_server.js"), str(p)]),
    # This package at another commit (--base), to show what a change gained.
    "base": ("sockjs-tornado (base)", _py(".venv-tornado", "ours.py")),
    "raw": ("raw Tornado", _py(".venv-tornado", "raw_tornado.py")),
    "picows": ("picows 2.3.1", _py(".venv-tornado", "picows_echo.py")),
}

#: Servers that offer only some workloads (picows: a plain websocket echo).
ONLY = {"picows": {"raw_ws_echo"}}

#: Open files a server may have: 100,000 sessions and then some.
NOFILE = 250000


def _nofile_limit() -> int:
    """The open-file limit servers and the load generator will run with:
    NOFILE where this process may raise its hard limit (root with
    CAP_SYS_RESOURCE), else the hard limit it has."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (NOFILE, NOFILE))
        return NOFILE
    except (ValueError, OSError):
        return hard if hard != resource.RLIM_INFINITY else NOFILE


def _raise_nofile() -> None:
    import resource

    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (NOFILE, NOFILE))
    except (ValueError, OSError):
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


#: Sessions of the "100k" workloads: 100,000, or fewer where the open-file
#: limit cannot be raised that far (each session is a socket on both sides);
#: the table's labels say how many.
BIG = min(100000, _nofile_limit() - 1000)

_procs: List[subprocess.Popen] = []


class Server:
    """One server process pinned to CPU 0."""

    def __init__(self, key: str, env: Optional[Dict[str, str]] = None) -> None:
        self.key = key
        # A port free now: other runs of this bench may share the machine.
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        cmd = ["taskset", "-c", SERVER_CPU] + SERVERS[key][1](self.port)
        penv = dict(os.environ, NODE_PATH=os.path.join(NODE_DIR, "node_modules"), PYTHONUNBUFFERED="1")
        if key == "base":
            penv["BENCH_OURS_ROOT"] = BASE_DIR
        penv.update(env or {})
        self.env = dict(env or {})
        for _ in range(3):
            self.proc = subprocess.Popen(
                cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=penv, text=True, preexec_fn=_raise_nofile
            )
            _procs.append(self.proc)
            line = self.proc.stdout.readline() if self.proc.stdout else ""
            if "LISTENING" in line:
                break
            # Most likely the port is taken (a shared machine): the next one.
            self.stop()
            Server._next_port += 1
            self.port = Server._next_port
            cmd = ["taskset", "-c", SERVER_CPU] + SERVERS[key][1](self.port)
        else:
            raise RuntimeError("server %s did not start: %r" % (key, line))
        time.sleep(0.2)

    @property
    def pid(self) -> int:
        # taskset execs the server, so the pid is the server's own.
        return self.proc.pid

    def rss_kb(self) -> int:
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc in _procs:
            _procs.remove(self.proc)


def _cpu_ticks(pid: int) -> int:
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rpartition(")")[2].split()
        return int(fields[11]) + int(fields[12])  # utime + stime
    except OSError:
        return 0


def settle(servers: List["Server"], limit: float = 15.0) -> None:
    """Wait until every server is idle (under 5% of a core over 0.25 s):
    they share CPU 0, so one still closing 10,000 connections would slow
    the next one measured."""
    hz = os.sysconf("SC_CLK_TCK")
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        before = [_cpu_ticks(s.pid) for s in servers]
        time.sleep(0.25)
        after = [_cpu_ticks(s.pid) for s in servers]
        if all((a - b) / hz < 0.0125 for a, b in zip(after, before)):
            return


def loadgen(mode: str, port: int, timeout: float = 120, **kw: Any) -> Dict[str, Any]:
    cmd = ["taskset", "-c", LOADGEN_CPU, LOADGEN, mode, str(port)] + ["%s=%s" % kv for kv in kw.items()]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        raise RuntimeError("loadgen %s failed: %s %s" % (mode, r.stdout, r.stderr))
    return json.loads(lines[-1])


# -- workloads ------------------------------------------------------------------
#
# A workload is a function (server, key, secs) -> {metric: value, "cpu": share}
# or None when it does not apply to that server.

Result = Optional[Dict[str, float]]


def eff(r: Dict[str, Any]) -> float:
    """Operations per second of server CPU time in the measured window:
    unlike operations per wall second, it does not depend on how much of
    CPU 0 other processes on a shared machine took."""
    return r["rate"] * r["secs"] / r["server_cpu"] if r.get("server_cpu") else 0.0


def w_ws_echo(srv: Server, key: str, secs: float) -> Result:
    if key == "raw":
        r = loadgen("ws_echo", srv.port, spid=srv.pid, path="/websocket", sockjs=0, conns=100, secs=secs)
    else:
        r = loadgen("ws_echo", srv.port, spid=srv.pid, path="/echo/000/bench/websocket", conns=100, secs=secs)
    return {"rate": r["rate"], "eff": eff(r), "cpu": r["cpu"], "errors": r["errors"]}


def w_raw_ws_echo(srv: Server, key: str, secs: float) -> Result:
    path = "/websocket" if key == "raw" else "/echo/websocket"
    r = loadgen("ws_echo", srv.port, spid=srv.pid, path=path, sockjs=0, conns=100, secs=secs)
    return {"rate": r["rate"], "eff": eff(r), "cpu": r["cpu"], "errors": r["errors"]}


def _zmsg() -> str:
    """The compressed echo's message: a chat-like JSON text of 300 bytes,
    compressed alone (permessage-deflate, no context takeover), as hex."""
    import zlib

    text = json.dumps(
        {
            "type": "message",
            "room": "lobby",
            "user": "alice-%d" % 42,
            "text": "Hello everyone, this is a chat message of a realistic size; "
            "it repeats words, as chat messages do: hello, hello, everyone.",
            "ts": 1700000000.123,
            "tags": ["chat", "lobby", "greeting"],
        }
    )
    obj = zlib.compressobj(6, zlib.DEFLATED, -15)
    data = obj.compress(text.encode()) + obj.flush(zlib.Z_SYNC_FLUSH)
    return data[:-4].hex()


def w_ws_echo_deflate(srv: Server, key: str, secs: float) -> Result:
    """Raw websocket echo with permessage-deflate both ways."""
    if key not in ("ours", "ours_uv", "raw", "base"):
        return None
    path = "/zwebsocket" if key == "raw" else "/zecho/websocket"
    r = loadgen("ws_echo", srv.port, spid=srv.pid, path=path, sockjs=0, conns=100, secs=secs, zmsg=_zmsg())
    if not r["rate"]:
        return None  # a base without compression
    return {"rate": r["rate"], "eff": eff(r), "cpu": r["cpu"], "errors": r["errors"]}


LATENCY_RATE = 2000


def w_ws_latency(srv: Server, key: str, secs: float) -> Result:
    if key == "raw":
        r = loadgen(
            "ws_echo", srv.port, spid=srv.pid, path="/websocket", sockjs=0, conns=100, secs=secs, rate=LATENCY_RATE
        )
    else:
        r = loadgen(
            "ws_echo", srv.port, spid=srv.pid, path="/echo/000/bench/websocket", conns=100, secs=secs, rate=LATENCY_RATE
        )
    return {"p50_ms": r["p50_ms"], "p99_ms": r["p99_ms"], "cpu": r["cpu"], "errors": r["errors"] + r["skipped"]}


def w_http(srv: Server, key: str, secs: float) -> Result:
    if key != "raw":
        return None
    r = loadgen("http", srv.port, spid=srv.pid, path="/hello", conns=50, secs=secs)
    return {"rate": r["rate"], "eff": eff(r), "cpu": r["cpu"], "errors": r["errors"]}


def w_xhr_poll(srv: Server, key: str, secs: float) -> Result:
    if key == "raw":
        return None
    r = loadgen("xhr_poll", srv.port, spid=srv.pid, prefix="/echo", conns=50, secs=secs)
    return {"rate": r["rate"], "eff": eff(r), "cpu": r["cpu"], "errors": r["errors"]}


def w_xhr_stream(srv: Server, key: str, secs: float) -> Result:
    if key == "raw":
        return None
    r = loadgen(
        "xhr_stream",
        srv.port,
        spid=srv.pid,
        prefix="/bcast",
        conns=100,
        secs=secs,
        window=8,
        wspath="/bcast/000/sender/websocket",
    )
    return {"rate": r["rate"], "eff": eff(r), "cpu": r["cpu"], "errors": r["errors"]}


def _bcast(srv: Server, key: str, secs: float, n: int) -> Result:
    path = "/bcast" if key == "raw" else "/bcast/000/bench/websocket"
    r = loadgen(
        "bcast",
        srv.port,
        spid=srv.pid,
        path=path,
        sockjs=0 if key == "raw" else 1,
        conns=n,
        secs=secs,
        window=4,
        ttl=5,
        timeout=180,
    )
    return {"rate": r["rate"], "eff": eff(r), "ttl_ms": r["ttl_p50_ms"], "cpu": r["cpu"], "errors": r["errors"]}


def w_bcast_1k(srv: Server, key: str, secs: float) -> Result:
    return _bcast(srv, key, secs, 1000)


def w_bcast_10k(srv: Server, key: str, secs: float) -> Result:
    return _bcast(srv, key, secs, 10000)


#: Source addresses for 100,000 connections (127.0.0.2-5: ~28k ephemeral
#: ports each).
SRCS_100K = 4


def _idle(srv: Server, n: int, **kw: Any) -> Dict[str, float]:
    """RSS delta per session, read while the load generator holds them."""
    time.sleep(0.3)
    before = srv.rss_kb()
    if n > 10000:
        kw.update(srcs=SRCS_100K, open=240)
    cmd = ["taskset", "-c", LOADGEN_CPU, LOADGEN, "idle", str(srv.port), "conns=%d" % n, "hold=300"]
    cmd += ["%s=%s" % kv for kv in kw.items()]
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    _procs.append(p)
    try:
        assert p.stdout is not None and p.stdin is not None
        ready = p.stdout.readline()
        if not ready.startswith("READY"):
            raise RuntimeError("idle loadgen: %r" % ready)
        opened = int(ready.split()[1])
        time.sleep(1.0)
        after = srv.rss_kb()
        p.stdin.write("done\n")
        p.stdin.flush()
        p.wait(30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        _procs.remove(p)
    return {"kb": (after - before) / max(opened, 1), "opened": opened, "cpu": 0.0, "errors": n - opened}


def w_idle_ws(srv: Server, key: str, secs: float) -> Result:
    if key == "raw":
        return _idle(srv, 10000, kind="ws", path="/websocket", sockjs=0)
    return _idle(srv, 10000, kind="ws", path="/echo/000/idle/websocket", sockjs=1)


def w_idle_poll(srv: Server, key: str, secs: float) -> Result:
    if key == "raw":
        return None
    return _idle(srv, 10000, kind="poll", prefix="/echo")


def w_idle_ws_100k(srv: Server, key: str, secs: float) -> Result:
    if key not in ("ours", "base", "node"):
        return None
    return _idle(srv, BIG, kind="ws", path="/echo/000/idle/websocket", sockjs=1)


def w_idle_poll_100k(srv: Server, key: str, secs: float) -> Result:
    if key not in ("ours", "base"):
        return None
    return _idle(srv, BIG, kind="poll", prefix="/echo")


def w_bcast_100k(srv: Server, key: str, secs: float) -> Result:
    if key not in ("ours", "base", "node"):
        return None
    r = loadgen(
        "bcast",
        srv.port,
        spid=srv.pid,
        path="/bcast/000/bench/websocket",
        sockjs=1,
        conns=BIG,
        secs=secs,
        window=4,
        ttl=3,
        srcs=SRCS_100K,
        open=240,
        timeout=400,
    )
    return {"rate": r["rate"], "eff": eff(r), "ttl_ms": r["ttl_p50_ms"], "cpu": r["cpu"], "errors": r["errors"]}


#: Heartbeat period of the 100,000-session hold (the default, 25 s, would
#: make the run twice as long for nothing more).
HOLD_HEARTBEAT = 10


def w_hold_100k(srv: Server, key: str, secs: float) -> Result:
    if key not in ("ours", "base"):
        return None
    rss0 = srv.rss_kb()
    r = loadgen(
        "hold",
        srv.port,
        spid=srv.pid,
        conns=BIG - 100,
        echo=100,
        rate=LATENCY_RATE,
        secs=max(secs, 3),
        hb=HOLD_HEARTBEAT,
        periods=2,
        srcs=SRCS_100K,
        timeout=600,
    )
    rss1 = srv.rss_kb()
    return {
        "held": r["still_open"],
        "on_time": r["with_all_heartbeats"] - r["late"],
        "late": r["late"],
        "max_gap_s": r["max_gap_s"],
        "p99_idle_ms": r["p99_idle_ms"],
        "p99_held_ms": r["p99_held_ms"],
        "p99_ratio": r["p99_held_ms"] / r["p99_idle_ms"] if r["p99_idle_ms"] > 0 else 0.0,
        "open_rate": r["held"] / r["open_secs"] if r["open_secs"] else 0.0,
        "server_cpu_pct": 100.0 * r["server_cpu"] / r["secs"] if r["secs"] else 0.0,
        "kb": (rss1 - rss0) / max(r["held"], 1),
        "cpu": r["cpu"],
        "errors": r["errors"] + r["skipped"],
    }


def w_churn_poll(srv: Server, key: str, secs: float) -> Result:
    if key == "raw":
        return None
    r = loadgen("churn", srv.port, spid=srv.pid, kind="poll", prefix="/echo", conns=50, secs=secs)
    return {"rate": r["rate"], "eff": eff(r), "cpu": r["cpu"], "errors": r["errors"]}


def w_churn(srv: Server, key: str, secs: float) -> Result:
    if key == "raw":
        return None
    path = "/echo/000/churn/websocket"
    # Warm up first: the allocator's arenas grow during the first few
    # thousand sessions whatever the server; drift is what comes after.
    loadgen("churn", srv.port, path=path, conns=50, secs=secs * 2)
    time.sleep(1.0)
    rss1 = srv.rss_kb()
    r = loadgen("churn", srv.port, spid=srv.pid, path=path, conns=50, secs=secs * 2)
    time.sleep(1.0)
    rss2 = srv.rss_kb()
    return {
        "rate": r["rate"],
        "eff": eff(r),
        "drift_pct": (rss2 - rss1) * 100.0 / rss1,
        "cpu": r["cpu"],
        "errors": r["errors"],
    }


# -- recovery, history, presence: each against the same server without them --
#
# Our server only; every figure of a row comes from servers measured one
# after the other in the same run (their order alternates between runs).
# They use the /pub service: every session subscribes to "news" on open and
# publishes what it receives there. A client opts into recovery, as the
# shipped browser client does, with the "_r" query argument.

RECOVERING = "?_r="
_turns: Dict[str, int] = {}


def variant(srv: Server, settings: Dict[str, Any]) -> Server:
    """Another server like ``srv`` with ``settings`` added to its router
    settings (BENCH_SETTINGS)."""
    env = dict(srv.env)
    merged = json.loads(env.get("BENCH_SETTINGS") or "{}")
    merged.update(settings)
    env["BENCH_SETTINGS"] = json.dumps(merged)
    return Server(srv.key, env)


def _alternate(name: str, items: List[Any]) -> List[Any]:
    """``items`` forwards on a workload's odd runs, backwards on even ones."""
    _turns[name] = _turns.get(name, 0) + 1
    return items if _turns[name] % 2 else items[::-1]


def w_rec_idle(srv: Server, key: str, secs: float) -> Result:
    if key != "ours":
        return None
    on = variant(srv, {"recovery": True})
    out: Dict[str, float] = {}
    try:
        for name, server, query in _alternate("rec_idle", [("off", srv, ""), ("on", on, RECOVERING)]):
            r = _idle(server, 10000, kind="ws", path="/pub/000/idle/websocket" + query, sockjs=1)
            out["kb_" + name], out["errors_" + name] = r["kb"], r["errors"]
    finally:
        on.stop()
    return {
        "kb_off": out["kb_off"],
        "kb_on": out["kb_on"],
        "extra_b": (out["kb_on"] - out["kb_off"]) * 1024,
        "cpu": 0.0,
        "errors": out["errors_off"] + out["errors_on"],
    }


#: Receivers of the in-memory history broadcast.
REC_BCAST_N = 2000


def w_rec_bcast(srv: Server, key: str, secs: float) -> Result:
    if key != "ours":
        return None
    configs = [
        ("plain", srv, ""),
        ("hist", variant(srv, {"history_size": 1000}), ""),
        ("rec", variant(srv, {"recovery": True}), RECOVERING),
        ("rec_hist", variant(srv, {"recovery": True, "history_size": 1000}), RECOVERING),
    ]
    out: Dict[str, float] = {"cpu": 0.0, "errors": 0.0}
    try:
        for name, server, query in _alternate("rec_bcast", configs):
            settle([c[1] for c in configs])
            r = loadgen(
                "bcast",
                server.port,
                spid=server.pid,
                path="/pub/000/bench/websocket" + query,
                sockjs=1,
                conns=REC_BCAST_N,
                secs=secs,
                window=4,
                ttl=3,
                timeout=180,
            )
            out["rate_" + name], out["eff_" + name] = r["rate"], eff(r)
            out["cpu"] = max(out["cpu"], r["cpu"])
            out["errors"] += r["errors"]
    finally:
        for _, server, _ in configs[1:]:
            server.stop()
    out["rate"] = out["rate_plain"]
    for name in ("hist", "rec", "rec_hist"):
        out["x_" + name] = out["eff_" + name] / out["eff_plain"] if out["eff_plain"] else 0.0
    out["x_rec_hist_rec"] = out["eff_rec_hist"] / out["eff_rec"] if out["eff_rec"] else 0.0
    return out


#: Receivers of the Redis workload (on the second process), plus the sender.
REC_REDIS_N = 20


def w_rec_redis(srv: Server, key: str, secs: float) -> Result:
    """Publications from a sender on one process to receivers on another,
    through a redis-server: plain pub/sub against history kept in Redis
    Streams. The two servers and redis-server share CPU 0; server CPU is
    theirs together."""
    if key != "ours":
        return None
    sys.path.insert(0, os.path.join(ROOT, "examples", "cluster"))
    from cluster import Cluster

    redis = Cluster(nodes=0)
    out: Dict[str, float] = {"cpu": 0.0, "errors": 0.0}
    try:
        redis.start_redis()
        assert redis.redis is not None
        subprocess.run(["taskset", "-pc", SERVER_CPU, str(redis.redis.pid)], capture_output=True, check=True)
        for name, history in _alternate("rec_redis", [("plain", 0), ("hist", 1000)]):
            settings = {"broker": redis.redis_url, "broker_namespace": "bench-" + name, "history_size": history}
            a, b = variant(srv, settings), variant(srv, settings)
            try:
                r = loadgen(
                    "bcast",
                    b.port,
                    sport=a.port,
                    spid="%d,%d,%d" % (a.pid, b.pid, redis.redis.pid),
                    path="/pub/000/bench/websocket",
                    sockjs=1,
                    conns=REC_REDIS_N + 1,
                    secs=secs,
                    window=64,
                    ttl=3,
                )
            finally:
                a.stop()
                b.stop()
            # Every session, the sender's too, gets each publication once.
            out["pubs_" + name] = r["rate"] / r["conns"] if r["conns"] else 0.0
            out["eff_" + name] = eff(r) / r["conns"] if r["conns"] else 0.0
            out["cpu"] = max(out["cpu"], r["cpu"])
            out["errors"] += r["errors"] + (r["conns"] != REC_REDIS_N + 1)
    finally:
        redis.cleanup()
    out["rate"] = out["pubs_plain"]
    out["x_hist"] = out["eff_hist"] / out["eff_plain"] if out["eff_plain"] else 0.0
    out["x_hist_wall"] = out["pubs_hist"] / out["pubs_plain"] if out["pubs_plain"] else 0.0
    return out


# name -> (function, fresh server per run?, row label, metrics [(key, label, higher is better)])
WORKLOADS: Dict[str, Tuple[Callable[[Server, str, float], Result], bool, str, List[Tuple[str, str, bool]]]] = {
    "ws_echo": (
        w_ws_echo,
        False,
        "websocket echo (100 sessions, 1 in flight)",
        [("rate", "msgs/s", True), ("eff", "msgs per server CPU-s", True)],
    ),
    "raw_ws_echo": (
        w_raw_ws_echo,
        False,
        "raw /websocket echo (100 conns)",
        [("rate", "msgs/s", True), ("eff", "msgs per server CPU-s", True)],
    ),
    "ws_echo_deflate": (
        w_ws_echo_deflate,
        False,
        "raw websocket echo, permessage-deflate (100 conns)",
        [("rate", "msgs/s", True), ("eff", "msgs per server CPU-s", True)],
    ),
    "ws_latency": (
        w_ws_latency,
        False,
        "websocket echo latency at %d msgs/s" % LATENCY_RATE,
        [("p50_ms", "p50 ms", False), ("p99_ms", "p99 ms", False)],
    ),
    "http": (
        w_http,
        False,
        "small HTTP handler (50 keep-alive conns)",
        [("rate", "req/s", True), ("eff", "req per server CPU-s", True)],
    ),
    "xhr_poll": (
        w_xhr_poll,
        False,
        "xhr_send + xhr round trips (50 sessions)",
        [("rate", "round trips/s", True), ("eff", "per server CPU-s", True)],
    ),
    "xhr_stream": (
        w_xhr_stream,
        False,
        "xhr_streaming deliveries (100 receivers)",
        [("rate", "deliveries/s", True), ("eff", "per server CPU-s", True)],
    ),
    "bcast_1k": (
        w_bcast_1k,
        False,
        "broadcast to 1,000 websockets",
        [
            ("rate", "deliveries/s", True),
            ("eff", "per server CPU-s", True),
            ("ttl_ms", "ms to last receiver (p50)", False),
        ],
    ),
    "bcast_10k": (
        w_bcast_10k,
        False,
        "broadcast to 10,000 websockets",
        [
            ("rate", "deliveries/s", True),
            ("eff", "per server CPU-s", True),
            ("ttl_ms", "ms to last receiver (p50)", False),
        ],
    ),
    "idle_ws": (w_idle_ws, True, "idle websocket session (10,000)", [("kb", "KB RSS each", False)]),
    "idle_poll": (w_idle_poll, True, "idle polling session, poll pending (10,000)", [("kb", "KB RSS each", False)]),
    "churn": (
        w_churn,
        True,
        "session churn (50 concurrent, open/echo/close)",
        [("rate", "sessions/s", True), ("eff", "per server CPU-s", True), ("drift_pct", "RSS drift %", False)],
    ),
    "churn_poll": (
        w_churn_poll,
        True,
        "polling session churn (50 concurrent: xhr o, xhr_send, xhr a)",
        [("rate", "sessions/s", True), ("eff", "per server CPU-s", True)],
    ),
    "idle_ws_100k": (w_idle_ws_100k, True, "idle websocket session (%s)" % f"{BIG:,}", [("kb", "KB RSS each", False)]),
    "idle_poll_100k": (
        w_idle_poll_100k,
        True,
        "idle polling session, poll pending (%s)" % f"{BIG:,}",
        [("kb", "KB RSS each", False)],
    ),
    "bcast_100k": (
        w_bcast_100k,
        True,
        "broadcast to %s websockets" % f"{BIG:,}",
        [
            ("rate", "deliveries/s", True),
            ("eff", "per server CPU-s", True),
            ("ttl_ms", "ms to last receiver (p50)", False),
        ],
    ),
    "hold_100k": (
        w_hold_100k,
        True,
        "%s idle websocket sessions held through 2 heartbeat periods "
        "(%d s) under a 100-session echo load at %d msgs/s" % (f"{BIG - 100:,}", HOLD_HEARTBEAT, LATENCY_RATE),
        [
            ("held", "sessions held", True),
            ("on_time", "with every heartbeat on time", True),
            ("max_gap_s", "longest heartbeat gap, s", False),
            ("p99_idle_ms", "echo p99 ms, idle server", False),
            ("p99_held_ms", "echo p99 ms, sessions held", False),
            ("p99_ratio", "p99 held / idle", False),
            ("open_rate", "sessions opened/s", True),
            ("server_cpu_pct", "server CPU % while held", False),
            ("kb", "KB RSS each", False),
        ],
    ),
    "rec_idle": (
        w_rec_idle,
        True,
        "recovery: idle websocket session subscribed to a channel (10,000)",
        [
            ("kb_off", "KB RSS each, recovery off", False),
            ("kb_on", "KB RSS each, recovery on (clients opted in)", False),
            ("extra_b", "bytes more with recovery (target <= 2048)", False),
        ],
    ),
    "rec_bcast": (
        w_rec_bcast,
        True,
        "recovery: channel publication to %s websockets, in-memory history" % f"{REC_BCAST_N:,}",
        [
            ("rate", "deliveries/s, no history, plain clients", True),
            ("eff_plain", "per server CPU-s, no history, plain clients", True),
            ("eff_hist", "per server CPU-s, history, plain clients", True),
            ("eff_rec", "per server CPU-s, no history, recovering clients", True),
            ("eff_rec_hist", "per server CPU-s, history, recovering clients", True),
            ("x_hist", "history / none, plain clients (target >= 0.8)", True),
            ("x_rec_hist", "history + recovering clients / none + plain clients (target >= 0.8)", True),
            ("x_rec_hist_rec", "history / none, recovering clients", True),
        ],
    ),
    "rec_redis": (
        w_rec_redis,
        True,
        "recovery: publications through redis-server, one process to another (%d receivers)" % REC_REDIS_N,
        [
            ("rate", "publications/s, plain pub/sub", True),
            ("eff_plain", "per server CPU-s (2 servers + redis), plain pub/sub", True),
            ("eff_hist", "per server CPU-s, history in Redis Streams", True),
            ("x_hist", "history / plain, per CPU-s (target >= 0.5)", True),
            ("x_hist_wall", "history / plain, per wall-s", True),
        ],
    ),
}

#: Workloads left out unless named with --only (each opens 100,000
#: connections: minutes, not seconds).
HEAVY = {"idle_ws_100k", "idle_poll_100k", "bcast_100k", "hold_100k"}

#: Settings a workload's server runs with (BENCH_SETTINGS).
WORKLOAD_SETTINGS = {"hold_100k": {"heartbeat_delay": HOLD_HEARTBEAT}}


# -- running ----------------------------------------------------------------------


def run(
    workloads: List[str], servers: List[str], reps: int, secs: float, env: Dict[str, Dict[str, str]]
) -> Dict[str, Dict[str, List[Dict[str, float]]]]:
    results: Dict[str, Dict[str, List[Dict[str, float]]]] = {w: {s: [] for s in servers} for w in workloads}
    shared = [w for w in workloads if not WORKLOADS[w][1]]
    fresh = [w for w in workloads if WORKLOADS[w][1]]
    for rep in range(reps):
        order = servers[rep % len(servers) :] + servers[: rep % len(servers)]
        log("== run %d/%d (server order %s)" % (rep + 1, reps, ",".join(order)))
        live = {s: Server(s, env.get(s)) for s in order} if shared else {}
        try:
            for w in shared:
                for s in order:
                    if w not in ONLY.get(s, WORKLOADS):
                        continue
                    settle(list(live.values()))
                    r = WORKLOADS[w][0](live[s], s, secs)
                    if r is not None:
                        results[w][s].append(r)
                        log("  %-11s %-5s %s" % (w, s, _fmt(r)))
        finally:
            for srv in live.values():
                srv.stop()
        for w in fresh:
            for s in order:
                if w not in ONLY.get(s, WORKLOADS):
                    continue
                senv = dict(env.get(s) or {})
                if w in WORKLOAD_SETTINGS:
                    settings = json.loads(senv.get("BENCH_SETTINGS") or "{}")
                    settings.update(WORKLOAD_SETTINGS[w])
                    senv["BENCH_SETTINGS"] = json.dumps(settings)
                srv = Server(s, senv)
                try:
                    r = WORKLOADS[w][0](srv, s, secs)
                finally:
                    srv.stop()
                if r is not None:
                    results[w][s].append(r)
                    log("  %-11s %-5s %s" % (w, s, _fmt(r)))
    return results


def _fmt(r: Dict[str, float]) -> str:
    return " ".join("%s=%.4g" % kv for kv in r.items())


def _human(v: float) -> str:
    if v >= 10000:
        return "%.1fk" % (v / 1000)
    if v >= 100:
        return "%.0f" % v
    return "%.2f" % v


def table(results: Dict[str, Dict[str, List[Dict[str, float]]]], servers: List[str]) -> str:
    refs = [s for s in servers if s != "ours"]
    head = ["workload", "metric"] + [SERVERS[s][0] for s in servers] + ["ours / %s" % s for s in refs]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def med(w: str, s: str, k: str) -> Optional[float]:
        vals = [r[k] for r in results.get(w, {}).get(s, []) if k in r]
        return statistics.median(vals) if vals else None

    def cpu(w: str, s: str) -> Optional[float]:
        vals = [r["cpu"] for r in results.get(w, {}).get(s, []) if r.get("cpu")]
        return max(vals) if vals else None

    for w, (_, _, label, metrics) in WORKLOADS.items():
        if w not in results:
            continue
        for k, mlabel, _higher in metrics:
            cells = [label, mlabel]
            vals = {s: med(w, s, k) for s in servers}
            for s in servers:
                v = vals[s]
                c = cpu(w, s) if k in ("rate", "p50_ms", "held") else None
                cells.append("–" if v is None else _human(v) + ("" if c is None else " (lg %d%%)" % round(c * 100)))
            for s in refs:
                a, b = vals.get("ours"), vals.get(s)
                cells.append("%.2fx" % (a / b) if a and b else "–")
            rows.append("| " + " | ".join(cells) + " |")
    # The HTTP ceiling, in round trips: two requests per round trip.
    rows.append("")
    if "ours_uv" in servers:
        for w, (_, _, label, metrics) in WORKLOADS.items():
            for k, mlabel, _higher in metrics:
                a, b = med(w, "ours_uv", k), med(w, "ours", k)
                if a and b:
                    rows.append("ours on uvloop / ours on asyncio, %s, %s: %.2fx  " % (label, mlabel, a / b))
    for k, what in (("rate", "per wall second"), ("eff", "per server CPU-second")):
        http = med("http", "raw", k)
        poll = med("xhr_poll", "ours", k)
        if http and poll:
            rows.append(
                "xhr polling round trips vs the raw Tornado HTTP ceiling (2 requests per round "
                "trip), %s: %s / %s = %.2fx  " % (what, _human(poll), _human(http / 2), poll / (http / 2))
            )
    return "\n".join(rows)


def profile(workload: str, secs: float) -> None:
    """Run one workload against our server under ``py-spy record`` and print
    the functions that take most of the time (self and inclusive)."""
    spy = os.path.join(HERE, ".venv-tornado", "bin", "py-spy")
    srv = Server("ours")
    os.makedirs(RESULTS, exist_ok=True)
    out = os.path.join(RESULTS, "profile-%s.txt" % workload)
    p = subprocess.Popen(
        [
            spy,
            "record",
            "--pid",
            str(srv.pid),
            "--format",
            "raw",
            "--rate",
            "250",
            "--nonblocking",
            "-o",
            out,
            "-d",
            str(int(secs + 6)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _procs.append(p)
    try:
        time.sleep(1)
        r = WORKLOADS[workload][0](srv, "ours", secs)
        log("result:", r)
        p.wait(60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        _procs.remove(p)
        srv.stop()
    self_t: Dict[str, int] = {}
    incl: Dict[str, int] = {}
    total = 0
    with open(out) as f:
        for line in f:
            stack, _, n = line.rstrip().rpartition(" ")
            if not stack:
                continue
            k = int(n)
            total += k
            frames = stack.split(";")
            self_t[frames[-1]] = self_t.get(frames[-1], 0) + k
            for fr in set(frames):
                incl[fr] = incl.get(fr, 0) + k
    print("py-spy, %s, %d samples (idle time included)" % (workload, total))
    print("-- self --")
    for fr, k in sorted(self_t.items(), key=lambda kv: -kv[1])[:25]:
        print("%5.1f%%  %s" % (100.0 * k / total, fr))
    print("-- inclusive --")
    for fr, k in sorted(incl.items(), key=lambda kv: -kv[1])[:40]:
        print("%5.1f%%  %s" % (100.0 * k / total, fr))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--secs", type=float, default=3.0, help="measured seconds per run")
    ap.add_argument("--quick", action="store_true", help="1 run of 1 s each")
    ap.add_argument("--only", default="", help="comma-separated workloads (%s)" % ",".join(WORKLOADS))
    ap.add_argument("--servers", default=",".join(SERVERS))
    ap.add_argument("--profile", metavar="WORKLOAD", help="py-spy our server during WORKLOAD")
    ap.add_argument("--base", metavar="COMMIT", help="also run this package at COMMIT as server 'base'")
    ap.add_argument("--ours-env", default="", help="KEY=VALUE,... extra environment for our server")
    args = ap.parse_args()
    if not shutil.which("taskset") or os.cpu_count() is None or os.cpu_count() < 2:  # type: ignore[operator]
        sys.exit("needs taskset and at least 2 CPUs")
    install()
    if args.quick:
        args.reps, args.secs = 1, 1.0
    if args.profile:
        profile(args.profile, args.secs)
        return
    workloads = [w for w in args.only.split(",") if w] or [w for w in WORKLOADS if w not in HEAVY]
    for w in workloads:
        if w not in WORKLOADS:
            sys.exit("unknown workload %r" % w)
    servers = [s for s in args.servers.split(",") if s and s != "base"]
    if args.base:
        extract_base(args.base)
        servers.insert(1, "base")
    if "ours" in servers:
        servers = ["ours"] + [s for s in servers if s != "ours"]
    env = {"ours": dict(kv.split("=", 1) for kv in args.ours_env.split(",") if kv)}
    started = time.time()
    results = run(workloads, servers, args.reps, args.secs, env)
    info = versions()
    text = table(results, servers)
    print(
        "\n%d run(s), median; (lg N%%) = load generator CPU share of its core; %s\n"
        % (args.reps, ", ".join("%s %s" % kv for kv in info.items()))
    )
    print(text)
    os.makedirs(RESULTS, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    with open(os.path.join(RESULTS, "bench-%s.json" % stamp), "w") as f:
        json.dump(
            {
                "versions": info,
                "reps": args.reps,
                "secs": args.secs,
                "results": results,
                "elapsed": time.time() - started,
            },
            f,
            indent=1,
        )
    with open(os.path.join(RESULTS, "bench-%s.md" % stamp), "w") as f:
        f.write(text + "\n")


if __name__ == "__main__":
    # SIGTERM too must reach the cleanup below: no server may outlive us.
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))
    try:
        main()
    finally:
        for p in list(_procs):
            if p.poll() is None:
                p.kill()
                p.wait()
