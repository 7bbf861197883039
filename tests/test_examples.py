"""The examples: each starts with its one command, serves its page and the
locally installed sockjs-client, and its page works in headless Chromium
(driven by tests/examples_browser/scenarios.js)."""

import json
import os
import socket
import subprocess
import sys
from typing import Any, Dict, Iterator, List

import pytest
import requests
import websocket

pytestmark = pytest.mark.browser

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCENARIOS = os.path.join(ROOT, "tests", "examples_browser", "scenarios.js")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Example:
    """``python examples/<name>/server.py --port N``, stopped after use."""

    def __init__(self, name: str) -> None:
        self.output: "str | None" = None
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(ROOT, "examples", name, "server.py"), "--port", str(self.port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd="/",
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert "open http://127.0.0.1:%d/" % self.port in line, line + self.proc.stdout.read()

    def stop(self) -> str:
        """Stop the server (once) and return everything it printed."""
        if self.output is None:
            self.proc.terminate()
            try:
                out, _ = self.proc.communicate(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                out, _ = self.proc.communicate()
            self.output = out or ""
        return self.output


@pytest.fixture
def example(request: Any) -> Iterator[Any]:
    started = []

    def start(name: str) -> Example:
        ex = Example(name)
        started.append(ex)
        return ex

    yield start
    for ex in started:
        log = ex.stop()
        # A client's doing is never an ERROR; the examples must not log any.
        assert " ERROR " not in log, log


def browse(scenario: str, ex: Example, stop: bool = True) -> Dict[str, Any]:
    """Run the scenario in Chromium; no page error, no console error. Then
    stop the server: page loads logged nothing at WARNING or above (a
    browser's habitual /favicon.ico request included)."""
    r = subprocess.run(["node", SCENARIOS, scenario, ex.url], capture_output=True, text=True, timeout=90, cwd=ROOT)
    assert r.returncode == 0, "scenario %s failed (%d): %s %s" % (scenario, r.returncode, r.stdout, r.stderr)
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["ok"] and out["errors"] == []
    if stop:
        assert_quiet(ex)
    return out["facts"]  # type: ignore[no-any-return]


def assert_quiet(ex: Example) -> None:
    log = ex.stop()
    assert " WARNING " not in log and " ERROR " not in log, log


EXAMPLE_PAGES = ["echo", "chat", "multiplex", "stats", "cluster"]


@pytest.mark.parametrize("name", EXAMPLE_PAGES)
def test_every_example_page_has_the_shared_look(name: str) -> None:
    with open(os.path.join(ROOT, "examples", name, "index.html")) as f:
        page = f.read()
    assert '<link rel="stylesheet" href="/static/style.css">' in page
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in page
    assert '<html lang="en">' in page and "<title>sockjs-tornado: %s</title>" % name in page


@pytest.mark.parametrize(
    "name,prefix", [("echo", "/echo"), ("chat", "/chat"), ("multiplex", "/multiplex"), ("stats", "/echo")]
)
def test_example_serves_its_page_and_the_local_client(example: Any, name: str, prefix: str) -> None:
    ex = example(name)
    page = requests.get(ex.url + "/", timeout=5)
    assert page.status_code == 200 and '<script src="/static/sockjs.min.js">' in page.text
    js = requests.get(ex.url + "/static/sockjs.min.js", timeout=5)
    with open(os.path.join(ROOT, "node_modules", "sockjs-client", "dist", "sockjs.min.js"), "rb") as f:
        assert js.content == f.read()
    assert requests.get(ex.url + "/static/style.css", timeout=5).status_code == 200
    for icon in ("/static/favicon.svg", "/favicon.ico"):
        r = requests.get(ex.url + icon, timeout=5)
        assert r.status_code == 200 and r.headers["Content-Type"] == "image/svg+xml" and b"<svg" in r.content
    assert requests.get(ex.url + prefix, timeout=5).text == "Welcome to SockJS!\n"
    assert requests.get(ex.url + "/static/../server.py", timeout=5).status_code in (403, 404)
    # The iframe transports' page loads the same local client, not a CDN.
    iframe = requests.get(ex.url + prefix + "/iframe.html", timeout=5).text
    assert '"/static/sockjs.min.js"' in iframe and "cdn" not in iframe.lower()


def test_echo_page_round_trips_in_chromium(example: Any) -> None:
    facts = browse("echo", example("echo"))
    assert facts["transport"] == "websocket"
    assert facts["picked"] == ["xhr-streaming", "eventsource", "iframe-htmlfile", "xhr-polling", "jsonp-polling"]
    assert facts["logHasEcho"] is True


def test_chat_pages_exchange_messages_in_chromium(example: Any) -> None:
    ex = example("chat")
    facts = browse("chat", ex)
    assert "bob: hello ann" in facts["annLog"]
    assert facts["members"] == ["ann", "bob"]
    assert not any("kitchen" in line for line in facts["carlLog"])
    assert facts["annLog"][-1] == "bob left"
    assert facts["roomCheck"] == {"compiles": True, "badValid": False, "goodValid": True}


def test_chat_protocol_rooms_and_nicknames(example: Any) -> None:
    ex = example("chat")

    def client(sid: str) -> Any:
        ws = websocket.create_connection("ws://127.0.0.1:%d/chat/0/%s/websocket" % (ex.port, sid), timeout=5)
        assert ws.recv() == "o"
        return ws

    def say(ws: Any, **msg: Any) -> None:
        ws.send(json.dumps([json.dumps(msg)]))

    pending: Dict[Any, List[str]] = {}

    def recv(ws: Any) -> Dict[str, Any]:
        queue = pending.setdefault(ws, [])
        while not queue:
            frame = ws.recv()
            if frame != "h":
                queue.extend(json.loads(frame[1:]))
        return json.loads(queue.pop(0))  # type: ignore[no-any-return]

    a, b = client("a"), client("b")
    try:
        say(a, op="say", text="too early")
        assert recv(a)["op"] == "error"
        say(a, op="join", room="r1", nick="ann")
        assert recv(a) == {"op": "joined", "room": "r1", "nick": "ann", "members": ["ann"]}
        assert recv(a)["event"] == "join"
        say(b, op="join", room="r1", nick="ann")
        assert recv(b) == {"op": "error", "text": "'ann' is taken in r1"}
        say(b, op="join", room="bad room!", nick="bob")
        assert recv(b)["op"] == "error"
        say(b, op="join", room="r1", nick="bob")
        assert recv(b)["members"] == ["ann", "bob"]
        assert recv(b)["event"] == "join"
        assert recv(a) == {"op": "presence", "room": "r1", "event": "join", "nick": "bob", "members": ["ann", "bob"]}
        say(b, op="say", text="hi")
        assert recv(a) == {"op": "msg", "room": "r1", "nick": "bob", "text": "hi"}
        assert recv(b)["text"] == "hi"
        say(b, op="join", room="r2", nick="bob")
        assert recv(a)["event"] == "leave"
    finally:
        a.close()
        b.close()


def test_multiplex_page_uses_three_channels_in_chromium(example: Any) -> None:
    log = browse("multiplex", example("multiplex"))
    assert log["ann"][:2] == ["[open]", "Ann says hi!"]
    assert "Ann heard: quick" in log["ann"]
    # Bob's slow async handler did not hold Ann up.
    assert log["ann"].index("Ann heard: quick") >= 0 and "Bob, reversed: wols" in log["bob"]
    assert log["carl"] == ["[open]", "Carl says goodbye!", "[closed]"]
    # The closed channel's form takes no more input; the open ones do.
    assert log["enabled"] == {"ann": True, "bob": True, "carl": False}


def test_stats_page_charts_live_numbers_in_chromium(example: Any) -> None:
    ex = example("stats")
    facts = browse("stats", ex, stop=False)
    assert facts["painted"] > 100
    assert facts["rows"] >= 12
    peak = max(s["sessions_active"] for s in facts["samples"])
    assert peak == 5
    assert facts["samples"][-1]["sessions_active"] == 0
    # Idle, all five lines coincide at 0: each one still shows.
    assert all(n > 0 for n in facts["colours"].values()), facts["colours"]
    # Figures read plainly: no float noise in exponent notation.
    assert facts["figures"] and not [f for f in facts["figures"] if "e-" in f or "e+" in f], facts["figures"]
    metrics = requests.get(ex.url + "/metrics", timeout=5).text
    assert 'sockjs_sessions_opened_total{service="/echo",transport="websocket"} 5' in metrics
    assert 'sockjs_messages_received_total{service="/echo"} 250' in metrics
    assert_quiet(ex)


def test_demo_script_runs_the_echo_example() -> None:
    with open(os.path.join(ROOT, "scripts", "demo.sh")) as f:
        assert "examples/echo/server.py" in f.read()
    # The echo example defaults to 127.0.0.1:8080, as docs/examples.rst says.
    out = subprocess.run(
        [sys.executable, os.path.join(ROOT, "examples", "echo", "server.py"), "--help"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert "default 8080" in out.stdout and "default 127.0.0.1" in out.stdout
