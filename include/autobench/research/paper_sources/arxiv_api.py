"""``arxiv:<query>``: the newest papers matching a query, from the arXiv API.

Built on the ``arxiv`` package's :class:`arxiv.Client` (paging, the Atom parser, the
``Result`` objects), with its page fetch replaced: the package sets no timeout and reads a
page that is not a feed as "no results", so here every request goes through
:func:`autobench.research.paper_sources._http.get` (timeout, retries with backoff, size cap) and each
page is checked before it is parsed:

- an HTTP error answer, or a feed whose entry is arXiv's error entry (title ``Error``, id
  ``http://arxiv.org/api/errors#...``, see the API user manual §3.4), is a
  :class:`~autobench.research.paper_sources.base.SourceError` naming the error, never a paper;
- a page that is not an Atom feed (HTML, unparsable or truncated XML), or an unexpectedly empty
  later page, is fetched again and, when retries run out, a SourceError;
- an empty first page is simply no papers.

Searches are sorted by submission date, newest first, and paging stops at the first paper not
newer than the watermark ``since`` (so revisions of older papers are not reported; pass
``sort="updated"`` to sort and stop by the last-updated date instead), or at ``max_results``.

The API address is ``base_url``, else the environment's ``AUTOBENCH_ARXIV_URL`` (for example
``http://127.0.0.1:8000/api/query``), else ``https://export.arxiv.org/api/query``. The pause
between requests is ``delay_seconds``, else ``AUTOBENCH_ARXIV_DELAY``, else 3 s (arXiv asks
for one request every three seconds).
"""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from autobench.research.paper_sources import _http
from autobench.research.paper_sources.base import (
    Paper,
    PaperSource,
    SourceError,
    collapse,
    newer,
    split_arxiv_id,
    to_utc,
)

DEFAULT_URL = "https://export.arxiv.org/api/query"
DEFAULT_DELAY = 3.0
URL_ENV = "AUTOBENCH_ARXIV_URL"
DELAY_ENV = "AUTOBENCH_ARXIV_DELAY"

_ATOM = "http://www.w3.org/2005/Atom"
_NS = {"atom": _ATOM}

log = logging.getLogger(__name__)


