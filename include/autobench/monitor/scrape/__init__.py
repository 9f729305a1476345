"""Leaderboard scrapers: a leaderboard's bytes → rows of (rank, system, score).

Swappable parts sharing one shape (:class:`~autobench.monitor.scrape.base.Scraper`, one decisive
method, ``parse``), one module per method, named in :data:`REGISTRY` (the registry's
``scrape_method`` values are checked against it):

- ``html_table`` (:mod:`.html_table`): a ``<table>`` on a page, fragment or Markdown file, or a
  Markdown pipe table in a README;
- ``api`` (:mod:`.api`): a JSON or CSV data file (what JS-rendered pages load);
- ``rss`` (:mod:`.rss`): an RSS or Atom feed of result posts, read with a regex;
- ``manual`` (:mod:`.manual`): a YAML file of scores kept by hand.

:func:`scrape` fetches (:mod:`.fetch`: http(s), file://, paths under the state folder, with
conditional GET) and parses; an unchanged leaderboard is not parsed again. Heavy libraries
(bs4, requests, yaml) are imported where used, so importing this package is cheap. A new method
is one module and one line in :data:`REGISTRY` (or a ``REGISTRY.register`` call from outside).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autobench.monitor.scrape.base import Row, ScrapeError, ScrapeOptions, Scraper
from autobench.monitor.scrape.fetch import Fetched, fetch
from autobench.registry import Registry

REGISTRY = Registry("scrape method", {
    "html_table": "autobench.monitor.scrape.html_table:HtmlTableScraper",
    "api": "autobench.monitor.scrape.api:ApiScraper",
    "rss": "autobench.monitor.scrape.rss:RssScraper",
    "manual": "autobench.monitor.scrape.manual:ManualScraper",
})

__all__ = ["REGISTRY", "Fetched", "Row", "ScrapeError", "ScrapeOptions", "Scraped", "Scraper", "fetch", "get",
           "names", "scrape"]


@dataclass(frozen=True)
class Scraped:
    """A scrape's outcome: ``rows`` is None when the leaderboard has not changed since the
    validators were taken (nothing parsed); ``fetched`` carries the new validators."""

    rows: list[Row] | None
    fetched: Fetched


def names() -> tuple[str, ...]:
    """The registered scrape methods (the registry's allowed ``scrape_method`` values)."""
    return REGISTRY.names()


def get(method: str) -> Scraper:
    """The scraper for ``method`` (unknown methods are a ValueError listing the known ones)."""
    return REGISTRY.create(method)


def scrape(url: str, method: str, options: ScrapeOptions, *, home: Path | None = None,
           validators: dict | None = None, **fetch_kw: Any) -> Scraped:
    """Fetch ``url`` and parse it with ``method``. Parse errors name the URL."""
    scraper = get(method)
    fetched = fetch(url, home, validators, **fetch_kw)
    if fetched.not_modified or fetched.body is None:
        return Scraped(rows=None, fetched=fetched)
    try:
        rows = scraper.parse(fetched.body, options, fetched.content_type)
    except ScrapeError as exc:
        raise ScrapeError(f"{url}: {exc}") from exc
    return Scraped(rows=rows, fetched=fetched)
