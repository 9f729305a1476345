"""The shape every paper source shares: one decisive method, :meth:`PaperSource.fetch`.

A paper source answers "which papers appeared since the last look?" for one place papers come
from: an arXiv API query (:mod:`.arxiv_api`), an RSS or Atom feed (:mod:`.feed`) or the papers
citing our core method on Semantic Scholar (:mod:`.semantic_scholar`). Each gives back
:class:`Paper` objects in one shape, so the research-ingest phase never cares where a paper
came from.

A source either returns its papers (possibly none) or raises :class:`SourceError` with a
one-line message naming the source and what went wrong: an error answer from an API is never a
paper, and a page that is not a feed is never "no papers".

Also here: :func:`split_arxiv_id` (the arXiv identifier in an id, URL or OAI identifier) and
:func:`matches_venue` (the venue a paper's comment or journal reference names), plus the small
text and date helpers the sources share.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from autobench.errors import AutobenchError

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class SourceError(AutobenchError):
    """A paper source cannot be read, or answered with an error (one line: source: what)."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


def to_utc(dt: datetime) -> datetime:
    """``dt`` in UTC; a naive datetime is taken to be UTC already."""
    if dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def iso_z(dt: datetime) -> str:
    """ISO 8601 in UTC with a ``Z`` (``2026-02-03T04:05:06Z``)."""
    return to_utc(dt).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Paper:
    """One paper, as every source gives it.

    ``id`` is the versionless arXiv id (``2602.01234``, old style ``quant-ph/0201082``) when
    the paper has one, else ``doi:<DOI>``, ``url:<link>`` or ``s2:<Semantic Scholar id>``;
    ``version`` is the arXiv version the source saw (None when it does not say). Titles and
    summaries have their whitespace collapsed; ``published`` and ``updated`` are UTC.
    ``authors`` and ``categories`` are tuples (lists are accepted and converted), so a paper is
    hashable. ``doi`` is kept beside the fields of :meth:`as_dict` (which leaves it out).
    """

    id: str
    version: int | None
    title: str
    summary: str
    authors: tuple[str, ...]
    published: datetime
    updated: datetime
    categories: tuple[str, ...] = ()
    comment: str | None = None
    journal_ref: str | None = None
    pdf_url: str | None = None
    url: str | None = None
    source: str = ""
    doi: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "authors", tuple(self.authors))
        set_(self, "categories", tuple(self.categories))
        set_(self, "title", collapse(self.title))
        set_(self, "summary", collapse(self.summary))
        set_(self, "published", to_utc(self.published))
        set_(self, "updated", to_utc(self.updated))

    @property
    def stamp(self) -> datetime:
        """The date a watermark compares: ``updated`` (sources fill it with ``published``
        when they have nothing newer)."""
        return self.updated

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (dates as ISO 8601 strings with ``Z``)."""
        return {
            "id": self.id,
            "version": self.version,
            "title": self.title,
            "summary": self.summary,
            "authors": list(self.authors),
            "published": iso_z(self.published),
            "updated": iso_z(self.updated),
            "categories": list(self.categories),
            "comment": self.comment,
            "journal_ref": self.journal_ref,
            "pdf_url": self.pdf_url,
            "url": self.url,
            "source": self.source,
        }


class PaperSource(ABC):
    """One place papers come from. ``name`` says which (``arxiv:<query>``, ``feed:<url>``, ...).

    A kind of source (one registered name, :data:`autobench.research.paper_sources.REGISTRY`)
    says which entries of ``research_config.yaml`` it reads (:meth:`configured`) and builds one
    source from each (:meth:`from_config`); :meth:`fetch` is the decisive method.
    """

    name: str = ""

    @abstractmethod
    def fetch(self, since: datetime | None = None) -> list[Paper]:
        """The papers newer than ``since`` (by ``updated``; None: no watermark), newest first
        where the source orders them. Raises :class:`SourceError` when the source cannot be
        read or answers with an error."""

    @classmethod
    def configured(cls, config: Any) -> list[tuple[str, str]]:
        """``(name, target)`` for each source of this kind that ``config`` (a
        :class:`~autobench.schemas.ResearchConfig`) asks for: ``name`` keys its watermark,
        ``target`` is what :meth:`from_config` builds it from (a query, a URL, paper ids)."""
        return []

    @classmethod
    @abstractmethod
    def from_config(cls, target: str, config: Any, *, home: Path | None = None, now: datetime | None = None,
                    api_key: str | None = None) -> PaperSource:
        """The source reading ``target``, with ``config``'s settings for its kind; ``home`` is the
        state folder (relative paths), ``now`` the run's time, ``api_key`` a key from a connection."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


def newer(paper: Paper, since: datetime | None) -> bool:
    """Whether ``paper`` passes the watermark ``since``."""
    return since is None or paper.stamp > to_utc(since)


# --- arXiv identifiers -------------------------------------------------------------------------

_NEW_ID = r"(?P<new>\d{4}\.\d{4,5})"
# Old style: archive (letters, hyphens), an optional subject class (math.GT), "/", YYMMNNN.
_OLD_ID = r"(?P<old>(?P<archive>[a-z][a-z\-]*)(?:\.[A-Za-z][A-Za-z\-]*)?/\d{7})"
_VERSION = r"(?:v(?P<version>\d+))?"
_ID = rf"(?:{_NEW_ID}|{_OLD_ID}){_VERSION}"
_ARXIV_ID = re.compile(
    r"^\s*(?:"
    r"(?:arxiv:)?"  # arXiv:2104.12255
    r"|oai:arxiv\.org:"  # oai:arXiv.org:2508.13426v1
    r"|(?:https?://)?(?:[a-z0-9-]+\.)*arxiv\.org/(?:abs|pdf|html|format)/"  # URLs
    r"|(?:https?://(?:dx\.)?doi\.org/|doi:)?10\.48550/arxiv\."  # arXiv's own DOIs
    rf"){_ID}(?:\.pdf)?/?(?:[?#].*)?\s*$",
    re.IGNORECASE,
)


