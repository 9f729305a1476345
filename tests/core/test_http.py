"""autobench.net, the one HTTP GET (and local-file read), against a real loopback http.server."""

from __future__ import annotations

import gzip
import logging
import random
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from conftest import loopback

from autobench import net
from autobench.research.paper_sources import _http
from autobench.research.paper_sources.base import SourceError

UA = "autobench/test (+unit tests)"
NOISE = random.Random(0).randbytes(1000)  # gzip cannot shrink it: the compressed length is larger


class _State:
    def __init__(self) -> None:
        self.hits: dict[str, int] = {}
        self.sent: list[tuple[str, dict[str, str]]] = []
        self.lock = threading.Lock()

    def hit(self, path: str, headers: dict[str, str]) -> int:
        with self.lock:
            self.sent.append((path, headers))
            self.hits[path] = self.hits.get(path, 0) + 1
            return self.hits[path]


def _handler(state: _State) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def date_time_string(self, timestamp: Any = None) -> str:  # the server's clock, frozen
            return "Wed, 21 Oct 2015 07:28:00 GMT"

        def send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None,
                 length: bool = True) -> None:
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            if length:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if body:
                self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            path = self.path.split("?")[0]
            n = state.hit(path, dict(self.headers.items()))
            if path == "/ok":
                self.send(200, f"ok {self.path}".encode(), {"content-type": "text/plain", "ETag": '"v1"'})
            elif path == "/503-then-ok":
                self.send(503, b"busy", {"Retry-After": "2"}) if n == 1 else self.send(200, b"recovered")
            elif path == "/503-date":  # one second later by the server's own clock
                (self.send(503, b"busy", {"Retry-After": "Wed, 21 Oct 2015 07:28:01 GMT"}) if n == 1
                 else self.send(200, b"ok"))
            elif path == "/429-then-ok":
                self.send(429, b"slow down", {"Retry-After": "0"}) if n == 1 else self.send(200, b"ok")
            elif path == "/500":
                self.send(500, b"boom " * 20_000)  # the error body is kept, cut at 64 kB
            elif path == "/conditional":
                if self.headers.get("If-None-Match") == '"v1"':  # a Content-Length that is no body
                    self.send(304, headers={"ETag": '"v1"', "Content-Length": "999999"}, length=False)
                else:
                    self.send(200, b"fresh", {"ETag": '"v1"', "Last-Modified": "Wed, 21 Oct 2015 07:28:00 GMT"})
            elif path == "/big":
                self.send(200, b"x" * 5000)
            elif path == "/big-stream":  # no Content-Length: the cap must hold while streaming
                self.send(200, b"x" * 300_000, length=False)
            elif path == "/gzipped":
                self.send(200, gzip.compress(NOISE), {"Content-Encoding": "gzip"})
            elif path == "/slow":
                time.sleep(1)
                self.send(200, b"late")
            elif path == "/flip":  # malformed on the first request only
                self.send(200, b"garbage" if n == 1 else b'{"fine": true}')
            else:
                self.send(404, b"no such thing")

    return Handler


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, _State]]:
    state = _State()
    with loopback(_handler(state)) as httpd:
        yield httpd.base, state


def get(url: str, **kw: Any) -> Any:
    return net.get(url, what="test", user_agent=UA, **{"backoff": 0.01, **kw})


def sent_to(state: _State, path: str) -> list[dict[str, str]]:
    return [headers for p, headers in state.sent if p == path]


def test_importing_is_cheap() -> None:
    code = "import sys, autobench.net; print('requests' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "False"


def test_answer_headers_params_and_user_agent(server: tuple[str, _State]) -> None:
    base, state = server
    got = get(f"{base}/ok", params={"q": "a b"}, headers={"Accept": "text/plain"})
    assert got.status == 200 and got.body == b"ok /ok?q=a+b" and got.url == f"{base}/ok?q=a+b"
    assert got.headers["Content-Type"] == "text/plain"  # sent as content-type: names are case-insensitive
    sent = sent_to(state, "/ok")[-1]
    assert sent["User-Agent"] == UA and sent["Accept"] == "text/plain"
    assert "gzip" in sent["Accept-Encoding"] and "If-None-Match" not in sent


