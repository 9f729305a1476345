"""``html_table``: a leaderboard that is an HTML ``<table>`` (a page, a fragment, or a Markdown
file with YAML front matter and raw HTML, as Jekyll sites and GitHub READMEs have), or a
Markdown pipe table (GFM) in a README: a document with no ``<table>`` but a table delimiter
row (``|---|:---:|``) is rendered to HTML by markdown-it-py first, so links, ``**bold**`` and
escaped pipes in cells read as they show on GitHub. (A README that mixes raw HTML tables with pipe
tables is read as HTML: its pipe tables are not seen.)

Options:

- ``metric`` (required): the header of the score column. Headers are compared with all
  whitespace removed and case folded, so ``Joint F1`` names a two-row header "Joint" (colspan)
  over ``F<sub>1</sub>``, and ``Standard accuracy`` names ``Standard<br/>accuracy``. A column
  whose full name does not match may still be named by one level of a multi-row header when
  that level names one column only.
- ``system_column``: the header of the column with the systems' names; default: the first
  column whose cells are mostly text (not numbers, not ranks).
- ``table``: the page's N-th ``<table>``, counted from 1 in document order (nested tables
  included); default: the first table whose header names the metric. A layout table whose cell
  holds the real table resolves to the inner one.
- ``selector``: a CSS selector for the table or an element holding it (``table`` then counts
  among the tables it selects).

Parsing is html5lib's (as a browser does), so malformed markup loses no row. Only a table's
own rows count, never those of tables nested in its cells. Headers come from ``<thead>``, else
from the leading rows made only of ``<th>``, else from the first row (``<td>`` as headers);
rowspan and colspan are expanded. The rank column is the one headed Rank / # / Place / Pos;
without one, ranks are None; a rank cell that also holds a date ("1 Jun 04, 2021") gives its
first number. A system's name is the leading text of its cell, before the first paragraph or
line break (so the SQuAD cell "model link, then <p class=institution>" gives the model), with
emoji, institution/date/footnote elements (``<sup>``, ``span.td-footer``) and trailing
footnote markers dropped. Scores are read as written (``86.1%`` → 86.1, ``0.861 ± 0.004`` →
0.861, ``<b>86.1</b>``, ``86.1*``); rows whose score is "-", "N/A" or empty are left out.

A table with no data rows, or only a placeholder such as "Loading…", is a ScrapeError saying
the table is filled by JavaScript (scrape the data file the page loads with ``api``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from autobench.monitor.scrape.base import (
    Row,
    ScrapeError,
    ScrapeOptions,
    Scraper,
    clean_name,
    normalize_key,
    parse_rank,
    strip_symbols,
    try_score,
)

if TYPE_CHECKING:
    from bs4 import BeautifulSoup, Tag

_SKIP = {"script", "style", "template", "noscript", "table", "img", "svg", "input", "select"}
_BLOCK = {"p", "div", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "section",
          "article", "header", "footer", "pre", "dl", "dt", "dd", "hr", "tr", "td", "th", "details"}
_NOTE_CLASSES = {"institution", "footer", "footnote", "affiliation", "tooltip", "date", "org"}
_RANK_HEADERS = {"rank", "place", "pos", "position", "ranking", "no", "nr", "standing"}
_PLACEHOLDER = re.compile(r"\W*(?:loading|please wait|fetching|no data|enable javascript)", re.IGNORECASE)
_FRONT_MATTER = re.compile(rb"\A(?:\xef\xbb\xbf)?---[ \t]*\r?\n.*?\r?\n(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.DOTALL)
_HTML_TABLE = re.compile(rb"<table[\s>]", re.IGNORECASE)
_PIPE_DELIMITER = re.compile(rb"^[ \t]*\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)+\|?[ \t]*\r?$", re.MULTILINE)


class HtmlTableScraper(Scraper):
    method = "html_table"

    def parse(self, body: bytes, options: ScrapeOptions, content_type: str | None = None) -> list[Row]:
        soup = _soup(body, content_type)
        table = _pick_table(soup, options)
        return _rows(table, options)


# --- parsing -------------------------------------------------------------------------------------

def _soup(body: bytes | str, content_type: str | None) -> BeautifulSoup:
    from bs4 import BeautifulSoup

    if isinstance(body, str):
        body = body.encode("utf-8")
    m = _FRONT_MATTER.match(body)
    if m:  # Jekyll / Markdown: YAML front matter, then the page
        body = body[m.end():]
    charset = None
    if content_type:
        cm = re.search(r"charset=[\"']?([\w.:-]+)", content_type, re.IGNORECASE)
        charset = cm.group(1) if cm else None
    if not _HTML_TABLE.search(body) and _PIPE_DELIMITER.search(body):
        return BeautifulSoup(_markdown_html(body, charset), "html5lib")
    if charset is None:
        try:  # valid UTF-8 is UTF-8 (a Markdown file or fragment declares no charset)
            return BeautifulSoup(body.decode("utf-8-sig"), "html5lib")
        except UnicodeDecodeError:
            pass
    try:
        return BeautifulSoup(body, "html5lib", from_encoding=charset)
    except LookupError:  # an unknown charset in the header: let the parser sniff
        return BeautifulSoup(body, "html5lib")


def _markdown_html(body: bytes, charset: str | None) -> str:
    """A Markdown document as HTML (CommonMark with GFM tables; raw HTML kept)."""
    from markdown_it import MarkdownIt

    try:
        text = body.decode(charset or "utf-8-sig", errors="replace")
    except LookupError:
        text = body.decode("utf-8-sig", errors="replace")
    return MarkdownIt("commonmark", {"html": True}).enable("table").render(text)


def _is_text(node: Any) -> bool:
    from bs4 import NavigableString
    from bs4.element import Comment, Declaration, Doctype, ProcessingInstruction

    return isinstance(node, NavigableString) and not isinstance(
        node, Comment | Declaration | Doctype | ProcessingInstruction)


def _text(node: Tag) -> str:
    """The node's text, nested tables left out, with a space at line breaks, blocks, sub/sup."""
    from bs4 import Tag

    parts: list[str] = []

    def walk(n: Tag) -> None:
        for ch in n.children:
            if _is_text(ch):
                parts.append(str(ch))
            elif isinstance(ch, Tag):
                if ch.name in _SKIP:
                    continue
                if ch.name == "br":
                    parts.append(" ")
                elif ch.name in _BLOCK or ch.name in ("sub", "sup"):
                    parts.append(" ")
                    walk(ch)
                    parts.append(" ")
                else:
                    walk(ch)

    walk(node)
    return " ".join("".join(parts).split())


