"""``verify_ip``: the polling requests of one session
must come from the address that opened it; behind a proxy
(``xheaders=True``) that address is the proxy's client."""

import pytest
import requests
from conftest import router_app
from security_helpers import wait_for

from sockjs.tornado import SockJSConnection

DIFFERENT_IP = 'c[2010,"Attempted to connect to session from different IP"]\n'


class Echo(SockJSConnection):
    ips = []

    def on_open(self, info):
        Echo.ips.append(info.ip)

    def on_message(self, message):
        self.send(message)


def _poll(srv, sid, **headers):
    return requests.post(srv.url + "/e/000/%s/xhr" % sid, headers=headers, timeout=5)


def _send(srv, sid, body, **headers):
    return requests.post(srv.url + "/e/000/%s/xhr_send" % sid, data=body, headers=headers, timeout=5)


@pytest.mark.parametrize("header", ["X-Forwarded-For", "X-Real-Ip"])
def test_behind_proxy(make_server, header):
    Echo.ips = []
    srv = make_server(router_app(Echo, "/e", {"disconnect_delay": 2}), xheaders=True)
    me, other = {header: "10.1.1.1"}, {header: "10.2.2.2"}
    assert _poll(srv, "p1", **me).text == "o\n"
    assert wait_for(lambda: Echo.ips == ["10.1.1.1"])
    # Another client (same proxy, same TCP peer) cannot poll or send.
    assert _poll(srv, "p1", **other).text == DIFFERENT_IP
    assert _send(srv, "p1", '["stolen"]', **other).status_code == 404
    # The owner still can, and nothing of the intruder's arrived.
    assert _send(srv, "p1", '["mine"]', **me).status_code == 204
    assert _poll(srv, "p1", **me).text == 'a["mine"]\n'


def test_forwarded_chain_uses_last_hop(make_server):
    """``X-Forwarded-For: a, b``: the address the proxy saw is ``b``."""
    Echo.ips = []
    srv = make_server(router_app(Echo, "/e", {"disconnect_delay": 2}), xheaders=True)
    assert _poll(srv, "p2", **{"X-Forwarded-For": "1.1.1.1, 10.1.1.1"}).text == "o\n"
    assert wait_for(lambda: Echo.ips == ["10.1.1.1"])
    # The client-controlled first entry does not matter.
    assert _send(srv, "p2", '["x"]', **{"X-Forwarded-For": "9.9.9.9, 10.1.1.1"}).status_code == 204
    assert _poll(srv, "p2", **{"X-Forwarded-For": "10.1.1.1, 10.3.3.3"}).text == DIFFERENT_IP


def test_headers_ignored_without_xheaders(make_server):
    """Without ``xheaders`` the headers are the client's say-so and are
    ignored: the session belongs to the TCP peer."""
    Echo.ips = []
    srv = make_server(router_app(Echo, "/e", {"disconnect_delay": 2}))
    assert _poll(srv, "p3", **{"X-Forwarded-For": "10.1.1.1"}).text == "o\n"
    assert wait_for(lambda: Echo.ips == ["127.0.0.1"])
    assert _send(srv, "p3", '["x"]', **{"X-Forwarded-For": "10.2.2.2"}).status_code == 204
    assert _poll(srv, "p3", **{"X-Real-Ip": "10.2.2.2"}).text == 'a["x"]\n'


def test_verify_ip_off(make_server):
    srv = make_server(router_app(Echo, "/e", {"disconnect_delay": 2, "verify_ip": False}), xheaders=True)
    assert _poll(srv, "p4", **{"X-Real-Ip": "10.1.1.1"}).text == "o\n"
    assert _send(srv, "p4", '["x"]', **{"X-Real-Ip": "10.2.2.2"}).status_code == 204
    assert _poll(srv, "p4", **{"X-Real-Ip": "10.3.3.3"}).text == 'a["x"]\n'
