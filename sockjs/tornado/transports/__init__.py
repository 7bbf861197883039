"""SockJS transports, one module each (1.x import paths)."""

from sockjs.tornado.transports.eventsource import EventSourceTransport
from sockjs.tornado.transports.htmlfile import HtmlFileTransport
from sockjs.tornado.transports.jsonp import JSONPSendHandler, JSONPTransport
from sockjs.tornado.transports.rawwebsocket import RawWebSocketTransport
from sockjs.tornado.transports.websocket import WebSocketTransport
from sockjs.tornado.transports.xhr import XhrPollingTransport, XhrSendHandler
from sockjs.tornado.transports.xhrstreaming import XhrStreamingTransport

__all__ = [
    "EventSourceTransport",
    "HtmlFileTransport",
    "JSONPSendHandler",
    "JSONPTransport",
    "RawWebSocketTransport",
    "WebSocketTransport",
    "XhrPollingTransport",
    "XhrSendHandler",
    "XhrStreamingTransport",
]
