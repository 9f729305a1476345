"""The weekly research ingest (seed 002 phases 3 and 4): papers → techniques → hypotheses.

One cycle, keyed on the run id (manual and Asset-triggered runs have no ``ds``):

1. :func:`fetch_source` per source of ``research_config.yaml`` (the DAG maps one task per
   source; one broken source does not stop the others): only papers newer than that source's
   watermark in ``state/ingest.json``; the papers are staged under ``state/ingest_runs/<run>/``.
2. :func:`process`: dedupe by versionless arXiv id across weeks (a new version of a known
   paper is noted, not re-ingested); the relevance screen (:mod:`autobench.research.relevance`);
   technique extraction (:mod:`autobench.research.techniques`, the catalog extendable in the state
   folder); a ``research_log.md`` entry per relevant paper in the seed's format with each
   technique's disposition; competitor posts diffed against production (§3.3); hypotheses for
   the techniques that apply, are not in production and were never tried, with the gap-size
   strategy of §4.3 (gap < 1%: fine-grained lr / weight decay; 1–5%: component ablations;
   > 5%: no experiment, the gap noted for the digest); the watermarks and the seen ids.

One watermark per source (keyed by its name, :func:`source_specs`): it moves only when that
source's fetch succeeded, to the newest ``updated`` among its papers but never past the run's
time, so a source that failed this week is read from where it was next week, and a feed item
dated 2099 does not hide every later paper. A source without one starts at the single
watermark of older state files (moved into the per-source ones on the next write), else with
no watermark (the source's own limits apply).

Nothing is written twice for one run: log entries carry a marker per paper, hypotheses are
deduplicated by their config patch against every hypothesis ever made, and the seen ids make a
re-run of the same week find nothing new. Each hypothesis a run adds carries a note naming the
run, so a retry of that run (say after a crash between the queue and ``state/ingest.json``)
reports the same ``hypotheses_added`` and the DAG still announces them.

Every piece of web- or LLM-sourced text in ``research_log.md`` (titles, quoted sentences,
technique names, venues, URLs) is escaped with :mod:`autobench.escaping`: it shows as written
and never becomes a link, heading or formatting of its own.
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
from autobench.escaping import md_text
from autobench.hypothesis_queue import patch_applied
from autobench.schemas import (
    CLOSED_STATUSES,
    INGEST,
    QUEUE,
    REGISTRY,
    RESEARCH_CONFIG,
    IngestState,
    Registry,
    ResearchConfig,
)
from autobench.store import StateStore

RESEARCH_LOG = "research_log.md"
STAGING = Path("state") / "ingest_runs"
KEEP_STAGED_RUNS = 8
BUCKET_GAIN = {"Low": 0.005, "Medium": 0.02, "High": 0.04}  # a technique's expected gain without a reported one
MAX_NEW_HYPOTHESES = 10  # per cycle
GAP_STRATEGY: dict[str, list[tuple[str, str, dict[str, Any], str]]] = {
    # (title, change, patch, effort): seed 002 §4.3, for the reference solution's knobs
    "fine": [
        ("A higher learning rate converges further in the same budget", "lr × 5/3", {"lr": "×5/3"}, "Low"),
        ("A lower learning rate settles into a better optimum", "lr × 2/3", {"lr": "×2/3"}, "Low"),
        ("Weight decay regularises the recall model", "weight_decay 0 → 0.01", {"weight_decay": 0.01}, "Low"),
    ],
    "component": [
        ("More attention heads separate more keys", "heads × 2", {"heads": "×2"}, "Medium"),
        ("A deeper model composes key matching and value lookup", "depth + 1", {"depth": "+1"}, "Medium"),
        ("A wider model stores more key-value pairs", "width × 2", {"width": "×2"}, "Medium"),
    ],
}


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")[:60] or "source"


def run_key(run_id: str) -> str:
    return _slug(run_id)[:40] + "-" + hashlib.sha1(run_id.encode()).hexdigest()[:8]


# ----------------------------------------------------------------------------- sources


@dataclass(frozen=True)
class SourceSpec:
    """What a mapped fetch task receives: enough to rebuild the source (JSON-able)."""

    kind: str  # arxiv | feed | competitor | citations
    name: str
    target: str  # the query, the feed URL/path, or the comma-joined paper ids

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "name": self.name, "target": self.target}


def source_specs(config: ResearchConfig) -> list[SourceSpec]:
    rs = config.research_sources
    specs = [SourceSpec("arxiv", f"arxiv: {q}", q) for q in rs.arxiv_queries]
    specs += [SourceSpec("competitor", f"competitor blog: {u}", u) for u in rs.competitor_blogs]
    specs += [SourceSpec("feed", f"feed: {u}", u) for u in rs.local_feeds]
    if rs.citation_tracking and rs.citation_tracking.papers:
        specs.append(SourceSpec("citations", "citations of our core method", ",".join(rs.citation_tracking.papers)))
    return specs


def build_source(spec: SourceSpec, config: ResearchConfig, home: Path, api_key: str | None = None,
                 now: dt.datetime | None = None):
    from autobench.research import paper_sources as ps

    if spec.kind == "arxiv":
        a = config.arxiv
        return ps.ArxivSource(spec.target, page_size=a.page_size, max_results=a.max_results,
                              delay_seconds=None if a.delay_seconds == 3.0 else a.delay_seconds,
                              retries=a.retries, timeout_seconds=a.timeout_seconds,
                              sort="updated")  # so a new version of a known paper shows up, to be noted
    if spec.kind in ("feed", "competitor"):
        return ps.FeedSource(spec.target, home, now=now)
    if spec.kind == "citations":
        ct = config.research_sources.citation_tracking
        return ps.CitationSource(ct.api_url, spec.target.split(","), api_key or ps.api_key_from_env())
    raise AutobenchError(f"unknown source kind {spec.kind!r}")


def fetch_source(store: StateStore, spec: SourceSpec, now: dt.datetime, run_id: str,
                 api_key: str | None = None) -> dict[str, Any]:
    """Fetch one source's new papers into the run's staging folder (refetched on a re-run)."""
    from autobench.research.paper_sources import SourceError

    config: ResearchConfig = store.load(RESEARCH_CONFIG)
    since = source_watermark(store.load(INGEST), spec.name, now)
    folder = store.home / STAGING / run_key(run_id)
    path = folder / f"{_slug(spec.kind + '-' + spec.target)}-{hashlib.sha1(spec.target.encode()).hexdigest()[:6]}.json"
    record: dict[str, Any] = {"source": spec.as_dict(), "fetched_at": iso(now), "papers": [], "error": None}
    try:
        source = build_source(spec, config, store.home, api_key, now)
        papers = source.fetch(since)
        record["papers"] = [p.as_dict() for p in papers]
    except SourceError as exc:
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        # the error names its source first; the record names it already
        record["error"] = text.split(": ", 1)[1] if ": " in text and text.split(": ", 1)[0].replace(" ", "") == \
            f"{spec.kind}:{spec.target}".replace(" ", "") else text
    folder.mkdir(parents=True, exist_ok=True)
    fsio.atomic_write(path, json.dumps(record, ensure_ascii=False) + "\n")
    return {"source": spec.name, "papers": len(record["papers"]), "error": record["error"],
            "staged": str(path.relative_to(store.home))}


def source_watermark(state: IngestState, name: str, now: dt.datetime) -> dt.datetime | None:
    """Where the source named ``name`` reads from: its own watermark, else the single one of an
    older state file, else none; never later than ``now``."""
    mark = state.watermarks.get(name, state.watermark)
    return None if mark is None else min(ensure_utc(mark), ensure_utc(now))


def _when(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return ensure_utc(value)
    return ensure_utc(dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")))


def _merged_watermarks(doc: dict[str, Any], advanced: dict[str, dt.datetime], names: list[str],
                       now: dt.datetime) -> dict[str, str]:
    """The per-source watermarks after a run: the old ones, the single legacy watermark given to
    every known source without one (the migration), then each successful source's newest paper,
    clamped to ``now``; a watermark never moves back."""
    now = ensure_utc(now)
    marks = {str(k): _when(v) for k, v in (doc.get("watermarks") or {}).items()}
    legacy = doc.get("watermark")
    if legacy:
        start = min(_when(legacy), now)
        for name in names:
            marks.setdefault(name, start)
    for name, newest in advanced.items():
        newest = min(newest, now)
        marks[name] = max(marks[name], newest) if name in marks else newest
    return {name: iso(mark) for name, mark in marks.items()}


def _added_note(run_id: str) -> str:
    return f"added by research ingest {run_id}"


def _added_by(hypothesis, run_id: str) -> bool:
    note = _added_note(run_id)
    return any(n == note or n.endswith(" " + note) for n in hypothesis.notes[:1])


# ----------------------------------------------------------------------------- processing


@dataclass
class Cycle:
    papers_fetched: int = 0
    papers_new: int = 0
    relevant: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # read and found irrelevant: "id: title"
    techniques: int = 0
    hypotheses_added: list[str] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)
    new_versions: list[str] = field(default_factory=list)
    gap_notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"papers_fetched": self.papers_fetched, "papers_new": self.papers_new, "relevant": self.relevant,
                "skipped": self.skipped, "techniques": self.techniques, "hypotheses_added": self.hypotheses_added, "errors": self.errors,
                "new_versions": self.new_versions, "gap_notes": self.gap_notes}


def _staged(home: Path, run_id: str) -> list[dict[str, Any]]:
    folder = home / STAGING / run_key(run_id)
    out = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            out.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            raise AutobenchError(f"{path}: unreadable staged papers: {exc}") from None
    return out


def _version_key(paper: dict[str, Any]) -> int:
    return int(paper.get("version") or 1)


def gaps(registry: Registry) -> dict[str, float]:
    """Gap to #1 per leaderboard in points of the fraction scale (positive: we are behind)."""
    out: dict[str, float] = {}
    ours = registry.our_solution
    for lb in registry.target_leaderboards:
        score = ours.published_scores.get(lb.name, ours.current_scores.get(lb.name))
        comps = [c.latest_score for c in registry.competitors if c.source == lb.name and c.latest_score is not None]
        if score is None or not comps:
            continue
        best = max(comps) if lb.higher_is_better else min(comps)
        gap = (best - score) if lb.higher_is_better else (score - best)
        out[lb.name] = round(100 * gap, 4)
    return out


