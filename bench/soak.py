"""Soak: open and close many sessions across every transport, including
clients that vanish mid-request, against a server subprocess; then show
that live sessions return to zero and RSS returns to its post-warm-up level.

    python bench/soak.py                      # 100,000 sessions (a few minutes)
    python bench/soak.py --sessions 2000      # quick look

The server runs as ``python bench/soak.py --serve`` (one echo service with
every transport, default settings) and answers ``GET /_soak`` with
its live session count and RSS. The client is plain asyncio on raw sockets,
``--concurrency`` flows at a time; each flow is one session:

* clean: websocket, raw websocket, xhr (+ xhr_send), xhr_streaming,
  eventsource, htmlfile and jsonp (+ jsonp_send), each sending one message
  and reading its echo;
* vanishing: a pending poll dropped, a streaming response dropped, a send
  body cut mid-way, a websocket cut mid-frame, a handshake cut mid-head,
  some of them with RST instead of FIN.

The first ``--warmup`` sessions (20%) warm the server up; once its
sessions are back to zero, garbage is collected and freed heap returned to
the OS (``malloc_trim``), and its RSS is the baseline; the same is done at
the end. ``--rate`` (250 new sessions/s) keeps the number of sessions
lingering for their ``disconnect_delay`` the same in both phases, so RSS
compares like with like. After all sessions the figures are
printed (and written as JSON with ``--json``); the run fails (exit 1) if
sessions do not return to zero or RSS ends more than 5% above the baseline.
"""

import argparse
import asyncio
import base64
import gc
import json
import os
import resource
import socket
import struct
import subprocess
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

PREFIX = "/echo"

# -- server ------------------------------------------------------------------------


def make_soak_app(**settings: Any) -> Any:
    """The soak server's application: an echo service with every transport,
    and ``GET /_soak`` answering its live sessions and RSS
    (``?gc=1`` collects garbage first)."""
    from tornado import web

    from sockjs.tornado import SockJSConnection, SockJSRouter

    class Echo(SockJSConnection):
        def on_message(self, message: str) -> None:
            self.send(message)

    # The default disconnect_delay (5 s): a loaded machine must not expire
    # sessions between a client's requests.
    opts = {"session_check_interval": 0.5, "jsessionid": False}
    opts.update(settings)
    router = SockJSRouter(Echo, PREFIX, opts)

    class SoakStats(web.RequestHandler):
        def get(self) -> None:
            if self.get_query_argument("gc", None):
                gc.collect()
                _malloc_trim()
            self.finish(
                {
                    "sessions": len(router.sessions),
                    "rss_kb": rss_kb(),
                    "opened": router.stats.sessions_opened,
                    "connections_active": router.stats.conn_active,
                }
            )

    app = web.Application(router.urls + [("/_soak", SoakStats)])
    app.sockjs_router = router  # type: ignore[attr-defined]
    return app


def _malloc_trim() -> None:
    # Hand freed heap pages back to the OS, so RSS shows what is in use
    # rather than glibc's high-water mark.
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def rss_kb(pid: str = "self") -> int:
    with open("/proc/%s/statm" % pid) as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") // 1024


async def serve(port: int) -> None:
    from tornado import httpserver, netutil

    app = make_soak_app()
    sockets = netutil.bind_sockets(port, "127.0.0.1", family=socket.AF_INET)
    server = httpserver.HTTPServer(app)
    server.add_sockets(sockets)
    print("PORT %d" % sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()


# -- client ------------------------------------------------------------------------


class Gone(Exception):
    """The server closed the connection before the expected bytes."""


async def _open(port: int) -> Tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)


def _drop(writer: asyncio.StreamWriter, rst: bool = False) -> None:
    if rst:
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort() if rst else writer.close()


async def _request(
    port: int, method: str, path: str, body: bytes = b"", ctype: str = "text/plain"
) -> Tuple[int, bytes]:
    """One request on its own connection (``Connection: close``)."""
    reader, writer = await _open(port)
    try:
        writer.write(
            (
                "%s %s HTTP/1.1\r\nHost: soak\r\nConnection: close\r\nContent-Type: %s\r\n"
                "Content-Length: %d\r\n\r\n" % (method, path, ctype, len(body))
            ).encode()
            + body
        )
        data = await reader.read()
    finally:
        writer.close()
    head, _, rest = data.partition(b"\r\n\r\n")
    if not head:
        raise Gone(path)
    return int(head.split(b" ", 2)[1]), rest


