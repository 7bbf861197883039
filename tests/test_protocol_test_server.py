"""The conformance test server's services beyond
echo and close (which every other protocol test uses)."""

import json

import pytest
import requests
import websocket
from protocol_helpers import sid


def ws(srv, prefix):
    conn = websocket.create_connection(srv.ws_url + "%s/000/%s/websocket" % (prefix, sid()), timeout=5)
    assert conn.recv() == "o"
    return conn


@pytest.mark.parametrize(
    "message,n", [("1", 1), ("4", 4), ("18", 18), ("0", 1), ("19", 1), ("x", 1), ("-3", 1), ("", 1)]
)
def test_amplify(test_server, message, n):
    c = ws(test_server, "/amplify")
    try:
        c.send(json.dumps([message]))
        assert c.recv() == 'a["%s"]' % ("x" * 2**n)
    finally:
        c.close()


def test_ticker(test_server):
    url = test_server.url + "/ticker/000/" + sid()
    assert requests.post(url + "/xhr").content == b"o\n"
    for _ in range(2):
        body = requests.post(url + "/xhr", timeout=5).text
        assert body.startswith("a[") and body.endswith("]\n")
        ticks = json.loads(body[1:])
        # One a second; two if this poll came late.
        assert ticks and set(ticks) == {"tick!"}


def test_broadcast_reaches_every_session(test_server):
    clients = [ws(test_server, "/broadcast") for _ in range(3)]
    url = test_server.url + "/broadcast/000/" + sid()
    try:
        assert requests.post(url + "/xhr").content == b"o\n"
        clients[0].send('["hi"]')
        for c in clients:
            assert c.recv() == 'a["hi"]'
        assert requests.post(url + "/xhr", timeout=5).content == b'a["hi"]\n'
    finally:
        for c in clients:
            c.close()


def test_cookie_and_disabled_services(test_server):
    assert requests.get(test_server.url + "/cookie_needed_echo/info").json()["cookie_needed"] is True
    for prefix in ("/echo", "/close", "/ticker", "/amplify", "/broadcast", "/disabled_websocket_echo"):
        info = requests.get(test_server.url + prefix + "/info").json()
        assert info["cookie_needed"] is False, prefix
        assert info["websocket"] is (prefix != "/disabled_websocket_echo"), prefix


def test_command_line_options():
    import subprocess
    import sys

    from conftest import ROOT

    out = subprocess.run(
        [sys.executable, "examples/test_server.py", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        env={"PYTHONPATH": ROOT, "PATH": "/usr/bin:/bin"},
    )
    assert out.returncode == 0
    assert "--port" in out.stdout and "--sockjs-url" in out.stdout
