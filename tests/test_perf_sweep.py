"""The router's sweep visits only the sessions that have something to do
(a heartbeat, a ping answer to check, an expiry), at the moment they need
it, and never holds the loop for a whole slot of sessions at once; while
heartbeats, ping timeouts and expiry stay on time for many sessions."""

import asyncio
import json
import math
import select
import time
from typing import Any, List, Optional

import websocket
from conftest import router_app
from protocol_helpers import Echo, sid

from sockjs.tornado import SockJSConnection, SockJSRouter
from sockjs.tornado.session import Session
from sockjs.tornado.sessioncontainer import SessionContainer

#: The ``h`` frame as a websocket text frame from the server.
HEARTBEAT = b"\x81\x01h"


class Counting(Session):
    """A session that counts its sweep visits."""

    ticks: List[float] = []

    def tick(self, now: float) -> Optional[float]:
        Counting.ticks.append(now)
        return super().tick(now)


class Quiet(SockJSConnection):
    closed = 0

    def on_close(self) -> None:
        Quiet.closed += 1


def test_sweep_visits_sessions_only_when_they_are_due() -> None:
    async def main() -> None:
        Counting.ticks = []
        router = SockJSRouter(
            Quiet,
            "/q",
            {"disconnect_delay": 5, "heartbeat_delay": 25, "session_check_interval": 1},
            session_kls=Counting,
        )
        container = router.sessions
        t0 = time.monotonic()
        sessions = [router.create_session(sid()) for _ in range(1000)]
        assert len(container) == 1000 and container.scheduled == 1000
        # Their first visit: each learns its expiry (no receiver came).
        assert container.expire(t0 + 1)
        assert len(Counting.ticks) == 1000
        # Nothing is due until the expiry: a sweep visits nobody.
        for dt in (1.5, 2, 3, 4):
            container.expire(t0 + dt)
        assert len(Counting.ticks) == 1000
        # A session whose countdown restarts later is visited later.
        late = sessions[0]
        late.expiry_date = t0 + 9
        Quiet.closed = 0
        assert container.expire(t0 + 6.5)
        assert len(Counting.ticks) == 2000
        assert len(container) == 1 and Quiet.closed == 999
        # ... when its own time comes, and then it is gone.
        container.expire(t0 + 8)
        assert len(Counting.ticks) == 2000
        container.expire(t0 + 10.5)
        assert len(Counting.ticks) == 2001 and len(container) == 0 and container.scheduled == 0
        await router.shutdown()

    asyncio.run(main())


def test_receiver_leaving_refiles_the_session_earlier() -> None:
    """A session waiting for its next heartbeat (far away) whose receiver
    leaves must expire ``disconnect_delay`` later, not at the heartbeat."""
    container = SessionContainer(1.0)

    class S:
        session_id = "a"
        _sweep_slot: Optional[int] = None
        due_at = 0.0

        def tick(self, now: float) -> Optional[float]:
            return None if now >= self.due_at else self.due_at

    s = S()
    t0 = float(math.ceil(time.monotonic()))
    s.due_at = t0 + 25
    container.add(s)
    container.expire(t0 + 1)
    assert s._sweep_slot == t0 + 25
    s.due_at = t0 + 5
    container.due(s, s.due_at)
    assert s._sweep_slot == t0 + 5
    container.expire(t0 + 4.9)
    assert len(container) == 1
    container.expire(t0 + 5.0)
    assert len(container) == 0
    # Later deadlines never move a session back: it is refiled when visited.
    container.add(s)
    container.due(s, t0 + 100)
    assert s._sweep_slot is not None and s._sweep_slot <= t0


def test_a_budgeted_sweep_leaves_the_rest_for_the_next_turn() -> None:
    async def main() -> None:
        Counting.ticks = []
        router = SockJSRouter(Quiet, "/q", {"disconnect_delay": 5}, session_kls=Counting)
        for _ in range(300):
            router.create_session(sid())
        now = time.monotonic() + 1
        assert not router.sessions.expire(now, budget=128)
        assert len(Counting.ticks) == 128
        assert not router.sessions.expire(now, budget=128)
        assert router.sessions.expire(now, budget=128)
        assert len(Counting.ticks) == 300
        await router.shutdown()

    asyncio.run(main())


def test_heartbeats_reach_many_websocket_sessions_on_time(make_server: Any) -> None:
    """200 websocket sessions, 0.5 s heartbeats: every one gets its
    heartbeats, and no period passes without one (a loaded machine delays
    them by a sweep interval or two, never by a period)."""
    # No pings: this client reads the socket itself and would not answer.
    srv = make_server(
        router_app(Echo, "/echo", {"heartbeat_delay": 0.5, "session_check_interval": 0.1, "ping_timeout": None})
    )
    conns = []
    for _ in range(200):
        ws = websocket.create_connection(srv.ws_url + "/echo/000/%s/websocket" % sid(), timeout=5)
        assert ws.recv() == "o"
        conns.append([ws, None, 0, 0.0])
    # An echo on half of them: a write pushes the next heartbeat back.
    for c in conns[::2]:
        c[0].send(json.dumps(["x"]))
        while c[0].recv() != 'a["x"]':
            pass
    # Gaps between heartbeats as they arrive (the first one read sets the
    # baseline: the opening above took a while).
    by_sock = {c[0].sock: c for c in conns}
    end = time.monotonic() + 3.0
    while time.monotonic() < end:
        readable, _, _ = select.select(list(by_sock), [], [], 0.05)
        t = time.monotonic()
        for sock in readable:
            c = by_sock[sock]
            # Read the socket itself: the client library may buffer frames
            # that select() would then not report.
            data = sock.recv(4096)
            beats = data.count(HEARTBEAT)
            assert beats and data == HEARTBEAT * beats, data
            if c[1] is not None:
                c[3] = max(c[3], t - c[1])
                c[2] += beats
            c[1] = t
    for ws, _, gaps, gap in conns:
        assert gaps >= 3
        assert gap < 0.5 * 2  # never a period without one
        ws.close()
