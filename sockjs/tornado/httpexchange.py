"""One HTTP request and its response, on Tornado's public HTTP API.

The SockJS endpoints do not need ``RequestHandler`` (templates, XSRF,
transforms, cookies signing, a per-request object of some forty
attributes): each is an :class:`Endpoint`, a ``tornado.routing.Router``
that ``web.Application`` routes to like any handler (and that gets the
request Tornado's router already parsed), and each request is an
:class:`HTTPExchange`, the ``HTTPMessageDelegate`` that reads the request
body and writes the answer through the connection's ``write_headers``,
``write``, ``finish`` and ``detach``. Tornado still parses HTTP, applies
``xheaders`` (to ``request.remote_ip``), keeps connections alive and frames
chunked bodies.

This module knows HTTP only; SockJS's rules live in ``basehandler`` and the
transports above it.
"""

import asyncio
import functools
import logging
import re
import time
from email.utils import formatdate
from http.client import responses
from typing import (
    Any,
    Awaitable,
    Callable,
    Dict,
    Iterable,
    Iterator,
    List,
    Mapping,
    Optional,
    Pattern,
    Protocol,
    Tuple,
    Type,
    Union,
    cast,
)
from urllib.parse import unquote

import tornado
from tornado import httputil, iostream, routing
from tornado.http1connection import HTTP1Connection
from tornado.httputil import HTTPServerRequest
from tornado.log import access_log, app_log

from sockjs.tornado import tornadointernals
from sockjs.tornado.tasks import TaskGroup, retrieve_exception, spawn

__all__ = ["Endpoint", "EndpointOwner", "HTTPExchange", "ACCESS_LOG_FORMAT"]

log = logging.getLogger("sockjs.tornado.http")

#: The access log line, as Tornado's ``Application.log_request`` writes it:
#: status, ``METHOD uri (remote_ip)``, milliseconds.
ACCESS_LOG_FORMAT = "%d %s %.2fms"

_REASONS: Dict[int, str] = {}
#: ``Server``, as Tornado's own handlers say it.
SERVER = "TornadoServer/%s" % tornado.version
_date_cache: List[Any] = [0, ""]


def http_date() -> str:
    """Now, as the ``Date`` header says it (computed once a second)."""
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache[0] = now
        _date_cache[1] = formatdate(now, usegmt=True)
    return _date_cache[1]  # type: ignore[no-any-return]


def _reason(status: int) -> str:
    reason = _REASONS.get(status)
    if reason is None:
        reason = _REASONS[status] = responses.get(status, "Unknown")
    return reason


@functools.lru_cache(maxsize=256)
def _canonical(name: str) -> str:
    # Tornado's spelling of a header name: "content-type" -> "Content-Type"
    # (asked for the few names Tornado and this package look up).
    return "-".join(w.capitalize() for w in name.split("-"))


class ResponseHeaders(httputil.HTTPHeaders):
    """The ``HTTPHeaders`` interface over an exchange's own header dict,
    for ``write_headers``: one value per name, names in Tornado's
    canonical case (``Content-Type``), as this package writes them.

    Building a real ``HTTPHeaders`` re-normalises and copies every name;
    for the half-dozen headers of each answer that was a measurable part
    of an xhr polling round trip. Every method of the mapping interface is
    implemented here (a lookup in another case is normalised), so nothing
    reaches ``HTTPHeaders``' own storage.
    """

    def __init__(self, headers: Dict[str, str]) -> None:
        # No super().__init__(): the dict is the storage.
        self._h = headers

    def _key(self, name: str) -> str:
        return name if name in self._h else _canonical(name)

    def __getitem__(self, name: str) -> str:
        return self._h[self._key(name)]

    def __setitem__(self, name: str, value: str) -> None:
        self._h[self._key(name)] = value

    def __delitem__(self, name: str) -> None:
        del self._h[self._key(name)]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._key(name) in self._h

    def __iter__(self) -> Iterator[str]:
        return iter(self._h)

    def __len__(self) -> int:
        return len(self._h)

    def add(self, name: str, value: str, **kwargs: Any) -> None:
        key = self._key(name)
        self._h[key] = self._h[key] + "," + value if key in self._h else value

    def get_list(self, name: str) -> List[str]:
        key = self._key(name)
        return [self._h[key]] if key in self._h else []

    def get_all(self) -> Iterable[Tuple[str, str]]:
        return self._h.items()

    def copy(self) -> "ResponseHeaders":
        return ResponseHeaders(dict(self._h))

    def __str__(self) -> str:
        return "".join("%s: %s\r\n" % kv for kv in self._h.items())

    __copy__ = copy
    __repr__ = __str__