def _is_note(tag: Tag) -> bool:
    if tag.name == "sup":
        return True
    classes = tag.get("class") or []  # "institution", "td-footer", "label-date", not "candidate"
    return any(part in _NOTE_CLASSES for c in classes for part in re.split(r"[-_]", c.lower()))


class _Stop(Exception):
    pass


def _name(cell: Tag) -> str:
    """A system's name: the cell's leading text, before its first paragraph or line break, notes
    (institution, date, footnotes) dropped; the whole cell's text when that leaves nothing."""
    from bs4 import Tag

    parts: list[str] = []

    def has_text() -> bool:
        return bool(clean_name("".join(parts)))

    def walk(n: Tag) -> None:
        for ch in n.children:
            if _is_text(ch):
                parts.append(str(ch))
            elif isinstance(ch, Tag):
                if ch.name in _SKIP:
                    continue
                if _is_note(ch):  # an institution or date after the name ends it; a <sup> marker does not
                    if ch.name != "sup" and has_text():
                        raise _Stop
                    continue
                if ch.name in ("br", "hr"):
                    if has_text():
                        raise _Stop
                    parts.append(" ")
                elif ch.name in _BLOCK:
                    if has_text():
                        raise _Stop
                    parts.append(" ")
                    walk(ch)
                    parts.append(" ")
                    if has_text():
                        raise _Stop
                elif ch.name == "sub":
                    parts.append(" ")
                    walk(ch)
                    parts.append(" ")
                else:
                    walk(ch)

    try:
        walk(cell)
    except _Stop:
        pass
    name = clean_name("".join(parts))
    return name or clean_name(_text(cell))


