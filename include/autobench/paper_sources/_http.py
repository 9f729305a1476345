"""The one HTTP GET (and local-file read) the paper sources share.

Every request has a timeout, a User-Agent (``autobench/<version> (+research ingest)``) and a
size cap (the body is streamed and the read stops past ``max_bytes``). Connection errors,
timeouts, 5xx and 429 answers are retried with exponential backoff (``backoff * 2**attempt``
seconds; a ``Retry-After`` header on a 429 or 503 is honoured, capped at
:data:`MAX_RETRY_AFTER`). Other 4xx answers are :class:`HttpStatusError` at once. A ``parse``
callback turns a 2xx answer into the caller's result; it may raise :class:`Retry` to have a
malformed answer fetched again (counted against the same retries).

``requests`` is imported inside the functions, so importing the paper sources stays cheap.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from autobench import __version__
from autobench.paper_sources.base import SourceError

USER_AGENT = f"autobench/{__version__} (+research ingest)"
MAX_RETRY_AFTER = 60.0
MAX_BYTES = 20_000_000
_ERROR_BODY_BYTES = 64_000

log = logging.getLogger(__name__)


class Retry(Exception):  # noqa: N818 - a signal, not an error
    """Raised by a ``parse`` callback: the answer is malformed, fetch it again."""


class HttpStatusError(SourceError):
    """A 4xx answer (other than 429), or a 5xx / 429 that outlived the retries."""

    def __init__(self, message: str, *, status: int, url: str, body: bytes = b""):
        super().__init__(message)
        self.status = status
        self.url = url
        self.body = body


@dataclass(frozen=True)
class Response:
    """A 2xx answer, read in full."""

    url: str
    status: int
    headers: Mapping[str, str]
    body: bytes


def get(url: str, *, what: str, params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None, timeout: float = 20.0, retries: int = 3,
        backoff: float = 1.0, max_bytes: int = MAX_BYTES,
        parse: Callable[[Response], Any] | None = None, session: Any = None,
        sleep: Callable[[float], None] = time.sleep) -> Any:
    """GET ``url`` (see the module docstring); ``parse(response)`` when given, else the
    :class:`Response`. ``what`` names the source in error messages."""
    import requests

    getter = session if session is not None else requests
    all_headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate", **(headers or {})}
    attempts = max(int(retries), 0) + 1
    last = "no answer"
    shown = url
    for attempt in range(attempts):
        delay = backoff * (2 ** attempt)
        try:
            with getter.get(url, params=params, headers=all_headers, timeout=timeout, stream=True) as resp:
                shown = resp.url or url
                status = resp.status_code
                reason = f"HTTP {status} {resp.reason or ''}".strip()
                if status == 429 or status >= 500:
                    last = reason
                    if status in (429, 503):
                        delay = _retry_after(resp, delay)
                    body = _read(resp, shown, what, _ERROR_BODY_BYTES, truncate=True)
                    if attempt + 1 == attempts:
                        raise HttpStatusError(f"{what}: {reason} from {shown} "
                                              f"(gave up after {attempts} attempt(s))",
                                              status=status, url=shown, body=body)
                elif status >= 400:
                    body = _read(resp, shown, what, _ERROR_BODY_BYTES, truncate=True)
                    raise HttpStatusError(f"{what}: {reason} from {shown}", status=status, url=shown,
                                          body=body)
                else:
                    answer = Response(url=shown, status=status, headers=dict(resp.headers),
                                      body=_read(resp, shown, what, max_bytes))
                    if parse is None:
                        return answer
                    try:
                        return parse(answer)
                    except Retry as exc:
                        last = str(exc)
        except requests.exceptions.Timeout:
            last = f"no answer within {timeout:g} s"
        except (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            last = f"connection failed ({_short(exc)})"
        except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                requests.exceptions.InvalidSchema) as exc:
            raise SourceError(f"{what}: invalid URL {url}: {exc}") from exc
        except requests.exceptions.RequestException as exc:
            raise SourceError(f"{what}: fetching {url} failed: {type(exc).__name__}: {exc}") from exc
        if attempt + 1 < attempts:
            log.info("%s: %s from %s; retrying in %.2g s", what, last, shown, delay)
            sleep(delay)
    raise SourceError(f"{what}: {last} from {shown} (gave up after {attempts} attempt(s))")


def read_bytes(url: str, home: Path | None, *, what: str, timeout: float = 20.0, retries: int = 3,
               backoff: float = 1.0, max_bytes: int = MAX_BYTES) -> bytes:
    """The bytes at ``url``: http(s), a ``file://`` URL, or a path (relative paths are taken
    relative to ``home``, the state folder)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        return get(url, what=what, timeout=timeout, retries=retries, backoff=backoff,
                   max_bytes=max_bytes).body
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise SourceError(f"{what}: a file:// URL must name a local file (host {parts.netloc!r})")
        path = Path(unquote(parts.path))
    elif scheme and len(scheme) > 1:  # "c:" is a Windows drive, not a scheme
        raise SourceError(f"{what}: unsupported URL scheme {scheme!r} (use http, https, file or a path)")
    else:
        path = Path(url).expanduser()
    if not path.is_absolute():
        if home is None:
            raise SourceError(f"{what}: the relative path {url} needs the state folder to resolve against")
        path = Path(home) / path
    try:
        if path.is_dir():
            raise SourceError(f"{what}: {path} is a folder, not a feed file")
        size = path.stat().st_size
        if size > max_bytes:
            raise SourceError(f"{what}: {path} is {size} bytes, over the {max_bytes}-byte limit")
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise SourceError(f"{what}: no such file: {path}") from exc
    except OSError as exc:
        raise SourceError(f"{what}: cannot read {path}: {exc.strerror or exc}") from exc


def _read(resp: Any, url: str, what: str, max_bytes: int, truncate: bool = False) -> bytes:
    length = resp.headers.get("Content-Length", "")
    if not truncate and length.isdigit() and int(length) > max_bytes:
        raise SourceError(f"{what}: {url} is {length} bytes, over the {max_bytes}-byte limit")
    chunks: list[bytes] = []
    size = 0
    for chunk in resp.iter_content(chunk_size=65536):
        chunks.append(chunk)
        size += len(chunk)
        if size > max_bytes:
            if truncate:
                break
            raise SourceError(f"{what}: {url} is over the {max_bytes}-byte limit")
    return b"".join(chunks)[:max_bytes]


def _retry_after(resp: Any, default: float) -> float:
    value = (resp.headers.get("Retry-After") or "").strip()
    try:
        return min(max(float(value), 0.0), MAX_RETRY_AFTER)
    except ValueError:
        pass
    if value:
        from email.utils import parsedate_to_datetime

        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return min(default, MAX_RETRY_AFTER)
        sent = resp.headers.get("Date")  # measured against the server's own clock, not ours
        try:
            base = parsedate_to_datetime(sent) if sent else None
        except (TypeError, ValueError, IndexError):
            base = None
        if when.tzinfo is not None and base is not None and base.tzinfo is not None:
            return min(max((when - base).total_seconds(), 0.0), MAX_RETRY_AFTER)
    return min(default, MAX_RETRY_AFTER)


def _short(exc: BaseException) -> str:
    text = str(exc)
    for marker in ("Read timed out", "Connection refused", "Connection reset", "Name or service not known",
                   "Remote end closed connection", "timed out"):
        if marker in text:
            return marker.lower()
    return type(exc).__name__
