"""The daily monitor: scrape, snapshot, delta report, gap matrix, triggers.

One cycle, keyed on the DAG run's id (manual and Asset-triggered runs have no ``ds``):

1. :func:`fetch_board` per leaderboard (the DAG maps one task per leaderboard; the command line
   fetches concurrently): conditional GET, parse with the registry's ``scrape_method``, scale
   percent scores to fractions. Refused: a scrape error (no rows, a table filled by JavaScript,
   a header that no longer names the metric) or a scrape that lost more than half of the
   previous snapshot's rows. A refusal changes nothing; the other leaderboards go on.
2. :func:`record_board`: a new snapshot (:mod:`autobench.monitor.snapshots`; one per run: a
   re-run finds it and writes nothing), the HTTP validators, and the board's outcome in
   ``state/monitor.json``.
3. :func:`finish_cycle`: the delta report against the previous snapshot, the registry's
   competitors and ``our_solution.published_scores`` (the only field of ours the monitor writes),
   ``state/gap_matrix.json``, victory streaks and attack/defence mode (``state/victory.json``),
   urgency per leaderboard (``state/urgency.json``, which the sweep's re-rank applies), and the
   triggers: ``autobench://urgent`` when our rank dropped, ``autobench://gap-widened`` when the
   gap to #1 grew by more than ``triggers.gap_widened_pct`` points, ``autobench://registry``
   after every successful update. The monitor never writes the queue.

:func:`cycle` does all three from the command line.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autobench import fsio
from autobench.clock import iso
from autobench.errors import AutobenchError
from autobench.monitor.scrape.fetch import Fetched
from autobench.monitor.snapshots import (
    boards_at,
    load_snapshot,
    names_of,
    path_for,
    snapshots,
)
from autobench.monitor.standings import Board, delta, gap_matrix, gap_to_first, rank_dropped
from autobench.orchestration import ASSET_GAP_WIDENED, ASSET_REGISTRY, ASSET_URGENT
from autobench.schemas import (
    GAP_MATRIX,
    HTTP_CACHE,
    MONITOR,
    REGISTRY,
    URGENCY,
    URGENCY_MULTIPLIERS,
    VICTORY,
    Leaderboard,
    Registry,
    Snapshot,
)
from autobench.store import StateStore

KEEP_CYCLES = 120
URGENCY_DAYS = 7  # an urgency lasts this long unless the cause recurs (or we are #1 again)
TRACK_TOP = 10  # new competitors join the registry when in the top 10, or ahead of us and close to us ...
MAX_TRACKED = 25  # ... up to this many per leaderboard (the snapshots keep everyone)


class MonitorRefused(AutobenchError):
    """A leaderboard's scrape was refused; what we knew stays as it was."""


@dataclass
class BoardOutcome:
    """What fetching one leaderboard came to: ``new`` rows (on the fraction scale), ``unchanged``
    since the last scrape, or ``refused`` (``reason`` says why); ``fetched`` is the fetch itself
    (its validators go to the HTTP cache), None when it failed."""

    leaderboard: str
    status: str  # new | unchanged | refused
    reason: str = ""
    rows: list[dict[str, Any]] = field(default_factory=list)
    fetched: Fetched | None = None

    def validators(self) -> dict[str, Any]:
        f = self.fetched
        return {} if f is None else {"etag": f.etag, "last_modified": f.last_modified, "sha256": f.sha256}


def _options(lb: Leaderboard):
    from autobench.monitor.scrape import ScrapeOptions

    return ScrapeOptions(metric=lb.primary_metric, system_column=lb.system_column, table=lb.table,
                         selector=lb.selector, records=lb.records, pattern=lb.pattern)


# ----------------------------------------------------------------------------- one leaderboard


