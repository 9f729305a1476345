"""``rss``: an RSS 2.0 or Atom feed whose items announce results ("GPT-5 reaches 91.2 on X").

Options:

- ``pattern`` (required): a regular expression with the named groups ``system`` and ``score``,
  searched in each item's title, then in its description / summary / content (HTML tags
  removed). Items it matches in neither are skipped. When the pattern also has a ``metric``
  group, an item counts only if that group names ``options.metric`` (compared with whitespace
  removed and case folded), so one feed can report several metrics.
- ``metric``: the metric's name (used only by a ``metric`` group).

Rows come in feed order, with rank None. The feed is parsed tolerantly (lxml's recovering XML
parser when lxml is installed, else html5lib), so a truncated feed yields its complete items.
"""

from __future__ import annotations

import re
from typing import Any

from autobench.monitor.scrape.base import (
    Row,
    ScrapeError,
    ScrapeOptions,
    Scraper,
    clean_name,
    normalize_key,
    try_score,
)


class RssScraper(Scraper):
    method = "rss"

    def parse(self, body: bytes, options: ScrapeOptions, content_type: str | None = None) -> list[Row]:
        if not options.pattern:
            raise ScrapeError("the rss method needs a pattern (a regex with the groups system and score)")
        try:
            pattern = re.compile(options.pattern)
        except re.error as exc:
            raise ScrapeError(f"bad pattern {options.pattern!r}: {exc}") from exc
        missing = {"system", "score"} - set(pattern.groupindex)
        if missing:
            raise ScrapeError(f"the pattern {options.pattern!r} lacks the named group(s) {', '.join(sorted(missing))}")
        items = _items(body)
        if not items:
            raise ScrapeError("not an RSS or Atom feed: no <item> or <entry> found")
        rows: list[Row] = []
        for title, text in items:
            for field in (title, text):
                m = pattern.search(field) if field else None
                if m is None:
                    continue
                if "metric" in pattern.groupindex and normalize_key(m.group("metric") or "") != normalize_key(
                        options.metric):
                    continue
                score = try_score(m.group("score"))
                system = clean_name(m.group("system") or "")
                if score is not None and system:
                    rows.append(Row(rank=None, system=system, score=score))
                    break
        if not rows:
            raise ScrapeError(f"no item of the feed ({len(items)} items) matches the pattern {options.pattern!r}")
        return rows


def _items(body: bytes) -> list[tuple[str, str]]:
    """(title, description text) per item or entry, in feed order."""
    from bs4 import BeautifulSoup

    try:
        import lxml  # noqa: F401

        soup = BeautifulSoup(body, "xml")
    except ImportError:
        soup = BeautifulSoup(body, "html5lib")
    out = []
    for item in soup.find_all(["item", "entry"]):
        title = _child_text(item, ("title",))
        text = _child_text(item, ("description", "summary", "content", "encoded"))
        out.append((title, text))
    return out


def _child_text(item: Any, names: tuple[str, ...]) -> str:
    from bs4 import BeautifulSoup

    for name in names:
        el = item.find(name, recursive=False) or item.find(name)
        if el is None:
            continue
        raw = el.get_text()
        if "<" in raw and ">" in raw:  # escaped HTML in a description: its text
            raw = BeautifulSoup(raw, "html.parser").get_text(" ")
        text = " ".join(raw.split())
        if text:
            return text
    return ""
