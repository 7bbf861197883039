"""Soak, reduced: 2,000 sessions over every transport,
a third of them clients that vanish mid-request, against a live server;
every session is gone afterwards. The full run (100,000 sessions against
a server subprocess, with RSS) is ``python bench/soak.py``."""

import asyncio
import os
import sys

from security_helpers import wait_for

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench"))
import soak


def test_soak_reduced(make_server):
    # disconnect_delay 2 s: a flow's next request follows its last answer
    # within milliseconds, so even a loaded CI machine does not expire a
    # session between two requests of one flow; the default 5 s would only
    # add 3 s of waiting for the last sessions to expire.
    srv = make_server(lambda: soak.make_soak_app(session_check_interval=0.2, disconnect_delay=2))
    router = srv.app.sockjs_router
    failures = asyncio.run(soak.run_sessions(srv.port, 2000, concurrency=40))
    assert failures == {}
    opened = srv.call(lambda: router.stats.sessions_opened)
    # Every flow but the cut handshakes opens a session.
    assert opened >= 2000 * (len(soak.FLOWS) - 1) // len(soak.FLOWS)
    assert wait_for(lambda: srv.call(lambda: len(router.sessions)) == 0, timeout=20)
    stats = srv.call(lambda: router.stats.dump())
    assert stats["sessions_active"] == 0
    assert stats["connections_active"] == 0
