"""Router settings: the 1.x keys with their defaults, the new ones, and
their validation (a value of the wrong type fails at construction, naming
the key; an unknown key is kept, with a warning naming the nearest known
key)."""

import difflib
import logging
from typing import TYPE_CHECKING, Any, Callable, Dict, Mapping

if TYPE_CHECKING:  # pragma: no cover
    from sockjs.tornado.origins import OriginPolicy

__all__ = ["DEFAULT_SETTINGS", "DEFAULT_SOCKJS_URL", "TRANSPORT_NAMES", "validate_settings"]

log = logging.getLogger("sockjs.tornado")

#: sockjs-client build the iframe page loads unless ``sockjs_url`` says
#: otherwise. It must be the very build the application's page uses.
DEFAULT_SOCKJS_URL = "https://cdn.jsdelivr.net/npm/sockjs-client@1.6.1/dist/sockjs.min.js"

#: Names accepted in ``disabled_transports``.
TRANSPORT_NAMES = ("websocket", "xhr", "xhr_streaming", "jsonp", "eventsource", "htmlfile")

#: Every setting a router accepts, with its default (the settings page of
#: the documentation says what each one does).
DEFAULT_SETTINGS: Dict[str, Any] = {
    # -- sockjs-tornado 1.x ---------------------------------------------
    # Seconds between sweeps (heartbeats, expiry).
    "session_check_interval": 1,
    # Seconds a session outlives its last receiver.
    "disconnect_delay": 5,
    # Seconds of silence before an `h` frame.
    "heartbeat_delay": 25,
    "disabled_transports": [],
    "sockjs_url": DEFAULT_SOCKJS_URL,
    # Bytes per streaming response before the client must reconnect.
    "response_limit": 128 * 1024,
    # JSESSIONID cookie handling (load balancers stick on it).
    "jsessionid": True,
    # False batches sends until the next loop turn.
    "immediate_flush": True,
    # TCP_NODELAY on persistent connections.
    "disable_nagle": True,
    # Polling requests of one session must come from one IP.
    "verify_ip": True,
    # "*" or a list of allowed host[:port] for websocket Origin headers.
    "websocket_allow_origin": "*",
    # -- new ------------------------------------------------------------
    # Largest client message (websocket) or send request body, in bytes.
    "max_message_size": 1024 * 1024,
    # Largest outgoing queue of one session, in bytes; past it the session
    # is closed with 1013.
    "max_queue_size": 4 * 1024 * 1024,
    # Messages that may wait for a running async handler before a
    # websocket stops reading from its client.
    "max_inbox_messages": 1000,
    # Seconds a websocket peer has to answer the ping sent with each
    # heartbeat; None disables the check.
    "ping_timeout": 10,
    # permessage-deflate for websockets: None (off), or a dict as Tornado's
    # get_compression_options() returns ({} for the defaults).
    "websocket_compression": None,
    # Allowed Origins: "*", or a list of exact origins and patterns such as
    # "https://*.example.com", or a callable(origin) -> bool.
    "allowed_origins": "*",
    # Requests that name no page at all (no Origin, Sec-Fetch-Site or
    # Referer: non-browser clients, very old browsers), when
    # allowed_origins is not "*": "allow", "refuse", or "refuse_embedded"
    # (refused on jsonp, htmlfile, jsonp_send and iframe.html, which a page
    # loads as a script or frame; served elsewhere).
    "anonymous_requests": "refuse_embedded",
    # Level at which clients' mistakes (403, 404, 405, 413, the protocol's
    # 500s) go to the access log, and how many such lines a minute at most.
    "client_error_log_level": "INFO",
    "client_error_log_rate": 60,
    # -- scale-out (sockjs.tornado.channels, sockjs.tornado.broker) -------
    # None (one process), a "redis://host:port/db" URL, or a Broker.
    "broker": None,
    # Redis channel shared by the processes of this service; None derives
    # it from the router prefix ("sockjs:" + prefix).
    "broker_namespace": None,
    # Publications not yet handed to the broker (during an outage, or a
    # burst faster than Redis takes them), kept in order; past it the
    # oldest are dropped.
    "broker_buffer_size": 10000,
    # Longest pause, in seconds, between reconnection attempts.
    "broker_retry_max": 2.0,
    # -- history, presence, recovery (sockjs.tornado.history, .presence,
    # .recovery) ---------------------------------------------------------
    # Publications kept per channel for router.history() and recovery;
    # 0 keeps none. In Redis with a Redis broker, else in memory.
    "history_size": 0,
    # Seconds a kept publication (and a silent channel's epoch) lives.
    "history_ttl": 300,
    # List every subscription for router.presence().
    "presence": False,
    # Seconds within which a dead process's presence entries disappear.
    "presence_ttl": 15,
    # Publish {"$sockjs": "join"|"leave", "c", "id", "info"} to a channel's
    # subscribers when one subscribes or leaves (needs presence).
    "presence_events": False,
    # Connection state recovery for clients that ask for it (the shipped
    # browser client).
    "recovery": False,
    # Seconds a disconnected recoverable session waits for its client.
    "recovery_window": 120,
    # Messages kept per recoverable session for replay; a client that
    # missed more starts afresh.
    "recovery_buffer": 1000,
}


