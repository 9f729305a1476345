"""``api``: a leaderboard's data file, JSON or CSV (by content type, else by sniffing: a body
starting with ``{`` or ``[`` is JSON).

Options (JSON):

- ``records``: the path from the document's root to the records; default: the root. Records are
  a list of objects, or an object keyed by system name (``{"GPT-4": {...}, ...}``: the key is the
  system unless ``system_column`` names a field). The path is dot-separated; a key that itself
  holds dots, ``+`` or ``@`` is matched literally first (the longest literal key wins before the
  path is split at a dot). A step may select from a list: ``name[field=value]`` takes the first
  element of the list ``name`` whose ``field`` equals ``value`` (``[field=value]`` alone selects
  in a list at the current level), and ``name[3]`` takes the element at that index (from 0).
  Example: ``leaderboards[name=Verified].results`` (SWE-bench), ``scores.test`` (MTEB).
- ``metric``: the path to the score inside one record, same syntax (``pass@1.humaneval+``,
  ``main_score``). Scores may be numbers or strings (``"77.47%"`` → 77.47, ``"0.85"``); null,
  "N/A", "-" and the like leave the record out.
- ``system_column``: the path to the system's name inside a record; default: the key of a
  dict-keyed record, else the first of name/model/system/method/... present.

CSV: ``metric`` and ``system_column`` are column names (compared like headers: whitespace
removed, case folded); the default system column is the first named like name/model/... else the
first column holding mostly text.

The rank comes from a field or column called ``rank`` (any case) when there is one, else None.
"""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any

from autobench.monitor.scrape.base import (
    Row,
    ScrapeError,
    ScrapeOptions,
    Scraper,
    clean_name,
    normalize_key,
    parse_rank,
    parse_score,
    try_score,
)

_NAME_FIELDS = ("name", "model", "model_name", "modelname", "system", "method", "agent", "submission",
                "team", "title")
_SELECT = re.compile(r"^(?P<key>.*?)(?P<sel>(?:\[[^\[\]]*\])+)$")
_MISSING = object()


class ApiScraper(Scraper):
    method = "api"

    def parse(self, body: bytes, options: ScrapeOptions, content_type: str | None = None) -> list[Row]:
        text = _decode(body)
        kind = _kind(text, content_type)
        if kind == "json":
            try:
                doc = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ScrapeError(f"not valid JSON: {exc}") from exc
            return _json_rows(doc, options)
        return _csv_rows(text, options)


def _decode(body: bytes | str) -> str:
    if isinstance(body, str):
        return body
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError:
        return body.decode("latin-1")


def _kind(text: str, content_type: str | None) -> str:
    ct = (content_type or "").lower()
    if "json" in ct:
        return "json"
    if "csv" in ct or "tab-separated" in ct:
        return "csv"
    return "json" if text.lstrip()[:1] in ("{", "[") else "csv"


# --- JSON paths ---------------------------------------------------------------------------------

def resolve(obj: Any, path: str) -> Any:
    """The value at ``path`` in ``obj`` (see the module docstring), or raise KeyError saying
    which step failed."""
    found = _resolve(obj, path.strip())
    if found is _MISSING:
        raise KeyError(path)
    return found


def _resolve(obj: Any, path: str) -> Any:
    if path == "":
        return obj
    if isinstance(obj, dict) and path in obj:
        return obj[path]
    cuts = [i for i, ch in enumerate(path) if ch == "."]
    for cut in reversed(cuts + [len(path)]):  # the longest literal head first
        head, rest = path[:cut], path[cut + 1:]
        value = _step(obj, head)
        if value is _MISSING:
            continue
        found = _resolve(value, rest)
        if found is not _MISSING:
            return found
    return _MISSING


def _step(obj: Any, head: str) -> Any:
    if isinstance(obj, dict) and head in obj:
        return obj[head]
    m = _SELECT.match(head)
    if not m:
        if isinstance(obj, list) and head.lstrip("-").isdigit():
            i = int(head)
            return obj[i] if -len(obj) <= i < len(obj) else _MISSING
        return _MISSING
    key, sel = m.group("key"), m.group("sel")
    value = obj if key == "" else (obj.get(key, _MISSING) if isinstance(obj, dict) else _MISSING)
    for one in re.findall(r"\[([^\[\]]*)\]", sel):
        if value is _MISSING:
            return _MISSING
        value = _select(value, one)
    return value


def _select(value: Any, sel: str) -> Any:
    if not isinstance(value, list):
        return _MISSING
    sel = sel.strip()
    if "=" in sel:
        field, want = (s.strip() for s in sel.split("=", 1))
        want = want.strip("'\"")
        for match in (lambda v: v == want, lambda v: v.casefold() == want.casefold()):
            for el in value:
                if isinstance(el, dict) and field in el and match(str(el[field])):
                    return el
        return _MISSING
    if sel.lstrip("-").isdigit():
        i = int(sel)
        return value[i] if -len(value) <= i < len(value) else _MISSING
    return _MISSING


def _describe(obj: Any) -> str:
    if isinstance(obj, dict):
        keys = list(obj)
        return "an object with keys " + ", ".join(map(str, keys[:15])) + (" …" if len(keys) > 15 else "")
    if isinstance(obj, list):
        return f"a list of {len(obj)}"
    return f"a {type(obj).__name__}"