def split_arxiv_id(text: str | None) -> tuple[str, int | None] | None:
    """The versionless arXiv id and the version in ``text``, or None when it holds none.

    ``text`` is a bare id (``2104.12255v1``, ``quant-ph/0201082``), an ``arXiv:`` id, an
    OAI identifier (``oai:arXiv.org:2508.13426v1``), an arxiv.org abs/pdf/html URL or an arXiv
    DOI (``10.48550/arXiv.2104.12255``). Old-style ids lose their subject class
    (``math.GT/0309136`` is ``math/0309136``), as arXiv's canonical form does.
    """
    if not text:
        return None
    m = _ARXIV_ID.match(str(text))
    if m is None:
        return None
    if m.group("new"):
        ident = m.group("new")
    else:
        ident = m.group("archive").lower() + "/" + m.group("old").rsplit("/", 1)[1]
    version = m.group("version")
    return ident, int(version) if version else None


# --- venues ------------------------------------------------------------------------------------

#: Long names (and older names) of venues often written as an acronym.
VENUE_NAMES: dict[str, tuple[str, ...]] = {
    "iclr": ("International Conference on Learning Representations",),
    "neurips": ("NIPS", "Neural Information Processing Systems"),
    "icml": ("International Conference on Machine Learning",),
    "acl": ("Annual Meeting of the Association for Computational Linguistics",),
    "emnlp": ("Empirical Methods in Natural Language Processing",),
    "naacl": ("North American Chapter of the Association for Computational Linguistics",),
    "cvpr": ("Computer Vision and Pattern Recognition",),
    "iccv": ("International Conference on Computer Vision",),
    "eccv": ("European Conference on Computer Vision",),
    "aaai": ("AAAI Conference on Artificial Intelligence",),
    "ijcai": ("International Joint Conference on Artificial Intelligence",),
    "kdd": ("Knowledge Discovery and Data Mining",),
    "colm": ("Conference on Language Modeling",),
    "tmlr": ("Transactions on Machine Learning Research",),
}
_VENUE = re.compile(r"^\s*(?P<name>.*?)[\s'’\-_]*(?P<year>(?:19|20)\d{2}|['’]\d{2})?\s*$")


def _venue_pattern(venue: str) -> re.Pattern[str] | None:
    m = _VENUE.match(venue)
    name = (m.group("name") if m else venue).strip()
    if not name:
        return None
    year = m.group("year") if m else None
    names = [name, *VENUE_NAMES.get(name.lower(), ())]
    names_re = "|".join(r"\s+".join(map(re.escape, n.split())) for n in names)
    head = rf"(?<![A-Za-z0-9])(?:{names_re})"
    if not year:
        return re.compile(rf"{head}(?![A-Za-z0-9])", re.IGNORECASE)
    yy = year[-2:]
    full = year if len(year) == 4 else "20" + yy
    # "ICLR 2026", "ICLR-2026", "ICLR2026", "(ICLR) 2026", "ICLR'26", "ICLR-26", "ICLR26".
    tail = rf"(?:[\s'’\-_:,()]*{full}|(?:['’\-]|\)\s*)?{yy})(?!\d)"
    # "2026 Conference on Neural Information ...", "2025 IEEE/RSJ international conference on
    # intelligent robots and systems (IROS)": the year first, then up to ten plain words.
    words = r"(?:[^\W\d][\w/&.'’-]*,?\s+){0,10}?"
    lead = rf"(?<!\d)(?:{full}|['’]{yy})[\s,]+{words}\(?(?:{names_re})(?![A-Za-z0-9])"
    return re.compile(rf"{head}{tail}|{lead}", re.IGNORECASE)


def matches_venue(paper: Paper, venues: list[str]) -> str | None:
    """The first of ``venues`` (``"ICLR 2026"``) that the paper's comment or journal reference
    names, or None.

    Case does not matter; the year may be written ``2026``, ``'26``, ``-2026`` or glued on
    (``ICLR2026``); a few venues are also recognised by their long name
    (``International Conference on Learning Representations (ICLR) 2026``, see
    :data:`VENUE_NAMES`). A venue given without a year matches the name alone.
    """
    text = " ".join(t for t in (paper.comment, paper.journal_ref) if t)
    if not text:
        return None
    for venue in venues:
        pattern = _venue_pattern(venue)
        if pattern is not None and pattern.search(text):
            return venue
    return None


# --- text and dates ----------------------------------------------------------------------------

_SPACE = re.compile(r"\s+")


def collapse(text: str | None) -> str:
    """``text`` with runs of whitespace made one space and the ends trimmed."""
    return _SPACE.sub(" ", text or "").strip()


def parse_date(text: str | None) -> datetime | None:
    """A date in ISO 8601 / RFC 3339 (Atom) or RFC 822 (RSS) form, in UTC; None if unreadable."""
    text = (text or "").strip()
    if not text:
        return None
    iso = text[:-1] + "+00:00" if text[-1:] in "zZ" else text
    try:
        return to_utc(datetime.fromisoformat(iso))
    except ValueError:
        pass
    try:
        return to_utc(parsedate_to_datetime(text))
    except (TypeError, ValueError, IndexError):
        pass
    m = re.match(r"^(\d{4})(?:-(\d{2}))?$", text)  # "2024" or "2024-05"
    if m:
        return datetime(int(m.group(1)), int(m.group(2) or 1), 1, tzinfo=UTC)
    return None
