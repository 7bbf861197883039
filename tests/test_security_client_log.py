"""Clients' mistakes (403, 404, 405, 413, the protocol's 500s) are logged on
``tornado.access`` at ``client_error_log_level`` (INFO by default, never
WARNING unless asked), at most ``client_error_log_rate`` lines a minute;
the lines left out are counted in the next one written."""

import logging

import pytest
import requests
from conftest import router_app
from security_helpers import wait_for

from sockjs.tornado import SockJSConnection, SockJSRouter
from sockjs.tornado.clientlog import ClientErrorLog, parse_level


class Echo(SockJSConnection):
    def on_message(self, message: str) -> None:
        self.send(message)


def _access(caplog):
    return [r for r in caplog.records if r.name == "tornado.access"]


def _client_errors(srv):
    """One request per kind of client error."""
    base = srv.url + "/e"
    statuses = []
    statuses.append(requests.post(base + "/000/x/xhr", headers={"Origin": "https://evil.test"}, timeout=5).status_code)
    statuses.append(requests.post(base + "/000/nosuch/xhr_send", data='["x"]', timeout=5).status_code)
    statuses.append(requests.put(base + "/000/x/xhr", timeout=5).status_code)
    statuses.append(requests.post(base + "/000/x/xhr_send", data="x" * 20000, timeout=5).status_code)
    statuses.append(requests.get(base + "/000/x/jsonp", headers={"Sec-Fetch-Site": "none"}, timeout=5).status_code)
    return statuses


@pytest.mark.parametrize(
    "setting,level", [(None, logging.INFO), ("DEBUG", logging.DEBUG), ("warning", logging.WARNING), (5, 5)]
)
def test_client_errors_logged_at_the_chosen_level(make_server, caplog, setting, level):
    settings = {"allowed_origins": ["https://ok.test"], "max_message_size": 10000}
    if setting is not None:
        settings["client_error_log_level"] = setting
    srv = make_server(router_app(Echo, "/e", settings))
    caplog.set_level(1)
    assert _client_errors(srv) == [403, 404, 405, 413, 500]
    # The server logs once the answer is out: give its thread a moment.
    assert wait_for(lambda: len(_access(caplog)) >= 5)
    access = _access(caplog)
    assert sorted(int(r.getMessage().split()[0]) for r in access) == [403, 404, 405, 413, 500]
    assert all(r.levelno == level for r in access), [(r.levelno, r.getMessage()) for r in access]


def test_client_errors_rate_limited(make_server, caplog):
    srv = make_server(router_app(Echo, "/e", {"client_error_log_rate": 5}))
    caplog.set_level(logging.INFO)
    s = requests.Session()
    for _ in range(40):
        assert s.post(srv.url + "/e/000/nosuch/xhr_send", data='["x"]', timeout=5).status_code == 404
    srv.call(lambda: None)
    lines = [r for r in _access(caplog) if " 404 " in " %s " % r.getMessage()]
    # The burst allowance, and at most one more refilled meanwhile.
    assert 5 <= len(lines) <= 6, len(lines)
    suppressed = srv.call(lambda: srv.app.sockjs_router.client_errors.suppressed)
    assert suppressed == 40 - len(lines)
    # Served requests are still logged as Tornado logs them.
    assert s.get(srv.url + "/e/info", timeout=5).status_code == 200
    assert wait_for(lambda: any(" 200 " in " %s " % r.getMessage() for r in _access(caplog)))


def test_suppressed_lines_counted_in_the_next_one(caplog):
    now = [100.0]
    log = ClientErrorLog("INFO", per_minute=6, logger=logging.getLogger("test.clientlog"), clock=lambda: now[0])
    caplog.set_level(logging.INFO, "test.clientlog")
    written = [log.log("line %d", i) for i in range(20)]
    assert written == [True] * 6 + [False] * 14
    assert log.suppressed == 14
    now[0] += 10.0  # one line's worth of budget (6 a minute)
    assert log.log("later") is True
    assert caplog.records[-1].getMessage() == "later (14 more client errors not logged)"
    assert log.suppressed == 0
    assert log.log("again") is False


def test_disabled_logger_uses_no_budget(caplog):
    logger = logging.getLogger("test.clientlog.off")
    logger.setLevel(logging.WARNING)
    try:
        log = ClientErrorLog("INFO", per_minute=1, logger=logger)
        assert [log.log("x") for _ in range(5)] == [False] * 5
        assert log.suppressed == 0
    finally:
        logger.setLevel(logging.NOTSET)


@pytest.mark.parametrize("value,error", [("LOUD", ValueError), (True, TypeError), (1.5, TypeError), (None, TypeError)])
def test_bad_level_setting(value, error):
    with pytest.raises(error):
        SockJSRouter(Echo, "/e", {"client_error_log_level": value})
    with pytest.raises((ValueError, TypeError)):
        SockJSRouter(Echo, "/e", {"client_error_log_rate": 0})


def test_parse_level():
    assert parse_level("info") == logging.INFO and parse_level(" DEBUG ") == logging.DEBUG
    assert parse_level(15) == 15
    with pytest.raises(ValueError):
        parse_level("Level 99")
