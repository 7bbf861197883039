"""sockjs-client 1.6.1's Node build (faye-websocket, the ``eventsource``
package, Node's http module) against the conformance server: websocket,
xhr-streaming, xhr-polling and eventsource each echo a burst of messages in
order, close with 1000, and see 3000 "Go away!" on ``/close``.

One Node process runs every transport (side by side) once per module;
each test checks one transport's record. Missing Node or sockjs-client
fails the tests.
"""

import json
import os
import shutil
import subprocess
from typing import Any, Dict, Iterator

import pytest
import test_server
from conftest import ROOT, ServerThread

pytestmark = pytest.mark.browser

SCRIPT = os.path.join(ROOT, "tests", "node", "sockjs_client.js")
TRANSPORTS = ["websocket", "xhr-streaming", "xhr-polling", "eventsource"]

_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
MESSAGES = [
    "hello",
    "non-BMP: \U0001f600 \U0001d11e",
    "\u2028",
    "".join(_ALPHABET[i % len(_ALPHABET)] for i in range(50 * 1024)),
    '["a"]',
    '{"x":1}',
    '"q"',
    'escapes: \u2029 \ufeff \u0000 "\\/',
    "",
]


@pytest.fixture(scope="module")
def node_results() -> Iterator[Dict[str, Any]]:
    node = shutil.which("node")
    assert node is not None, "node is not on PATH: install Node.js 18+"
    server = ServerThread(lambda: test_server.make_app())
    try:
        proc = subprocess.run(
            [node, SCRIPT],
            input=json.dumps(
                {"server": server.url + "", "transports": TRANSPORTS, "messages": MESSAGES, "step_timeout_ms": 15000}
            ),
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=90,
            cwd=ROOT,
        )
    finally:
        server.stop()
    assert proc.returncode == 0, "node client failed (%d): %s" % (proc.returncode, proc.stderr)
    yield json.loads(proc.stdout)


def _short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) < 400 else text[:400] + "...(%d chars)" % len(text)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_node_client(node_results: Dict[str, Any], transport: str) -> None:
    assert node_results["version"] == "1.6.1"
    echo = node_results["results"][transport]["echo"]
    assert echo["opened"], _short(echo)
    assert echo["transport"] == transport
    assert len(echo["received"]) == len(MESSAGES), _short(echo["received"])
    for i, (got, want) in enumerate(zip(echo["received"], MESSAGES)):
        assert got == want, "message %d: got %s, want %s" % (i, _short(got), _short(want))
    assert echo["close"] == {"code": 1000, "reason": "done", "wasClean": True}

    close = node_results["results"][transport]["close"]
    assert close["opened"], _short(close)
    assert close["transport"] == transport
    assert close["received"] == []
    assert close["close"] == {"code": 3000, "reason": "Go away!", "wasClean": True}
