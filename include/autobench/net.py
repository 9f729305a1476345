"""The HTTP autobench speaks: one GET (and local-file read), and one POST (:func:`post`, a
leaderboard submission); :mod:`autobench.monitor.scrape.fetch` and
:mod:`autobench.research.paper_sources._http` are thin layers over it that word its errors their own way.

A GET has a timeout, a User-Agent, ``Accept-Encoding: gzip, deflate`` and a size cap (the body is
streamed, the read stops past ``max_bytes``; a larger Content-Length fails before reading unless
gzipped). Connection errors, timeouts, 5xx and 429 are retried with backoff (``backoff * 2**attempt``
s; a ``Retry-After`` on a 429 or 503, seconds or an HTTP date, is honoured up to ``max_retry_after``);
other 4xx fail at once, with the first bytes of their body. ``validators`` (``etag``,
``last_modified``) make it a conditional GET: a 304 is a :class:`Response` with no body. A ``parse``
callback may raise :class:`Retry` to have a malformed answer fetched again (within the same retries).
Failures are :class:`NetError`. ``requests`` is imported inside functions, so importing stays cheap.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

ERROR_BODY_BYTES = 64_000

log = logging.getLogger(__name__)


class Retry(Exception):  # noqa: N818 - a signal, not an error
    """Raised by a ``parse`` callback: the answer is malformed, fetch it again."""


class NetError(Exception):
    """A fetch or read that failed for good; ``str()`` is one line starting ``what:``. ``kind``:
    ``status`` (``status``, ``reason`` like "HTTP 404 Not Found", ``body``), ``timeout``,
    ``connection``, ``retry``, ``too_big`` (``size``: the Content-Length, None when streaming),
    ``invalid_url``, ``failed`` (see ``cause``) or ``file`` (a path naming no readable file).
    ``gave_up``: the retries ran out after ``attempts`` requests."""

    def __init__(self, message: str, *, kind: str, url: str = "", status: int | None = None, reason: str = "",
                 body: bytes = b"", attempts: int = 1, gave_up: bool = False, size: int | None = None,
                 cause: BaseException | None = None):
        super().__init__(message)
        self.kind, self.url, self.status, self.reason, self.body = kind, url, status, reason, body
        self.attempts, self.gave_up, self.size, self.cause = attempts, gave_up, size, cause


@dataclass(frozen=True)
class Response:
    """An answer below 400, read in full (``headers`` look names up case-insensitively)."""

    url: str
    status: int
    headers: Mapping[str, str]
    body: bytes


_PUBLIC_HEADERS = {"user-agent", "accept", "accept-encoding", "accept-language", "content-type",
                   "if-none-match", "if-modified-since"}
_SECRET_PARAM = re.compile(r"key|token|secret|pass|auth|sig", re.IGNORECASE)
REDACTED = "***"


def secrets_in(headers: Mapping[str, Any] | None = None, params: Mapping[str, Any] | None = None) -> list[str]:
    """The values a request carries that must never be shown: every header but the plain ones
    (Authorization, x-api-key, …), and query parameters named like a key or token. Each with
    and without surrounding whitespace (a pasted key often ends in a newline)."""
    values = [v for k, v in (headers or {}).items() if str(k).lower() not in _PUBLIC_HEADERS]
    values += [v for k, v in (params or {}).items() if _SECRET_PARAM.search(str(k))]
    out: set[str] = set()
    for v in values:
        text = str(v)
        for form in (text, text.strip(), repr(text)[1:-1]):
            if len(form.strip()) >= 4:  # too short to be a secret, and would scrub ordinary words
                out.add(form)
                out.update(part for part in form.split() if len(part) >= 8)  # "Bearer <token>"
    return sorted(out, key=len, reverse=True)


def scrub(text: str, secrets: list[str]) -> str:
    """``text`` with every secret replaced by ``***``."""
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text


def get(url: str, *, what: str, user_agent: str, params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None, **kwargs: Any) -> Any:
    """GET ``url`` (see the module docstring): ``parse(response)`` when given, else the
    :class:`Response`. ``what`` names the caller in messages and logs. A failure's text, its
    reason, body and cause never show a header or key parameter the request carried."""
    secrets = secrets_in(headers, params)
    if not secrets:
        return _get(url, what=what, user_agent=user_agent, params=params, headers=headers, **kwargs)
    try:
        return _get(url, what=what, user_agent=user_agent, params=params, headers=headers, secrets=secrets, **kwargs)
    except NetError as exc:
        raise _scrubbed(exc, secrets) from None


def post(url: str, *, what: str, user_agent: str, json: Any = None, headers: Mapping[str, str] | None = None,
         timeout: float = 30.0, max_bytes: int = ERROR_BODY_BYTES, session: Any = None) -> Response:
    """POST ``json`` to ``url`` once (a POST is not retried: it may have been received).

    An answer below 400 is a :class:`Response` (the body read up to ``max_bytes``); a 4xx or 5xx
    is a :class:`NetError` of kind ``status`` with the first bytes of its body; a connection
    error or timeout, a ``connection`` or ``timeout`` one. As with :func:`get`, nothing in a
    response or an error shows a header value the request carried (a token the server echoes)."""
    import requests

    secrets = secrets_in(headers)
    poster = session if session is not None else requests
    sent = {"User-Agent": user_agent, "Content-Type": "application/json", **(headers or {})}
    try:
        try:
            with poster.post(url, json=json, headers=sent, timeout=timeout, stream=True) as resp:
                shown = resp.url or url
                body = _read(resp, shown, what, max_bytes, truncate=True)
                if resp.status_code >= 400:
                    reason = f"HTTP {resp.status_code} {resp.reason or ''}".strip()
                    raise NetError(f"{what}: {reason} from {shown}", kind="status", url=shown,
                                   status=resp.status_code, reason=reason, body=body)
                return Response(url=shown, status=resp.status_code, headers=resp.headers,
                                body=scrub(body.decode("utf-8", "replace"), secrets).encode() if secrets else body)
        except requests.exceptions.Timeout as exc:
            raise NetError(f"{what}: no answer within {timeout:g} s from {url}", kind="timeout", url=url,
                           reason=f"no answer within {timeout:g} s", cause=exc) from None
        except (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            reason = f"connection failed ({_short(exc)})"
            raise NetError(f"{what}: {reason} to {url}", kind="connection", url=url, reason=reason, cause=exc) from None
        except requests.exceptions.RequestException as exc:
            raise NetError(f"{what}: posting to {url} failed: {type(exc).__name__}: {exc}", kind="failed",
                           url=url, cause=exc) from None
    except NetError as exc:
        raise _scrubbed(exc, secrets) from None


def _scrubbed(exc: NetError, secrets: list[str]) -> NetError:
    """``exc`` with every secret scrubbed from its text, URL, reason, body and cause."""
    if not secrets:
        return exc
    cause = exc.cause
    if cause is not None and any(s in str(cause) for s in secrets):  # requests quotes header values
        cause = type(type(cause).__name__, (Exception,), {})(scrub(str(cause), secrets))
    return NetError(scrub(str(exc), secrets), kind=exc.kind, url=scrub(exc.url, secrets), status=exc.status,
                    reason=scrub(exc.reason, secrets),
                    body=scrub(exc.body.decode("utf-8", "replace"), secrets).encode() if exc.body else b"",
                    attempts=exc.attempts, gave_up=exc.gave_up, size=exc.size, cause=cause)


def _get(url: str, *, what: str, user_agent: str, params: Mapping[str, Any] | None = None,
         headers: Mapping[str, str] | None = None, validators: Mapping[str, Any] | None = None,
         timeout: float = 20.0, retries: int = 3, backoff: float = 1.0, max_bytes: int = 20_000_000,
         max_retry_after: float = 60.0, parse: Callable[[Response], Any] | None = None,
         session: Any = None, sleep: Callable[[float], None] = time.sleep, secrets: list[str] | None = None) -> Any:
    import requests

    getter = session if session is not None else requests
    sent = {"User-Agent": user_agent, "Accept-Encoding": "gzip, deflate", **(headers or {})}
    for header, key in (("If-None-Match", "etag"), ("If-Modified-Since", "last_modified")):
        if validators and validators.get(key):
            sent[header] = str(validators[key])
    attempts = max(int(retries), 0) + 1
    kind, last, cause, shown = "retry", "no answer", None, url
    for attempt in range(attempts):
        delay = backoff * (2 ** attempt)
        try:
            with getter.get(url, params=params, headers=sent, timeout=timeout, stream=True) as resp:
                shown = resp.url or url
                status = resp.status_code
                if status < 400:
                    body = b"" if status == 304 else _read(resp, shown, what, max_bytes)
                    answer = Response(url=shown, status=status, headers=resp.headers, body=body)
                    if parse is None:
                        return answer
                    try:
                        return parse(answer)
                    except Retry as exc:
                        kind, last, cause = "retry", str(exc), exc
                else:
                    kind, last, cause = "status", f"HTTP {status} {resp.reason or ''}".strip(), None
                    body = _read(resp, shown, what, ERROR_BODY_BYTES, truncate=True)
                    retried = status == 429 or status >= 500
                    if not retried or attempt + 1 == attempts:
                        tail = f" (gave up after {attempts} attempt(s))" if retried else ""
                        raise NetError(f"{what}: {last} from {shown}{tail}", kind=kind, url=shown,
                                       status=status, reason=last, body=body, attempts=attempt + 1,
                                       gave_up=retried)
                    if status in (429, 503):
                        delay = _retry_after(resp, delay, max_retry_after)
        except requests.exceptions.Timeout as exc:
            kind, last, cause = "timeout", f"no answer within {timeout:g} s", exc
        except (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            kind, last, cause = "connection", f"connection failed ({_short(exc)})", exc
        except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                requests.exceptions.InvalidSchema) as exc:
            raise NetError(f"{what}: invalid URL {url}: {exc}", kind="invalid_url", url=url, cause=exc) from exc
        except requests.exceptions.RequestException as exc:
            raise NetError(f"{what}: fetching {url} failed: {type(exc).__name__}: {exc}", kind="failed",
                           url=url, cause=exc) from exc
        if attempt + 1 < attempts:
            log.info("%s: %s from %s; retrying in %.2g s", what, scrub(last, secrets or []),
                     scrub(shown, secrets or []), delay)
            sleep(delay)
    raise NetError(f"{what}: {last} from {shown} (gave up after {attempts} attempt(s))", kind=kind,
                   url=shown, status=None, reason=last, attempts=attempts, gave_up=True, cause=cause)


def local_path(url: str, home: Path | None, what: str) -> Path | None:
    """None for an http(s) URL, else the file a ``file://`` URL or a path names (relative ones
    under ``home``, the state folder)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        return None
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise NetError(f"{what}: a file:// URL must name a local file (host {parts.netloc!r})", kind="file")
        path = Path(unquote(parts.path))
    elif scheme and len(scheme) > 1:  # "c:" is a Windows drive, not a scheme
        raise NetError(f"{what}: unsupported URL scheme {scheme!r} (use http, https, file or a path)", kind="file")
    else:
        path = Path(url).expanduser()
    if not path.is_absolute():
        if home is None:
            raise NetError(f"{what}: a relative path needs the state folder (home) to resolve against", kind="file")
        path = Path(home) / path
    return path


