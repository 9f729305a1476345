"""``citations:<paper id>``: the papers citing our core method, from the Semantic Scholar Graph API.

For each of our paper ids (anything the Graph API accepts: ``arXiv:2104.12255``,
``DOI:10.18653/v1/N18-3011``, ``CorpusId:…`` or a Semantic Scholar id) it pages through
``GET {api_url}/paper/{id}/citations?fields=…&limit=…&offset=…``, whose answer is
``{"offset": 0, "next": 100, "data": [{"citingPaper": {…}}, …]}`` (no ``next`` on the last
page), up to ``max_results`` citations per paper.

A citing paper's id is its arXiv id (``externalIds.ArXiv``) when it has one, else
``doi:<DOI>``, else ``s2:<paperId>``; its date is ``publicationDate``, else 1 January of
``year`` (else the Unix epoch, so an undated paper passes only an empty watermark); its venue
(with the year) is its ``journal_ref``, which is what :func:`~autobench.research.paper_sources.base.matches_venue`
reads.

The API key goes in the ``x-api-key`` header. It comes from the caller (the environment's
``AUTOBENCH_S2_API_KEY``, see :func:`api_key_from_env`, or an Airflow connection), never from
a YAML file. A 429 is retried with backoff, honouring ``Retry-After`` (capped); a 404 (unknown
paper) and other 4xx answers are a :class:`~autobench.research.paper_sources.base.SourceError`.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from autobench.research.paper_sources import _http
from autobench.research.paper_sources.base import (
    EPOCH,
    Paper,
    PaperSource,
    SourceError,
    collapse,
    newer,
    split_arxiv_id,
)

API_KEY_ENV = "AUTOBENCH_S2_API_KEY"
FIELDS = "title,abstract,externalIds,publicationDate,authors,venue,year,url"


def api_key_from_env() -> str | None:
    """The Semantic Scholar API key in ``AUTOBENCH_S2_API_KEY``, or None when unset or empty."""
    return os.environ.get(API_KEY_ENV, "").strip() or None


class CitationSource(PaperSource):
    """Papers citing any of ``paper_ids`` (one result per citing paper)."""

    def __init__(self, api_url: str, paper_ids: list[str], api_key: str | None = None, *,
                 timeout: float = 20.0, retries: int = 3, limit: int = 100, max_results: int = 1000,
                 backoff: float = 1.0):
        if not 1 <= limit <= 1000:
            raise ValueError(f"limit must be 1..1000 (got {limit})")
        self.api_url = api_url.rstrip("/")
        self.paper_ids = [str(p).strip() for p in paper_ids if str(p).strip()]
        self.api_key = api_key or None
        self.name = "citations:" + ",".join(self.paper_ids)
        self.timeout = float(timeout)
        self.retries = max(int(retries), 0)
        self.limit = int(limit)
        self.max_results = int(max_results)
        self.backoff = float(backoff)

    def __repr__(self) -> str:  # never show the key
        return f"CitationSource({self.api_url!r}, {self.paper_ids!r}, api_key={'***' if self.api_key else None})"

    @classmethod
    def configured(cls, config: Any) -> list[tuple[str, str]]:
        tracking = config.research_sources.citation_tracking
        if tracking is None or not tracking.papers:
            return []
        return [("citations of our core method", ",".join(tracking.papers))]

    @classmethod
    def from_config(cls, target: str, config: Any, *, home: Path | None = None, now: datetime | None = None,
                    api_key: str | None = None) -> CitationSource:
        """The key is ``api_key`` (from a connection), else ``AUTOBENCH_S2_API_KEY``; never the YAML."""
        tracking = config.research_sources.citation_tracking
        return cls(tracking.api_url, target.split(","), api_key or api_key_from_env())

    def fetch(self, since: datetime | None = None) -> list[Paper]:
        papers: dict[str, Paper] = {}
        for paper_id in self.paper_ids:
            for paper in self.citations(paper_id):
                if newer(paper, since):
                    papers.setdefault(paper.id, paper)
        return list(papers.values())

    def citations(self, paper_id: str) -> list[Paper]:
        """Every paper citing ``paper_id`` (up to ``max_results``), watermark not applied."""
        what = f"citations:{paper_id}"
        url = f"{self.api_url}/paper/{quote(paper_id, safe=':/')}/citations"
        headers = {"Accept": "application/json"}
        if self.api_key:
            headers["x-api-key"] = self.api_key
        found: list[Paper] = []
        offset, seen = 0, 0
        while seen < self.max_results:
            limit = min(self.limit, self.max_results - seen)
            try:
                page = _http.get(url, what=what, params={"fields": FIELDS, "limit": limit, "offset": offset},
                                 headers=headers, timeout=self.timeout, retries=self.retries,
                                 backoff=self.backoff, parse=_json_page)
            except _http.HttpStatusError as exc:
                detail = _api_message(exc.body)
                hint = " (no such paper)" if exc.status == 404 else ""
                raise SourceError(f"{exc}{hint}{': ' + detail if detail else ''}") from exc
            data = page.get("data")
            if not isinstance(data, list):
                raise SourceError(f"{what}: unexpected answer from {url}: no 'data' list")
            for item in data:
                citing = item.get("citingPaper") if isinstance(item, dict) else None
                paper = _paper(citing, what) if isinstance(citing, dict) else None
                if paper is not None:
                    found.append(paper)
            seen += len(data)
            nxt = page.get("next")
            if not data or not isinstance(nxt, int) or nxt <= offset:
                break
            offset = nxt
        return found


def _json_page(response: _http.Response) -> dict[str, Any]:
    try:
        page = json.loads(response.body)
    except ValueError:
        raise _http.Retry("malformed answer, not JSON") from None
    if not isinstance(page, dict):
        raise _http.Retry("malformed answer, not a JSON object")
    return page


def _api_message(body: bytes) -> str:
    try:
        page = json.loads(body)
    except ValueError:
        return ""
    if isinstance(page, dict):
        return collapse(str(page.get("error") or page.get("message") or ""))
    return ""


def _paper(citing: dict[str, Any], source: str) -> Paper | None:
    title = collapse(citing.get("title"))
    s2_id = citing.get("paperId")
    if not title and not s2_id:
        return None
    external = citing.get("externalIds") or {}
    split = split_arxiv_id(str(external.get("ArXiv") or "")) if external.get("ArXiv") else None
    doi = str(external["DOI"]).strip() if external.get("DOI") else None
    if split is not None:
        ident, version = split
    elif doi:
        ident, version = f"doi:{doi}", None
    elif s2_id:
        ident, version = f"s2:{s2_id}", None
    else:
        return None
    year = citing.get("year")
    when = _date(citing.get("publicationDate"), year)
    venue = collapse(citing.get("venue")) or None
    if venue and isinstance(year, int) and str(year) not in venue:
        venue = f"{venue} {year}"
    authors = tuple(collapse(a.get("name")) for a in citing.get("authors") or []
                    if isinstance(a, dict) and collapse(a.get("name")))
    pdf_url = f"https://arxiv.org/pdf/{split[0]}" if split else None
    return Paper(id=ident, version=version, title=title, summary=collapse(citing.get("abstract")),
                 authors=authors, published=when, updated=when, categories=(), comment=None,
                 journal_ref=venue, pdf_url=pdf_url, url=citing.get("url") or None, source=source, doi=doi)


def _date(text: Any, year: Any) -> datetime:
    if isinstance(text, str) and text.strip():
        try:
            return datetime.fromisoformat(text.strip()[:10]).replace(tzinfo=UTC)
        except ValueError:
            pass
    if isinstance(year, int) and 1 <= year <= 9999:
        return datetime(year, 1, 1, tzinfo=UTC)
    return EPOCH