@dataclass
class _Table:
    node: Tag
    index: int  # 1-based, among the page's tables in document order
    columns: list[str]  # full header names ("Joint F1")
    levels: list[list[str]]  # per column, the text of each header level
    data: list[list[Tag | None]]  # data rows, spans expanded
    placeholders: list[str]  # rows that only hold a message ("Loading…"), separators

    def label(self) -> str:
        cols = [c for c in self.columns if c][:12]
        return f"table {self.index} [{', '.join(cols) if cols else 'no headers'}]"

    def find(self, wanted: str, what: str) -> int | None:
        key = normalize_key(wanted)
        exact = [i for i, c in enumerate(self.columns) if normalize_key(c) == key]
        if exact:
            return exact[0]
        alnum = _alnum(wanted)
        loose = [i for i, c in enumerate(self.columns) if alnum and _alnum(c) == alnum]
        if loose:
            return loose[0]
        by_level = [i for i, lv in enumerate(self.levels) if any(normalize_key(t) == key for t in lv)]
        if len(by_level) == 1:
            return by_level[0]
        if len(by_level) > 1:
            names = ", ".join(repr(self.columns[i]) for i in by_level)
            raise ScrapeError(f"{what} {wanted!r} names several columns of {self.label()} ({names}): "
                              f"write the full column name")
        return None


def _alnum(text: str) -> str:
    return "".join(ch for ch in normalize_key(text) if ch.isalnum())


def _own_rows(table: Tag) -> list[Tag]:
    return [tr for tr in table.find_all("tr") if tr.find_parent("table") is table]


def _cells(tr: Tag) -> list[Tag]:
    return tr.find_all(["td", "th"], recursive=False)


def _span(cell: Tag, attr: str) -> int:
    try:
        n = int(str(cell.get(attr, "1")).strip() or 1)
    except ValueError:
        return 1
    return min(max(n, 1), 1000)


def _grid(rows: list[Tag]) -> list[list[Tag | None]]:
    """Rows with rowspan/colspan expanded: grid[r][c] is the cell covering that slot."""
    grid: list[list[Tag | None]] = []
    pending: dict[int, tuple[Tag, int]] = {}  # column -> (cell, rows still covered)
    for tr in rows:
        slots: dict[int, Tag] = {}
        col = 0
        for cell in _cells(tr):
            while col in pending:  # slots covered by a rowspan from above
                col += 1
            colspan, rowspan = _span(cell, "colspan"), _span(cell, "rowspan")
            for k in range(colspan):
                slots[col + k] = cell
                if rowspan > 1:
                    pending[col + k] = (cell, rowspan)  # counted down below, this row included
            col += colspan
        for c, (cell, left) in list(pending.items()):
            slots.setdefault(c, cell)
            if left <= 1:
                del pending[c]
            else:
                pending[c] = (cell, left - 1)
        width = max(slots, default=-1) + 1
        grid.append([slots.get(c) for c in range(width)])
    return grid


def _analyse(table: Tag, index: int) -> _Table:
    rows = [tr for tr in _own_rows(table) if tr.parent is None or tr.parent.name != "tfoot"]
    in_thead = [tr.parent is not None and tr.parent.name == "thead" for tr in rows]
    if any(in_thead):
        rows = [tr for tr, h in zip(rows, in_thead, strict=True) if h] + [
            tr for tr, h in zip(rows, in_thead, strict=True) if not h]
        n_head = sum(in_thead)
    else:
        n_head = 0
        for tr in rows:
            cells = _cells(tr)
            if cells and all(c.name == "th" for c in cells):
                n_head += 1
            else:
                break
        if n_head == 0 and rows:
            n_head = 1  # <td> used as header cells
    grid = _grid(rows)
    ncols = max((len(r) for r in grid), default=0)
    columns, levels = [], []
    for c in range(ncols):
        seen: set[int] = set()
        parts: list[str] = []
        for r in range(n_head):
            cell = grid[r][c] if c < len(grid[r]) else None
            if cell is not None and id(cell) not in seen:
                seen.add(id(cell))
                t = _text(cell)
                if t:
                    parts.append(t)
        columns.append(" ".join(parts))
        levels.append(parts)
    data, placeholders = [], []
    for row in grid[n_head:]:
        texts = [t for t in (_text(c) for c in {id(c): c for c in row if c is not None}.values()) if t]
        if not texts:
            continue
        text = " ".join(texts)
        if (len(texts) == 1 and ncols > 1) or _PLACEHOLDER.match(text):
            placeholders.append(text)
            continue
        data.append(row + [None] * (ncols - len(row)))
    return _Table(table, index, columns, levels, data, placeholders)


