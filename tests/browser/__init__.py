"""Drive Debian's headless Chromium from tests: open pages, collect results.

Usage (one browser per test module, many pages)::

    from browser import Browser, client_routes

    @pytest.fixture(scope="module")
    def browser():
        with Browser() as b:
            yield b

    def test_page(browser, make_server):
        srv = make_server(lambda: web.Application(client_routes() + my_routes))
        res = browser.run(srv.url + "/page.html", timeout=20)
        assert res.ok, res.describe()
        assert res.result == {"echoed": 3}

A page reports by setting ``window.__result`` (any JSON value, not
null/undefined); ``Browser.run`` waits for it. ``done=`` names another
expression to wait for; ``progress=`` one to read when the page times out
(so a failure says how far it got). ``Browser.run_many`` runs several pages
at once and returns their results in the order given.

The browser is ``tests/browser/driver.js`` (playwright-core from the root
node_modules, launching /usr/bin/chromium or ``$CHROMIUM``); its module
comment documents the JSON-lines protocol. A missing Node, playwright-core
or Chromium raises ``BrowserUnavailable``: tests fail, they never skip.

``client_routes()`` gives Tornado routes serving the npm sockjs-client build
(``/static/sockjs.min.js`` and ``/static/sockjs.js``), so a page and a
server's iframe (``sockjs_url="/static/sockjs.min.js"``) load the very same
file with no internet.
"""

import json
import os
import shutil
import subprocess
import threading
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from tornado import web

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
NODE_MODULES = os.path.join(ROOT, "node_modules")
SOCKJS_CLIENT_DIST = os.path.join(NODE_MODULES, "sockjs-client", "dist")
PAGES_DIR = os.path.join(HERE, "pages")
DRIVER = os.path.join(HERE, "driver.js")

#: Every transport sockjs-client offers in Chromium, by its client-side name.
TRANSPORTS = [
    "websocket",
    "xhr-streaming",
    "eventsource",
    "iframe-eventsource",
    "htmlfile",
    "iframe-htmlfile",
    "xhr-polling",
    "iframe-xhr-polling",
    "jsonp-polling",
]


class BrowserUnavailable(RuntimeError):
    """Node, playwright-core or Chromium is missing or would not start."""


@dataclass
class PageResult:
    """What one page run produced."""

    url: str
    ok: bool
    result: Any = None
    error: Optional[str] = None
    console: List[str] = field(default_factory=list)
    errors: List[str] = field(default_factory=list)
    elapsed_ms: int = 0

    def describe(self) -> str:
        """A readable account for assertion messages."""
        lines = ["page %s: ok=%s error=%s (%d ms)" % (self.url, self.ok, self.error, self.elapsed_ms)]
        lines.append("result: %s" % json.dumps(self.result)[:4000])
        lines.extend("console %s" % c[:500] for c in self.console[-40:])
        lines.extend("pageerror %s" % e[:1000] for e in self.errors)
        return "\n".join(lines)


PageSpec = Union[str, Tuple[str, Dict[str, Any]]]