async def _stream_until(reader: asyncio.StreamReader, needle: bytes, limit: int = 1 << 16) -> bytes:
    buf = b""
    while needle not in buf:
        chunk = await reader.read(65536)
        if not chunk:
            raise Gone(needle)
        buf += chunk
        if len(buf) > limit:
            raise Gone("too much before %r" % needle)
    return buf


def _ws_frame(opcode: int, payload: bytes) -> bytes:
    n = len(payload)
    head = struct.pack("!BB", 0x80 | opcode, 0x80 | n) if n < 126 else struct.pack("!BBH", 0x80 | opcode, 0xFE, n)
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


async def _ws_read(reader: asyncio.StreamReader) -> Tuple[int, bytes]:
    b0, b1 = await reader.readexactly(2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", await reader.readexactly(2))[0]
    elif n == 127:
        n = struct.unpack("!Q", await reader.readexactly(8))[0]
    return b0 & 0x0F, await reader.readexactly(n)


async def _ws_handshake(port: int, path: str) -> Tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await _open(port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            "GET %s HTTP/1.1\r\nHost: soak\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (path, key)
        ).encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    if b" 101 " not in head.split(b"\r\n", 1)[0]:
        raise Gone(head[:40])
    return reader, writer


# Each flow takes (port, session id) and runs one session to its end.


async def flow_websocket(port: int, sid: str) -> None:
    reader, writer = await _ws_handshake(port, "%s/000/%s/websocket" % (PREFIX, sid))
    try:
        assert await _ws_read(reader) == (1, b"o")
        writer.write(_ws_frame(1, b'["hi"]'))
        assert await _ws_read(reader) == (1, b'a["hi"]')
        writer.write(_ws_frame(8, struct.pack("!H", 1000)))
        while True:  # the server's close, then EOF
            op, _ = await _ws_read(reader)
            if op == 8:
                break
    finally:
        writer.close()


async def flow_rawwebsocket(port: int, sid: str) -> None:
    reader, writer = await _ws_handshake(port, PREFIX + "/websocket")
    try:
        writer.write(_ws_frame(1, b"hi"))
        assert await _ws_read(reader) == (1, b"hi")
        writer.write(_ws_frame(8, struct.pack("!H", 1000)))
        op, _ = await _ws_read(reader)
        assert op == 8
    finally:
        writer.close()


def _expect(got: Any, want: Any) -> None:
    if got != want:
        raise AssertionError("got %r, want %r" % (got, want))


async def flow_xhr(port: int, sid: str) -> None:
    base = "%s/000/%s/" % (PREFIX, sid)
    _expect(await _request(port, "POST", base + "xhr"), (200, b"o\n"))
    _expect((await _request(port, "POST", base + "xhr_send", b'["hi"]'))[0], 204)
    _expect(await _request(port, "POST", base + "xhr"), (200, b'a["hi"]\n'))


async def flow_jsonp(port: int, sid: str) -> None:
    base = "%s/000/%s/" % (PREFIX, sid)
    _expect(await _request(port, "GET", base + "jsonp?c=cb"), (200, b'/**/cb("o");\r\n'))
    _expect(
        await _request(port, "POST", base + "jsonp_send", b"d=%5B%22hi%22%5D", "application/x-www-form-urlencoded"),
        (200, b"ok"),
    )
    _expect(await _request(port, "GET", base + "jsonp?c=cb"), (200, b'/**/cb("a[\\"hi\\"]");\r\n'))


def _streaming(method: str, transport: str, opened: bytes, echoed: bytes) -> Callable[..., Any]:
    async def flow(port: int, sid: str) -> None:
        base = "%s/000/%s/" % (PREFIX, sid)
        reader, writer = await _open(port)
        try:
            writer.write(
                ("%s %s HTTP/1.1\r\nHost: soak\r\nContent-Length: 0\r\n\r\n" % (method, base + transport)).encode()
            )
            await _stream_until(reader, opened)
            assert (await _request(port, "POST", base + "xhr_send", b'["hi"]'))[0] == 204
            await _stream_until(reader, echoed)
        finally:
            writer.close()  # how a streaming client leaves

    return flow


flow_xhr_streaming = _streaming("POST", "xhr_streaming", b"o\n", b'a["hi"]\n')
flow_eventsource = _streaming("GET", "eventsource", b"data: o\r\n", b'data: a["hi"]\r\n')
flow_htmlfile = _streaming("GET", "htmlfile?c=cb", b'p("o");', b'p("a[\\"hi\\"]");')


async def flow_vanish_poll(port: int, sid: str, rst: bool = False) -> None:
    base = "%s/000/%s/" % (PREFIX, sid)
    assert await _request(port, "POST", base + "xhr") == (200, b"o\n")
    reader, writer = await _open(port)
    writer.write(("POST %sxhr HTTP/1.1\r\nHost: soak\r\nContent-Length: 0\r\n\r\n" % base).encode())
    await writer.drain()
    await asyncio.sleep(0.01)
    _drop(writer, rst)


async def flow_vanish_stream(port: int, sid: str, rst: bool = False) -> None:
    reader, writer = await _open(port)
    writer.write(("GET %s/000/%s/eventsource HTTP/1.1\r\nHost: soak\r\n\r\n" % (PREFIX, sid)).encode())
    await _stream_until(reader, b"data: o\r\n")
    _drop(writer, rst)


async def flow_vanish_body(port: int, sid: str, rst: bool = False) -> None:
    base = "%s/000/%s/" % (PREFIX, sid)
    assert await _request(port, "POST", base + "xhr") == (200, b"o\n")
    reader, writer = await _open(port)
    writer.write(('POST %sxhr_send HTTP/1.1\r\nHost: soak\r\nContent-Length: 1000\r\n\r\n["ab' % base).encode())
    await writer.drain()
    await asyncio.sleep(0.01)
    _drop(writer, rst)


async def flow_vanish_ws_frame(port: int, sid: str, rst: bool = False) -> None:
    reader, writer = await _ws_handshake(port, "%s/000/%s/websocket" % (PREFIX, sid))
    assert await _ws_read(reader) == (1, b"o")
    writer.write(_ws_frame(1, b'["' + b"x" * 100 + b'"]')[:50])
    await writer.drain()
    _drop(writer, rst)


async def flow_vanish_handshake(port: int, sid: str, rst: bool = False) -> None:
    reader, writer = await _open(port)
    writer.write(("GET %s/000/%s/websocket HTTP/1.1\r\nHost: soak\r\nUpgrade: websocket\r\n" % (PREFIX, sid)).encode())
    await writer.drain()
    _drop(writer, rst)


def _rst(fn: Callable[..., Any]) -> Callable[..., Any]:
    async def flow(port: int, sid: str) -> None:
        await fn(port, sid, rst=True)

    flow.__name__ = fn.__name__ + "_rst"
    return flow


FLOWS: List[Callable[..., Any]] = [
    flow_websocket,
    flow_rawwebsocket,
    flow_xhr,
    flow_jsonp,
    flow_xhr_streaming,
    flow_eventsource,
    flow_htmlfile,
    flow_vanish_poll,
    flow_vanish_stream,
    flow_vanish_body,
    flow_vanish_ws_frame,
    flow_vanish_handshake,
    _rst(flow_vanish_poll),
    _rst(flow_vanish_stream),
    _rst(flow_vanish_ws_frame),
]


async def run_sessions(
    port: int,
    count: int,
    concurrency: int,
    start: int = 0,
    deadline: Optional[float] = None,
    progress: int = 0,
    rate: float = 0,
) -> Dict[str, int]:
    """Run ``count`` session flows, ``concurrency`` at a time, cycling
    through :data:`FLOWS`, at most ``rate`` new sessions a second (0: no
    limit; a steady rate keeps the number of sessions waiting for their
    ``disconnect_delay`` steady too). Returns failures by flow name (a flow
    fails when the server answers anything but the protocol's answer)."""
    failures: Dict[str, int] = {}
    t0 = time.monotonic()
    counter = iter(range(start, start + count))

    async def worker() -> None:
        for i in counter:
            if deadline is not None and time.monotonic() > deadline:
                return
            fn = FLOWS[i % len(FLOWS)]
            if rate:
                wait = t0 + (i - start) / rate - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
            if progress and i % progress == 0 and i:
                print("  %d sessions, %.0f s" % (i, time.monotonic() - t0), file=sys.stderr, flush=True)
            try:
                await asyncio.wait_for(fn(port, "s%d" % i), 30)
            except (Exception, asyncio.TimeoutError) as e:
                key = "%s: %s %s" % (fn.__name__, type(e).__name__, str(e)[:60])
                failures[key] = failures.get(key, 0) + 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return failures


async def server_state(port: int, collect: bool = False) -> Dict[str, Any]:
    status, body = await _request(port, "GET", "/_soak" + ("?gc=1" if collect else ""))
    assert status == 200
    return json.loads(body)  # type: ignore[no-any-return]


async def wait_drained(port: int, timeout: float) -> Dict[str, Any]:
    """Poll the server until it holds no session (or ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        state = await server_state(port)
        if state["sessions"] == 0 or time.monotonic() > deadline:
            return await server_state(port, collect=True)
        await asyncio.sleep(0.25)


async def soak(
    port: int, sessions: int, warmup: int, concurrency: int, max_seconds: float = 3600, rate: float = 0
) -> Dict[str, Any]:
    """The whole run against a server on ``port``; returns the figures."""
    deadline = time.monotonic() + max_seconds
    t0 = time.monotonic()
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    fail_warm = await run_sessions(port, warmup, concurrency, 0, deadline, progress=5000, rate=rate)
    warm = await wait_drained(port, 30)
    t1 = time.monotonic()
    failures = await run_sessions(port, sessions - warmup, concurrency, warmup, deadline, progress=5000, rate=rate)
    t2 = time.monotonic()
    final = await wait_drained(port, 30)
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    for k, v in fail_warm.items():
        failures[k] = failures.get(k, 0) + v
    return {
        "sessions": sessions,
        "opened_by_server": final["opened"],
        "seconds": round(t2 - t0, 1),
        "sessions_per_s": round((sessions - warmup) / max(t2 - t1, 1e-9)),
        "live_sessions_after_warmup": warm["sessions"],
        "live_sessions_at_end": final["sessions"],
        "connections_active_at_end": final["connections_active"],
        "rss_kb_after_warmup": warm["rss_kb"],
        "rss_kb_at_end": final["rss_kb"],
        "rss_growth_pct": round(100.0 * (final["rss_kb"] - warm["rss_kb"]) / warm["rss_kb"], 2),
        "client_cpu_s": round(cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime, 1),
        "failures": failures,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--serve", action="store_true", help="run the soak server (internal)")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--sessions", type=int, default=100000)
    parser.add_argument("--warmup", type=int, default=None, help="default: 20%% of --sessions")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--max-seconds", type=float, default=3600)
    parser.add_argument(
        "--rate", type=float, default=250, help="new sessions per second at most (0: as fast as possible)"
    )
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args.port))
        return 0
    warmup = args.warmup if args.warmup is not None else args.sessions // 5
    proc = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), "--serve", "--port", str(args.port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("PORT "):
            raise SystemExit("server did not start: %r" % line)
        port = int(line.split()[1])
        result = asyncio.run(soak(port, args.sessions, warmup, args.concurrency, args.max_seconds, args.rate))
        result["rate_limit"] = args.rate
        server_cpu = _cpu_seconds(proc.pid)
        result["server_cpu_s"] = server_cpu
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    print(json.dumps(result, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    ok = result["live_sessions_at_end"] == 0 and result["rss_growth_pct"] <= 5.0 and not result["failures"]
    return 0 if ok else 1


def _cpu_seconds(pid: int) -> float:
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return round((int(fields[11]) + int(fields[12])) / ticks, 1)


if __name__ == "__main__":
    sys.exit(main())