class EndpointOwner(Protocol):
    """What the HTTP layer asks of the service its endpoints serve: a
    place to keep the tasks of ``async`` method handlers until they end
    (shutdown waits for them)."""

    @property
    def tasks(self) -> TaskGroup:
        """The service's running tasks."""


class Endpoint(routing.Router):
    """One URL of a service: a routing target for ``web.Application``.

    ``exchange`` is the :class:`HTTPExchange` subclass that serves each
    request, ``server`` what it serves (the router), ``pattern`` the path
    regular expression whose named groups become the exchange's
    ``path_kwargs``.

    ``exchange`` may instead map names to exchange classes: the pattern's
    ``endpoint`` group then picks the class (several URLs under one route,
    matched by one regular expression), and is not passed on.

    An ``Endpoint`` is a ``tornado.routing.Router``: the application's
    router hands it the request it already parsed, with the decoded
    groups of the route's pattern.
    """

    def __init__(
        self,
        exchange: "Union[Type[HTTPExchange], Mapping[str, Type[HTTPExchange]]]",
        server: EndpointOwner,
        pattern: str,
    ) -> None:
        self.exchange = exchange
        self.server = server
        self.pattern = pattern
        # Compiled on first use, as Tornado compiles route patterns: a
        # router may be built with a prefix that is never routed.
        self._regex: Optional[Pattern[str]] = None

    def find_handler(self, request: HTTPServerRequest, **kwargs: Any) -> Optional[httputil.HTTPMessageDelegate]:
        """The exchange that serves ``request``, or None when this
        endpoint does not serve its path (the application's next route
        is tried)."""
        raw: Optional[Dict[str, Optional[bytes]]] = kwargs.get("path_kwargs")
        if raw is not None:
            # Routed by a pattern rule: its groups, percent-decoded (bytes).
            path_kwargs = {k: v.decode("utf-8", "replace") for k, v in raw.items() if v is not None}
        else:
            # Used as a connection delegate of its own.
            found = self.match(request.path)
            if found is None:
                return None
            path_kwargs = found
        exchange = self.exchange
        if isinstance(exchange, type):
            return exchange(self, request, path_kwargs)
        chosen = exchange.get(path_kwargs.pop("endpoint", ""))
        return None if chosen is None else chosen(self, request, path_kwargs)

    def match(self, path: str) -> Optional[Dict[str, str]]:
        """The named groups of ``path`` (percent-decoded, as Tornado does
        for handler arguments), or None when it does not match."""
        if self._regex is None:
            self._regex = re.compile(self.pattern if self.pattern.endswith("$") else self.pattern + "$")
        m = self._regex.match(path)
        if m is None:
            return None
        return {k: unquote(v) for k, v in m.groupdict().items() if v is not None}

    def __repr__(self) -> str:
        names = self.exchange.__name__ if isinstance(self.exchange, type) else ", ".join(self.exchange)
        return "<%s %s -> %s>" % (type(self).__name__, self.pattern, names)


