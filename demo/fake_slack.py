"""A fake Slack Web API on loopback that records what it receives (the demo's Slack, and the tests').

It answers what slack-sdk's ``chat_postMessage`` and ``files_upload_v2`` call
(``chat.postMessage``, ``files.getUploadURLExternal``, a POST of the bytes to the upload URL it
handed out, ``files.completeUploadExternal``) and keeps every request: path, headers, body.
``as_text`` shows a message the way a person would read it in Slack.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

CHANNEL_ID = "C0FAKE0001"


class FakeSlack:
    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.uploads: dict[str, bytes] = {}
        self.lock = threading.Lock()
        self.errors: dict[str, dict] = {}  # API method -> the answer to give instead
        self.upload_status = 200
        self.count = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                path = urlparse(self.path).path
                ctype = self.headers.get("Content-Type", "")
                if ctype.startswith("application/json"):
                    body = json.loads(raw or b"{}")
                elif path.startswith("/api/"):
                    body = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
                else:
                    body = None
                with fake.lock:
                    fake.requests.append({"path": path, "headers": dict(self.headers), "body": body, "raw": raw})
                    fake.count += 1
                    n = fake.count
                if path.startswith("/upload/"):
                    fake.uploads[path.rsplit("/", 1)[1]] = raw
                    self._reply(fake.upload_status, f"OK - {len(raw)}".encode(), "text/plain")
                    return
                method = path.removeprefix("/api/")
                if method in fake.errors:
                    self._json(fake.errors[method])
                elif method == "chat.postMessage":
                    self._json({"ok": True, "channel": CHANNEL_ID, "ts": f"1767772800.{n:06d}",
                                "message": {"text": body.get("text"), "blocks": body.get("blocks")}})
                elif method == "files.getUploadURLExternal":
                    file_id = f"F{n:08d}"
                    host, port = self.server.server_address[:2]
                    self._json({"ok": True, "file_id": file_id, "upload_url": f"http://{host}:{port}/upload/{file_id}"})
                elif method == "files.completeUploadExternal":
                    files = json.loads(body["files"])
                    self._json({"ok": True, "files": [{"id": f["id"], "title": f.get("title")} for f in files]})
                else:
                    self._json({"ok": False, "error": "unknown_method"})

            def _json(self, data: dict) -> None:
                self._reply(200, json.dumps(data).encode(), "application/json; charset=utf-8")

            def _reply(self, status: int, body: bytes, ctype: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def calls(self, method: str) -> list[dict]:
        return [r for r in self.requests if r["path"] == f"/api/{method}"]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def as_text(body: dict[str, Any]) -> str:
    """A ``chat.postMessage`` body as plain text: headers, sections, fields, context, images."""
    blocks = body.get("blocks")
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    if not blocks:
        return str(body.get("text") or "")
    lines: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "header":
            title = block["text"]["text"]
            lines += [title, "=" * len(title)]
        elif kind == "section":
            if block.get("text"):
                lines.append(block["text"]["text"])
            for field in block.get("fields") or []:
                lines.append("  " + field["text"])
        elif kind == "context":
            lines.append("  ".join(e.get("text") or e.get("alt_text", "") for e in block.get("elements", [])))
        elif kind == "divider":
            lines.append("-" * 40)
        elif kind == "image":
            lines.append(f"[image: {block.get('alt_text') or block.get('image_url')}]")
        elif kind == "rich_text":
            lines.append(json.dumps(block))
        else:
            lines.append(f"[{kind}]")
    return "\n".join(lines)
