"""Paper sources: where the research-ingest phase finds new papers.

Swappable parts sharing one shape (:class:`~autobench.research.paper_sources.base.PaperSource`, one
decisive method, ``fetch(since)``), one module per implementation:

- ``arxiv:<query>`` (:mod:`.arxiv_api`): an arXiv API search, newest first;
- ``feed:<url>`` (:mod:`.feed`): an RSS or Atom feed (competitor blogs, arXiv announcement
  feeds, local feed files);
- ``citations:<paper id>`` (:mod:`.semantic_scholar`): papers citing our core method, from the
  Semantic Scholar Graph API.

:func:`sources_from_config` builds them from ``research_config.yaml``. Importing this package
imports neither ``arxiv`` nor ``requests`` nor lxml: the sources import them when they fetch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from autobench.research.paper_sources.arxiv_api import ArxivSource
from autobench.research.paper_sources.base import (
    Paper,
    PaperSource,
    SourceError,
    matches_venue,
    split_arxiv_id,
)
from autobench.research.paper_sources.feed import FeedSource
from autobench.research.paper_sources.semantic_scholar import CitationSource, api_key_from_env

__all__ = [
    "ArxivSource",
    "CitationSource",
    "FeedSource",
    "Paper",
    "PaperSource",
    "SourceError",
    "api_key_from_env",
    "matches_venue",
    "sources_from_config",
    "split_arxiv_id",
]


def sources_from_config(research_config: Any, home: Path | None, api_key: str | None = None) -> list[PaperSource]:
    """One source per arXiv query, per competitor blog, per local feed (a path relative to
    ``home``), and one :class:`CitationSource` when ``citation_tracking.papers`` is non-empty.

    ``research_config`` is a :class:`~autobench.schemas.ResearchConfig` (or the dict of one).
    The arXiv settings come from its ``arxiv`` block, except the pause between requests, which
    ``AUTOBENCH_ARXIV_DELAY`` overrides when set (0 for loopback tests), and the API address,
    which is ``AUTOBENCH_ARXIV_URL`` when set. The Semantic Scholar key is ``api_key`` (from an
    Airflow connection, say), else ``AUTOBENCH_S2_API_KEY``; never the YAML file.
    """
    import os

    from autobench.research.paper_sources.arxiv_api import DELAY_ENV, delay_from_env

    if isinstance(research_config, dict):
        from autobench.schemas import ResearchConfig

        research_config = ResearchConfig.model_validate(research_config)
    wanted = research_config.research_sources
    settings = research_config.arxiv
    delay = delay_from_env() if os.environ.get(DELAY_ENV, "").strip() else settings.delay_seconds
    sources: list[PaperSource] = [
        ArxivSource(query, page_size=settings.page_size, max_results=settings.max_results, delay_seconds=delay,
                    retries=settings.retries, timeout_seconds=settings.timeout_seconds)
        for query in wanted.arxiv_queries
    ]
    sources += [FeedSource(url, home) for url in wanted.competitor_blogs]
    sources += [FeedSource(path, home) for path in wanted.local_feeds]
    tracking = wanted.citation_tracking
    if tracking is not None and tracking.papers:
        sources.append(CitationSource(tracking.api_url, list(tracking.papers), api_key or api_key_from_env()))
    return sources