class Browser:
    """One headless Chromium, driven through ``driver.js``.

    Use as a context manager (or call ``close()``): the Chromium and Node
    processes are always ended. Not thread-safe: call from one thread.
    """

    def __init__(self, max_pages: int = 4, start_timeout: float = 60) -> None:
        node = shutil.which("node")
        if node is None:
            raise BrowserUnavailable("node is not on PATH (install Node.js 18+)")
        if not os.path.isdir(os.path.join(NODE_MODULES, "playwright-core")):
            raise BrowserUnavailable("playwright-core missing: run `npm ci` in %s" % ROOT)
        self._proc = subprocess.Popen(
            [node, DRIVER, "--max-pages", str(max_pages)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            cwd=ROOT,
        )
        self._next_id = 0
        self._stderr: List[str] = []
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        line = self._readline(start_timeout)
        if not line:
            self.close()
            raise BrowserUnavailable("browser driver did not start: %s" % "".join(self._stderr).strip())
        hello = json.loads(line)
        if hello.get("event") != "ready":
            self.close()
            raise BrowserUnavailable("unexpected driver greeting %r" % line)
        self.version: str = hello.get("browser", "")

    def _drain_stderr(self) -> None:
        assert self._proc.stderr is not None
        for line in self._proc.stderr:
            self._stderr.append(line)

    def _readline(self, timeout: float) -> str:
        # A reader thread per line keeps a wedged driver from hanging the test
        # run forever; the pytest timeout is the backstop.
        box: List[str] = []

        def read() -> None:
            assert self._proc.stdout is not None
            box.append(self._proc.stdout.readline())

        t = threading.Thread(target=read, daemon=True)
        t.start()
        t.join(timeout)
        if t.is_alive():
            self.close()
            raise BrowserUnavailable("browser driver stopped answering; stderr: %s" % "".join(self._stderr).strip())
        return box[0]

    def run(
        self, url: str, timeout: float = 20, done: str = "window.__result", progress: Optional[str] = None
    ) -> PageResult:
        """Open ``url`` and wait until ``done`` has a value (see module doc)."""
        return self.run_many([(url, {"timeout": timeout, "done": done, "progress": progress})])[0]

    def run_many(self, pages: Sequence[PageSpec], timeout: float = 20) -> List[PageResult]:
        """Run several pages concurrently; results in the order given. Each
        item is a URL or ``(url, {"timeout": s, "done": expr, "progress": expr})``."""
        assert self._proc.stdin is not None
        ids: Dict[int, str] = {}
        longest = 0.0
        for spec in pages:
            url, opts = (spec, {}) if isinstance(spec, str) else spec
            t = float(opts.get("timeout", timeout))
            longest = max(longest, t)
            self._next_id += 1
            ids[self._next_id] = url
            cmd = {
                "id": self._next_id,
                "op": "run",
                "url": url,
                "timeout_ms": int(t * 1000),
                "done": opts.get("done", "window.__result"),
                "progress": opts.get("progress"),
            }
            self._proc.stdin.write(json.dumps(cmd) + "\n")
        self._proc.stdin.flush()
        answers: Dict[int, PageResult] = {}
        # Pages queue behind --max-pages, so allow for all of them in turn.
        budget = longest * len(ids) + 30
        while len(answers) < len(ids):
            line = self._readline(budget)
            if not line:
                raise BrowserUnavailable("browser driver exited: %s" % "".join(self._stderr).strip())
            msg = json.loads(line)
            if msg.get("id") not in ids:
                continue
            answers[msg["id"]] = PageResult(
                url=ids[msg["id"]],
                ok=bool(msg.get("ok")),
                result=msg.get("result"),
                error=msg.get("error"),
                console=msg.get("console", []),
                errors=msg.get("errors", []),
                elapsed_ms=msg.get("elapsed_ms", 0),
            )
        return [answers[i] for i in ids]

    def close(self) -> None:
        """End the browser and the driver (idempotent)."""
        if self._proc.poll() is None:
            try:
                assert self._proc.stdin is not None
                self._proc.stdin.write(json.dumps({"op": "quit"}) + "\n")
                self._proc.stdin.close()
            except (BrokenPipeError, OSError, ValueError):
                pass
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(5)

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class _NoCacheStatic(web.StaticFileHandler):
    def set_extra_headers(self, path: str) -> None:
        # Tests edit pages between runs; never let a cached copy answer.
        self.set_header("Cache-Control", "no-store")


def client_routes(prefix: str = "/static") -> List[Any]:
    """Routes serving the npm sockjs-client ``dist`` directory under ``prefix``."""
    if not os.path.isfile(os.path.join(SOCKJS_CLIENT_DIST, "sockjs.min.js")):
        raise BrowserUnavailable("sockjs-client missing from node_modules: run `npm ci`")
    return [(prefix + r"/(.*)", web.StaticFileHandler, {"path": SOCKJS_CLIENT_DIST})]


class _NoFavicon(web.RequestHandler):
    def get(self) -> None:
        # Browsers ask for it on every page; a 404 would only add noise.
        self.set_status(204)


def page_routes(prefix: str = "/pages", directory: str = PAGES_DIR) -> List[Any]:
    """Routes serving the test pages (``tests/browser/pages``) under
    ``prefix``, and an empty ``/favicon.ico``."""
    return [(prefix + r"/(.*)", _NoCacheStatic, {"path": directory}), (r"/favicon\.ico", _NoFavicon)]