class HTTPExchange(httputil.HTTPMessageDelegate):
    """One request and its answer.

    Subclasses name the methods they serve in ``methods`` and define a
    lowercase method of that name (``post(**path_kwargs)``, sync or
    ``async``), called once the body is in; any other method gets 405 with
    ``Allow``. :meth:`on_headers` may answer before the body is read (and
    then the body is never buffered). The answer is either whole
    (:meth:`reply`) or streamed (:meth:`start_stream`, :meth:`send_chunk`,
    :meth:`end_stream`). Every answered request is logged in Tornado's
    access log format on ``tornado.access``.

    A client that goes away is never an error: writes to it are dropped and
    :meth:`on_connection_close` runs once.
    """

    #: Methods served; the rest get 405.
    methods: Tuple[str, ...] = ("GET",)
    #: Bodies larger than this are refused with 413 before they are read
    #: (``None``: the body is read and dropped, whatever its size).
    max_body_size: Optional[int] = None

    def __init__(self, endpoint: Endpoint, request: HTTPServerRequest, path_kwargs: Dict[str, str]) -> None:
        self.endpoint = endpoint
        self.server = endpoint.server
        #: The request, as Tornado's router parsed it (``remote_ip`` with
        #: ``xheaders`` applied); its body is :attr:`body`.
        self.request = request
        self.path_kwargs = path_kwargs
        # Tornado's only server-side connection; its set_close_callback,
        # detach, close and set_max_body_size are public there.
        self.connection = cast(HTTP1Connection, request.connection)
        #: Response headers, in the order they are written.
        self.headers: Dict[str, str] = {"Server": SERVER, "Date": http_date()}

    # Per-request state starts as these class defaults: an instance holds
    # only what changed (less to build per request, less memory for a poll
    # that waits).
    #: The answer's status.
    status = 200
    #: The answer is complete (or the connection gone).
    finished = False
    headers_written = False
    #: The client went away before the answer was complete.
    gone = False
    _not_allowed = False
    _body: Optional[List[bytes]] = None
    _body_size = 0

    # -- HTTPMessageDelegate ----------------------------------------------

    def headers_received(
        self, start_line: Union[httputil.RequestStartLine, httputil.ResponseStartLine], headers: httputil.HTTPHeaders
    ) -> Optional[Awaitable[None]]:
        if self.request.method not in self.methods:
            # Answered once the body is read (and dropped): an answer
            # before it would cost the client its keep-alive connection.
            self._not_allowed = True
            return None
        limit = self.max_body_size
        if limit is not None:
            length = headers.get("Content-Length")
            if length is not None and length.isdigit() and int(length) > limit:
                self.refuse_body()
                return None
            # Tornado's own ceiling, a second line for chunked bodies.
            self.connection.set_max_body_size(limit + 65536)
        try:
            return self.on_headers()
        except Exception:
            self._fail()
            return None

    def data_received(self, chunk: bytes) -> Optional[Awaitable[None]]:
        if self.finished or self.max_body_size is None or self._not_allowed:
            return None
        self._body_size += len(chunk)
        if self._body_size > self.max_body_size:
            self._body = None
            self.refuse_body()
            return None
        if self._body is None:
            self._body = [chunk]
        else:
            self._body.append(chunk)
        return None

    def finish(self) -> None:
        if self.finished:
            return
        if self._not_allowed:
            self.headers["Allow"] = ", ".join(self.methods)
            self.method_not_allowed()
            return
        method = self.request.method
        assert method is not None  # Tornado 6.1 types it Optional; a server request has one
        handler = getattr(self, method.lower())
        try:
            result = handler(**self.path_kwargs)
        except Exception:
            self._fail()
            return
        if result is not None:
            # Kept by the router until done (shutdown waits for it); its
            # failure is answered and logged by _handler_done.
            task = spawn(self.server, result, "%s %s" % (self.request.method, self.request.path), log_failure=False)
            task.add_done_callback(self._handler_done)

    def on_connection_close(self) -> None:
        if self.gone:
            return
        self.gone = True
        self._body = None
        if not self.finished:
            self.finished = True
            self._log(client_gone=True)
        self.on_gone()

    # -- what subclasses define -------------------------------------------

    def watch_close(self) -> None:
        """Have :meth:`on_connection_close` called when the client leaves
        while the answer is pending. Tornado reports only a close that
        comes after the request was read: one read along with it (a
        client that sent its request and hung up) is reported here, at
        once."""
        self.connection.set_close_callback(self.on_connection_close)
        if tornadointernals.connection_closed(self.connection):
            self.on_connection_close()

    def on_headers(self) -> Optional[Awaitable[None]]:
        """The request head is in; answer here to refuse it before its
        body is read."""
        return None

    def on_gone(self) -> None:
        """The client went away before the answer was complete."""

    def method_not_allowed(self) -> None:
        """Answer a method not in ``methods`` (``Allow`` is set)."""
        self.reply(b"", 405)

    # -- request ----------------------------------------------------------

    @property
    def body(self) -> bytes:
        """The request body (for endpoints with a ``max_body_size``)."""
        return b"".join(self._body) if self._body else b""

    # -- response ---------------------------------------------------------

    def reply(self, body: bytes = b"", status: Optional[int] = None) -> None:
        """The whole answer: ``status`` (else ``status``), the
        headers set so far, and ``body``."""
        if self.finished:
            return
        if status is not None:
            self.status = status
        status = self.status
        if self.headers_written:
            if body:
                self._write(body)
            self.end_stream()
            return
        self.finished = True
        self.headers_written = True
        headers = ResponseHeaders(self.headers)
        if status != 304 and status != 204 and status >= 200:
            headers["Content-Length"] = str(len(body))
        if self.request.method == "HEAD":
            body = b""
        conn = self.connection
        try:
            _quiet(
                conn.write_headers(
                    httputil.ResponseStartLine("HTTP/1.1", status, _reason(status)), headers, body or None
                )
            )
            conn.finish()
        except iostream.StreamClosedError:
            pass
        self._log()

    def start_stream(self, first: bytes = b"") -> "Optional[asyncio.Future[None]]":
        """Send the head (and ``first``) of an answer whose body follows in
        chunks; None when the client is gone."""
        self.headers_written = True
        try:
            return self._quiet_future(
                self.connection.write_headers(
                    httputil.ResponseStartLine("HTTP/1.1", self.status, _reason(self.status)),
                    ResponseHeaders(self.headers),
                    first or None,
                )
            )
        except iostream.StreamClosedError:
            return None

    def send_chunk(self, data: bytes) -> "Optional[asyncio.Future[None]]":
        """One chunk of a streamed answer, straight to the connection; its
        future resolves once written (None when the client is gone)."""
        if self.finished:
            return None
        return self._write(data)

    def _write(self, data: bytes) -> "Optional[asyncio.Future[None]]":
        try:
            return self._quiet_future(self.connection.write(data))
        except iostream.StreamClosedError:
            return None

    @staticmethod
    def _quiet_future(fut: "Awaitable[None]") -> "asyncio.Future[None]":
        f = cast("asyncio.Future[None]", fut)
        f.add_done_callback(retrieve_exception)
        return f

    def end_stream(self, close: bool = False) -> None:
        """End a streamed answer; ``close`` closes the connection after it
        (an HTTP/1.0 body without length ends with the connection)."""
        if self.finished:
            return
        self.finished = True
        conn = self.connection
        try:
            conn.finish()
        except iostream.StreamClosedError:
            pass
        else:
            if close:
                conn.close()
        self._log()

    def detach(self) -> iostream.IOStream:
        """Take the connection's stream away from HTTP (a protocol
        upgrade); the request is logged as answered."""
        self.finished = True
        self.headers_written = True
        self._log()
        return self.connection.detach()

    def refuse_body(self) -> None:
        """413, before the body is read; the connection closes after it."""
        self.headers["Content-Type"] = "text/plain; charset=UTF-8"
        self.headers["Connection"] = "close"
        self.reply(b"Payload too large.", 413)

    # -- errors and logging -----------------------------------------------

    #: The answer is the protocol's reply to a client's mistake (its 500s
    #: included), logged as a WARNING, never an ERROR.
    client_error = False

    def _handler_done(self, task: "asyncio.Future[Any]") -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            self._fail(exc)

    def _fail(self, exc: Optional[BaseException] = None) -> None:
        if isinstance(exc, iostream.StreamClosedError):
            log.debug("client went away: %s", exc)
            return
        exc_info: Any = (type(exc), exc, exc.__traceback__) if exc is not None else True
        app_log.error("Uncaught exception %s\n%r", self.summary(), self.request, exc_info=exc_info)
        if not self.headers_written:
            self.headers = {"Server": SERVER, "Date": http_date(), "Content-Type": "text/plain; charset=UTF-8"}
            self.reply(b"500 Internal Server Error", 500)
        elif not self.finished:
            self.finished = True
            self.connection.close()

    def summary(self) -> str:
        """``METHOD uri (remote_ip)``, as Tornado's log lines name a
        request."""
        req = self.request
        return "%s %s (%s)" % (req.method, req.uri, req.remote_ip)

    def _log(self, client_gone: bool = False) -> None:
        status = self.status
        if client_gone:
            # Never answered, or cut mid-answer: not an error of ours.
            access_log.debug(
                "%d %s %.2fms (client went away)", status, self.summary(), 1000.0 * self.request.request_time()
            )
        elif status < 400:
            if access_log.isEnabledFor(logging.INFO):
                access_log.info(ACCESS_LOG_FORMAT, status, self.summary(), 1000.0 * self.request.request_time())
        elif status < 500 or self.client_error:
            self.log_client_error(status, self.summary(), 1000.0 * self.request.request_time())
        else:
            access_log.error(ACCESS_LOG_FORMAT, status, self.summary(), 1000.0 * self.request.request_time())

    def log_client_error(self, status: int, summary: str, ms: float) -> None:
        """Log the answer to a client's mistake (a 4xx, or a 5xx marked
        ``client_error``): a WARNING here, never an ERROR."""
        access_log.warning(ACCESS_LOG_FORMAT + " (client error)", status, summary, ms)


def _quiet(fut: "Awaitable[None]") -> None:
    # A write to a client that left fails; that is not an error of ours.
    cast("asyncio.Future[None]", fut).add_done_callback(retrieve_exception)


#: For type checkers: what an exchange's method handlers look like.
MethodHandler = Callable[..., Optional[Awaitable[None]]]
