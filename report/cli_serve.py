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
    parser.add_argument("--port", type=port_number, default=8000,
                        help="port (default: 8000; 0 = any)")


def port_number(text: str) -> int:
    """A TCP port, 0 (any free one) to 65535; anything else is a usage error."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port (0 to 65535)")
    return port


class QuietHandler(SimpleHTTPRequestHandler):
    shared = False  # whether the response is a model file other sites may read

    def log_message(self, format: str, *args) -> None:
        pass

    def end_headers(self) -> None:
        """Only model files may be read by other origins: netron.app fetches one by URL.
        Pages, listings and errors stay same-origin."""
        if self.shared:
            self.send_header("Access-Control-Allow-Origin", "*")
        super().end_headers()

    def send_head(self):
        """A path the file system cannot name (a NUL byte, bytes that are not UTF-8 such as an
        encoded surrogate) is a bad request, answered instead of failing with a traceback."""
        self.shared = False
        path = self.path.split("?", 1)[0].split("#", 1)[0]
        try:
            name = unquote(path, errors="strict")
        except UnicodeDecodeError:
            self.send_error(HTTPStatus.BAD_REQUEST, "the path is not UTF-8")
            return None
        if "\x00" in name:
            self.send_error(HTTPStatus.BAD_REQUEST, "NUL byte in the path")
            return None
        self.shared = name.endswith(".tflite")
        try:
            return super().send_head()
        except (OSError, ValueError) as err:
            self.shared = False
            self.send_error(HTTPStatus.BAD_REQUEST, f"unusable path ({type(err).__name__})")
            return None

    def send_error(self, code: int, message: str | None = None, explain: str | None = None):
        self.shared = False
        super().send_error(code, message, explain)


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
