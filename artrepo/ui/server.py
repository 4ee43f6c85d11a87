"""The dashboard's HTTP server: stdlib `ThreadingHTTPServer`, GET only, read-only.

Security model (docs/ui.md): it binds 127.0.0.1 unless told otherwise and
answers only requests whose Host header names this server (no DNS
rebinding): a loopback name, the address it was told to bind, and, when
bound to a non-loopback address, the machine's own names and the address the
request arrived on (an IP literal, which no attacker's DNS name can be);
every page is server-rendered by Jinja with autoescaping and sent
with a Content-Security-Policy that allows no inline script at all; content
from artifacts (HTML, SVG) is served with a CSP `sandbox` and shown in
sandboxed iframes, so it never runs in the dashboard's origin.

    server = make_server(Path("."), port=0); server.serve_forever()
"""
from __future__ import annotations

import re
import socket
import sys
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from artrepo.errors import ArtrepoError, NotFoundError
from artrepo.ui.dashboard import Dashboard, Query, Response
from artrepo.ui.routes import dispatch

PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "frame-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
STATIC = Path(__file__).parent / "static"
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                ".svg": "image/svg+xml"}


class Handler(BaseHTTPRequestHandler):
    server_version = "artrepo-ui"
    dashboard: Dashboard  # set on the subclass made by make_server
    allowed_hosts: frozenset[str]
    beyond_loopback = False

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def log_message(self, format, *args) -> None:  # quiet: one line per request is noise here
        return

    def _answer(self, send_body: bool) -> None:
        host = (self.headers.get("Host") or "").lower()
        if host not in self.allowed_hosts and not self._names_this_socket(host):
            self._send(Response(b"unknown Host header\n", "text/plain; charset=utf-8", 421), send_body)
            return
        url = urlsplit(self.path)
        query = Query(parse_qs(url.query, keep_blank_values=True))
        try:
            if url.path.startswith("/static/"):
                response = _static(url.path[len("/static/"):])
            else:
                response = dispatch(self.dashboard, url.path, query)
        except NotFoundError as exc:
            response = self.dashboard.not_found(str(exc))
        except ArtrepoError as exc:
            response = self.dashboard.render("error.html", status=500, title="Repository error", message=str(exc))
        except Exception as exc:  # a bug: show one line, log the traceback on the server's stderr
            traceback.print_exc(file=sys.stderr)
            response = Response(f"internal error: {type(exc).__name__}\n".encode(), "text/plain; charset=utf-8", 500)
        self._send(response, send_body)

    def _names_this_socket(self, host: str) -> bool:
        """Whether `host` is the IP address and port this request arrived on (servers bound beyond loopback)."""
        if not self.beyond_loopback:
            return False
        address, port = self.connection.getsockname()[:2]
        literal = f"[{address}]" if ":" in address else address
        return host == f"{literal}:{port}".lower()

    def _send(self, response: Response, send_body: bool) -> None:
        headers = {"Content-Type": response.content_type, "X-Content-Type-Options": "nosniff",
                   "Referrer-Policy": "no-referrer", "Cache-Control": "no-store",
                   "Content-Security-Policy": PAGE_CSP, "X-Frame-Options": "DENY", **response.headers}
        if response.body is not None:
            headers["Content-Length"] = str(len(response.body))
        else:  # a stream is chunked (HTTP/1.1): cut short, it lacks its last chunk and cannot look complete
            self.protocol_version = "HTTP/1.1"
            headers.update({"Transfer-Encoding": "chunked", "Connection": "close"})
        self.send_response(response.status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        if not send_body:
            return
        try:
            if response.body is not None:
                self.wfile.write(response.body)
            elif response.stream is not None:  # reads chunks only: no pygit2, no lock needed
                self._stream(response)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _stream(self, response: Response) -> None:
        body = _Chunked(self.wfile)
        try:
            response.stream(body)
        except ArtrepoError as exc:  # e.g. a chunk that cannot be read: the download fails, visibly
            print(f"artrepo ui: aborted {self.path[:200]!r}: {exc}", file=sys.stderr)
            return
        body.finish()


class _Chunked:
    """HTTP/1.1 chunked transfer coding over `raw`, buffered into chunks of up to 64 KiB."""

    SIZE = 64 * 1024

    def __init__(self, raw):
        self._raw = raw
        self._buf = bytearray()

    def write(self, data) -> int:
        self._buf += data
        if len(self._buf) >= self.SIZE:
            self.flush()
        return len(data)

    def flush(self) -> None:
        if self._buf:
            self._raw.write(b"%x\r\n" % len(self._buf) + bytes(self._buf) + b"\r\n")
            self._buf.clear()

    def finish(self) -> None:
        self.flush()
        self._raw.write(b"0\r\n\r\n")


def _static(name: str) -> Response:
    path = STATIC / name
    if not re.fullmatch(r"[a-z0-9_-]+\.(css|js|svg)", name) or not path.is_file():
        return Response(b"not found\n", "text/plain; charset=utf-8", 404)
    return Response(path.read_bytes(), STATIC_TYPES[path.suffix], headers={"Cache-Control": "max-age=300"})


def make_server(root: Path, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """A server over the repository at `root` (not yet serving; port 0 picks a free one)."""
    handler = type("DashboardHandler", (Handler,), {"allowed_hosts": frozenset()})
    server = ThreadingHTTPServer((host, port), handler)  # bind first: a busy port fails fast
    try:
        handler.dashboard = Dashboard(root)
    except BaseException:
        server.server_close()
        raise
    server.daemon_threads = True
    bound = server.server_address[1]
    names = {host, "127.0.0.1", "localhost", "[::1]"}
    handler.beyond_loopback = not _is_loopback(host)
    if handler.beyond_loopback:  # the user chose to serve the network: accept the machine's own name
        names.add(socket.gethostname())  # (getfqdn would ask DNS, which may hang)
    handler.allowed_hosts = frozenset(f"{h}:{bound}".lower() for h in names)
    return server


def _is_loopback(host: str) -> bool:
    import ipaddress

    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


def url_of(server: ThreadingHTTPServer) -> str:
    host, port = server.server_address[:2]
    return f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{port}/"
