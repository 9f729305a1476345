"""Paper sources: where the research-ingest phase finds new papers.

Swappable parts sharing one shape (:class:`~autobench.research.paper_sources.base.PaperSource`:
the decisive ``fetch(since)``; ``configured`` and ``from_config`` to come from
``research_config.yaml``), one module per implementation, each kind named in :data:`REGISTRY`:

- ``arxiv`` (:mod:`.arxiv_api`): an arXiv API search per ``arxiv_queries`` entry;
- ``competitor`` (:mod:`.feed`): a competitor blog's RSS or Atom feed (``competitor_blogs``),
  whose items are competitor posts;
- ``feed`` (:mod:`.feed`): a local feed file (``local_feeds``: arXiv announcement feeds, ...);
- ``citations`` (:mod:`.semantic_scholar`): papers citing our core method
  (``citation_tracking.papers``), from the Semantic Scholar Graph API.

One factory: :func:`specs` lists the sources a config asks for (:class:`SourceSpec`, JSON-able:
what the DAG maps one fetch task over), :func:`build` makes one of them; the ingest and
:func:`sources_from_config` both go through them. A new kind of source is one module and one
line in :data:`REGISTRY`. Importing this package imports no implementation (the registry
imports one when it is used; ``from autobench.research.paper_sources import ArxivSource`` goes
through it too), nor ``arxiv``, ``requests`` or lxml: the sources import them when they fetch.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autobench.registry import Registry
from autobench.research.paper_sources.base import (
    Paper,
    PaperSource,
    SourceError,
    matches_venue,
    split_arxiv_id,
)

#: kind → implementation, in the order the sources of a config are listed and fetched
REGISTRY = Registry("paper source", {
    "arxiv": "autobench.research.paper_sources.arxiv_api:ArxivSource",
    "competitor": "autobench.research.paper_sources.feed:CompetitorFeedSource",
    "feed": "autobench.research.paper_sources.feed:FeedSource",
    "citations": "autobench.research.paper_sources.semantic_scholar:CitationSource",
}, error=SourceError)

#: the implementations' class names → their kinds: imported through :data:`REGISTRY` on first use
_CLASSES = {"ArxivSource": "arxiv", "CompetitorFeedSource": "competitor", "FeedSource": "feed",
            "CitationSource": "citations"}

__all__ = [
    "REGISTRY",
    "Paper",
    "PaperSource",
    "SourceError",
    "SourceSpec",
    "build",
    "matches_venue",
    "names",
    "sources_from_config",
    "specs",
    "split_arxiv_id",
]


def __getattr__(name: str) -> Any:
    """An implementation class by its name (``ArxivSource``), imported through the registry."""
    if name in _CLASSES:
        return REGISTRY.get(_CLASSES[name])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def names() -> tuple[str, ...]:
    """The registered kinds of paper source."""
    return REGISTRY.names()


@dataclass(frozen=True)
class SourceSpec:
    """One source a config asks for: enough to build it again (what a mapped fetch task gets).

    ``kind``: a :data:`REGISTRY` name; ``name``: what its watermark is keyed by; ``target``: the
    query, the feed URL or path, or the comma-joined paper ids."""

    kind: str
    name: str
    target: str

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "name": self.name, "target": self.target}


def _config(research_config: Any):
    """A :class:`~autobench.schemas.ResearchConfig` (the dict of one is validated)."""
    if isinstance(research_config, dict):
        from autobench.schemas import ResearchConfig

        return ResearchConfig.model_validate(research_config)
    return research_config


def specs(research_config: Any) -> list[SourceSpec]:
    """Every source ``research_config`` asks for, kind by kind in :data:`REGISTRY`'s order."""
    config = _config(research_config)
    return [SourceSpec(kind, name, target) for kind in REGISTRY.names()
            for name, target in REGISTRY.get(kind).configured(config)]


def build(spec: SourceSpec, research_config: Any, *, home: Path | None = None, now: dt.datetime | None = None,
          api_key: str | None = None) -> PaperSource:
    """The source ``spec`` names, with ``research_config``'s settings for its kind (see each
    kind's ``from_config``: the arXiv delay from ``AUTOBENCH_ARXIV_DELAY`` when set, the Semantic
    Scholar key from ``api_key`` else ``AUTOBENCH_S2_API_KEY``, never from the YAML)."""
    return REGISTRY.get(spec.kind).from_config(spec.target, _config(research_config), home=home, now=now,
                                               api_key=api_key)


def sources_from_config(research_config: Any, home: Path | None, api_key: str | None = None,
                        now: dt.datetime | None = None) -> list[PaperSource]:
    """Every source ``research_config`` asks for, built (:func:`specs`, then :func:`build`)."""
    config = _config(research_config)
    return [build(spec, config, home=home, now=now, api_key=api_key) for spec in specs(config)]
