"""The shape every scraper shares: one decisive method, :meth:`Scraper.parse`.

A scraper turns the bytes of one leaderboard (a page, a data file, a feed, a hand-edited
YAML file) into :class:`Row` objects: the system's name, its score on the asked metric as
written on the page (no rescaling: ``86.1%`` is ``86.1``) and its rank when the page shows one.
It never fetches (see :mod:`autobench.monitor.scrape.fetch`), so every scraper can be tested on strings.

A scraper either returns at least one row or raises :class:`ScrapeError` with a one-line
message that says what is wrong (a page whose table is filled by JavaScript, a metric the page
does not show, ...): an empty list would read as "nobody is on the leaderboard".

Also here: the helpers the scrapers share for reading numbers, ranks and names in text.
"""

from __future__ import annotations

import re
import unicodedata
from abc import ABC, abstractmethod
from dataclasses import dataclass

from autobench.errors import AutobenchError


@dataclass(frozen=True)
class Row:
    """One system on a leaderboard: ``rank`` is None where the page shows no rank."""

    rank: int | None
    system: str
    score: float


class ScrapeError(AutobenchError):
    """A page or file cannot be fetched or does not hold the asked leaderboard (one line)."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


@dataclass(frozen=True)
class ScrapeOptions:
    """What to read from a leaderboard; which fields matter depends on the method.

    ``metric``: the column, field or (rss) metric name holding the score;
    ``system_column``: the column or field holding the system's name (guessed when None);
    ``table``: html_table: the page's N-th table, counted from 1 in document order;
    ``selector``: html_table: a CSS selector for the table (or an element holding it);
    ``records``: api: the path to the records (see :mod:`autobench.monitor.scrape.api`);
    ``pattern``: rss: a regex with the named groups ``system`` and ``score``.
    """

    metric: str
    system_column: str | None = None
    table: int | None = None
    selector: str | None = None
    records: str | None = None
    pattern: str | None = None


class Scraper(ABC):
    """Turns one leaderboard's bytes into rows (never an empty list: ScrapeError instead)."""

    method: str = ""

    @abstractmethod
    def parse(self, body: bytes, options: ScrapeOptions, content_type: str | None = None) -> list[Row]:
        """The rows of the leaderboard in ``body``, in the page's order."""


# --- shared helpers -----------------------------------------------------------------------------

#: Cell texts that mean "no score" (compared after normalize_key).
MISSING = frozenset({"", "-", "--", "---", "–", "—", "n/a", "na", "n.a.", "none", "null", "nan", "?", "tbd",
                     "tba", "unknown", "×"})

_NUMBER = re.compile(r"[-+\u2212]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?|[-+\u2212]?\.\d+")
_LEAD_NOISE = re.compile(r"^[\s<>≈~=]*")
_FOOTNOTE_TAIL = re.compile(r"(?:\s*(?:[*†‡§¶⁰¹²³⁴⁵⁶⁷⁸⁹]+|\[\d{1,3}\]))+$")


def normalize_key(text: str) -> str:
    """Text with all whitespace removed and case folded: how headers and names are compared."""
    return "".join(unicodedata.normalize("NFKC", text).split()).casefold()


def is_missing(text: str) -> bool:
    return normalize_key(text) in MISSING


def parse_score(value: object) -> float | None:
    """A score as written: ``86.1``, ``86.1%``, ``0.861 ± 0.004``, ``52.1±26.1``, ``86.1*`` → the
    leading number (percent sign and ± part dropped, no rescaling); missing markers → None.

    Raises ValueError when the text holds something else (``Unknown`` is missing, ``abc`` is not).
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        f = float(value)
        return None if f != f else f  # NaN: no score
    text = unicodedata.normalize("NFKC", str(value)).strip()
    if is_missing(text):
        return None
    text = strip_symbols(text).strip()
    text = _LEAD_NOISE.sub("", text)
    m = _NUMBER.match(text)
    if not m:
        raise ValueError(f"not a score: {str(value).strip()[:40]!r}")
    rest = text[m.end():].lstrip()
    if rest and rest[0].isalnum():
        # "12abc" or "3 Jun 2021" is not a score; "86.1 ± 0.4", "86.1%", "86.1*", "86.1 (0.3)" are
        raise ValueError(f"not a score: {str(value).strip()[:40]!r}")
    return float(m.group().replace(",", "").replace("\u2212", "-"))


def try_score(value: object) -> float | None:
    try:
        return parse_score(value)
    except ValueError:
        return None


def parse_rank(value: object) -> int | None:
    """A rank: the first whole number in the text (``"1 Jun 04, 2021"`` → 1, ``"T-3"`` → 3)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value == value and value.is_integer() else None
    m = re.search(r"\d+", str(value))
    return int(m.group()) if m else None


def strip_symbols(text: str) -> str:
    """Text without emoji and pictographs (🥇 🤠 ✅ ✓ 🔗), variation selectors and joiners."""
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        if cat == "So" or ch in "\u200d\ufe0e\ufe0f\u20e3" or 0x1F3FB <= ord(ch) <= 0x1F3FF:
            continue
        out.append(ch)
    return "".join(out)


def clean_name(text: str) -> str:
    """A system's name: emoji and trailing footnote markers (``*``, ``†``, ``[1]``, ``¹``) dropped,
    whitespace collapsed."""
    text = " ".join(strip_symbols(unicodedata.normalize("NFC", text)).split())
    text = _FOOTNOTE_TAIL.sub("", text).strip()
    return text


def require_rows(rows: list[Row], what: str) -> list[Row]:
    if not rows:
        raise ScrapeError(f"no row with a score: {what}")
    return rows
