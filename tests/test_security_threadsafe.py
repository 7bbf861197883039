"""The thread hand-off (``sockjs.tornado.threadsafe``) under heavy thread
contention, on a real event loop: every call runs exactly once, each
thread's calls in the order it made them, and the loop is woken once per
batch (no drain ever finds an empty batch, so no wake-up is wasted).
The switch interval is cut to a microsecond so threads interleave inside
the hand-off as often as they can; the hand-off does not rely on the GIL
(a lock guards the queue and its "scheduled" flag together), which is
what keeps it correct on free-threaded Python."""

import asyncio
import sys
import threading
from typing import Any, Dict, List, Tuple

import pytest

from sockjs.tornado.threadsafe import ThreadsafeCalls

THREADS = 8
PER_THREAD = 3000


class Loop:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def call(self, fn: Any) -> Any:
        async def run() -> Any:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(10)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@pytest.fixture
def fast_switching():
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(old)


@pytest.mark.parametrize("round_", range(3))
def test_every_call_once_in_order_one_wakeup_per_batch(fast_switching, round_):
    lp = Loop()
    seen: List[Tuple[int, int]] = []
    batches: List[int] = []
    state: Dict[str, int] = {"open": 0, "count": 0}

    def begin() -> None:
        assert threading.current_thread() is lp.thread
        state["open"] += 1
        state["count"] = len(seen)

    def end() -> None:
        state["open"] -= 1
        batches.append(len(seen) - state["count"])

    calls = ThreadsafeCalls(lp.loop, begin, end)
    start = threading.Barrier(THREADS)
    errors: List[BaseException] = []

    def run(t: int) -> None:
        try:
            start.wait(5)
            for i in range(PER_THREAD):
                calls.call(seen.append, (t, i))
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(t,)) for t in range(THREADS)]
    try:
        for th in threads:
            th.start()
        for th in threads:
            th.join(30)
        assert not errors, errors
        # Everything queued is drained by the wake-ups already scheduled.
        deadline = lp.loop.time() + 10
        while lp.call(lambda: len(seen)) < THREADS * PER_THREAD and lp.loop.time() < deadline:
            pass
        lp.call(lambda: None)
        assert calls.pending() == 0
        assert len(seen) == THREADS * PER_THREAD
        for t in range(THREADS):
            assert [i for tt, i in seen if tt == t] == list(range(PER_THREAD))
        assert state["open"] == 0
        # One wake-up per batch: no drain ran empty.
        assert batches and min(batches) >= 1, batches.count(0)
        assert len(batches) <= THREADS * PER_THREAD
    finally:
        lp.close()


def test_call_after_loop_closed_raises_and_recovers():
    lp = Loop()
    ran: List[int] = []
    calls = ThreadsafeCalls(lp.loop, lambda: None, lambda: None)
    calls.call(ran.append, 1)
    lp.call(lambda: None)
    assert ran == [1]
    lp.close()
    with pytest.raises(RuntimeError):
        calls.call(ran.append, 2)
    # Not left "scheduled": the next call tries again (and fails the same way).
    with pytest.raises(RuntimeError):
        calls.call(ran.append, 3)


def test_failing_call_is_logged_and_the_rest_run(server_errors):
    lp = Loop()
    ran: List[int] = []
    calls = ThreadsafeCalls(lp.loop, lambda: None, lambda: None)
    try:

        def boom() -> None:
            raise RuntimeError("boom")

        calls.call(boom)
        calls.call(ran.append, 1)
        lp.call(lambda: None)
        lp.call(lambda: None)
        assert ran == [1]
        assert len(server_errors.records) == 1 and server_errors.records[0].exc_info
    finally:
        lp.close()
