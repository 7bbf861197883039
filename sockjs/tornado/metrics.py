"""Server metrics in the Prometheus text exposition format, version 0.0.4.

Mount :class:`MetricsHandler` next to your routers::

    app = web.Application(router.urls + [
        (r"/metrics", MetricsHandler, {"routers": [router]}),
    ])

Every series carries a ``service`` label, the router's prefix, so one
endpoint can expose several routers. The figures come from each router's
:class:`~sockjs.tornado.stats.StatsCollector`; rendering reads integers and
takes no lock, so scraping costs nothing while no one scrapes.

The endpoint exposes what it is given to anyone who can reach it: bind it
to an internal port or put it behind your own authentication.
"""

from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Sequence, Tuple, Union

from tornado import web

if TYPE_CHECKING:  # pragma: no cover
    from sockjs.tornado.router import SockJSRouter

__all__ = ["MetricsHandler", "render", "CONTENT_TYPE", "METRICS"]

#: Content type of the exposition.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

#: (name, type, help) of every metric, in exposition order.
METRICS: Tuple[Tuple[str, str, str], ...] = (
    ("sockjs_sessions_active", "gauge", "Open SockJS sessions, by transport."),
    ("sockjs_sessions_opened_total", "counter", "SockJS sessions opened, by transport."),
    ("sockjs_connections_active", "gauge", "Open transport connections (streams, websockets, pending polls)."),
    ("sockjs_connections_opened_total", "counter", "Transport connections opened."),
    ("sockjs_messages_sent_total", "counter", "Messages sent to clients."),
    ("sockjs_messages_received_total", "counter", "Messages received from clients."),
    ("sockjs_bytes_sent_total", "counter", "Frame bytes written to clients."),
    ("sockjs_bytes_received_total", "counter", "Payload bytes received from clients."),
    (
        "sockjs_session_closes_total",
        "counter",
        "Sessions closed, by close code and initiator (application, client, timeout, error, server).",
    ),
    ("sockjs_heartbeat_timeouts_total", "counter", "Sessions closed because the peer stopped answering pings."),
    (
        "sockjs_origin_refusals_total",
        "counter",
        "Requests refused because of the page they came from (allowed_origins): 403, no session.",
    ),
    ("sockjs_errors_total", "counter", "Application handler exceptions and sessions closed over a limit."),
    ("sockjs_broadcasts_total", "counter", "Calls to broadcast()."),
    ("sockjs_broadcast_deliveries_total", "counter", "Sessions a broadcast message was handed to."),
)

_Sample = Tuple[str, Sequence[Tuple[str, str]], Union[int, float]]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _samples(router: "SockJSRouter") -> List[_Sample]:
    st = router.stats
    svc = ("service", router.prefix or "/")
    out: List[_Sample] = []
    for transport, n in sorted(st.sess_transports.items()):
        out.append(("sockjs_sessions_active", (svc, ("transport", transport)), n))
    for transport, n in sorted(st.sessions_opened_by_transport.items()):
        out.append(("sockjs_sessions_opened_total", (svc, ("transport", transport)), n))
    out += [
        ("sockjs_connections_active", (svc,), st.conn_active),
        ("sockjs_connections_opened_total", (svc,), st.connections_opened),
        ("sockjs_messages_sent_total", (svc,), st.packets_sent),
        ("sockjs_messages_received_total", (svc,), st.packets_recv),
        ("sockjs_bytes_sent_total", (svc,), st.bytes_sent),
        ("sockjs_bytes_received_total", (svc,), st.bytes_recv),
    ]
    for (code, initiator), n in sorted(st.close_codes.items()):
        out.append(("sockjs_session_closes_total", (svc, ("code", str(code)), ("initiator", initiator)), n))
    out += [
        ("sockjs_heartbeat_timeouts_total", (svc,), st.heartbeat_timeouts),
        ("sockjs_origin_refusals_total", (svc,), st.origin_refusals),
        ("sockjs_errors_total", (svc,), st.errors),
        ("sockjs_broadcasts_total", (svc,), st.broadcasts),
        ("sockjs_broadcast_deliveries_total", (svc,), st.broadcast_deliveries),
    ]
    return out


def render(routers: "Iterable[SockJSRouter]") -> str:
    """The exposition text for ``routers``: a ``# HELP`` and ``# TYPE``
    line per metric, then its samples, one per router and label set."""
    by_name: Dict[str, List[Tuple[Sequence[Tuple[str, str]], Union[int, float]]]] = {name: [] for name, _, _ in METRICS}
    for router in routers:
        for name, labels, value in _samples(router):
            by_name[name].append((labels, value))
    lines: List[str] = []
    for name, kind, help_text in METRICS:
        lines.append("# HELP %s %s" % (name, help_text))
        lines.append("# TYPE %s %s" % (name, kind))
        for labels, value in by_name[name]:
            label_text = ",".join('%s="%s"' % (k, _escape(v)) for k, v in labels)
            lines.append("%s{%s} %s" % (name, label_text, value))
    return "\n".join(lines) + "\n"


class MetricsHandler(web.RequestHandler):
    """``GET`` answers with :func:`render` of the routers given as the
    ``routers`` initialize argument (one router or a list)."""

    def initialize(self, routers: Any) -> None:
        self.routers: List["SockJSRouter"] = list(routers) if isinstance(routers, (list, tuple)) else [routers]

    def get(self) -> None:
        self.set_header("Content-Type", CONTENT_TYPE)
        self.set_header("Cache-Control", "no-store")
        self.finish(render(self.routers))
