"""The weekly research ingest: papers → techniques → hypotheses.

One cycle, keyed on the DAG run's id (manual and Asset-triggered runs have no ``ds``):

1. :func:`~autobench.research.staging.fetch_source` per source of ``research_config.yaml`` (the
   DAG maps one task per source; one broken source does not stop the others): only papers newer
   than that source's watermark, staged for the next step (:mod:`autobench.research.staging`).
2. :func:`finish_cycle`: the staged papers deduplicated across weeks (a new version of a known
   paper is noted, not re-ingested); the relevance screen (:mod:`autobench.research.relevance`);
   technique extraction (:mod:`autobench.research.techniques`, plus the optional LLM extractor);
   a disposition for each technique and hypotheses for those worth trying, then the gap-size
   strategy's (:mod:`autobench.research.planning`); a ``research_log.md`` entry per relevant
   paper (:mod:`autobench.research.research_log`); competitor posts are always read, and diffed
   against production like papers; the watermarks and the seen ids.

:func:`cycle` does both from the command line (every source fetched concurrently).

Nothing is written twice for one run: log entries carry a marker per paper, hypotheses are
deduplicated by their config patch against every hypothesis ever made, and the seen ids make a
re-run of the same week find nothing new. Each hypothesis a run adds carries a note naming the
run, so a retry of that run (say after a crash between the queue and ``state/ingest.json``)
reports the same ``hypotheses_added`` and the DAG still announces them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from autobench.clock import iso
from autobench.research import research_log, staging
from autobench.research.planning import Planner
from autobench.schemas import INGEST, QUEUE, REGISTRY, RESEARCH_CONFIG, Registry, ResearchConfig
from autobench.store import StateStore


@dataclass
class Report:
    """What one cycle did (:meth:`as_dict` is the task's and ``autobench ingest --json``'s answer)."""

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
                "skipped": self.skipped, "techniques": self.techniques, "hypotheses_added": self.hypotheses_added,
                "errors": self.errors, "new_versions": self.new_versions, "gap_notes": self.gap_notes}


def _added_note(dag_run_id: str) -> str:
    return f"added by research ingest {dag_run_id}"


def _added_by(hypothesis, dag_run_id: str) -> bool:
    note = _added_note(dag_run_id)
    return any(n == note or n.endswith(" " + note) for n in hypothesis.notes[:1])


def _venue(paper: dict[str, Any], venues: list[str]) -> str | None:
    """The watched venue (research_config's ``venues``) named in the comment or journal_ref."""
    if not venues or not (paper.get("comment") or paper.get("journal_ref")):
        return None
    from types import SimpleNamespace

    from autobench.research.paper_sources import matches_venue

    return matches_venue(SimpleNamespace(comment=paper.get("comment"), journal_ref=paper.get("journal_ref")), venues)


def _read_papers(papers: list[dict[str, Any]], kinds: dict[str, str], seen: dict[str, int], registry: Registry,
                 config: ResearchConfig, planner: Planner, report: Report, llm, now: dt.datetime,
                 home) -> list[str]:
    """Screen each new paper, extract its techniques and dispose of them; the log entries."""
    from autobench.research.gains import parse_gains
    from autobench.research.llm_extractor import add_missed
    from autobench.research.relevance import screen
    from autobench.research.technique_catalog import load_catalog
    from autobench.research.techniques import extract_techniques

    boards = [(lb.name, [lb.name, *lb.aliases]) for lb in registry.target_leaderboards]
    catalog = load_catalog(home)
    venues = [_venue(p, config.research_sources.venues) for p in papers]
    verdicts = screen(papers, registry, config.relevance_threshold, venues=venues) if papers else []
    entries = []
    for paper, verdict, venue in zip(papers, verdicts, venues, strict=True):
        pid = paper["id"]
        seen[pid] = staging.version(paper)
        competitor = kinds.get(pid) == "competitor"
        if not verdict.relevant and not competitor:
            report.skipped.append(f"{pid}: {paper['title']}")
            continue
        text = f"{paper['title']}. {paper.get('summary') or ''}"
        found = extract_techniques(text, catalog, boards)
        if llm is not None:
            found = add_missed(found, llm, text, catalog)
        gains_found = parse_gains(text, boards)
        report.relevant.append(pid)
        report.techniques += len(found)
        targets = planner.targets(verdict.leaderboards)
        source = research_log.source_label(paper, competitor)
        dispositions = [(item, planner.dispose(item, targets, gains_found, source, paper["title"])) for item in found]
        entries.append(research_log.entry(paper, verdict, gains_found, dispositions, now, competitor, venue))
    return entries


def _record(store: StateStore, now: dt.datetime, dag_run_id: str, report: Report, planner: Planner,
            entries: list[str]) -> None:
    """Write what the cycle found: moot hypotheses superseded, the log entries, the new hypotheses
    (each noting this run), and which of them this run added (an interrupted attempt's too)."""
    from autobench import hypothesis_queue as hq

    queue = planner.queue
    moot = hq.superseded(queue, planner.production, "production's config already has its patch")
    if moot:
        hq.set_status(store, moot, now)
    if entries:
        research_log.append(store, dag_run_id, now, (report.papers_fetched, report.papers_new, len(report.relevant)),
                            entries)
    # what an earlier, interrupted attempt of this run added (the queue kept it; the state may not have)
    report.hypotheses_added = [h.id for h in queue.hypotheses if _added_by(h, dag_run_id)]
    if planner.hypotheses:
        for h in planner.hypotheses:
            h["notes"] = [f"{iso(now)} {_added_note(dag_run_id)}"]
        from autobench.experiments.calibration import factors

        added = hq.add(store, f"research ingest {dag_run_id}", {"hypotheses": planner.hypotheses}, now,
                       factors=factors(store.home, queue.hypotheses))
        report.hypotheses_added += [h.id for h in added]


def finish_cycle(store: StateStore, now: dt.datetime, dag_run_id: str, llm=None) -> dict[str, Any]:
    """Screen, extract, log and queue everything this run's fetches staged; move the watermarks.

    ``llm``: the optional :class:`~autobench.research.llm_extractor.LLMExtractor`."""
    from autobench.research import paper_sources

    registry: Registry = store.load(REGISTRY)
    config: ResearchConfig = store.load(RESEARCH_CONFIG)
    seen = dict(store.load(INGEST).seen)
    got = staging.collect(store.home, dag_run_id, seen)
    report = Report(papers_fetched=got.fetched, papers_new=len(got.papers), errors=got.errors,
                    new_versions=got.new_versions)
    planner = Planner(registry, store.load(QUEUE))
    entries = _read_papers(got.papers, got.kinds, seen, registry, config, planner, report, llm, now, store.home)
    report.gap_notes = planner.from_gaps()  # hypotheses no paper suggested
    _record(store, now, dag_run_id, report, planner, entries)
    names = [spec.name for spec in paper_sources.specs(config)] + got.sources
    with store.edit(INGEST) as doc:
        doc["seen"] = seen
        doc["watermarks"] = staging.merged_watermarks(doc, got.advanced, names, now)
        doc.pop("watermark", None)  # moved into the per-source watermarks
        doc["last_run_id"] = dag_run_id
    staging.prune(store.home)
    return report.as_dict()


def cycle(store: StateStore, now: dt.datetime, dag_run_id: str, *, workers: int = 8) -> dict[str, Any]:
    """``autobench ingest``: every source fetched (concurrently), then :func:`finish_cycle`."""
    from concurrent.futures import ThreadPoolExecutor

    from autobench.research import paper_sources
    from autobench.research.llm_extractor import from_env

    config: ResearchConfig = store.load(RESEARCH_CONFIG)
    llm = from_env(config)
    specs = paper_sources.specs(config)
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(specs) or 1))) as pool:
        list(pool.map(lambda s: staging.fetch_source(store, s, now, dag_run_id), specs))
    return finish_cycle(store, now, dag_run_id, llm)
