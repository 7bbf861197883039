"""The ``sockjs.tornado`` logger hierarchy: one DEBUG line per session
lifecycle event, readable like an access log."""

import logging
from typing import Any, List

import requests
import websocket
from conftest import router_app
from waiting import wait_until

from sockjs.tornado import SockJSConnection


class Echo(SockJSConnection):
    def on_message(self, message: str) -> None:
        if message == "bye":
            self.close(4001, "bye now")
        else:
            self.send(message)


def lines(caplog: Any, prefix: str) -> List[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "sockjs.tornado.session" and r.levelno == logging.DEBUG and r.getMessage().startswith(prefix)
    ]


def wait_for(pred: Any, timeout: float = 3.0) -> None:
    wait_until(pred, timeout)


def test_session_lifecycle_lines(make_server: Any, caplog: Any) -> None:
    caplog.set_level(logging.DEBUG, logger="sockjs.tornado")
    srv = make_server(router_app(Echo, "/echo", {"disconnect_delay": 0.2, "session_check_interval": 0.05}))

    # xhr: open, then expiry once the client stops polling.
    assert requests.post(srv.url + "/echo/000/idle1/xhr", timeout=5).text == "o\n"
    wait_for(lambda: lines(caplog, "open idle1 "))
    assert lines(caplog, "open idle1 ") == ["open idle1 transport=xhr ip=127.0.0.1"]
    wait_for(lambda: lines(caplog, "expire idle1 "))
    (expire,) = lines(caplog, "expire idle1 ")
    assert expire.startswith("expire idle1 transport=xhr idle=")
    wait_for(lambda: lines(caplog, "close idle1 "))
    assert lines(caplog, "close idle1 ") == ["close idle1 transport=xhr code=3000 initiator=timeout reason='Go away!'"]

    # websocket: the application closes with its own code.
    ws = websocket.create_connection(srv.ws_url + "/echo/000/w/websocket", timeout=5)
    try:
        assert ws.recv() == "o"
        ws.send('["bye"]')
        assert ws.recv() == 'c[4001,"bye now"]'
    finally:
        ws.close()
    wait_for(lambda: any("transport=websocket" in m for m in lines(caplog, "close ")))
    opens = [m for m in lines(caplog, "open ") if "transport=websocket" in m]
    closes = [m for m in lines(caplog, "close ") if "transport=websocket" in m]
    assert len(opens) == 1 and opens[0].endswith("ip=127.0.0.1")
    assert len(closes) == 1 and "code=4001 initiator=application reason='bye now'" in closes[0]
    # Lifecycle events are never above DEBUG: a busy server stays quiet.
    assert not [r for r in caplog.records if r.name.startswith("sockjs.tornado") and r.levelno > logging.DEBUG]


def test_every_logger_is_under_sockjs_tornado() -> None:
    import importlib
    import pkgutil

    import sockjs.tornado

    for mod in pkgutil.walk_packages(sockjs.tornado.__path__, "sockjs.tornado."):
        module = importlib.import_module(mod.name)
        log = getattr(module, "log", None)
        if isinstance(log, logging.Logger):
            assert log.name == "sockjs.tornado" or log.name.startswith("sockjs.tornado."), mod.name
