"""The real sockjs-client 1.6.1 (its Node build) sees what the API
promises: refusal and application close codes and
reasons, 1011 from a failing handler, and async handlers answering in
order, on websocket, xhr-streaming, xhr-polling and eventsource."""

import asyncio
import json
import os
import random
import shutil
import subprocess

import pytest
from conftest import ROOT, ServerThread
from tornado import web

from sockjs.tornado import SockJSConnection, SockJSRouter

pytestmark = pytest.mark.browser

SCRIPT = os.path.join(ROOT, "tests", "node", "api_close_codes.js")
TRANSPORTS = ["websocket", "xhr-streaming", "xhr-polling", "eventsource"]
ORDERED = ["m%d" % i for i in range(20)]
SERVICES = {
    "/reject": [],
    "/refuse": [],
    "/appclose": ["hello"],
    "/fail": ["x"],
    "/ordered": ORDERED,
}


class Reject(SockJSConnection):
    def on_open(self, info):
        return False

    def on_message(self, message):
        raise AssertionError("refused sessions get no message")


class Refuse(SockJSConnection):
    async def on_open(self, info):
        await asyncio.sleep(0.02)
        self.close(4001, "Nope")

    def on_message(self, message):
        raise AssertionError("refused sessions get no message")


class AppClose(SockJSConnection):
    def on_message(self, message):
        self.send("bye:" + message)
        self.close(4002, "Custom reason")


class Fail(SockJSConnection):
    def on_message(self, message):
        raise RuntimeError("handler failed on purpose")


class Ordered(SockJSConnection):
    async def on_message(self, message):
        await asyncio.sleep(random.random() * 0.01)
        self.send(message)
        if message == ORDERED[-1]:
            self.close(4003, "done")


def _app():
    urls = []
    for prefix, cls in (
        ("/reject", Reject),
        ("/refuse", Refuse),
        ("/appclose", AppClose),
        ("/fail", Fail),
        ("/ordered", Ordered),
    ):
        SockJSRouter(cls, prefix, {"jsessionid": False}).apply_routes(urls)
    return web.Application(urls)


@pytest.fixture(scope="module")
def results():
    node = shutil.which("node")
    assert node is not None, "node is not on PATH: install Node.js 18+"
    from conftest import _errors

    before = len(_errors.records)
    server = ServerThread(_app)
    try:
        proc = subprocess.run(
            [node, SCRIPT],
            input=json.dumps(
                {"server": server.url, "transports": TRANSPORTS, "services": SERVICES, "timeout_ms": 15000}
            ),
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=120,
            cwd=ROOT,
        )
    finally:
        server.stop()
    assert proc.returncode == 0, "node client failed (%d): %s" % (proc.returncode, proc.stderr)
    out = json.loads(proc.stdout)
    out["errors"] = _errors.records[before:]
    return out


EXPECTED = {
    "/reject": ([], {"code": 3000, "reason": "Go away!"}),
    "/refuse": ([], {"code": 4001, "reason": "Nope"}),
    "/appclose": (["bye:hello"], {"code": 4002, "reason": "Custom reason"}),
    "/fail": ([], {"code": 1011, "reason": "Internal error"}),
    "/ordered": (ORDERED, {"code": 4003, "reason": "done"}),
}


@pytest.mark.parametrize("service", sorted(SERVICES))
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_real_client_sees_close_codes_and_order(results, server_errors, transport, service):
    # (server_errors: the /fail service logs its exceptions at ERROR, on
    # purpose, while the module's server runs.)
    record = results[transport][service]
    received, close = EXPECTED[service]
    assert record["opened"] is True, record
    assert not record.get("timedOut"), record
    assert record["received"] == received
    assert record["close"] == close


def test_failing_handler_logged_once_per_session_with_traceback(results, server_errors):
    errors = results["errors"]
    assert len(errors) == len(TRANSPORTS)
    for record in errors:
        assert "on_message of Fail raised" in record.getMessage()
        assert record.exc_info is not None and "on purpose" in str(record.exc_info[1])
