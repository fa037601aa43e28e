"""Serve a built site on http://127.0.0.1:PORT (Python's http.server, local only).

Example:
  tpulens serve site --port 8000
"""

from __future__ import annotations

import argparse
import functools
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

from tpulens.errors import InputError

HELP = "serve a built site locally (http://127.0.0.1:8000)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "site", type=Path, nargs="?", default=Path("site"), help="site directory (default: site)"
    )
    parser.add_argument("--port", type=int, default=8000, help="port (default: 8000; 0 = any)")


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:
        pass

    def end_headers(self) -> None:
        """Any origin may read the site: netron.app fetches a model from it by URL (the site
        is public data, served on 127.0.0.1 only)."""
        self.send_header("Access-Control-Allow-Origin", "*")
        super().end_headers()

    def send_head(self):
        """A NUL byte in the path (`/index.html%00`) is a bad request: the file system cannot
        name it, and http.server would fail on it with a traceback and no reply."""
        if "\x00" in unquote(self.path):
            self.send_error(HTTPStatus.BAD_REQUEST, "NUL byte in the path")
            return None
        return super().send_head()


def make_server(site: Path, port: int) -> ThreadingHTTPServer:
    """A server bound to 127.0.0.1 only: the site is for the person running it."""
    site = Path(site)
    if not (site / "index.html").is_file():
        raise InputError(f"{site}: no index.html (build it with `tpulens report`)")
    handler = functools.partial(QuietHandler, directory=str(site))
    try:
        return ThreadingHTTPServer(("127.0.0.1", port), handler)
    except OSError as err:
        raise InputError(f"port {port}: {err.strerror}") from err


def run(args: argparse.Namespace) -> int:
    server = make_server(args.site, args.port)
    host, port = server.server_address[:2]
    print(f"serving {args.site}/ at http://{host}:{port}/ (Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0
