"""Drop-in details of 1.x applications: their own keys in the router's
settings, and ``router.urls`` mixed with the application's own routes.

The application code is written the 1.x way, as a 1.0.7 user would have.
"""

import logging

import pytest
import requests
from api_clients import WsClient, XhrClient
from tornado import web

from sockjs.tornado import SockJSConnection, SockJSRouter
from sockjs.tornado.settings import validate_settings


class GreetingConnection(SockJSConnection):
    """Reads the application's own keys from the router's settings."""

    def on_open(self, info):
        settings = self.session.server.settings
        self.send("%s from %s" % (settings["app_greeting"], settings["app_options"]["name"]))

    def on_message(self, msg):
        self.send(msg)


class PageHandler(web.RequestHandler):
    def get(self):
        self.write("the application's own page")


class ItemHandler(web.RequestHandler):
    def get(self, item):
        self.write({"item": item})


# -- unknown settings keys -----------------------------------------------------


def _warnings(caplog):
    return [r for r in caplog.records if r.name == "sockjs.tornado" and r.levelno == logging.WARNING]


def test_unknown_keys_are_kept_with_one_warning_naming_the_nearest_key(caplog):
    caplog.set_level(logging.WARNING, logger="sockjs.tornado")
    router = SockJSRouter(
        GreetingConnection,
        "/g",
        {
            "heartbeat_dealy": 3,  # a typo
            "app_greeting": "hello",  # the application's own value
            "disconnect_delay": 2,  # a real setting: no warning
        },
    )
    assert router.settings["heartbeat_dealy"] == 3
    assert router.settings["heartbeat_delay"] == 25  # the typo did not set it
    assert router.settings["app_greeting"] == "hello"
    assert router.settings["disconnect_delay"] == 2
    messages = [r.getMessage() for r in _warnings(caplog)]
    assert len(messages) == 2, messages
    typo = [m for m in messages if "'heartbeat_dealy'" in m]
    assert len(typo) == 1 and "'heartbeat_delay'" in typo[0]
    assert any("'app_greeting'" in m for m in messages)


def test_known_keys_still_fail_on_a_wrong_type_or_value():
    with pytest.raises(TypeError, match="heartbeat_delay"):
        SockJSRouter(GreetingConnection, "/g", {"heartbeat_delay": "25", "app_x": 1})
    with pytest.raises(ValueError, match="response_limit"):
        validate_settings({"response_limit": 0})


def test_no_warning_for_known_keys(caplog):
    caplog.set_level(logging.WARNING, logger="sockjs.tornado")
    SockJSRouter(GreetingConnection, "/g", {"heartbeat_delay": 3, "jsessionid": False})
    assert _warnings(caplog) == []


def test_application_reads_its_own_keys_in_a_running_server(make_server):
    def app():
        router = SockJSRouter(GreetingConnection, "/g", {"app_greeting": "hi", "app_options": {"name": "app"}})
        return web.Application(router.urls)

    srv = make_server(app)
    ws = WsClient(srv.ws_url + "/g", "w1")
    try:
        assert ws.recv_messages(1) == ["hi from app"]
    finally:
        ws.close()
    xhr = XhrClient(srv.url + "/g", "x1")
    xhr.open()
    assert xhr.recv_messages(1) == ["hi from app"]


# -- router.urls among the application's routes ---------------------------------


def test_router_urls_alongside_the_applications_routes(make_server):
    def app():
        greeting = SockJSRouter(GreetingConnection, "/g", {"app_greeting": "hey", "app_options": {"name": "urls"}})
        echo = SockJSRouter(GreetingConnection, "/deep/echo", {"app_greeting": "yo", "app_options": {"name": "deep"}})
        return web.Application(
            [(r"/", PageHandler), (r"/items/([0-9]+)", ItemHandler)]
            + greeting.urls
            + echo.urls
            + [web.url(r"/g-other", PageHandler)]
        )

    srv = make_server(app)
    assert requests.get(srv.url + "/").text == "the application's own page"
    assert requests.get(srv.url + "/items/7").json() == {"item": "7"}
    assert requests.get(srv.url + "/g-other").text == "the application's own page"
    assert requests.get(srv.url + "/g").text == "Welcome to SockJS!\n"
    assert requests.get(srv.url + "/deep/echo/info").json()["websocket"] is True
    for prefix, expected in (("/g", "hey from urls"), ("/deep/echo", "yo from deep")):
        ws = WsClient(srv.ws_url + prefix, "s")
        try:
            assert ws.recv_messages(1) == [expected]
        finally:
            ws.close()
    # A path under a prefix that no SockJS URL takes is the application's 404.
    assert requests.get(srv.url + "/g/nothing/here").status_code == 404


def test_router_urls_is_a_list_that_applications_extend():
    # 1.x applications concatenate it with their own list, or extend theirs.
    router = SockJSRouter(GreetingConnection, "/g")
    assert isinstance(router.urls, list)
    routes = [(r"/", PageHandler)]
    routes.extend(router.urls)
    app = web.Application(routes + [(r"/last", PageHandler)])
    assert len(app.wildcard_router.rules) == len(router.urls) + 2
