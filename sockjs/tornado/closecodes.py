"""Close codes the server itself uses, as ``(code, reason)`` pairs.

Applications close with codes 3000-4999 (``SockJSConnection.close``); the
codes below are the library's own, and the documentation lists each with
when it is sent.
"""

from typing import Tuple

__all__ = [
    "CloseCode",
    "CLOSE_GO_AWAY",
    "CLOSE_ANOTHER_CONNECTION",
    "CLOSE_INTERRUPTED",
    "CLOSE_INTERNAL_ERROR",
    "CLOSE_SHUTDOWN",
    "CLOSE_QUEUE_OVERFLOW",
    "CLOSE_PING_TIMEOUT",
    "CLOSE_DIFFERENT_IP",
]

CloseCode = Tuple[int, str]

#: The default close of a session (and the 1.x answer to a refused ``on_open``).
CLOSE_GO_AWAY: CloseCode = (3000, "Go away!")
#: A second receiver for a session that already has one.
CLOSE_ANOTHER_CONNECTION: CloseCode = (2010, "Another connection still open")
#: A receiver from another address than the session's (``verify_ip``).
CLOSE_DIFFERENT_IP: CloseCode = (2010, "Attempted to connect to session from different IP")
#: The client went away in the middle of a response.
CLOSE_INTERRUPTED: CloseCode = (1002, "Connection interrupted")
#: A handler of the application raised.
CLOSE_INTERNAL_ERROR: CloseCode = (1011, "Internal error")
#: ``router.shutdown()``.
CLOSE_SHUTDOWN: CloseCode = (1001, "Server shutting down")
#: More than ``max_queue_size`` bytes waiting for a client that does not read.
CLOSE_QUEUE_OVERFLOW: CloseCode = (1013, "Send queue overflow")
#: A websocket peer did not answer a ping within ``ping_timeout``.
CLOSE_PING_TIMEOUT: CloseCode = (1001, "Ping timeout")