def test_503_retried_honouring_retry_after_capped(server: tuple[str, _State], caplog: Any) -> None:
    base, state = server
    waits: list[float] = []
    caplog.set_level(logging.INFO, logger="autobench.net")
    assert get(f"{base}/503-then-ok", sleep=waits.append, max_retry_after=1.5).body == b"recovered"
    assert waits == [1.5] and state.hits["/503-then-ok"] == 2  # asked 2 s, capped at 1.5
    assert "test: HTTP 503 Service Unavailable from" in caplog.text and "retrying in 1.5 s" in caplog.text
    waits.clear()
    assert get(f"{base}/503-date", sleep=waits.append).body == b"ok"
    assert waits == [1.0]  # an HTTP date, against the server's Date header


def test_429_retried(server: tuple[str, _State]) -> None:
    base, state = server
    waits: list[float] = []
    assert get(f"{base}/429-then-ok", retries=1, sleep=waits.append).body == b"ok"
    assert waits == [0.0] and state.hits["/429-then-ok"] == 2


def test_5xx_gives_up_with_status_and_body(server: tuple[str, _State]) -> None:
    base, state = server
    waits: list[float] = []
    with pytest.raises(net.NetError, match=r"^test: HTTP 500 Internal Server Error from .*/500 "
                                           r"\(gave up after 3 attempt\(s\)\)$") as err:
        get(f"{base}/500", retries=2, backoff=0.5, sleep=waits.append)
    e = err.value
    assert (e.kind, e.status, e.gave_up, e.attempts, e.url) == ("status", 500, True, 3, f"{base}/500")
    assert e.body.startswith(b"boom boom") and len(e.body) == net.ERROR_BODY_BYTES
    assert waits == [0.5, 1.0] and state.hits["/500"] == 3  # exponential backoff


def test_404_fails_at_once_carrying_status_url_and_body(server: tuple[str, _State]) -> None:
    base, state = server
    with pytest.raises(net.NetError, match=r"^test: HTTP 404 Not Found from .*/missing$") as err:
        get(f"{base}/missing", retries=3)
    e = err.value
    assert (e.kind, e.status, e.gave_up, e.url, e.body) == ("status", 404, False, f"{base}/missing", b"no such thing")
    assert e.reason == "HTTP 404 Not Found" and state.hits["/missing"] == 1


def test_size_cap(server: tuple[str, _State]) -> None:
    base, _ = server
    with pytest.raises(net.NetError, match=r"/big is 5000 bytes, over the 1000-byte limit") as err:
        get(f"{base}/big", max_bytes=1000)  # refused on its Content-Length
    assert (err.value.kind, err.value.size) == ("too_big", 5000)
    with pytest.raises(net.NetError, match=r"/big-stream is over the 100000-byte limit") as err:
        get(f"{base}/big-stream", max_bytes=100_000)
    assert (err.value.kind, err.value.size) == ("too_big", None)
    assert len(get(f"{base}/big", max_bytes=5000).body) == 5000
    # a gzipped Content-Length counts compressed bytes: the cap applies to what it unpacks to
    assert len(gzip.compress(NOISE)) > 1010 and get(f"{base}/gzipped", max_bytes=1010).body == NOISE
    with pytest.raises(net.NetError, match="over the 999-byte limit"):
        get(f"{base}/gzipped", max_bytes=999)


def test_timeout(server: tuple[str, _State]) -> None:
    base, state = server
    with pytest.raises(net.NetError, match=r"^test: no answer within 0.2 s from .*/slow \(gave up after 2 attempt"
                                           r"\(s\)\)$") as err:
        get(f"{base}/slow", timeout=0.2, retries=1)
    assert (err.value.kind, err.value.gave_up, err.value.attempts, err.value.status) == ("timeout", True, 2, None)
    assert state.hits["/slow"] == 2


