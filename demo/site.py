"""The demo's leaderboard site and arXiv-compatible API on loopback, changing by day.

``DemoSite(home)`` serves, on the simulated day it is set to, each file of ``pages/<day>/`` at
``/<file name>`` (the addresses in the `week` example's registry), with an ETag so the monitor's
conditional GET sees an unchanged page as 304; and ``/api/query`` answers like arXiv's API with
the entries of ``feeds/papers.xml`` (paged by ``start`` and ``max_results``, so the `arxiv`
package's paging ends). Every request is recorded.
"""

from __future__ import annotations

import hashlib
import mimetypes
import threading
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

ATOM = "http://www.w3.org/2005/Atom"
OPENSEARCH = "http://a9.com/-/spec/opensearch/1.1/"
DEFAULT_PORT = 8765  # the port in the `week` example's registry


class DemoSite:
    def __init__(self, home: Path, port: int = 0, feed: str = "feeds/papers.xml") -> None:
        self.home = Path(home)
        self.feed = self.home / feed
        self.day: str | None = None
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # the demo prints its own summary
                pass

            def do_GET(self):
                url = urlparse(self.path)
                status, body, ctype, etag = site.answer(url.path, parse_qs(url.query),
                                                        self.headers.get("If-None-Match"))
                with site.lock:
                    site.requests.append({"day": site.day, "path": url.path, "status": status})
                self.send_response(status)
                if etag:
                    self.send_header("ETag", etag)
                if status == 304:
                    self.end_headers()
                    return
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        ET.register_namespace("", ATOM)
        ET.register_namespace("opensearch", OPENSEARCH)
        ET.register_namespace("arxiv", "http://arxiv.org/schemas/atom")
        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def days(self) -> list[str]:
        return sorted(p.name for p in (self.home / "pages").iterdir() if p.is_dir())

    def answer(self, path: str, query: dict[str, list[str]],
               if_none_match: str | None) -> tuple[int, bytes, str, str | None]:
        if path == "/api/query":
            return 200, self.arxiv_page(query), "application/atom+xml; charset=utf-8", None
        name = path.lstrip("/")
        if self.day is None or not name or "/" in name or name.startswith("."):
            return 404, b"not found\n", "text/plain", None
        file = self.home / "pages" / self.day / name
        if not file.is_file():
            return 404, f"no {name} on {self.day}\n".encode(), "text/plain", None
        body = file.read_bytes()
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if if_none_match == etag:
            return 304, b"", "", etag
        ctype = mimetypes.guess_type(name)[0] or "application/octet-stream"
        return 200, body, f"{ctype}; charset=utf-8", etag

    def arxiv_page(self, query: dict[str, list[str]]) -> bytes:
        """The feed's entries from ``start``, at most ``max_results``, with opensearch counts."""
        start = int((query.get("start") or ["0"])[0])
        size = int((query.get("max_results") or ["100"])[0])
        root = ET.parse(self.feed).getroot()
        entries = root.findall(f"{{{ATOM}}}entry")
        for entry in entries:
            root.remove(entry)
        page = entries[start:start + size]
        root.extend(page)
        for tag, value in (("totalResults", len(entries)), ("startIndex", start), ("itemsPerPage", len(page))):
            node = root.find(f"{{{OPENSEARCH}}}{tag}")
            if node is not None:
                node.text = str(value)
        return ET.tostring(root, encoding="utf-8", xml_declaration=True)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
