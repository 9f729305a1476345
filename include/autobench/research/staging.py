"""The fetch half of a research-ingest cycle: each source's new papers, staged for the cycle to read.

:func:`fetch_source` reads one source (:mod:`autobench.research.paper_sources`) from its
watermark and writes what it found, or why it failed, under ``state/ingest_runs/<run>/``
(refetched on a re-run; the newest :data:`KEEP_STAGED_RUNS` runs are kept). :func:`collect`
reads a run's staging back: papers deduplicated by versionless id (the highest version wins), the
new ones apart from those seen in earlier weeks (a new version of a known paper is noted), and
each source's newest paper.

One watermark per source, keyed by its name: it moves only when that source's fetch succeeded,
to the newest ``updated`` among its papers but never past the run's time, so a source that failed
this week is read from where it was next week, and a feed item dated 2099 does not hide every
later paper. A source without one starts at the single watermark of older state files (moved
into the per-source ones on the next write), else with no watermark (the source's own limits).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autobench import fsio
from autobench.clock import ensure_utc, iso
from autobench.errors import AutobenchError
from autobench.schemas import INGEST, RESEARCH_CONFIG, IngestState
from autobench.store import StateStore

STAGING = Path("state") / "ingest_runs"
KEEP_STAGED_RUNS = 8


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")[:60] or "source"


def run_key(dag_run_id: str) -> str:
    """The staging folder's name for a DAG run (its id made a safe folder name, and unique)."""
    return _slug(dag_run_id)[:40] + "-" + hashlib.sha1(dag_run_id.encode()).hexdigest()[:8]


def as_utc(value: Any) -> dt.datetime:
    """A datetime or an ISO 8601 string (``Z`` allowed) as an aware UTC datetime."""
    if isinstance(value, dt.datetime):
        return ensure_utc(value)
    return ensure_utc(dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")))


def source_watermark(state: IngestState, name: str, now: dt.datetime) -> dt.datetime | None:
    """Where the source named ``name`` reads from: its own watermark, else the single one of an
    older state file, else none; never later than ``now``."""
    mark = state.watermarks.get(name, state.watermark)
    return None if mark is None else min(ensure_utc(mark), ensure_utc(now))


def merged_watermarks(doc: dict[str, Any], advanced: dict[str, dt.datetime], names: list[str],
                      now: dt.datetime) -> dict[str, str]:
    """The per-source watermarks after a run: the old ones, the single legacy watermark given to
    every known source without one (the migration), then each successful source's newest paper,
    clamped to ``now``; a watermark never moves back."""
    now = ensure_utc(now)
    marks = {str(k): as_utc(v) for k, v in (doc.get("watermarks") or {}).items()}
    legacy = doc.get("watermark")
    if legacy:
        start = min(as_utc(legacy), now)
        for name in names:
            marks.setdefault(name, start)
    for name, newest in advanced.items():
        newest = min(newest, now)
        marks[name] = max(marks[name], newest) if name in marks else newest
    return {name: iso(mark) for name, mark in marks.items()}


# ----------------------------------------------------------------------------- fetching


def fetch_source(store: StateStore, spec, now: dt.datetime, dag_run_id: str,
                 api_key: str | None = None) -> dict[str, Any]:
    """Fetch one source's new papers (``spec``: a :class:`~autobench.research.paper_sources.SourceSpec`)
    into the run's staging folder; a source that fails is staged with its error, not raised."""
    from autobench.research import paper_sources

    config = store.load(RESEARCH_CONFIG)
    since = source_watermark(store.load(INGEST), spec.name, now)
    folder = store.home / STAGING / run_key(dag_run_id)
    path = folder / f"{_slug(spec.kind + '-' + spec.target)}-{hashlib.sha1(spec.target.encode()).hexdigest()[:6]}.json"
    record: dict[str, Any] = {"source": spec.as_dict(), "fetched_at": iso(now), "papers": [], "error": None}
    try:
        source = paper_sources.build(spec, config, home=store.home, now=now, api_key=api_key)
        record["papers"] = [p.as_dict() for p in source.fetch(since)]
    except paper_sources.SourceError as exc:
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        # the error names its source first; the record names it already
        record["error"] = text.split(": ", 1)[1] if ": " in text and text.split(": ", 1)[0].replace(" ", "") == \
            f"{spec.kind}:{spec.target}".replace(" ", "") else text
    folder.mkdir(parents=True, exist_ok=True)
    fsio.atomic_write(path, json.dumps(record, ensure_ascii=False) + "\n")
    return {"source": spec.name, "papers": len(record["papers"]), "error": record["error"],
            "staged": str(path.relative_to(store.home))}


def prune(home: Path) -> None:
    """Keep the newest :data:`KEEP_STAGED_RUNS` runs' staging folders."""
    import shutil

    root = home / STAGING
    if not root.is_dir():
        return
    runs = sorted((p for p in root.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
    for old in runs[:-KEEP_STAGED_RUNS]:
        shutil.rmtree(old, ignore_errors=True)


# ----------------------------------------------------------------------------- reading it back


@dataclass
class Collected:
    """A run's staged papers, read back (see :func:`collect`)."""

    papers: list[dict[str, Any]] = field(default_factory=list)  # new this run, in staging order
    kinds: dict[str, str] = field(default_factory=dict)  # paper id -> the kind of source it came from
    advanced: dict[str, dt.datetime] = field(default_factory=dict)  # source name -> its newest paper
    sources: list[str] = field(default_factory=list)  # the staged sources' names
    fetched: int = 0
    errors: list[dict[str, str]] = field(default_factory=list)  # {"source", "reason"}
    new_versions: list[str] = field(default_factory=list)  # "<id>v<version>" of papers seen before


def version(paper: dict[str, Any]) -> int:
    """A staged paper's arXiv version (1 when the source does not say)."""
    return int(paper.get("version") or 1)


def _staged(home: Path, dag_run_id: str) -> list[dict[str, Any]]:
    folder = home / STAGING / run_key(dag_run_id)
    out = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            out.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            raise AutobenchError(f"{path}: unreadable staged papers: {exc}") from None
    return out


def collect(home: Path, dag_run_id: str, seen: dict[str, int]) -> Collected:
    """What the run's fetches staged: each paper once (its highest version), the papers not in
    ``seen`` (id → version of earlier weeks; a higher version of a seen paper is noted and its
    version recorded in ``seen``), and the newest paper of each source that did not fail."""
    out = Collected()
    by_id: dict[str, dict[str, Any]] = {}
    for staged in _staged(home, dag_run_id):
        name = staged["source"]["name"]
        out.sources.append(name)
        failed = bool(staged.get("error"))
        if failed:
            out.errors.append({"source": name, "reason": staged["error"]})
        for paper in staged.get("papers", []):
            out.fetched += 1
            pid = paper["id"]
            if not failed:
                updated = as_utc(paper.get("updated") or paper["published"])
                out.advanced[name] = max(out.advanced.get(name, updated), updated)
            if pid in by_id and version(by_id[pid]) >= version(paper):
                continue
            by_id[pid] = paper
            out.kinds[pid] = staged["source"]["kind"]
    for pid, paper in by_id.items():
        if pid in seen:
            if version(paper) > seen[pid]:
                out.new_versions.append(f"{pid}v{version(paper)}")
                seen[pid] = version(paper)
            continue
        out.papers.append(paper)
    return out
