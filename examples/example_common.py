"""What every example shares: command-line options, the locally served
sockjs-client, and a clean start and stop.

Each example is one command, for instance ``python examples/chat/server.py``
(``--port`` and ``--host`` to change where it listens; 127.0.0.1 by
default). The page loads sockjs-client from the repository's
``node_modules`` (``npm ci`` at the root installs it), so the examples work
without network access.
"""

import argparse
import asyncio
import logging
import os
import sys
from typing import Any, List, Optional, Tuple

EXAMPLES_DIR = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(EXAMPLES_DIR)
SOCKJS_CLIENT_DIR = os.path.join(ROOT, "node_modules", "sockjs-client", "dist")

try:  # Run from a checkout without installing: use the checkout's package.
    import sockjs.tornado  # noqa: F401
except ImportError:  # pragma: no cover
    sys.path.insert(0, ROOT)

from tornado import web  # noqa: E402

#: Router settings every example uses: the iframe transports' page loads
#: the same local sockjs-client as the example's page (no CDN).
SOCKJS_SETTINGS = {"sockjs_url": "/static/sockjs.min.js"}


def parse_args(description: str, default_port: int, argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=default_port, help="port (default %d)" % default_port)
    parser.add_argument("--debug", action="store_true", help="log at DEBUG (shows every session event)")
    return parser.parse_args(argv)


class FaviconHandler(web.RequestHandler):
    """``/favicon.ico``: the examples' icon, so that a browser asking for it
    by habit gets one instead of a 404 logged at WARNING."""

    def get(self) -> None:
        with open(os.path.join(EXAMPLES_DIR, "favicon.svg"), "rb") as f:
            self.set_header("Content-Type", "image/svg+xml")
            self.set_header("Cache-Control", "max-age=86400")
            self.write(f.read())


def client_routes(require_client: bool = True) -> List[Tuple[str, Any, dict]]:
    """``/static/sockjs.min.js`` (and its source map) from node_modules, and
    what gives every example the same look: ``/static/style.css`` and the
    icon (``/static/favicon.svg``, also at ``/favicon.ico``). Exits with a
    hint when sockjs-client is not installed, unless ``require_client`` is
    false (a server that is also used without its page)."""
    if require_client and not os.path.exists(os.path.join(SOCKJS_CLIENT_DIR, "sockjs.min.js")):
        raise SystemExit("sockjs-client is missing: run `npm ci` in %s first" % ROOT)
    return [
        (r"/static/(sockjs\.min\.js(?:\.map)?)", web.StaticFileHandler, {"path": SOCKJS_CLIENT_DIR}),
        (r"/static/(style\.css|favicon\.svg)", web.StaticFileHandler, {"path": EXAMPLES_DIR}),
        (r"/favicon\.ico", FaviconHandler, {}),
    ]


def page_routes(example_dir: str) -> List[Tuple[str, Any, dict]]:
    """``/`` serves the example's index.html, ``/static/<file>`` the other
    files of its directory, and the sockjs-client."""
    return client_routes() + [
        (r"/()", web.StaticFileHandler, {"path": example_dir, "default_filename": "index.html"}),
        (r"/static/(.*\.(?:js|css|html))", web.StaticFileHandler, {"path": example_dir}),
    ]


def serve(app: web.Application, args: argparse.Namespace, name: str) -> None:
    """Listen, print the URL, run until Ctrl-C or SIGTERM."""
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )

    async def main() -> None:
        server = app.listen(args.port, args.host)
        print("%s example: open http://%s:%d/" % (name, args.host, args.port), flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            server.stop()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