def _records_hint(doc: Any, path: str) -> str:
    """Where a records path stops matching: the longest prefix that resolves and what is there."""
    parts = path.split(".")
    for n in range(len(parts), 0, -1):
        prefix = ".".join(parts[:n])
        for candidate in dict.fromkeys((prefix, re.sub(r"(\[[^\[\]]*\])+$", "", prefix))):
            found = _resolve(doc, candidate) if candidate and candidate != path else _MISSING
            if found is _MISSING:
                continue
            extra = ""
            if isinstance(found, list):
                names = [str(el.get("name")) for el in found if isinstance(el, dict) and "name" in el]
                extra = f" (names: {', '.join(names[:10])})" if names else ""
            return f"{candidate} is {_describe(found)}{extra}"
    return f"the root is {_describe(doc)}"


def _json_rows(doc: Any, options: ScrapeOptions) -> list[Row]:
    records = doc
    if options.records:
        records = _resolve(doc, options.records)
        if records is _MISSING:
            raise ScrapeError(f"records path {options.records!r} not found: {_records_hint(doc, options.records)}")
    if isinstance(records, dict):
        items = [(str(k), v) for k, v in records.items()]
    elif isinstance(records, list):
        items = [(None, v) for v in records]
    else:
        raise ScrapeError(f"records{' at ' + repr(options.records) if options.records else ''} are "
                          f"{_describe(records)}, not a list or an object of records")
    if not items:
        raise ScrapeError("no records: the list is empty")
    name_field = options.system_column
    if name_field is None and any(k is None for k, _ in items):
        first = next((v for _, v in items if isinstance(v, dict)), {})
        name_field = next((k for f in _NAME_FIELDS for k in first if isinstance(k, str) and k.casefold() == f), None)
        if name_field is None:
            raise ScrapeError(f"records have no name field ({_describe(first)}): set system_column")
    rows: list[Row] = []
    found_metric = bad = 0
    for key, rec in items:
        score_raw = _resolve(rec, options.metric) if isinstance(rec, dict | list) else _MISSING
        if score_raw is _MISSING:
            continue
        found_metric += 1
        if isinstance(score_raw, dict | list):
            bad += 1
            continue
        score = try_score(score_raw)
        if score is None:
            continue
        if name_field is not None:
            name_raw = _resolve(rec, name_field)
            if name_raw is _MISSING or name_raw is None or isinstance(name_raw, dict | list):
                continue
            system = clean_name(str(name_raw))
        else:
            system = clean_name(str(key))
        if not system:
            continue
        rank = None
        if isinstance(rec, dict):
            rank_key = next((k for k in rec if isinstance(k, str) and k.casefold() == "rank"), None)
            rank = parse_rank(rec[rank_key]) if rank_key is not None else None
        rows.append(Row(rank=rank, system=system, score=score))
    if not found_metric:
        first = next((v for _, v in items if isinstance(v, dict)), None)
        raise ScrapeError(f"no record has the metric {options.metric!r} (a record is {_describe(first)})")
    if not rows:
        what = "not a number" if bad else "missing (null, N/A) in every record"
        raise ScrapeError(f"no record has a score for {options.metric!r}: {what}")
    return rows


# --- CSV ----------------------------------------------------------------------------------------

def _csv_rows(text: str, options: ScrapeOptions) -> list[Row]:
    sample = text[:4096]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    table = [r for r in reader if any(c.strip() for c in r)]
    if not table:
        raise ScrapeError("the CSV file is empty")
    header, data = [h.strip() for h in table[0]], table[1:]
    if not data:
        raise ScrapeError(f"the CSV file has a header ({', '.join(header[:12])}) and no rows")

    def column(wanted: str, what: str) -> int:
        key = normalize_key(wanted)
        for i, h in enumerate(header):
            if normalize_key(h) == key:
                return i
        shown = ", ".join(header[:40]) + (" …" if len(header) > 40 else "")
        raise ScrapeError(f"no CSV column {wanted!r} ({what}); columns: {shown}")

    metric_col = column(options.metric, "metric")
    rank_col = next((i for i, h in enumerate(header) if normalize_key(h) == "rank"), None)
    if options.system_column:
        system_col = column(options.system_column, "system_column")
    else:
        system_col = next((i for f in _NAME_FIELDS for i, h in enumerate(header) if normalize_key(h) == f), None)
        if system_col is None:
            for i in range(len(header)):
                if i in (metric_col, rank_col):
                    continue
                cells = [r[i].strip() for r in data if i < len(r) and r[i].strip()]
                if cells and sum(1 for c in cells if try_score(c) is None) * 2 > len(cells):
                    system_col = i
                    break
        if system_col is None:
            raise ScrapeError("no CSV column holds names: set system_column")
    rows: list[Row] = []
    for r in data:
        if max(metric_col, system_col) >= len(r):
            continue
        try:
            score = parse_score(r[metric_col])
        except ValueError:
            score = None
        system = clean_name(r[system_col])
        if score is None or not system:
            continue
        rank = parse_rank(r[rank_col]) if rank_col is not None and rank_col < len(r) else None
        rows.append(Row(rank=rank, system=system, score=score))
    if not rows:
        raise ScrapeError(f"no CSV row has a score in column {header[metric_col]!r}")
    return rows
