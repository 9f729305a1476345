"""Fetching a leaderboard: ``http(s)://`` URLs, ``file://`` URLs and plain paths.

Plain paths are taken relative to the state folder (``home``) unless absolute. HTTP uses
``requests`` with a timeout, a User-Agent, a size cap (the body is streamed and the fetch stops
past ``max_bytes``), retries with exponential backoff on connection errors, timeouts, 5xx and 429
(a ``Retry-After`` of a few seconds is honoured), and a conditional GET: ``validators`` from the
previous fetch (``etag``, ``last_modified``, ``sha256``) become If-None-Match /
If-Modified-Since, and a 304 answer is ``not_modified`` with no body. A body whose sha256 equals
``validators["sha256"]`` is also ``not_modified`` (files, and servers without validators). Other
4xx answers are a ScrapeError naming the status and the URL.
"""

from __future__ import annotations

import hashlib
import mimetypes
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from autobench import __version__
from autobench.scrape.base import ScrapeError

USER_AGENT = f"autobench/{__version__} (+leaderboard monitor)"
_MAX_RETRY_AFTER = 30.0
_EXTRA_TYPES = {".md": "text/markdown", ".yaml": "application/yaml", ".yml": "application/yaml",
                ".csv": "text/csv", ".json": "application/json", ".xml": "application/xml",
                ".rss": "application/rss+xml", ".atom": "application/atom+xml"}


@dataclass(frozen=True)
class Fetched:
    """What a fetch brought back. ``body`` is None when ``not_modified``; ``etag``,
    ``last_modified`` and ``sha256`` are the validators to pass to the next fetch."""

    url: str
    body: bytes | None
    content_type: str | None
    etag: str | None
    last_modified: str | None
    sha256: str | None
    not_modified: bool = False

    def validators(self) -> dict[str, str]:
        return {k: v for k, v in (("etag", self.etag), ("last_modified", self.last_modified),
                                  ("sha256", self.sha256)) if v}


def fetch(url: str, home: Path | None, validators: dict | None = None, *, timeout: float = 20.0,
          retries: int = 3, backoff: float = 0.5, max_bytes: int = 10_000_000,
          user_agent: str = USER_AGENT) -> Fetched:
    """Fetch ``url`` (http(s), file:// or a path relative to ``home``); see the module docstring."""
    validators = dict(validators or {})
    scheme = urlsplit(url).scheme.lower()
    if scheme in ("http", "https"):
        return _fetch_http(url, validators, timeout=timeout, retries=retries, backoff=backoff,
                           max_bytes=max_bytes, user_agent=user_agent)
    if scheme == "file":
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost"):
            raise ScrapeError(f"{url}: a file:// URL must name a local file (host {parts.netloc!r})")
        path = Path(unquote(parts.path))
        if not path.is_absolute() and home is not None:
            path = Path(home) / path
    elif scheme and len(scheme) > 1:  # "c:" is a Windows drive, not a scheme
        raise ScrapeError(f"{url}: unsupported URL scheme {scheme!r} (use http, https, file or a path)")
    else:
        path = Path(url).expanduser()
        if not path.is_absolute():
            if home is None:
                raise ScrapeError(f"{url}: a relative path needs the state folder (home) to resolve against")
            path = Path(home) / path
    return _fetch_file(url, path, validators, max_bytes)


def _fetch_file(url: str, path: Path, validators: dict, max_bytes: int) -> Fetched:
    try:
        size = path.stat().st_size
        if path.is_dir():
            raise ScrapeError(f"{url}: {path} is a folder, not a file")
        if size > max_bytes:
            raise ScrapeError(f"{url}: {path} is {size} bytes, over the {max_bytes}-byte limit")
        body = path.read_bytes()
    except FileNotFoundError as exc:
        raise ScrapeError(f"{url}: no such file: {path}") from exc
    except OSError as exc:
        raise ScrapeError(f"{url}: cannot read {path}: {exc.strerror or exc}") from exc
    digest = hashlib.sha256(body).hexdigest()
    suffix = path.suffix.lower()
    ctype = _EXTRA_TYPES.get(suffix) or mimetypes.guess_type(path.name)[0]
    same = validators.get("sha256") == digest
    return Fetched(url=url, body=None if same else body, content_type=ctype, etag=None, last_modified=None,
                   sha256=digest, not_modified=same)


def _retry_after(resp: Any, default: float) -> float:
    value = resp.headers.get("Retry-After", "")
    try:
        return min(max(float(value), 0.0), _MAX_RETRY_AFTER)
    except ValueError:
        return default


def _fetch_http(url: str, validators: dict, *, timeout: float, retries: int, backoff: float, max_bytes: int,
                user_agent: str) -> Fetched:
    import requests

    headers = {"User-Agent": user_agent, "Accept-Encoding": "gzip, deflate"}
    if validators.get("etag"):
        headers["If-None-Match"] = str(validators["etag"])
    if validators.get("last_modified"):
        headers["If-Modified-Since"] = str(validators["last_modified"])
    attempts = max(int(retries), 0) + 1
    last = ""
    for attempt in range(attempts):
        delay = backoff * (2 ** attempt)
        try:
            with requests.get(url, headers=headers, timeout=timeout, stream=True) as resp:
                status = resp.status_code
                if status == 304:
                    return Fetched(url=url, body=None, content_type=resp.headers.get("Content-Type"),
                                   etag=resp.headers.get("ETag") or validators.get("etag"),
                                   last_modified=resp.headers.get("Last-Modified") or validators.get("last_modified"),
                                   sha256=validators.get("sha256"), not_modified=True)
                if status == 429 or status >= 500:
                    last = f"HTTP {status} {resp.reason or ''}".strip()
                    if status == 429 or status == 503:
                        delay = _retry_after(resp, delay)
                elif status >= 400:
                    raise ScrapeError(f"HTTP {status} {resp.reason or ''} for {url}")
                else:
                    body = _read_capped(resp, url, max_bytes)
                    digest = hashlib.sha256(body).hexdigest()
                    same = validators.get("sha256") == digest
                    return Fetched(url=url, body=None if same else body,
                                   content_type=resp.headers.get("Content-Type"), etag=resp.headers.get("ETag"),
                                   last_modified=resp.headers.get("Last-Modified"), sha256=digest,
                                   not_modified=same)
        except requests.exceptions.Timeout:
            last = f"timed out after {timeout:g} s"
        except (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            last = f"connection failed ({type(exc).__name__})"
        except requests.exceptions.InvalidURL as exc:
            raise ScrapeError(f"invalid URL {url}: {exc}") from exc
        except requests.exceptions.RequestException as exc:
            raise ScrapeError(f"fetching {url} failed: {type(exc).__name__}: {exc}") from exc
        if attempt + 1 < attempts:
            time.sleep(delay)
    raise ScrapeError(f"fetching {url} failed after {attempts} attempt{'s' if attempts > 1 else ''}: {last}")


def _read_capped(resp: Any, url: str, max_bytes: int) -> bytes:
    length = resp.headers.get("Content-Length")
    if length and length.isdigit() and int(length) > max_bytes and "gzip" not in resp.headers.get(
            "Content-Encoding", ""):
        raise ScrapeError(f"{url}: the answer is {int(length)} bytes, over the {max_bytes}-byte limit")
    chunks, total = [], 0
    for chunk in resp.iter_content(chunk_size=65536):
        total += len(chunk)
        if total > max_bytes:
            raise ScrapeError(f"{url}: the answer is over the {max_bytes}-byte limit (stopped reading)")
        chunks.append(chunk)
    return b"".join(chunks)
