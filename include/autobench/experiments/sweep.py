"""The daily experiment sweep (seed 002 §4.2, phases 5–7): hypotheses become evidence, evidence
becomes production.

One sweep, keyed on the run id:

1. :func:`prepare` — a hypothesis left ``running`` by a sweep that is not this one (a crash, a
   killed worker) goes back to the queue with a note; the queue is re-ranked with the urgency the
   monitor recorded (SPEC's priority × multiplier; top 10 ``queued``, the rest ``backlog``); the
   top open hypothesis is picked (``extended`` ones first: they are waiting for more seeds) and
   marked ``running``; once today's compute budget (GPU-hours, counted from the runs' own
   seconds) is spent, only hypotheses for a leaderboard with recorded urgency still run.
2. Rounds of :func:`plan` → runs (one per seed, mapped) until the seed policy is satisfied: the
   fast validation first, then paired full seeds on production's seeds, as many as the policy
   asks for. Production's runs come from the cache; the ones missing are run too. Each request
   carries its config ready-made, so a pod needs only its image. :func:`group` packs seeds of one
   config into batches (``experiments.local.seeds_per_task``, ``experiments.kubernetes.seeds_per_pod``):
   one process trains them together, vectorised over seeds where the solution has a batched
   variant, each seed with the results it would have had alone.
3. :func:`finalize` — ``decide`` (promote / reject / extend; a crash or NaN is ``failed``), then
   after a promotion the one evaluation on the test split into ``eval_on_leaderboard.json`` and
   the leaderboard submission where the registry configures one; ``BENCHMARK_REPORT.md`` beside
   the runs (seed 000 phase 6).
4. :func:`defend` (§7) — production re-evaluated on a fresh seed each sweep; an alert when the
   latest fresh seeds fall below production's own history beyond its noise (Welch's t-test,
   one-sided, p < 0.01, and a drop of at least the promotion threshold: a change that would
   have counted had it been a gain), naming the
   environment changes the runs recorded (package versions, device).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from autobench import fsio, net
from autobench.clock import iso
from autobench.errors import AutobenchError
from autobench.experiments.config import spec_for
from autobench.paths import RESULTS
from autobench.schemas import (
    PRODUCTION_ID,
    QUEUE,
    REGISTRY,
    SWEEP,
    URGENCY,
    WAITING_STATUSES,
    Registry,
)
from autobench.store import StateStore

ROUNDS = 4  # fast + up to three stages of full seeds per sweep; an unfinished one is `extended`
DEFENCE_SEED_BASE = 10_000  # fresh seeds for production's re-evaluations
DEFENCE_WINDOW = 3  # the latest fresh seeds tested against the history (not a single low run)
DEFENCE_P = 0.01
KEEP_DEFENCE = 200
USAGE_MARKER = "usage.json"  # beside a pod's run: its GPU time is in today's budget already


# ----------------------------------------------------------------------------- the queue


def rerank(store: StateStore) -> list[tuple[str, str, str]]:
    """SPEC's priority with the monitor's urgency, then queued (top 10) / backlog."""
    from autobench import hypothesis_queue as hq

    urgency = store.load(URGENCY)
    with store.edit(QUEUE) as doc:
        for h in doc.get("hypotheses") or []:
            if h.get("status", "queued") not in WAITING_STATUSES:
                continue
            impl = h["implementation"]
            score = hq.priority_score(float(impl["estimated_gain"]), str(impl["effort"]),
                                      hq.urgency_multiplier(list(h["target_leaderboards"]), urgency))
            if float(h["priority_score"]) != score:
                h["priority_score"] = score
        return hq.apply_ranking(doc)


def _today(now: dt.datetime) -> str:
    return iso(now)[:10]


def budget_left_s(store: StateStore, registry: Registry, now: dt.datetime) -> float:
    used = store.load(SWEEP).gpu_seconds.get(_today(now), 0.0)
    return registry.experiments.compute_budget_gpu_hours_per_day * 3600 - used


def _urgent(store: StateStore, hyp) -> bool:
    urgency = store.load(URGENCY)
    return any(urgency.leaderboards[b].multiplier > 1 for b in hyp.target_leaderboards if b in urgency.leaderboards)


def prepare(store: StateStore, now: dt.datetime, run_id: str, *, hypothesis: str | None = None,
            policy: str | None = None, backend: str | None = None) -> dict[str, Any] | None:
    """Recover stale runs, re-rank, pick the top hypothesis and mark it running (or None)."""
    from autobench import hypothesis_queue as hq

    registry: Registry = store.load(REGISTRY)
    sweep = store.load(SWEEP)
    for hid, entry in sweep.running.items():
        if entry.run_id == run_id:  # this sweep already picked (a retried task)
            return {"hypothesis": hid, "policy": entry.policy, "backend": entry.backend, "run_id": run_id}
    queue = store.load(QUEUE)
    stale = [h.id for h in queue.hypotheses if h.status == "running"]
    if stale:
        hq.set_status(store, [(hid, "queued", f"recovered: its sweep ({sweep.running[hid].run_id if hid in sweep.running else 'unknown'}) "
                                              "ended without a decision (a crash or a killed worker); runs kept, "
                                              "so the next sweep resumes from the cache") for hid in stale], now)
    with store.edit(SWEEP) as doc:
        doc.setdefault("running", {}).clear()
    rerank(store)
    queue = store.load(QUEUE)
    if hypothesis:
        pick = next((h for h in queue.hypotheses if h.id == hypothesis), None)
        if pick is None:
            raise AutobenchError(f"sweep: no hypothesis {hypothesis!r} in {QUEUE}")
        if pick.status not in ("queued", "backlog", "extended"):
            raise AutobenchError(f"sweep: {hypothesis} is {pick.status}; only queued, backlog or extended "
                                 "hypotheses can be swept")
    else:
        from autobench.hypothesis_queue import ranked

        order = ranked(queue.hypotheses)
        pick = order[0] if order else None
        if pick is None:
            return None
        if budget_left_s(store, registry, now) <= 0 and not _urgent(store, pick):
            return None  # today's compute budget is spent: only urgent work runs (seed 002 §4.2)
    chosen_policy = policy or registry.experiments.seed_policy
    chosen_backend = backend or registry.experiments.backend
    hq.set_status(store, [(pick.id, "running", f"picked by sweep {run_id} (policy {chosen_policy}, backend {chosen_backend})")], now)
    with store.edit(SWEEP) as doc:
        doc.setdefault("running", {})[pick.id] = {"run_id": run_id, "since": iso(now), "policy": chosen_policy,
                                                   "backend": chosen_backend}
    return {"hypothesis": pick.id, "policy": chosen_policy, "backend": chosen_backend, "run_id": run_id}


# ----------------------------------------------------------------------------- rounds of runs


def plan(store: StateStore, now: dt.datetime, pick: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The runs the seed policy wants next (empty once it is satisfied or the run is broken)."""
    from autobench.experiments.decide import decide

    if not pick:
        return []
    record = decide(store, pick["hypothesis"], now, policy=pick.get("policy"), write=False)
    if record["decision"] != "extend" or not record.get("next_runs"):
        return []
    nr = record["next_runs"]
    cand = spec_for(store, pick["hypothesis"])
    prod = spec_for(store, PRODUCTION_ID)
    out = [_request(cand, seed, nr["mode"]) for seed in nr["seeds"]]
    out += [_request(prod, seed, nr["mode"]) for seed in nr["production_missing"]]
    return out


