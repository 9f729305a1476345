"""``feed:<url>``: the items of an RSS 2.0, RSS 1.0 or Atom feed, as papers.

For competitor blogs, arXiv's announcement feeds (``rss.arxiv.org/rss/<cat>`` and
``/atom/<cat>``) and local feeds (a path relative to the state folder, or a ``file://`` URL).

The feed is read with lxml's recovering pull parser, and only the items whose closing tag was
seen are kept: a feed cut off mid-item (a truncated download) yields its complete items, and
stray HTML entities in a hand-written feed do not lose the rest. A page that is not a feed at
all (HTML, plain text) is a :class:`~autobench.research.paper_sources.base.SourceError`; a feed with no
items is no papers.

Per item: the arXiv id (and version) from the id / guid / link when there is one
(``oai:arXiv.org:2508.13426v1`` is ``2508.13426`` version 1), else ``doi:<DOI>``, else
``url:<link>``; the abstract from summary / description / content, HTML removed and arXiv's
``arXiv:... Announce Type: ... Abstract:`` prefix stripped; authors from ``dc:creator`` (one
comma-separated string, as arXiv writes it, or one element per author) or ``author/name``;
categories; dates (RFC 822 in RSS, ISO 8601 in Atom) in UTC. An item without a date takes the
feed's own date, else the time of the fetch. ``updated`` falls back to ``published``, and the
watermark compares ``updated``.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from autobench.research.paper_sources import _http
from autobench.research.paper_sources.base import (
    Paper,
    PaperSource,
    SourceError,
    collapse,
    newer,
    parse_date,
    split_arxiv_id,
    to_utc,
)

log = logging.getLogger(__name__)

_ATOM = "http://www.w3.org/2005/Atom"
_ANNOUNCE = re.compile(r"^\s*arXiv:\S+\s+Announce\s+Type:\s*[\w-]+\s*(?:Abstract:\s*)?", re.IGNORECASE)
_MAIL_NAME = re.compile(r"^\S+@\S+\s*\((.+)\)$")
_AUTHOR_SPLIT = re.compile(r"\s*,\s*(?:and\s+)?|\s+and\s+|\s*;\s*")
_FEED_ROOTS = {"feed", "rss", "RDF", "channel"}
_TAGS = (r"(?:p|a|br|hr|div|span|img|em|strong|b|i|u|s|sub|sup|ul|ol|li|h[1-6]|blockquote|pre|code|figure|figcaption|"
         r"table|tr|td|th|iframe|video|small|cite|abbr)")
_HTML_TAG = re.compile(rf"</?{_TAGS}(?:\s[^<>]*)?/?>", re.IGNORECASE)
_ENTITY = re.compile(r"&(?:#\d+|#x[0-9a-fA-F]+|[A-Za-z]\w*);")
_BLOCK_TAG = re.compile(r"</?(?:p|br|hr|div|li|h[1-6]|tr|td|th|blockquote|figure)\b[^<>]*>", re.IGNORECASE)


class FeedSource(PaperSource):
    """The items of the feed at ``url`` (http(s), ``file://`` or a path relative to ``home``)."""

    def __init__(self, url: str, home: Path | None = None, *, timeout: float = 20.0, retries: int = 3,
                 backoff: float = 1.0, max_bytes: int = _http.MAX_BYTES, now: datetime | None = None):
        self.now = now  # the run's time: the date of an undated item in an undated feed (else 1970)
        self.url = url
        self.home = Path(home) if home is not None else None
        self.name = f"feed:{url}"
        self.timeout = float(timeout)
        self.retries = max(int(retries), 0)
        self.backoff = float(backoff)
        self.max_bytes = int(max_bytes)

    @classmethod
    def configured(cls, config: Any) -> list[tuple[str, str]]:
        return [(f"feed: {path}", path) for path in config.research_sources.local_feeds]

    @classmethod
    def from_config(cls, target: str, config: Any, *, home: Path | None = None, now: datetime | None = None,
                    api_key: str | None = None) -> FeedSource:
        return cls(target, home, now=now)

    def fetch(self, since: datetime | None = None) -> list[Paper]:
        body = _http.read_bytes(self.url, self.home, what=self.name, timeout=self.timeout, retries=self.retries,
                                backoff=self.backoff, max_bytes=self.max_bytes)
        return [p for p in self.parse(body) if newer(p, since)]

    def parse(self, body: bytes) -> list[Paper]:
        """The papers in a feed's bytes, in feed order (one per id: the first wins)."""
        root, items = _complete_items(body, self.name)
        feed_date = _feed_date(root) or self.now or datetime(1970, 1, 1, tzinfo=UTC)
        papers: dict[str, Paper] = {}
        for item in items:
            try:
                paper = _paper(item, self.name, feed_date)
            except (ValueError, TypeError) as exc:  # one odd item must not sink the feed
                log.warning("%s: skipping an item: %s", self.name, exc)
                continue
            if paper is not None:
                papers.setdefault(paper.id, paper)
        return list(papers.values())


class CompetitorFeedSource(FeedSource):
    """A competitor's blog feed (``competitor_blogs``): read as a feed, its items are competitor
    posts, logged and diffed against production as such."""

    @classmethod
    def configured(cls, config: Any) -> list[tuple[str, str]]:
        return [(f"competitor blog: {url}", url) for url in config.research_sources.competitor_blogs]


# --- parsing -----------------------------------------------------------------------------------


def _complete_items(body: bytes, what: str) -> tuple[Any, list[Any]]:
    """The root element and the items / entries whose end tag the parser saw."""
    from lxml import etree

    data = body.lstrip(b" \t\r\n") if not body.startswith(b"\xef\xbb\xbf") else body
    parser = etree.XMLPullParser(events=("end",), recover=True, resolve_entities=False, no_network=True,
                                 huge_tree=False)
    items: list[Any] = []
    try:
        parser.feed(data)
        items = [el for _, el in parser.read_events() if _is_item(el)]
        root = parser.close()  # elements closed here were cut off by the end of the data
    except etree.XMLSyntaxError as exc:
        root = None
        if not items:
            raise SourceError(f"{what}: not an RSS or Atom feed ({str(exc).splitlines()[0]})") from None
    if root is None and items:
        root = items[0].getroottree().getroot()
    if root is None:
        raise SourceError(f"{what}: not an RSS or Atom feed (no XML found)")
    if _local(root) not in _FEED_ROOTS:
        raise SourceError(f"{what}: not an RSS or Atom feed (root element <{_local(root)}>)")
    return root, items


def _is_item(el: Any) -> bool:
    if not isinstance(el.tag, str):
        return False
    name = _local(el)
    return name == "entry" if _ns(el) == _ATOM else name == "item"


def _local(el: Any) -> str:
    tag = el.tag if isinstance(el.tag, str) else ""
    return tag.rsplit("}", 1)[-1]


def _ns(el: Any) -> str:
    tag = el.tag if isinstance(el.tag, str) else ""
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else ""


def _text(el: Any) -> str:
    return "".join(el.itertext()) if el is not None else ""


def _children(item: Any) -> list[tuple[str, Any]]:
    return [(_local(c), c) for c in item if isinstance(c.tag, str)]


def _feed_date(root: Any) -> datetime | None:
    channel = root.find("channel") if _local(root) == "rss" else root
    if channel is None:
        return None
    for name, child in _children(channel):
        if name in ("updated", "lastBuildDate", "pubDate", "date", "modified"):
            when = parse_date(_text(child))
            if when is not None:
                return when
    return None


def _clean(text: str, html: bool = False) -> str:
    """``text`` without its HTML markup when it has some (or ``html`` says it is HTML), and
    with HTML entities a hand-written feed left undeclared (``&nbsp;``) resolved.

    Only known tags count as markup, so ``$x<y$ and $z>w$`` in an abstract stays as it is."""
    if html or _HTML_TAG.search(text):
        import lxml.html

        spaced = _BLOCK_TAG.sub(lambda m: " " + m.group(0), text)
        try:
            return lxml.html.fromstring(f"<div>{spaced}</div>").text_content()
        except Exception:  # noqa: BLE001 - malformed markup: fall back to removing the tags
            return _HTML_TAG.sub(" ", spaced)
    if _ENTITY.search(text):
        import html as html_lib

        return html_lib.unescape(text)
    return text


def _is_html(el: Any) -> bool:
    """Atom's ``type="html"`` (RSS has no such flag: its markup is found by :func:`_clean`)."""
    return (el.get("type") or "").lower() in ("html", "xhtml", "text/html")


def _split_authors(text: str) -> list[str]:
    return [collapse(a) for a in _AUTHOR_SPLIT.split(collapse(text)) if collapse(a)]


def _creators(texts: list[str]) -> list[str]:
    """Authors from an item's ``dc:creator`` / RSS ``<author>`` elements. One element holds a
    list (arXiv: ``A B, C D and E F``); several elements hold one author each, where a comma is
    ``Last, First`` (``Lovelace, Ada`` is Ada Lovelace, not two people)."""
    out: list[str] = []
    for text in texts:
        mailed = _MAIL_NAME.match(text)
        if mailed:
            out.append(collapse(mailed.group(1)))
        elif len(texts) == 1:
            out.extend(_split_authors(text))
        elif text.count(",") == 1:
            last, first = (collapse(part) for part in text.split(","))
            out.append(collapse(f"{first} {last}") if first and last else first or last)
        elif text:
            out.append(collapse(text))
    return out


def _paper(item: Any, source: str, feed_date: datetime) -> Paper | None:
    ids: list[str] = []
    links: list[str] = []
    pdf_url = doi = comment = journal_ref = None
    title = summary = content = ""
    published = updated = None
    authors: list[str] = []
    creators: list[str] = []
    categories: list[str] = []
    for name, child in _children(item):
        ns = _ns(child)
        text = collapse(_text(child))
        if name in ("id", "guid"):
            ids.append(text)
        elif name == "link":
            href = (child.get("href") or text).strip()
            rel, ctype, ltitle = child.get("rel") or "alternate", child.get("type") or "", child.get("title") or ""
            if not href:
                continue
            if ltitle == "pdf" or ctype == "application/pdf":
                pdf_url = pdf_url or href
            elif ltitle == "doi":
                doi = doi or re.sub(r"^https?://(?:dx\.)?doi\.org/", "", href)
            elif rel == "alternate":
                links.append(href)
        elif name == "title":
            title = collapse(_clean(text, html=_is_html(child)))
        elif name in ("summary", "description"):
            summary = summary or _clean(_text(child), html=_is_html(child))
        elif name in ("content", "encoded"):
            content = content or _clean(_text(child), html=_is_html(child))
        elif name in ("published", "pubDate", "issued", "date") and published is None:
            published = parse_date(text)
        elif name in ("updated", "modified"):
            updated = parse_date(text) or updated
        elif name == "author" and ns == _ATOM:
            author = collapse(_text(child.find(f"{{{_ATOM}}}name")))
            if author:
                authors.append(author)
        elif name in ("creator", "author"):  # dc:creator, RSS <author> ("mail@host (Name)")
            creators.append(text)
        elif name == "category":
            term = collapse(child.get("term") or text)
            if term and term not in categories:
                categories.append(term)
        elif name.lower() == "doi":  # arxiv:doi (API), arxiv:DOI (RSS)
            doi = doi or text or None
        elif name in ("journal_ref", "journal_reference"):
            journal_ref = text or None
        elif name == "comment" and ns != "":
            comment = text or None
    link = links[0] if links else None
    if link is None:
        link = next((i for i in ids if i.startswith(("http://", "https://"))), None)
    split = next(filter(None, (split_arxiv_id(c) for c in [*ids, *links])), None)
    if split is not None:
        ident, version = split
    elif doi:
        ident, version = f"doi:{doi}", None
    elif link:
        ident, version = f"url:{link}", None
    elif ids and ids[0]:
        ident, version = f"id:{ids[0]}", None
    elif title:
        ident, version = f"title:{title}", None
    else:
        return None
    abstract = _ANNOUNCE.sub("", summary or content, count=1)
    published = published or updated or feed_date
    return Paper(id=ident, version=version, title=title, summary=abstract, authors=tuple(authors + _creators(creators)),
                 published=to_utc(published), updated=to_utc(updated or published),
                 categories=tuple(categories), comment=comment, journal_ref=journal_ref, pdf_url=pdf_url,
                 url=link, source=source, doi=doi)
