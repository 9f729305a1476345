"""Fetching a leaderboard: ``http(s)://`` URLs, ``file://`` URLs and plain paths (relative ones
under the state folder, ``home``), through :mod:`autobench.net` (timeout, User-Agent, size cap,
retries with backoff, a ``Retry-After`` of up to 30 s honoured) with ScrapeError messages.

HTTP is a conditional GET: ``validators`` from the previous fetch (``etag``, ``last_modified``,
``sha256``) become If-None-Match / If-Modified-Since, and a 304 answer is ``not_modified`` with no
body. A body whose sha256 equals ``validators["sha256"]`` is also ``not_modified`` (files, and
servers without validators). Other 4xx answers are a ScrapeError naming the status and the URL.
"""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path

from autobench import __version__, net
from autobench.monitor.scrape.base import ScrapeError

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
    try:
        path = net.local_path(url, home, url)
        if path is not None:
            ctype = _EXTRA_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0]
            return _fetched(url, net.read_file(path, url, max_bytes), validators, ctype, None, None)
        resp = net.get(url, what=url, user_agent=user_agent, validators=validators, timeout=timeout,
                       retries=retries, backoff=backoff, max_bytes=max_bytes, max_retry_after=_MAX_RETRY_AFTER)
    except net.NetError as exc:
        raise _scrape_error(url, exc, timeout, max_bytes) from exc.__cause__
    etag, modified = resp.headers.get("ETag"), resp.headers.get("Last-Modified")
    if resp.status == 304:
        return Fetched(url=url, body=None, content_type=resp.headers.get("Content-Type"),
                       etag=etag or validators.get("etag"),
                       last_modified=modified or validators.get("last_modified"),
                       sha256=validators.get("sha256"), not_modified=True)
    return _fetched(url, resp.body, validators, resp.headers.get("Content-Type"), etag, modified)


def _fetched(url: str, body: bytes, validators: dict, content_type: str | None, etag: str | None,
             last_modified: str | None) -> Fetched:
    digest = hashlib.sha256(body).hexdigest()
    same = validators.get("sha256") == digest
    return Fetched(url=url, body=None if same else body, content_type=content_type, etag=etag,
                   last_modified=last_modified, sha256=digest, not_modified=same)


def _scrape_error(url: str, exc: net.NetError, timeout: float, max_bytes: int) -> ScrapeError:
    """``exc`` in the words leaderboard fetches have always used (local files: net's own)."""
    over = f"over the {max_bytes}-byte limit"
    words = {"file": str(exc), "invalid_url": f"invalid URL {url}: {exc.cause}",
             "failed": f"fetching {url} failed: {type(exc.cause).__name__}: {exc.cause}",
             "too_big": f"{url}: the answer is "
                        + (f"{exc.size} bytes, {over}" if exc.size is not None else f"{over} (stopped reading)"),
             "timeout": f"timed out after {timeout:g} s",
             "connection": f"connection failed ({type(exc.cause).__name__})"}
    if exc.kind in ("file", "invalid_url", "failed", "too_big"):
        return ScrapeError(words[exc.kind])
    if not exc.gave_up:  # a 4xx
        return ScrapeError(f"{exc.reason} for {url}")
    n = exc.attempts
    last = words.get(exc.kind, exc.reason)  # timeout, connection, or the status line of a 5xx / 429
    return ScrapeError(f"fetching {url} failed after {n} attempt{'s' if n > 1 else ''}: {last}")