def _resolve_patch(patch: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """Relative patches of the gap strategy ("×2", "+1", "×5/3") against production's config."""
    out: dict[str, Any] = {}
    for key, value in patch.items():
        if isinstance(value, str) and value[:1] in "×+" and key in config and isinstance(config[key], (int, float)):
            base = config[key]
            if value.startswith("×"):
                num, _, den = value[1:].partition("/")
                new = base * float(num) / float(den or 1)
            else:
                new = base + float(value[1:])
            out[key] = int(round(new)) if isinstance(base, int) and not isinstance(base, bool) else round(new, 6)
        else:
            out[key] = value
    return out


def _tried(patch: dict[str, Any], queue) -> Any:
    for h in queue.hypotheses:
        if h.implementation.config_patch == patch:
            return h
    return None


def llm_from_env(config: ResearchConfig):
    """The optional LLM extractor for the command line: on only when the config enables it and
    ``AUTOBENCH_LLM_URL`` (an OpenAI-compatible base URL) is set; the key from
    ``AUTOBENCH_LLM_API_KEY``. The DAG builds it from the Airflow connection instead."""
    import os

    if not config.llm_extractor.enabled:
        return None
    url = os.environ.get("AUTOBENCH_LLM_URL")
    if not url:
        raise AutobenchError("research_config.yaml: llm_extractor.enabled is true but AUTOBENCH_LLM_URL is not set "
                             f"(or use the Airflow connection {config.llm_extractor.connection_id!r})")
    from autobench.research.llm_extractor import LLMExtractor

    return LLMExtractor(url, os.environ.get("AUTOBENCH_LLM_API_KEY"), config.llm_extractor.model or "gpt-4o-mini")


def _with_llm(found: list, llm, text: str, catalog) -> list:
    """Add what the LLM found that the catalog's patterns missed (the catalog wins on a name)."""
    from autobench.research.techniques import Extracted, Technique

    known = {item.technique.name.casefold() for item in found}
    for t in llm.extract(text, catalog):
        if t["name"].casefold() in known:
            continue
        tech = Technique(t["name"], t["category"], t["effort"], (), dict(t.get("config_patch") or {}),
                         "suggested by the LLM extractor")
        found.append(Extracted(tech, t.get("impact"), t.get("evidence") or ""))
        known.add(t["name"].casefold())
    return found


def process(store: StateStore, now: dt.datetime, run_id: str, llm=None) -> dict[str, Any]:
    """Screen, extract, log and queue everything this run's fetches staged."""
    from autobench import hypothesis_queue as hq
    from autobench.research.relevance import screen
    from autobench.research.techniques import extract_techniques, load_catalog, parse_gains

    registry: Registry = store.load(REGISTRY)
    config: ResearchConfig = store.load(RESEARCH_CONFIG)
    state = store.load(INGEST)
    seen = dict(state.seen)
    cycle = Cycle()
    papers: list[dict[str, Any]] = []
    kinds: dict[str, str] = {}
    advanced: dict[str, dt.datetime] = {}  # source name -> its newest paper, for the sources that answered
    names = [spec.name for spec in source_specs(config)]
    by_id: dict[str, dict[str, Any]] = {}
    for staged in _staged(store.home, run_id):
        name = staged["source"]["name"]
        names.append(name)
        failed = bool(staged.get("error"))
        if failed:
            cycle.errors.append({"source": name, "reason": staged["error"]})
        for paper in staged.get("papers", []):
            cycle.papers_fetched += 1
            pid = paper["id"]
            if not failed:
                updated = _when(paper.get("updated") or paper["published"])
                advanced[name] = max(advanced.get(name, updated), updated)
            if pid in by_id and _version_key(by_id[pid]) >= _version_key(paper):
                continue
            by_id[pid] = paper
            kinds[pid] = staged["source"]["kind"]
    for pid, paper in by_id.items():
        if pid in seen:
            if _version_key(paper) > seen[pid]:
                cycle.new_versions.append(f"{pid}v{_version_key(paper)}")
                seen[pid] = _version_key(paper)
            continue
        papers.append(paper)
    cycle.papers_new = len(papers)

    boards = [(lb.name, [lb.name, *lb.aliases]) for lb in registry.target_leaderboards]
    catalog = load_catalog(store.home)
    venues = [_venue(p, config.research_sources.venues) for p in papers]
    verdicts = screen(papers, registry, config.relevance_threshold, venues=venues) if papers else []
    queue = store.load(QUEUE)
    production = registry.our_solution.config
    gap_by_board = gaps(registry)
    log_entries: list[str] = []
    new_hypotheses: list[dict[str, Any]] = []
    planned_patches: list[dict[str, Any]] = []

    def plan(patch: dict[str, Any]) -> bool:
        if patch_applied(patch, production) or _tried(patch, queue) or patch in planned_patches:
            return False
        planned_patches.append(patch)
        return True

    for index, (paper, verdict) in enumerate(zip(papers, verdicts, strict=True)):
        pid = paper["id"]
        seen[pid] = _version_key(paper)
        competitor = kinds.get(pid) == "competitor"
        if not verdict.relevant and not competitor:
            cycle.skipped.append(f"{pid}: {paper['title']}")
            continue
        text = f"{paper['title']}. {paper.get('summary') or ''}"
        found = extract_techniques(text, catalog, boards)
        if llm is not None:
            found = _with_llm(found, llm, text, catalog)
        gains_found = parse_gains(text, boards)
        cycle.relevant.append(pid)
        cycle.techniques += len(found)
        targets = list(verdict.leaderboards) or sorted(gap_by_board, key=lambda b: -gap_by_board[b])[:1] or \
            [registry.target_leaderboards[0].name]
        dispositions = []
        for item in found:
            tech = item.technique
            patch = dict(tech.config_patch)
            if not patch:
                dispositions.append((item, "not applicable to our architecture without a redesign"))
                continue
            if patch_applied(patch, production):
                dispositions.append((item, "already in production"))
                continue
            tried = _tried(patch, queue)
            if tried is not None:
                word = tried.status if tried.status in CLOSED_STATUSES else f"{tried.status} (open)"
                dispositions.append((item, f"already tried: {md_text(tried.id)} {word}"))
                continue
            worst = max((gap_by_board.get(t, 0.0) for t in targets), default=0.0)
            if worst > 5.0:
                dispositions.append((item, f"gap {worst:.1f} points > 5: an architectural change is needed; noted for the digest"))
                continue
            if len(new_hypotheses) >= MAX_NEW_HYPOTHESES or not plan(patch):
                dispositions.append((item, "already planned this cycle"))
                continue
            gain = _estimated_gain(item, gains_found, targets)
            source = _source_label(paper, competitor)
            gap_text = ", ".join(f"gap to #1 on {t} = {gap_by_board[t] / 100:.3f}" for t in targets if t in gap_by_board)
            new_hypotheses.append(_hypothesis(registry, tech, patch, gain, targets,
                                              f"{source}" + (f" + gap analysis ({gap_text})" if gap_text else ""),
                                              paper["title"]))
            dispositions.append((item, "PRIORITIZED"))
        log_entries.append(_log_entry(paper, verdict, gains_found, dispositions, now, competitor,
                                      venues[index]))

    # the gap-size strategy (§4.3): hypotheses that do not come from papers
    for board, gap in sorted(gap_by_board.items(), key=lambda kv: -kv[1]):
        if gap <= 0:
            continue
        if gap > 5.0:
            cycle.gap_notes.append(f"{board}: gap to #1 is {gap:.1f} points (> 5): architectural change needed; "
                                   "escalation is the digest's call")
            continue
        band = "fine" if gap < 1.0 else "component"
        for title, change, rel, effort in GAP_STRATEGY[band]:
            patch = _resolve_patch(rel, production)
            if len(new_hypotheses) >= MAX_NEW_HYPOTHESES or not plan(patch):
                continue
            tech_gain = min(gap / 100, BUCKET_GAIN["Low"])  # no evidence behind it: below the papers' hypotheses
            new_hypotheses.append({
                "title": title,
                "claim": f"{change} will improve {board} by at least {tech_gain:.3f}",
                "source": f"gap analysis (gap to #1 on {board} = {gap / 100:.3f}; seed 002 §4.3 "
                          f"{'fine-grained search' if band == 'fine' else 'component ablation'})",
                "target_leaderboards": [board],
                "implementation": {"change": change, "effort": effort, "estimated_gain": round(tech_gain, 4),
                                   "config_patch": patch},
            })

    # a waiting hypothesis whose patch production already has is moot
    moot = hq.superseded(queue, production, "production's config already has its patch")
    if moot:
        hq.set_status(store, moot, now)
    if log_entries:
        _append_log(store, run_id, now, cycle, log_entries)
    # what an earlier, interrupted attempt of this run added (the queue kept it; the state may not have)
    cycle.hypotheses_added = [h.id for h in queue.hypotheses if _added_by(h, run_id)]
    if new_hypotheses:
        for h in new_hypotheses:
            h["notes"] = [f"{iso(now)} {_added_note(run_id)}"]
        added = hq.add(store, f"research ingest {run_id}", {"hypotheses": new_hypotheses}, now)
        cycle.hypotheses_added += [h.id for h in added]
    with store.edit(INGEST) as doc:
        doc["seen"] = seen
        doc["watermarks"] = _merged_watermarks(doc, advanced, names, now)
        doc.pop("watermark", None)  # moved into the per-source watermarks
        doc["last_run_id"] = run_id
    _prune_staging(store.home)
    return cycle.as_dict()


def _venue(paper: dict[str, Any], venues: list[str]) -> str | None:
    """The watched venue (research_config's ``venues``) named in the comment or journal_ref."""
    if not venues or not (paper.get("comment") or paper.get("journal_ref")):
        return None
    from types import SimpleNamespace

    from autobench.research.paper_sources import matches_venue

    return matches_venue(SimpleNamespace(comment=paper.get("comment"), journal_ref=paper.get("journal_ref")), venues)


def _estimated_gain(item, gains_found, targets: list[str]) -> float:
    attributed = [g.gain for g in gains_found if g.gain > 0 and (g.leaderboard is None or g.leaderboard in targets)]
    if attributed:
        return round(min(max(attributed), 0.1), 4)
    return BUCKET_GAIN.get(item.impact or "Low", BUCKET_GAIN["Low"])


def _source_label(paper: dict[str, Any], competitor: bool) -> str:
    pid = paper["id"]
    if pid.startswith("url:"):
        label = paper.get("url") or pid[4:]
    elif pid.startswith("doi:"):
        label = pid.upper()
    else:
        label = f"arXiv:{pid}"
    return f"competitor post {label}" if competitor else label


def _hypothesis(registry: Registry, tech, patch, gain: float, targets: list[str], source: str, title: str) -> dict[str, Any]:
    board = targets[0]
    ours = registry.our_solution.published_scores.get(board, registry.our_solution.current_scores.get(board))
    claim = (f"Applying {tech.name.lower()} to our solution will improve {board} from {ours:.3f} to ≥{ours + gain:.3f}"
             if ours is not None else f"Applying {tech.name.lower()} will improve {board} by at least {gain:.3f}")
    change = tech.description or ", ".join(f"{k}: {v}" for k, v in patch.items())
    return {
        "title": f"{tech.name} (from \"{_short(title, 70)}\")",
        "claim": claim,
        "source": source,
        "target_leaderboards": targets,
        "implementation": {"change": change, "effort": tech.effort, "estimated_gain": gain, "config_patch": patch},
    }


def _short(text: str, n: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1] + "…"


_PLAIN_URL = re.compile(r"https?://[^\s<>\x00-\x1f\x7f]+", re.IGNORECASE)


def _md_link(url: Any) -> str:
    """A URL for Markdown: an autolink ``<url>`` when it is a plain http(s) URL (nothing in it can
    end the autolink), else the text escaped (shown, not followed)."""
    text = "" if url is None else str(url)
    return f"<{text}>" if _PLAIN_URL.fullmatch(text) else md_text(text)


def _md_source(paper: dict[str, Any]) -> str:
    pid = paper["id"]
    if pid.startswith("url:"):
        return _md_link(paper.get("url") or pid[4:])
    return md_text(_source_label(paper, False))


def _comment_safe(text: Any) -> str:
    """Text inside an HTML comment on one line: ``--``, ``<``, ``>`` and whitespace percent-encoded
    (so ``-->`` cannot end the comment, nor a line break the marker); plain ids are unchanged."""
    return re.sub(r"-(?=-)|[<>\s]", lambda m: "".join(f"%{b:02X}" for b in m.group().encode()), str(text))


def _log_entry(paper, verdict, gains_found, dispositions, now: dt.datetime, competitor: bool,
               venue: str | None = None) -> str:
    pid = paper["id"]
    boards = ", ".join(md_text(b) for b in verdict.leaderboards) or f"none named ({md_text(verdict.reason)})"
    lines = [f"## [{iso(now)[:10]}] {'Competitor post' if competitor else 'Paper'}: \"{md_text(paper['title'])}\"",
             f"<!-- autobench: paper {_comment_safe(pid)} -->",
             f"**Source:** {_md_source(paper)}",
             f"**Relevant leaderboard:** {boards}"]
    if venue:
        lines.append(f"**Venue:** {md_text(venue)}")
    if gains_found:
        shown = "; ".join(f"{g.gain * 100:+.1f}% on {md_text(g.leaderboard or 'an unnamed benchmark')} "
                          f"(\"{md_text(_short(g.text, 80))}\")" for g in gains_found[:3])
        lines.append(f"**Reported gain:** {shown}")
    else:
        lines.append("**Reported gain:** none stated")
    lines.append("**Techniques extracted:**" if dispositions else "**Techniques extracted:** none from the catalog")
    for item, disposition in dispositions:
        t = item.technique
        tail = " ← PRIORITIZED" if disposition == "PRIORITIZED" else f" — {disposition}"
        lines.append(f"- {md_text(t.name)} (effort: {md_text(t.effort)}, impact: {md_text(item.impact or 'unknown')}){tail}")
    chosen = [md_text(item.technique.name.lower()) for item, d in dispositions if d == "PRIORITIZED"]
    action = (f"Generate hypothesis for {', '.join(chosen)} — schedule experiment." if chosen
              else "No new experiment: nothing here applies that was not in production or already tried.")
    lines.append(f"**Action:** {action}")
    return "\n".join(lines) + "\n"


def _append_log(store: StateStore, run_id: str, now: dt.datetime, cycle: Cycle, entries: list[str]) -> None:
    path = store.home / RESEARCH_LOG
    with store.lock(RESEARCH_LOG):
        text = path.read_text(encoding="utf-8") if path.exists() else (
            "# Research log\n\nPapers autobench read, what it extracted, and what it did about them (seed 002 §3.2).\n")
        fresh = []
        for entry in entries:
            marker = entry.splitlines()[1]
            if marker not in text:
                fresh.append(entry)
        if not fresh:
            return
        head = (f"\n<!-- ingest {_comment_safe(run_id)} at {iso(now)}: {cycle.papers_fetched} fetched, {cycle.papers_new} new, "
                f"{len(cycle.relevant)} relevant -->\n")
        fsio.atomic_write(path, text.rstrip("\n") + "\n" + head + "\n" + "\n".join(fresh))


def _prune_staging(home: Path) -> None:
    import shutil

    root = home / STAGING
    if not root.is_dir():
        return
    runs = sorted((p for p in root.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
    for old in runs[:-KEEP_STAGED_RUNS]:
        shutil.rmtree(old, ignore_errors=True)


def run_cycle(store: StateStore, now: dt.datetime, run_id: str, *, workers: int = 8) -> dict[str, Any]:
    """``autobench ingest``: every source fetched (concurrently), then one processing pass."""
    from concurrent.futures import ThreadPoolExecutor

    config: ResearchConfig = store.load(RESEARCH_CONFIG)
    llm = llm_from_env(config)
    specs = source_specs(config)
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(specs) or 1))) as pool:
        list(pool.map(lambda s: fetch_source(store, s, now, run_id), specs))
    return process(store, now, run_id, llm)