def delay_from_env(default: float = DEFAULT_DELAY) -> float:
    """``AUTOBENCH_ARXIV_DELAY`` in seconds, else ``default`` (a bad value is an error)."""
    raw = os.environ.get(DELAY_ENV, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SourceError(f"{DELAY_ENV}={raw!r} is not a number of seconds") from None
    if value < 0:
        raise SourceError(f"{DELAY_ENV}={raw!r} is negative")
    return value


class ArxivSource(PaperSource):
    """Papers matching ``query`` (arXiv search syntax: ``cat:cs.LG AND abs:retrieval``)."""

    def __init__(self, query: str, *, page_size: int = 100, max_results: int = 200,
                 delay_seconds: float | None = None, retries: int = 3, timeout_seconds: float = 30.0,
                 base_url: str | None = None, backoff_seconds: float = 1.0,
                 sort: Literal["submitted", "updated"] = "submitted"):
        if not 1 <= page_size <= 2000:
            raise ValueError(f"page_size must be 1..2000 (got {page_size})")
        if max_results < 1:
            raise ValueError(f"max_results must be at least 1 (got {max_results})")
        if sort not in ("submitted", "updated"):
            raise ValueError(f"sort must be 'submitted' or 'updated' (got {sort!r})")
        self.query = query
        self.name = f"arxiv:{query}"
        self.page_size = int(page_size)
        self.max_results = int(max_results)
        self.delay_seconds = float(delay_seconds) if delay_seconds is not None else delay_from_env()
        self.retries = max(int(retries), 0)
        self.timeout_seconds = float(timeout_seconds)
        self.backoff_seconds = float(backoff_seconds)
        self.base_url = (base_url or os.environ.get(URL_ENV, "").strip() or DEFAULT_URL)
        self.sort = sort

    @classmethod
    def configured(cls, config: Any) -> list[tuple[str, str]]:
        return [(f"arxiv: {query}", query) for query in config.research_sources.arxiv_queries]

    @classmethod
    def from_config(cls, target: str, config: Any, *, home: Path | None = None, now: datetime | None = None,
                    api_key: str | None = None) -> ArxivSource:
        """``config.arxiv``'s settings; the pause between requests is ``AUTOBENCH_ARXIV_DELAY`` when
        set (0 for loopback runs), else the file's. Sorted by last update, so a new version of a
        known paper shows up (the ingest notes it)."""
        a = config.arxiv
        return cls(target, page_size=a.page_size, max_results=a.max_results,
                   delay_seconds=delay_from_env(a.delay_seconds), retries=a.retries,
                   timeout_seconds=a.timeout_seconds, sort="updated")

    def fetch(self, since: datetime | None = None) -> list[Paper]:
        import arxiv

        by = arxiv.SortCriterion.SubmittedDate if self.sort == "submitted" else arxiv.SortCriterion.LastUpdatedDate
        search = arxiv.Search(query=self.query, max_results=self.max_results, sort_by=by,
                              sort_order=arxiv.SortOrder.Descending)
        since = to_utc(since) if since is not None else None
        papers: dict[str, Paper] = {}
        for result in self._client().results(search):
            stamp = result.published if self.sort == "submitted" else result.updated
            if since is not None and to_utc(stamp) <= since:
                break  # sorted newest first: the rest are older still
            paper = self._paper(result)
            if newer(paper, since):
                papers.setdefault(paper.id, paper)
        return list(papers.values())

    def by_ids(self, ids: Iterable[str]) -> list[Paper]:
        """The papers with these arXiv ids (``2104.12255``, ``2104.12255v1``), in arXiv's order."""
        import arxiv

        id_list = [str(i).strip() for i in ids if str(i).strip()]
        if not id_list:
            return []
        search = arxiv.Search(id_list=id_list, max_results=len(id_list))
        papers: dict[str, Paper] = {}
        for result in self._client().results(search):
            paper = self._paper(result)
            papers.setdefault(paper.id, paper)
        return list(papers.values())

    # --- internals ---------------------------------------------------------------------------

    def _client(self) -> Any:
        client = _client_class()(self, page_size=self.page_size, delay_seconds=self.delay_seconds,
                                 num_retries=self.retries)
        base = self.base_url.replace("{", "{{").replace("}", "}}")
        client.query_url_format = base + ("&{}" if "?" in base else "?{}")
        return client

    def _paper(self, result: Any) -> Paper:
        split = split_arxiv_id(result.entry_id)
        ident, version = split if split else (f"url:{result.entry_id}", None)
        url = next((link.href for link in result.links if link.rel == "alternate"), result.entry_id)
        return Paper(id=ident, version=version, title=result.title, summary=result.summary,
                     authors=tuple(collapse(a.name) for a in result.authors), published=result.published,
                     updated=result.updated, categories=tuple(result.categories),
                     comment=collapse(result.comment) or None, journal_ref=collapse(result.journal_ref) or None,
                     pdf_url=result.pdf_url, url=url, source=self.name, doi=collapse(result.doi) or None)

    def _get_page(self, client: Any, url: str, first_page: bool) -> Any:
        """One page of results, fetched and checked (see the module docstring)."""
        last = getattr(client, "_autobench_last_request", None)  # a monotonic clock: pacing, not a decision
        if last is not None and self.delay_seconds > 0:
            waited = time.monotonic() - last
            if waited < self.delay_seconds:
                time.sleep(self.delay_seconds - waited)
        try:
            return _http.get(url, what=self.name, headers={"Accept": "application/atom+xml"},
                             timeout=self.timeout_seconds, retries=self.retries,
                             backoff=max(self.backoff_seconds, self.delay_seconds), session=client._session,
                             parse=functools.partial(self._check_page, first_page=first_page))
        except _http.HttpStatusError as exc:
            detail = _error_entry(exc.body)
            tail = f": {detail}" if detail else ""
            raise SourceError(f"{exc}{tail}") from exc
        finally:
            client._autobench_last_request = time.monotonic()

    def _check_page(self, response: _http.Response, *, first_page: bool) -> Any:
        from arxiv import _feed
        from lxml import etree

        parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
        try:
            root = etree.fromstring(response.body, parser=parser)
        except etree.XMLSyntaxError as exc:
            raise _http.Retry(f"malformed page, not an Atom feed ({_first_line(exc)})") from None
        if root is None or root.tag != f"{{{_ATOM}}}feed":
            tag = etree.QName(root).localname if root is not None else "nothing"
            raise _http.Retry(f"malformed page, not an Atom feed (root element <{tag}>)")
        detail = _error_entry(response.body, root)
        if detail:
            raise SourceError(f"{self.name}: the arXiv API answered an error: {detail} ({response.url})")
        feed = _feed.parse(response.body)
        if not feed.results and not first_page:
            raise _http.Retry("unexpectedly empty page")
        if not feed.results and root.find("atom:entry", _NS) is not None:
            raise _http.Retry("page whose entries lack an id or dates")
        return feed


def _error_entry(body: bytes, root: Any = None) -> str | None:
    """arXiv's error message when ``body`` is its error feed (a lone entry titled ``Error`` or
    with an ``/api/errors`` id), else None."""
    if root is None:
        from lxml import etree

        try:
            root = etree.fromstring(body, parser=etree.XMLParser(resolve_entities=False, no_network=True,
                                                                 recover=True))
        except etree.XMLSyntaxError:
            return None
        if root is None:
            return None
    for entry in root.iterfind("atom:entry", _NS):
        ident = (entry.findtext("atom:id", namespaces=_NS) or "").strip()
        title = (entry.findtext("atom:title", namespaces=_NS) or "").strip()
        if "/api/errors" in ident or (title == "Error" and split_arxiv_id(ident) is None):
            summary = collapse(entry.findtext("atom:summary", namespaces=_NS)) or "no message"
            return f"{summary} [{ident}]" if ident else summary
    return None


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


@functools.cache
def _client_class() -> type:
    """:class:`arxiv.Client` with its page fetch replaced by :meth:`ArxivSource._get_page`
    (built on first use, so importing this module does not import ``arxiv``)."""
    import arxiv

    class _Client(arxiv.Client):
        def __init__(self, source: ArxivSource, **kwargs: Any):
            super().__init__(**kwargs)
            self._source = source
            self._session.headers["User-Agent"] = _http.USER_AGENT

        def _parse_feed(self, url: str, first_page: bool = True, _try_index: int = 0) -> Any:
            return self._source._get_page(self, url, first_page)

    return _Client
