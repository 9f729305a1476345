"""The HTTP GET (and local-file read) the paper sources share: :func:`autobench.net.get` (retries
with backoff, size cap, a ``parse`` callback that may raise :class:`Retry`) with the User-Agent
``autobench/<version> (+research ingest)``, a 20 MB cap, ``Retry-After`` honoured up to
:data:`MAX_RETRY_AFTER`, and failures as :class:`SourceError` (HTTP error answers as
:class:`HttpStatusError`). ``requests`` is imported inside the functions, so importing stays cheap.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from autobench import __version__, net
from autobench.net import Response, Retry
from autobench.research.paper_sources.base import SourceError

__all__ = ["MAX_BYTES", "MAX_RETRY_AFTER", "USER_AGENT", "HttpStatusError", "Response", "Retry", "get", "read_bytes"]

USER_AGENT = f"autobench/{__version__} (+research ingest)"
MAX_RETRY_AFTER = 60.0
MAX_BYTES = 20_000_000


class HttpStatusError(SourceError):
    """A 4xx answer (other than 429), or a 5xx / 429 that outlived the retries."""

    def __init__(self, message: str, *, status: int, url: str, body: bytes = b""):
        super().__init__(message)
        self.status, self.url, self.body = status, url, body


def get(url: str, *, what: str, max_bytes: int = MAX_BYTES, **kw: Any) -> Any:
    """GET ``url``: ``parse(response)`` when ``parse`` is given, else the :class:`Response`. ``what``
    names the source in error messages; ``kw`` are :func:`autobench.net.get`'s (``params``,
    ``headers``, ``timeout``, ``retries``, ``backoff``, ``parse``, ``session``, ``sleep``)."""
    try:
        return net.get(url, what=what, user_agent=USER_AGENT, max_bytes=max_bytes,
                       max_retry_after=MAX_RETRY_AFTER, **kw)
    except net.NetError as exc:
        if exc.kind == "status":
            raise HttpStatusError(str(exc), status=exc.status or 0, url=exc.url, body=exc.body) from None
        raise SourceError(str(exc)) from exc.__cause__


def read_bytes(url: str, home: Path | None, *, what: str, max_bytes: int = MAX_BYTES, **kw: Any) -> bytes:
    """The bytes at ``url``: http(s) (``kw``: :func:`get`'s), a ``file://`` URL, or a path (relative
    paths are taken relative to ``home``, the state folder)."""
    try:
        path = net.local_path(url, home, what)
        if path is not None:
            return net.read_file(path, what, max_bytes)
    except net.NetError as exc:
        raise SourceError(str(exc)) from exc.__cause__
    return get(url, what=what, max_bytes=max_bytes, **kw).body