def read_file(path: Path, what: str, max_bytes: int) -> bytes:
    """The bytes of the local file ``path``, at most ``max_bytes`` of them."""
    try:
        if path.is_dir():
            raise NetError(f"{what}: {path} is a folder, not a file", kind="file")
        size = path.stat().st_size
        if size > max_bytes:
            raise NetError(f"{what}: {path} is {size} bytes, over the {max_bytes}-byte limit", kind="file")
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise NetError(f"{what}: no such file: {path}", kind="file") from exc
    except OSError as exc:
        raise NetError(f"{what}: cannot read {path}: {exc.strerror or exc}", kind="file") from exc


def _read(resp: Any, url: str, what: str, max_bytes: int, truncate: bool = False) -> bytes:
    """The body, streamed; past ``max_bytes`` it is cut (``truncate``) or a ``too_big`` error."""
    length = resp.headers.get("Content-Length", "")
    if (not truncate and length.isdigit() and int(length) > max_bytes
            and "gzip" not in resp.headers.get("Content-Encoding", "")):  # gzip: length is compressed
        raise NetError(f"{what}: {url} is {length} bytes, over the {max_bytes}-byte limit",
                       kind="too_big", url=url, size=int(length))
    chunks: list[bytes] = []
    size = 0
    for chunk in resp.iter_content(chunk_size=65536):
        chunks.append(chunk)
        size += len(chunk)
        if size > max_bytes:
            if truncate:
                break
            raise NetError(f"{what}: {url} is over the {max_bytes}-byte limit", kind="too_big", url=url)
    return b"".join(chunks)[:max_bytes]


def _retry_after(resp: Any, default: float, cap: float) -> float:
    """The wait a ``Retry-After`` asks (seconds, or an HTTP date against the answer's own ``Date``,
    not our clock), else ``default``; never over ``cap``."""
    value = (resp.headers.get("Retry-After") or "").strip()
    try:
        return min(max(float(value), 0.0), cap)
    except ValueError:
        from email.utils import parsedate_to_datetime
    try:
        when, base = parsedate_to_datetime(value), parsedate_to_datetime(resp.headers.get("Date") or "")
        if when.tzinfo is not None and base.tzinfo is not None:
            return min(max((when - base).total_seconds(), 0.0), cap)
    except (TypeError, ValueError, IndexError):
        pass
    return min(default, cap)


def _short(exc: BaseException) -> str:
    text = str(exc)
    for marker in ("Read timed out", "Connection refused", "Connection reset", "Name or service not known",
                   "Remote end closed connection", "timed out"):
        if marker in text:
            return marker.lower()
    return type(exc).__name__