def _request(spec, seed: int, mode: str) -> dict[str, Any]:
    return {"run_id": spec.run_id, "seed": int(seed), "mode": mode, "spec": spec.as_dict(), "config_hash": spec.config_hash}


def group(store: StateStore, requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The local backend's requests packed as ``experiments.local.seeds_per_task`` says: seeds of
    one config (run id, mode, config hash) in batches of up to that many; 1 leaves one request
    per seed. (Pods are grouped by ``kubernetes.seeds_per_pod`` in the kubernetes backend.)"""
    from autobench.experiments.backends.base import group_requests

    size = store.load(REGISTRY).experiments.local.seeds_per_task
    return group_requests(requests, size) if size > 1 else requests


def describe(request: dict[str, Any]) -> str:
    """``H-001 full seed 2`` or ``H-001 full seeds 1,2,3`` (a batch)."""
    if "seeds" in request:
        return f"{request['run_id']} {request['mode']} seeds {','.join(str(s) for s in request['seeds'])}"
    return f"{request['run_id']} {request['mode']} seed {request['seed']}"


def run_request(store: StateStore, request: dict[str, Any], now: dt.datetime,
                progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run one seed, or a batch of seeds of one config, on this worker (the `local` backend).

    A crash or NaN is data, not an error. A batch (``"seeds"``) returns ``{"run_id", "seeds",
    "mode", "error", "cached", "seconds", "results": [one-seed result, …]}``.
    """
    from autobench.experiments.runner import RunFailed, run_seed, spec_from_mapping

    if "seeds" in request:
        return _run_batch(store, request, now, progress)
    spec = spec_from_mapping(request["run_id"], request["spec"], "sweep request")
    out = {"run_id": request["run_id"], "seed": request["seed"], "mode": request["mode"], "metrics": None,
           "error": None, "cached": False, "seconds": 0.0}
    try:
        result = run_seed(store.home, spec, request["seed"], fast=request["mode"] == "fast")
        out.update(metrics=result.metrics, cached=result.cached, seconds=round(result.seconds, 3))
    except RunFailed as exc:
        out["error"] = str(exc)
    if not out["cached"]:
        record_usage(store, now, out["seconds"] or _failed_seconds(store, request))
    return out


def _run_batch(store: StateStore, request: dict[str, Any], now: dt.datetime,
               progress: Callable[[str], None] | None) -> dict[str, Any]:
    """Seeds of one config in one process (vectorised when the solution has a batched variant;
    one by one, each retried once, when it has none or the batch fails). Each seed ends with its
    own folder, as a separate run would; the batch's wall time counts once against the budget."""
    from autobench.experiments.backends.base import read_record, result_from_record
    from autobench.experiments.runner import RunFailed, run_seeds_batched, spec_from_mapping

    spec = spec_from_mapping(request["run_id"], request["spec"], "sweep request")
    seeds = [int(s) for s in request["seeds"]]
    t0 = time.perf_counter()
    try:
        done = run_seeds_batched(store.home, spec, seeds, fast=request["mode"] == "fast", progress=progress)
    except RunFailed:
        done = {}  # some seeds failed twice: every seed's folder says how it ended
    seconds = time.perf_counter() - t0
    # how each seed ended, read from its folder as the backends read it (metrics.json / failure.json)
    ended = result_from_record(request, read_record(store.home, request, 0), fallback_error="the run left no result")
    results = []
    for seed in seeds:
        one = {**{k: ended["results"][str(seed)][k] for k in ("run_id", "seed", "mode", "metrics", "error")},
               "cached": False, "seconds": 0.0}
        if seed in done:
            one.update(metrics=done[seed].metrics, cached=done[seed].cached, seconds=round(done[seed].seconds, 3))
        results.append(one)
    cached = all(r["cached"] for r in results)
    if not cached:
        record_usage(store, now, seconds)
    return {"run_id": request["run_id"], "seeds": seeds, "mode": request["mode"], "error": ended["error"],
            "cached": cached, "seconds": round(seconds, 3), "results": results}


def _failed_seconds(store: StateStore, request: dict[str, Any]) -> float:
    from autobench.paths import run_dir

    folder = run_dir(store.home, request["run_id"], request["config_hash"], request["mode"], request["seed"])
    try:
        return float(json.loads((folder / "failure.json").read_text()).get("seconds") or 0.0)
    except (OSError, ValueError):
        return 0.0


def record_usage(store: StateStore, now: dt.datetime, seconds: float) -> None:
    if seconds <= 0:
        return
    with store.edit(SWEEP) as doc:
        usage = doc.setdefault("gpu_seconds", {})
        day = _today(now)
        usage[day] = round(float(usage.get(day, 0.0)) + seconds, 3)
        for old in sorted(usage)[:-31]:
            del usage[old]


def record_pod_result(store: StateStore, request: dict[str, Any], xcom: Any, now: dt.datetime) -> dict[str, Any]:
    """What a pod pushed through XCom (its `autobench run --json`), written where the runs live
    when the scheduler side does not share the volume; usage accounted."""
    from autobench.paths import run_dir

    metrics = None
    if isinstance(xcom, dict):
        metrics = xcom.get("metrics") or (xcom.get("results", {}).get(str(request["seed"]), {}) or {}).get("metrics")
    folder = run_dir(store.home, request["run_id"], request["config_hash"], request["mode"], request["seed"])
    error = xcom.get("error") if isinstance(xcom, dict) else None
    if metrics and not (folder / "metrics.json").exists():
        folder.mkdir(parents=True, exist_ok=True)
        fsio.atomic_write(folder / "metrics.json", json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    elif not metrics and error and not (folder / "failure.json").exists() and not (folder / "metrics.json").exists():
        folder.mkdir(parents=True, exist_ok=True)  # a crash is data here too: decide reads it as failed
        fsio.atomic_write(folder / "failure.json", json.dumps({"run_id": request["run_id"], "seed": request["seed"],
                                                               "mode": request["mode"], "attempts": [error]}) + "\n")
    seconds = float((metrics or {}).get("train_seconds") or 0.0)
    counted = folder / USAGE_MARKER  # a retried collect counts a pod's time once
    if seconds > 0 and folder.is_dir() and not counted.exists():
        record_usage(store, now, seconds)
        fsio.atomic_write(counted, json.dumps({"seconds": seconds, "counted_at": iso(now)}) + "\n")
    return {"run_id": request["run_id"], "seed": request["seed"], "mode": request["mode"], "metrics": metrics,
            "error": None if metrics else (error or "the pod returned no metrics")}


# ----------------------------------------------------------------------------- the decision and after


def finalize(store: StateStore, now: dt.datetime, pick: dict[str, Any] | None, *,
             submission_token: str | None = None) -> dict[str, Any]:
    from autobench.experiments.decide import decide

    if not pick:
        return {"hypothesis": None, "decision": None, "runs": 0, "criteria": [], "report": None}
    hid = pick["hypothesis"]
    record = decide(store, hid, now, policy=pick.get("policy"), write=True)
    registry: Registry = store.load(REGISTRY)
    folder = store.home / RESULTS / hid / record["config_hash"]
    extra: dict[str, Any] = {}
    if record["decision"] == "promote":
        extra["eval_on_leaderboard"] = evaluate_on_test(store, hid, record, now)
        extra["submissions"] = submit(store, registry, hid, record, now, submission_token)
    report = write_report(store, hid, record, now)
    with store.edit(SWEEP) as doc:
        doc.setdefault("running", {}).pop(hid, None)
    runs = _count_runs(folder)
    return {"hypothesis": hid, "decision": record["decision"], "status": record["status"], "runs": runs,
            "criteria": record["criteria"], "reason": record["reason"],
            "report": str(report.relative_to(store.home)), **extra}


def _count_runs(folder: Path) -> int:
    return sum(1 for p in folder.glob("*/seed_*") if (p / "metrics.json").exists() or (p / "failure.json").exists())


def evaluate_on_test(store: StateStore, hid: str, record: dict[str, Any], now: dt.datetime) -> str | None:
    """The promoted config, once, on the test split (seed 002 §5.1): the test split decides nothing."""
    from autobench.experiments.runner import RunFailed, evaluate_once

    folder = store.home / RESULTS / hid / record["config_hash"]
    path = folder / "eval_on_leaderboard.json"
    if path.exists():
        return str(path.relative_to(store.home))
    registry: Registry = store.load(REGISTRY)
    spec = spec_for(store, hid)
    seed = registry.our_solution.seeds[0]
    out: dict[str, Any] = {"hypothesis": hid, "config_hash": record["config_hash"], "split": "test", "seed": seed,
                           "evaluated_at": iso(now), "metrics": None, "error": None,
                           "projection": record.get("projection"),
                           "note": "evaluated once after the promotion; decisions use the validation split only"}
    try:
        metrics, env = evaluate_once(spec, seed, {"eval_split": "test"})
        out["metrics"], out["environment"] = metrics, env
    except RunFailed as exc:
        out["error"] = str(exc)
    folder.mkdir(parents=True, exist_ok=True)
    fsio.atomic_write(path, json.dumps(out, indent=2, ensure_ascii=False) + "\n")
    return str(path.relative_to(store.home))


def submit(store: StateStore, registry: Registry, hid: str, record: dict[str, Any], now: dt.datetime,
           token: str | None = None) -> list[dict[str, Any]]:
    """POST the promoted result to each target leaderboard that accepts API submissions."""
    import os

    import requests

    folder = store.home / RESULTS / hid / record["config_hash"]
    done_path = folder / "submissions.json"
    done = json.loads(done_path.read_text()) if done_path.exists() else {}
    evaluation = {}
    if (folder / "eval_on_leaderboard.json").exists():
        evaluation = json.loads((folder / "eval_on_leaderboard.json").read_text()).get("metrics") or {}
    hyp = next(h for h in store.load(QUEUE).hypotheses if h.id == hid)
    out = []
    for name in hyp.target_leaderboards:
        lb = registry.leaderboard(name)
        if lb.submission is None or done.get(name, {}).get("ok"):
            continue
        secret = (token or os.environ.get("AUTOBENCH_SUBMISSION_TOKEN") or "").strip()
        payload = {"system": registry.our_solution.name, "leaderboard": name, "hypothesis": hid,
                   "config_hash": record["config_hash"], "metric": lb.primary_metric,
                   "scores": evaluation, "submitted_at": iso(now)}
        headers = {"Content-Type": "application/json"}
        if secret:
            headers["Authorization"] = f"Bearer {secret}"
        hidden = net.secrets_in(headers)  # the token: never in submissions.json, the log or XCom
        try:
            resp = requests.post(lb.submission.url, json=payload, headers=headers, timeout=30)
            result = {"ok": resp.ok, "status": resp.status_code, "at": iso(now), "url": lb.submission.url,
                      "answer": net.scrub(resp.text, hidden)[:500]}
        except requests.RequestException as exc:
            result = {"ok": False, "status": None, "at": iso(now), "url": lb.submission.url,
                      "answer": net.scrub(f"{type(exc).__name__}: {exc}", hidden)[:500]}
        done[name] = result
        out.append({"leaderboard": name, **result})
    if out:
        folder.mkdir(parents=True, exist_ok=True)
        fsio.atomic_write(done_path, json.dumps(done, indent=2) + "\n")
    return out


def write_report(store: StateStore, hid: str, record: dict[str, Any], now: dt.datetime) -> Path:
    """``BENCHMARK_REPORT.md`` beside the runs, in seed 000's phase-6 format."""
    import re

    import yaml

    from autobench.escaping import md_text
    from autobench.experiments.decide import runs

    registry: Registry = store.load(REGISTRY)
    home = store.home
    folder = home / RESULTS / hid / record["config_hash"]
    ev = record["evidence"]
    prod_hash = record["production_hash"]
    cand_full, cand_failed = runs(home, hid, record["config_hash"], "full")
    cand_fast, fast_failed = runs(home, hid, record["config_hash"], "fast")
    prod_full, _ = runs(home, PRODUCTION_ID, prod_hash, "full")
    env = _environment(folder)
    hyp = next(h for h in store.load(QUEUE).hypotheses if h.id == hid)
    metric = ev["metric"]

    def table_row(label: str, values: list[float]) -> str:
        if not values:
            return f"| {label} | 0 | — | — | — | — |"
        n = len(values)
        mean = sum(values) / n
        sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else float("nan")
        return f"| {label} | {n} | {mean:.4f} | {sd:.4f} | {min(values):.4f} | {max(values):.4f} |"

    seeds = ev["seeds"]
    comp = record.get("comparison") or {}
    lines = [
        "# Benchmark Report", "",
        f"**Date:** {iso(now)[:10]}",
        f"**Task:** {hyp.id}: {md_text(hyp.title)} vs production ({md_text(registry.our_solution.name)})",
        f"**Dataset:** {registry.our_solution.solution}, validation split (the test split is evaluated once, after a promotion)",
        f"**Primary Metric:** {metric} ({'higher' if ev['higher_is_better'] else 'lower'} is better)",
        f"**Seeds per config:** {len(seeds)} paired ({', '.join(map(str, seeds)) or 'none'})",
        f"**Hardware:** {env.get('device', 'unknown')} (torch {env.get('torch', '?')}, {env.get('threads', '?')} threads)", "",
        "## Summary", "", md_text(record["reason"], multiline=True), "",
        "## Results Table", "",
        f"| config | seeds | mean {metric} | std | min | max |", "| --- | --- | --- | --- | --- | --- |",
        table_row(f"production ({prod_hash})", [float(ev["control"][str(s)]) for s in seeds]),
        table_row(f"{hid} ({record['config_hash']})", [float(ev["candidate"][str(s)]) for s in seeds]),
        "", "Per seed:", "", f"| seed | production | {hid} | difference |", "| --- | --- | --- | --- |",
    ]
    for s in seeds:
        c, d = float(ev["control"][str(s)]), float(ev["candidate"][str(s)])
        lines.append(f"| {s} | {c:.4f} | {d:.4f} | {d - c:+.4f} |")
    lines += ["", "## Statistical Analysis", ""]
    if comp:
        lines += [f"- {comp['test']}: t = {comp['t_statistic']:.3f}, df = {comp['df']:.0f}, p = {comp['p_ttest']:.4g}",
                  f"- mean difference {comp['mean_diff']:+.4f}, 95% CI [{comp['ci95_diff'][0]:+.4f}, {comp['ci95_diff'][1]:+.4f}] (t); "
                  f"[{comp['bootstrap_ci95_diff'][0]:+.4f}, {comp['bootstrap_ci95_diff'][1]:+.4f}] ({comp['bootstrap_method']})",
                  f"- {comp['wilcoxon_method']}: p = {comp['p_wilcoxon']:.4g}",
                  f"- Cohen's {comp['cohens_d_kind']}: {comp['cohens_d']:.3g}"]
    else:
        lines.append("- fewer than two paired seeds: no test")
    lines += ["", "Promotion criteria (SPEC):", "", "| criterion | passed | value | requirement |", "| --- | --- | --- | --- |"]
    for c in record["criteria"]:
        value = c["value"] if not isinstance(c["value"], dict) else ", ".join(f"{k} {v}" for k, v in c["value"].items())
        lines.append(f"| {c['name']} | {'yes' if c['passed'] else '**no**'} | {value} | {c['requirement']} |")
    config_yaml = yaml.safe_dump({"production": registry.our_solution.config if record["decision"] != "promote" else
                                  "(now the candidate's config)",
                                  hid: {"config_patch": hyp.implementation.config_patch,
                                        "config_hash": record["config_hash"]}}, sort_keys=False).rstrip()
    fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", config_yaml)), default=0))  # never closed early
    lines += ["", f"Decision: **{record['decision']}** (status {record['status']}); seed policy {record['policy']['name']}: "
              f"{md_text(record['policy']['why'])}.", "", "## Configuration Details", "", f"{fence}yaml",
              config_yaml, fence, "", "## Failure Log", ""]
    failures = [(m, s, e) for m, fails in (("fast", fast_failed), ("full", cand_failed)) for s, e in sorted(fails.items())]
    lines += [f"- {hid} {m} seed {s}: {md_text(e)}" for m, s, e in failures] or ["- none"]
    fast_line = ", ".join(f"seed {s}: {m.get(metric)}" for s, m in cand_fast.items()) or "none"
    lines += ["", f"Fast validation: {fast_line}.", "", "## Reproduction Instructions", "", "```bash",
              "autobench init --home ./repro                     # or use the state folder these runs are in",
              f"autobench run production --seeds {','.join(map(str, seeds)) or '1,2,3'} --home ./repro",
              f"autobench run {hid} --seeds {','.join(map(str, seeds)) or '1,2,3'} --home ./repro",
              f"autobench decide {hid} --home ./repro --dry-run",
              "```", "",
              f"Runs: `{RESULTS}/{hid}/{record['config_hash']}/` and `{RESULTS}/{PRODUCTION_ID}/{prod_hash}/`; "
              f"{len(cand_full)} full and {len(cand_fast)} fast candidate runs, {len(prod_full)} production full runs on disk.", ""]
    path = folder / "BENCHMARK_REPORT.md"
    folder.mkdir(parents=True, exist_ok=True)
    fsio.atomic_write(path, "\n".join(lines))
    return path


def _environment(folder: Path) -> dict[str, Any]:
    import yaml

    for cfg in sorted(folder.glob("full/seed_*/config.yaml")) + sorted(folder.glob("fast/seed_*/config.yaml")):
        try:
            return (yaml.safe_load(cfg.read_text()) or {}).get("environment") or {}
        except (OSError, yaml.YAMLError):
            continue
    return {}


# ----------------------------------------------------------------------------- defence (§7)


def defend(store: StateStore, now: dt.datetime, run_id: str) -> dict[str, Any]:
    """Re-evaluate production on a fresh seed; alert when it regresses beyond its own noise."""
    from autobench.experiments.decide import runs
    from autobench.experiments.runner import RunFailed, run_seed

    registry: Registry = store.load(REGISTRY)
    state = store.load(SWEEP)
    spec = spec_for(store, PRODUCTION_ID)
    for check in state.defence:
        if check.run_id == run_id:  # this sweep already checked (a retried task)
            return check.model_dump(mode="json")
    used = {c.seed for c in state.defence if c.config_hash == spec.config_hash}
    seed = DEFENCE_SEED_BASE + len(used)
    while seed in used:
        seed += 1
    metric = spec.primary_metric
    score = None
    try:
        result = run_seed(store.home, spec, seed)
        score = float(result.metrics[metric]) if metric in result.metrics else None
        if not result.cached:
            record_usage(store, now, result.seconds)
    except RunFailed as exc:
        check = {"run_id": run_id, "at": iso(now), "config_hash": spec.config_hash, "seed": seed, "score": None,
                 "regressed": True, "alert": f"[ALERT] Production failed its re-evaluation (seed {seed}): {exc}"}
        _keep_check(store, check)
        return check
    fresh = [c for c in state.defence if c.config_hash == spec.config_hash and c.score is not None]
    recent = [c.score for c in fresh[-(DEFENCE_WINDOW - 1):]] + ([score] if score is not None else [])
    recent_seeds = {c.seed for c in fresh[-(DEFENCE_WINDOW - 1):]} | {seed}
    full, _ = runs(store.home, PRODUCTION_ID, spec.config_hash, "full")
    history = [float(m[metric]) for s, m in full.items() if s not in recent_seeds and metric in m]
    check: dict[str, Any] = {"run_id": run_id, "at": iso(now), "config_hash": spec.config_hash, "seed": seed,
                             "score": score, "regressed": False, "alert": None, "p_value": None}
    board = registry.target_leaderboards[0]
    hib = next((lb.higher_is_better for lb in registry.target_leaderboards
                if registry.our_solution.metric_map.get(lb.name) == metric), board.higher_is_better)
    if len(recent) >= DEFENCE_WINDOW and len(history) >= 3:
        from scipy import stats

        sign = 1.0 if hib else -1.0
        res = stats.ttest_ind([sign * x for x in recent], [sign * x for x in history], equal_var=False,
                              alternative="less")
        drop = sign * (sum(history) / len(history) - sum(recent) / len(recent))
        p = float(res.pvalue) if res.pvalue == res.pvalue else 1.0
        check["p_value"] = round(p, 6)
        if p < DEFENCE_P and drop >= registry.promotion_threshold:
            cause = _likely_cause(store.home, spec.config_hash, recent_seeds)
            check["regressed"] = True
            check["alert"] = (f"[ALERT] Production regressed on {metric}: {sum(history) / len(history):.4f} → "
                              f"{sum(recent) / len(recent):.4f} over its last {len(recent)} fresh seeds "
                              f"(p = {p:.2g}, Welch); likely cause: {cause}")
    _keep_check(store, check)
    return check


def _keep_check(store: StateStore, check: dict[str, Any]) -> None:
    with store.edit(SWEEP) as doc:
        items = doc.setdefault("defence", [])
        items.append(check)
        del items[:-KEEP_DEFENCE]


def _likely_cause(home: Path, chash: str, recent_seeds: set[int]) -> str:
    import yaml

    def env_of(seed_dir: Path) -> dict[str, Any]:
        try:
            return (yaml.safe_load((seed_dir / "config.yaml").read_text()) or {}).get("environment") or {}
        except (OSError, yaml.YAMLError):
            return {}

    folder = home / RESULTS / PRODUCTION_ID / chash / "full"
    recent, older = [], []
    for seed_dir in folder.glob("seed_*"):
        try:
            seed = int(seed_dir.name.removeprefix("seed_"))
        except ValueError:
            continue
        (recent if seed in recent_seeds else older).append(env_of(seed_dir))
    changes = []
    for key in ("image", "torch", "numpy", "python", "autobench", "device", "cuda", "threads", "platform", "git_commit"):
        before = {str(e.get(key)) for e in older if key in e}
        after = {str(e.get(key)) for e in recent if key in e}
        if before and after and before != after:
            changes.append(f"{key} {'/'.join(sorted(before))} → {'/'.join(sorted(after))}")
    return "; ".join(changes) if changes else "no change in the recorded environment (data or code drift?)"


# ----------------------------------------------------------------------------- one cycle (the CLI)


def sweep(store: StateStore, now: dt.datetime, run_id: str, *, hypothesis: str | None = None,
          policy: str | None = None, backend: str | None = None, defence: bool = True,
          progress=None) -> dict[str, Any]:
    """``autobench sweep``: the whole cycle on this machine (the `local` backend)."""
    pick = prepare(store, now, run_id, hypothesis=hypothesis, policy=policy, backend=backend)
    if pick and pick["backend"] != "local":
        raise AutobenchError("sweep: the command line runs the local backend; the kubernetes backend runs "
                             "through the experiment_sweep DAG (or pass --backend local)")
    for _ in range(ROUNDS):
        requests = plan(store, now, pick)
        if not requests:
            break
        for req in group(store, requests):
            out = run_request(store, req, now, progress=progress)
            if progress:
                for one in out.get("results", [out]):
                    got = one["metrics"] or {}
                    shown = f"{one['error']}" if one["error"] else ", ".join(
                        f"{k}={v:.4g}" for k, v in got.items() if isinstance(v, float))[:120]
                    progress(f"{one['run_id']} {one['mode']} seed {one['seed']}: {shown}")
    result = finalize(store, now, pick)
    if defence:
        result["defence"] = defend(store, now, run_id)
    return result