def _number(key: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError("setting %r must be a number, not %r" % (key, value))
    if value < 0:
        raise ValueError("setting %r must not be negative, not %r" % (key, value))


def _positive_int(key: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("setting %r must be an int, not %r" % (key, value))
    if value <= 0:
        raise ValueError("setting %r must be positive, not %r" % (key, value))


def _count(key: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("setting %r must be an int, not %r" % (key, value))
    if value < 0:
        raise ValueError("setting %r must not be negative, not %r" % (key, value))


def _bool(key: str, value: Any) -> None:
    if not isinstance(value, (bool, int)):
        raise TypeError("setting %r must be a bool, not %r" % (key, value))


def _str(key: str, value: Any) -> None:
    if not isinstance(value, str):
        raise TypeError("setting %r must be a str, not %r" % (key, value))


def _transports(key: str, value: Any) -> None:
    if isinstance(value, str) or not isinstance(value, (list, tuple, set, frozenset)):
        raise TypeError("setting %r must be a list of transport names, not %r" % (key, value))
    for name in value:
        if name not in TRANSPORT_NAMES:
            raise ValueError("setting %r: unknown transport %r (known: %s)" % (key, name, ", ".join(TRANSPORT_NAMES)))


def _origins(key: str, value: Any) -> None:
    if value == "*" or callable(value):
        return
    if isinstance(value, str) or not isinstance(value, (list, tuple, set, frozenset)):
        raise TypeError("setting %r must be '*', a list of strings or a callable, not %r" % (key, value))
    for item in value:
        if not isinstance(item, str):
            raise TypeError("setting %r: %r is not a string" % (key, item))


def _anonymous(key: str, value: Any) -> None:
    from sockjs.tornado.origins import ANONYMOUS_POLICIES

    if value not in ANONYMOUS_POLICIES:
        raise ValueError("setting %r must be one of %s, not %r" % (key, ", ".join(ANONYMOUS_POLICIES), value))


def _log_level(key: str, value: Any) -> None:
    from sockjs.tornado.clientlog import parse_level

    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise TypeError("setting %r must be a logging level name or number, not %r" % (key, value))
    try:
        parse_level(value)
    except ValueError as e:
        raise ValueError("setting %r: %s" % (key, e)) from None


def _optional_number(key: str, value: Any) -> None:
    if value is not None:
        _number(key, value)


def _optional_str(key: str, value: Any) -> None:
    if value is not None:
        _str(key, value)


def _broker(key: str, value: Any) -> None:
    from sockjs.tornado.broker import Broker

    if value is None or isinstance(value, Broker):
        return
    if not isinstance(value, str):
        raise TypeError("setting %r must be None, a redis:// URL or a Broker, not %r" % (key, value))
    if not value.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError("setting %r: %r is not a redis://, rediss:// or unix:// URL" % (key, value))
    import importlib.util

    if importlib.util.find_spec("redis") is None:
        # Fail here, not in the first client's request.
        raise ValueError("setting %r: a Redis broker needs redis-py: pip install 'sockjs-tornado[redis]'" % (key,))


def _positive_number(key: str, value: Any) -> None:
    _number(key, value)
    if value == 0:
        raise ValueError("setting %r must be positive, not %r" % (key, value))


def _compression(key: str, value: Any) -> None:
    from sockjs.tornado.wsdeflate import check_options

    check_options(key, value)


_CHECKS: Dict[str, Callable[[str, Any], None]] = {
    "session_check_interval": _number,
    "disconnect_delay": _number,
    "heartbeat_delay": _number,
    "disabled_transports": _transports,
    "sockjs_url": _str,
    "response_limit": _positive_int,
    "jsessionid": _bool,
    "immediate_flush": _bool,
    "disable_nagle": _bool,
    "verify_ip": _bool,
    "websocket_allow_origin": _origins,
    "max_message_size": _positive_int,
    "max_queue_size": _positive_int,
    "max_inbox_messages": _positive_int,
    "ping_timeout": _optional_number,
    "websocket_compression": _compression,
    "allowed_origins": _origins,
    "anonymous_requests": _anonymous,
    "client_error_log_level": _log_level,
    "client_error_log_rate": _positive_int,
    "broker": _broker,
    "broker_namespace": _optional_str,
    "broker_buffer_size": _positive_int,
    "broker_retry_max": _positive_number,
    "history_size": _count,
    "history_ttl": _positive_number,
    "presence": _bool,
    "presence_ttl": _positive_number,
    "presence_events": _bool,
    "recovery": _bool,
    "recovery_window": _positive_number,
    "recovery_buffer": _positive_int,
}
assert set(_CHECKS) == set(DEFAULT_SETTINGS)


def validate_settings(user_settings: Mapping[str, Any]) -> Dict[str, Any]:
    """Defaults merged with ``user_settings``, every known value checked.

    A key that is not a setting is kept as given (1.x applications keep
    their own values in ``router.settings``) and logged once, at WARNING on
    the ``sockjs.tornado`` logger, with the nearest known key, so that a
    misspelt setting does not go unnoticed.

    :raises ValueError: a value out of range.
    :raises TypeError: a value of the wrong type.
    """
    settings = dict(DEFAULT_SETTINGS)
    for key, value in user_settings.items():
        check = _CHECKS.get(key)
        if check is None:
            _warn_unknown(key)
        else:
            check(key, value)
        settings[key] = value
    for key in ("session_check_interval", "heartbeat_delay", "disconnect_delay"):
        if settings[key] <= 0:
            raise ValueError("setting %r must be positive, not %r" % (key, settings[key]))
    return settings


def _warn_unknown(key: Any) -> None:
    nearest = difflib.get_close_matches(str(key), _CHECKS, n=1, cutoff=0.0)
    log.warning(
        "unknown setting %r kept as given; not a sockjs-tornado setting (nearest known setting: %r)",
        key,
        nearest[0] if nearest else None,
    )


def origin_policy(settings: Mapping[str, Any]) -> "OriginPolicy":
    """The :class:`~sockjs.tornado.origins.OriginPolicy` of validated
    ``settings`` (``allowed_origins`` and ``anonymous_requests``).

    :raises ValueError: an entry is neither an origin nor a pattern.
    """
    from sockjs.tornado.origins import OriginPolicy

    return OriginPolicy(settings["allowed_origins"], settings["anonymous_requests"])