def test_conditional_get_304(server: tuple[str, _State]) -> None:
    base, state = server
    first = get(f"{base}/conditional")
    assert first.status == 200 and first.body == b"fresh"
    validators = {"etag": first.headers["ETag"], "last_modified": first.headers["Last-Modified"]}
    again = get(f"{base}/conditional", validators=validators, max_bytes=10)
    assert again.status == 304 and again.body == b"" and again.headers["ETag"] == '"v1"'
    sent = sent_to(state, "/conditional")[-1]
    assert sent["If-None-Match"] == '"v1"' and sent["If-Modified-Since"] == "Wed, 21 Oct 2015 07:28:00 GMT"


def test_parse_callback_and_retry(server: tuple[str, _State]) -> None:
    import json

    base, state = server

    def parse(response: net.Response) -> Any:
        try:
            return json.loads(response.body)
        except ValueError:
            raise net.Retry("malformed answer, not JSON") from None

    assert get(f"{base}/flip", parse=parse, retries=1) == {"fine": True} and state.hits["/flip"] == 2
    with pytest.raises(net.NetError, match=r"^test: malformed answer, not JSON from .*/ok \(gave up after 2") as err:
        get(f"{base}/ok", parse=parse, retries=1)
    assert err.value.kind == "retry" and isinstance(err.value.cause, net.Retry)


def test_connection_refused_and_invalid_url() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(net.NetError, match=r"connection failed \(connection refused\)") as err:
        get(f"http://127.0.0.1:{port}/x", retries=1)
    assert (err.value.kind, err.value.attempts) == ("connection", 2)
    with pytest.raises(net.NetError, match="^test: invalid URL http://: ") as err:
        get("http://", retries=3, sleep=pytest.fail)  # not retried
    assert err.value.kind == "invalid_url"


def test_local_path_and_read_file(tmp_path: Path) -> None:
    (tmp_path / "feeds").mkdir()
    (tmp_path / "feeds" / "a.xml").write_bytes(b"<rss/>")
    assert net.local_path("https://example.org/x", None, "w") is None
    assert net.local_path("feeds/a.xml", tmp_path, "w") == tmp_path / "feeds" / "a.xml"
    assert net.local_path((tmp_path / "x").as_uri(), None, "w") == tmp_path / "x"
    assert net.read_file(tmp_path / "feeds" / "a.xml", "w", 100) == b"<rss/>"
    for url, message in [("feeds/a.xml", "w: a relative path needs the state folder"),
                         ("ftp://example.org/x", "w: unsupported URL scheme 'ftp'"),
                         ("file://example.org/x", "w: a file:// URL must name a local file")]:
        with pytest.raises(net.NetError, match=message):
            net.local_path(url, None, "w")
    for path, limit, message in [(tmp_path / "feeds", 100, "is a folder, not a file"),
                                 (tmp_path / "nope.xml", 100, "no such file"),
                                 (tmp_path / "feeds" / "a.xml", 3, "is 6 bytes, over the 3-byte limit")]:
        with pytest.raises(net.NetError, match=message) as err:
            net.read_file(path, "w", limit)
        assert err.value.kind == "file"


def test_paper_sources_layer_keeps_its_errors(server: tuple[str, _State]) -> None:
    base, _ = server
    with pytest.raises(_http.HttpStatusError, match=r"^src: HTTP 404 Not Found from ") as err:
        _http.get(f"{base}/missing", what="src", backoff=0.01)
    assert (err.value.status, err.value.url, err.value.body) == (404, f"{base}/missing", b"no such thing")
    with pytest.raises(SourceError, match=r"^src: no answer within 0.2 s") as err:
        _http.get(f"{base}/slow", what="src", timeout=0.2, retries=0)
    assert not isinstance(err.value, _http.HttpStatusError)
    ua = _http.get(f"{base}/ok", what="src")
    assert ua.body.startswith(b"ok") and "research ingest" in _http.USER_AGENT
