"""Waiting, in a test, for something a server does in its own thread or
process: the predicate is polled every 5 ms, so a test waits about as long
as the server takes (the fast subset is mostly such waits)."""

import time
from typing import Any, Callable

INTERVAL = 0.005


def poll(predicate: Callable[[], Any], timeout: float = 5.0, interval: float = INTERVAL) -> Any:
    """The first truthy value of ``predicate()`` within ``timeout`` seconds;
    else its last, falsy, value (for ``assert poll(...)``)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def wait_until(
    predicate: Callable[[], Any], timeout: float = 5.0, interval: float = INTERVAL, what: str = "condition"
) -> Any:
    """Like :func:`poll`, but a timeout raises ``AssertionError`` naming
    ``what``."""
    value = poll(predicate, timeout, interval)
    if not value:
        raise AssertionError("%s not met within %.1fs" % (what, timeout))
    return value