def _pick_table(soup: BeautifulSoup, options: ScrapeOptions) -> _Table:
    tables = soup.find_all("table")
    index = {id(t): i for i, t in enumerate(tables, start=1)}
    if options.selector:
        try:
            found = soup.select(options.selector)
        except Exception as exc:  # soupsieve's SelectorSyntaxError and friends
            raise ScrapeError(f"bad CSS selector {options.selector!r}: {exc}") from exc
        if not found:
            raise ScrapeError(f"the CSS selector {options.selector!r} matches nothing on the page")
        pool: list[Tag] = []
        taken: set[int] = set()  # by identity: Tag equality compares markup, and tabs can repeat it
        for el in found:
            for t in [el] if el.name == "table" else el.find_all("table"):
                if id(t) not in taken:
                    taken.add(id(t))
                    pool.append(t)
        if not pool:
            raise ScrapeError(f"the CSS selector {options.selector!r} matches no table (nor an element holding one)")
        where = f"the tables the selector {options.selector!r} matches"
    else:
        pool, where = tables, "the page's tables"
    if not tables:
        js = " (the page has scripts: it is probably filled by JavaScript)" if soup.find("script") else ""
        raise ScrapeError(f"no <table> on the page{js}")
    if options.table is not None:
        if not 1 <= options.table <= len(pool):
            raise ScrapeError(f"table {options.table} asked for, but {where} number {len(pool)}")
        chosen = pool[options.table - 1]
        pool = [chosen] + chosen.find_all("table")  # a layout table resolves to the table inside it
    analysed = []
    for t in pool:
        info = _analyse(t, index.get(id(t), 0))
        analysed.append(info)
        if info.find(options.metric, "metric") is not None:
            return info
    empty = [a for a in analysed if not a.data]
    seen = "; ".join(a.label() for a in analysed[:8]) + (" …" if len(analysed) > 8 else "")
    msg = f"no table names the metric {options.metric!r}; saw {seen}"
    if empty and all(not any(a.columns) or not a.data for a in analysed):
        nums = ", ".join(str(a.index) for a in empty)
        msg += (f"; table(s) {nums} have no data rows: the page is probably filled by JavaScript "
                f"(scrape the data file it loads, method api)")
    raise ScrapeError(msg)


def _rows(t: _Table, options: ScrapeOptions) -> list[Row]:
    metric_col = t.find(options.metric, "metric")
    assert metric_col is not None
    if not t.data:
        shown = f" (only {t.placeholders[0][:60]!r})" if t.placeholders else ""
        raise ScrapeError(f"{t.label()} has no data rows{shown}: it is filled by JavaScript; "
                          f"scrape the data file the page loads (method api)")
    rank_col = next((i for i, levels in enumerate(t.levels) if i != metric_col and any(
        _alnum(x) in _RANK_HEADERS or normalize_key(x) == "#" for x in levels)), None)
    if options.system_column:
        system_col = t.find(options.system_column, "system_column")
        if system_col is None:
            raise ScrapeError(f"no column {options.system_column!r} in {t.label()}")
    else:
        system_col = _guess_system_column(t, {metric_col, rank_col})
        if system_col is None:
            raise ScrapeError(f"no column of {t.label()} holds names; set system_column")
    out: list[Row] = []
    skipped: list[str] = []
    for row in t.data:
        score_cell, name_cell = row[metric_col], row[system_col]
        if score_cell is None or name_cell is None:
            continue
        score_text = _text(score_cell)
        score = try_score(score_text)
        if score is None:
            skipped.append(score_text)
            continue
        system = _name(name_cell)
        if not system:
            continue
        rank = None
        if rank_col is not None and row[rank_col] is not None:
            rank = parse_rank(_text(row[rank_col]))
        out.append(Row(rank=rank, system=system, score=score))
    if not out:
        sample = ", ".join(repr(s) for s in list(dict.fromkeys(skipped))[:3]) or "none"
        raise ScrapeError(f"no row of {t.label()} has a score in column {t.columns[metric_col]!r} (cells: {sample})")
    return out


def _guess_system_column(t: _Table, exclude: set[int | None]) -> int | None:
    for c in range(len(t.columns)):
        if c in exclude:
            continue
        texts = [clean_name(_text(row[c])) for row in t.data if row[c] is not None]
        texts = [x for x in texts if x and strip_symbols(x).strip()]
        if not texts:
            continue
        words = sum(1 for x in texts if try_score(x) is None)
        if words * 2 > len(texts):
            return c
    return None