def fetch_board(home: Path, lb: Leaderboard, validators: dict[str, Any] | None,
                previous_rows: int | None) -> BoardOutcome:
    """Fetch and parse one leaderboard; never writes. Refusals come back as ``status=refused``."""
    from autobench.monitor.scrape import scrape
    from autobench.monitor.scrape.base import ScrapeError

    try:
        got = scrape(lb.url, lb.scrape_method, _options(lb), home=home, validators=validators or None)
    except ScrapeError as exc:
        return BoardOutcome(lb.name, "refused", str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    if got.rows is None:
        return BoardOutcome(lb.name, "unchanged", "not modified since the last scrape", fetched=got.fetched)
    factor = 0.01 if lb.scale == "percent" else 1.0
    rows = [{"rank": r.rank, "system": r.system, "score": r.score, "value": round(r.score * factor, 10)}
            for r in got.rows]
    if not rows:
        return BoardOutcome(lb.name, "refused", "the page has no rows with a score")
    if previous_rows and len(rows) < previous_rows / 2:
        return BoardOutcome(lb.name, "refused", f"only {len(rows)} rows where the last snapshot had {previous_rows}: "
                                                "more than half lost (a changed page?)")
    return BoardOutcome(lb.name, "new", rows=rows, fetched=got.fetched)


def record_board(store: StateStore, lb: Leaderboard, outcome: BoardOutcome, now: dt.datetime,
                 dag_run_id: str) -> dict[str, Any]:
    """Write what one fetch found (see :func:`record_boards`)."""
    return record_boards(store, [(lb, outcome)], now, dag_run_id)[0]


def record_boards(store: StateStore, items: list[tuple[Leaderboard, BoardOutcome]], now: dt.datetime,
                  dag_run_id: str) -> list[dict[str, Any]]:
    """Write what the fetches found: snapshots, validators, outcomes (one write per state file).

    Idempotent per run: a snapshot of this run already on disk is kept as it is.
    """
    home = store.home
    outcomes: list[dict[str, Any]] = []
    validators: dict[str, dict[str, Any]] = {}
    for lb, got in items:
        outcome: dict[str, Any] = {"status": got.status, "reason": got.reason, "snapshot": None, "rows": None}
        if got.status == "new":
            path = path_for(home, lb.name, now, dag_run_id)
            if not path.exists():
                snap = Snapshot(leaderboard=lb.name, url=lb.url, method=lb.scrape_method, run_id=dag_run_id,
                                taken_at=now, scale=lb.scale, sha256=got.validators().get("sha256"), rows=got.rows)
                fsio.atomic_write(path, json.dumps(snap.model_dump(mode="json"), indent=1, ensure_ascii=False) + "\n")
            outcome["snapshot"] = str(path.relative_to(home))
            outcome["rows"] = len(got.rows)
        if got.status in ("new", "unchanged") and any(got.validators().values()):
            validators[lb.url] = {**got.validators(), "fetched_at": iso(now)}
        outcomes.append({"leaderboard": lb.name, **outcome})
    if validators:
        with store.edit(HTTP_CACHE) as cache:
            urls = cache.setdefault("urls", {})
            for url, v in validators.items():
                old = urls.get(url) or {}
                if {k: old.get(k) for k in v if k != "fetched_at"} != {k: x for k, x in v.items() if k != "fetched_at"}:
                    urls[url] = v  # only a change of validators is worth a write
    with store.edit(MONITOR) as state:
        entry = _cycle_entry(state, dag_run_id, now)
        for out in outcomes:
            entry["boards"][out["leaderboard"]] = {k: v for k, v in out.items() if k != "leaderboard"}
    return outcomes


def _cycle_entry(state: dict[str, Any], dag_run_id: str, now: dt.datetime) -> dict[str, Any]:
    """The run's entry in ``state/monitor.json``'s cycles (made when missing; the last
    :data:`KEEP_CYCLES` are kept)."""
    entries = state.setdefault("cycles", [])
    for entry in entries:
        if entry["run_id"] == dag_run_id:
            return entry
    entry = {"run_id": dag_run_id, "at": iso(now), "boards": {}, "alerts": [], "status": [], "triggers": [],
             "finished": False}
    entries.append(entry)
    del entries[:-KEEP_CYCLES]
    return entry


def scrape_leaderboard(store: StateStore, name: str, now: dt.datetime, dag_run_id: str) -> dict[str, Any]:
    """The mapped task: fetch and record one leaderboard; a refusal raises after it is recorded."""
    registry: Registry = store.load(REGISTRY)
    lb = registry.leaderboard(name)
    for entry in store.load(MONITOR).cycles:
        if entry.run_id == dag_run_id and name in entry.boards and entry.boards[name].status != "refused":
            return {"leaderboard": name, **entry.boards[name].model_dump()}  # a re-run: already recorded
    previous = snapshots(store.home, name)
    prev_rows = len(load_snapshot(previous[-1]).rows) if previous else None
    validators = store.load(HTTP_CACHE).urls.get(lb.url)
    got = fetch_board(store.home, lb,
                      validators.model_dump(exclude={"fetched_at"}) if validators and previous else None, prev_rows)
    out = record_board(store, lb, got, now, dag_run_id)
    if got.status == "refused":
        raise MonitorRefused(f"{name}: refused: {got.reason} (registry and snapshots left as they were)")
    return out


# ----------------------------------------------------------------------------- the cycle


def finish_cycle(store: StateStore, now: dt.datetime, dag_run_id: str,
                 registry: Registry | None = None) -> dict[str, Any]:
    """Delta report, registry, gap matrix, victory, urgency and triggers for this run."""
    registry = registry or store.load(REGISTRY)
    home = store.home
    entry = next((c for c in store.load(MONITOR).cycles if c.run_id == dag_run_id), None)
    outcomes = entry.boards if entry else {}
    refused = [{"leaderboard": n, "reason": o.reason} for n, o in outcomes.items() if o.status == "refused"]
    pairs = boards_at(home, registry, dag_run_id)
    by_name = {after.name: (before, after) for before, after in pairs}

    alerts: list[str] = []
    status: list[str] = []
    triggers: list[dict[str, Any]] = []
    urgent, widened = [], []
    for lb in registry.target_leaderboards:
        if lb.name not in by_name:
            continue
        before, after = by_name[lb.name]
        if outcomes.get(lb.name) is not None and outcomes[lb.name].status != "new":
            before = None  # unchanged or refused: nothing moved since the last snapshot
        lines = delta(before, after)
        alerts += [line for line in lines if line.startswith(("[ALERT]", "[INFO]"))]
        status += [line for line in lines if line.startswith("[STATUS]")]
        if rank_dropped(before, after):
            mine, old = after.our_entry(), before.our_entry()
            urgent.append({"leaderboard": lb.name, "reason": "rank_dropped", "detail": f"#{old.rank} → #{mine.rank}"})
        if before is not None:
            g0, g1 = gap_to_first(before), gap_to_first(after)
            if g0 is not None and g1 is not None and (g0 - g1) * 100 >= registry.triggers.gap_widened_pct - 1e-9:
                widened.append({"leaderboard": lb.name, "reason": "gap_widened", "detail": f"{g0:+.3f} → {g1:+.3f}"})
    new_boards = [n for n, o in outcomes.items() if o.status == "new"]
    if urgent:
        triggers.append({"asset": ASSET_URGENT,
                         "extra": {**urgent[0], "leaderboards": [u["leaderboard"] for u in urgent]}})
    if widened:
        triggers.append({"asset": ASSET_GAP_WIDENED,
                         "extra": {**widened[0], "leaderboards": [w["leaderboard"] for w in widened]}})

    _update_registry(store, registry, {n: by_name[n][1] for n in new_boards if n in by_name}, now)
    if new_boards:
        triggers.append({"asset": ASSET_REGISTRY, "extra": {"leaderboards": new_boards}})

    matrix = gap_matrix([after for _, after in pairs], registry.our_solution.name, registry.our_solution.current_scores)
    store.write(GAP_MATRIX, {"generated_at": iso(now), "run_id": dag_run_id, **matrix})
    _update_victory(store, registry, pairs, now, dag_run_id)
    _update_urgency(store, registry, by_name, outcomes, urgent, widened, now, dag_run_id)

    with store.edit(MONITOR) as state:
        _cycle_entry(state, dag_run_id, now).update(alerts=alerts, status=status, triggers=triggers, finished=True)
    return {"alerts": alerts, "status": status, "refused": refused, "triggers": [t["asset"] for t in triggers],
            "trigger_events": triggers, "gap_matrix": matrix}


def _update_registry(store: StateStore, registry: Registry, boards: dict[str, Board], now: dt.datetime) -> bool:
    if not boards:
        return False
    names = names_of(registry)
    ours_key = names.key(registry.our_solution.name)
    close = registry.triggers.new_entrant_within_pct / 100
    before = store.read_text(REGISTRY)
    with store.edit(REGISTRY) as doc:
        from ruamel.yaml.comments import CommentedMap, CommentedSeq

        comps = doc.get("competitors")
        if comps is None:
            doc["competitors"] = comps = CommentedSeq()
        index = {(names.key(str(c["name"])), str(c["source"])): c for c in comps}
        for name, board in boards.items():
            mine = board.our_entry()
            if mine is not None:
                pub = doc["our_solution"].get("published_scores")
                if pub is None:
                    doc["our_solution"]["published_scores"] = pub = CommentedMap()
                if pub.get(name) != mine.score:
                    pub[name] = mine.score
            sign = 1 if board.higher_is_better else -1
            for key, entry in board.keys.items():
                if key == ours_key:
                    continue
                existing = index.get((key, name))
                if existing is not None:
                    if existing.get("latest_score") != entry.score:
                        existing["latest_score"] = entry.score
                        existing["last_updated"] = now.date()
                    continue
                ahead = mine is not None and sign * entry.score > sign * mine.score
                near = mine is not None and abs(entry.score - mine.score) <= close * abs(mine.score)
                tracked = sum(1 for (_, src) in index if src == name)
                if tracked < MAX_TRACKED and (entry.rank <= TRACK_TOP or (ahead and near)):
                    item = CommentedMap([("name", entry.system), ("latest_score", entry.score), ("source", name),
                                         ("last_updated", now.date())])
                    comps.append(item)
                    index[(key, name)] = item
    return store.read_text(REGISTRY) != before


def _update_victory(store: StateStore, registry: Registry, pairs, now: dt.datetime, dag_run_id: str) -> None:
    with store.edit(VICTORY) as doc:
        boards = doc.setdefault("leaderboards", {})
        for _, board in pairs:
            lb = registry.leaderboard(board.name)
            v = lb.victory
            margin = v.margin / 100 if lb.scale == "percent" else v.margin
            mine = board.our_entry()
            met = False
            if mine is not None and mine.rank <= v.rank:
                lead = gap_to_first(board) if mine.rank == 1 else None
                met = mine.rank > 1 or (lead is not None and lead >= margin - 1e-12)
            entry = boards.setdefault(board.name, {"streak": 0, "mode": "attack"})
            if entry.get("last_run_id") == dag_run_id:
                continue  # this run already counted
            entry["streak"] = entry.get("streak", 0) + 1 if met else 0
            entry["mode"] = "defence" if entry["streak"] >= v.sustained_cycles else "attack"
            entry["last_run_id"] = dag_run_id
            entry["updated_at"] = iso(now)


def _update_urgency(store: StateStore, registry: Registry, by_name, outcomes, urgent, widened,
                    now: dt.datetime, dag_run_id: str) -> None:
    close = registry.triggers.new_entrant_within_pct / 100
    causes: dict[str, tuple[str, str]] = {}
    for w in widened:
        causes[w["leaderboard"]] = ("gap_widened", w["detail"])
    for name, (before, after) in by_name.items():
        if before is None or outcomes.get(name) is None or outcomes[name].status != "new":
            continue
        mine = after.our_entry()
        if mine is None:
            continue
        for key, entry in after.keys.items():
            if (key != after.ours and key not in before.keys
                    and abs(entry.score - mine.score) <= close * abs(mine.score)):
                causes[name] = ("new_entrant_within_5pct", f"{entry.system} at {entry.score:.3f}")
                break
    for u in urgent:
        causes[u["leaderboard"]] = ("rank_dropped", u["detail"])
    with store.edit(URGENCY) as doc:
        entries = doc.setdefault("leaderboards", {})
        for name, (_, after) in by_name.items():
            mine = after.our_entry()
            old = entries.get(name)
            if name in causes:
                reason, detail = causes[name]
                if old is None or old.get("run_id") != dag_run_id:
                    if old is None or URGENCY_MULTIPLIERS[reason] >= old["multiplier"] or _expired(old, now):
                        entries[name] = {"reason": reason, "multiplier": URGENCY_MULTIPLIERS[reason], "since": iso(now),
                                         "detail": detail, "run_id": dag_run_id}
            elif old is not None and ((mine is not None and mine.rank == 1) or _expired(old, now)):
                del entries[name]


def _expired(entry: dict[str, Any], now: dt.datetime) -> bool:
    since = dt.datetime.fromisoformat(str(entry["since"]).replace("Z", "+00:00"))
    return now - since >= dt.timedelta(days=URGENCY_DAYS)


def cycle(store: StateStore, now: dt.datetime, dag_run_id: str, *, workers: int = 16) -> dict[str, Any]:
    """``autobench monitor``: every leaderboard fetched concurrently, recorded, then :func:`finish_cycle`."""
    from concurrent.futures import ThreadPoolExecutor

    registry: Registry = store.load(REGISTRY)
    cache = store.load(HTTP_CACHE).urls
    recorded = next((c.boards for c in store.load(MONITOR).cycles if c.run_id == dag_run_id), {})
    jobs = []
    for lb in registry.target_leaderboards:
        if lb.name in recorded and recorded[lb.name].status != "refused":
            continue  # a re-run of this cycle (same run id): its board is recorded, fetching again would
            # read "unchanged" over "new" and lose the cycle's alerts and triggers
        previous = snapshots(store.home, lb.name)
        prev_rows = len(load_snapshot(previous[-1]).rows) if previous else None
        v = cache.get(lb.url)
        jobs.append((lb, v.model_dump(exclude={"fetched_at"}) if v and previous else None, prev_rows))
    if jobs:
        with ThreadPoolExecutor(max_workers=max(1, min(workers, len(jobs)))) as pool:
            results = list(pool.map(lambda j: fetch_board(store.home, *j), jobs))
        record_boards(store, [(lb, got) for (lb, _, _), got in zip(jobs, results, strict=True)], now, dag_run_id)
    return finish_cycle(store, now, dag_run_id, registry)
