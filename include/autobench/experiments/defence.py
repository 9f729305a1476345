"""Defending production: a re-evaluation on a fresh seed each sweep, and an alert on a regression.

:func:`defend` runs production's config on the next fresh seed (from 10,000 up, so never one a
decision paired on) and tests the latest few fresh seeds against production's own history of
full runs: Welch's t-test, one-sided (:func:`autobench.experiments.statistics.welch_t`), p < 0.01,
and a drop of at least the promotion threshold (a change that would have counted had it been a
gain). The alert names the environment changes the runs recorded (package versions, device,
image), the likeliest cause. Each check is kept in ``state/sweep.json`` (the latest 200), keyed on
the sweep's Airflow run id, so a retried task checks nothing twice.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from autobench.clock import iso
from autobench.experiments import budget, results
from autobench.experiments.config import spec_for
from autobench.schemas import PRODUCTION_ID, REGISTRY, SWEEP, Registry
from autobench.store import StateStore

SEED_BASE = 10_000  # fresh seeds for production's re-evaluations
WINDOW = 3  # the latest fresh seeds tested against the history (not a single low run)
P_ALERT = 0.01
KEEP = 200
ENVIRONMENT_KEYS = ("image", "torch", "numpy", "python", "autobench", "device", "cuda", "threads", "platform",
                    "git_commit")


def defend(store: StateStore, now: dt.datetime, dag_run_id: str) -> dict[str, Any]:
    """Re-evaluate production on a fresh seed; alert when it regresses beyond its own noise."""
    from autobench.experiments.runner import RunFailed, run_seed
    from autobench.experiments.statistics import welch_t

    registry: Registry = store.load(REGISTRY)
    state = store.load(SWEEP)
    spec = spec_for(store, PRODUCTION_ID)
    for check in state.defence:
        if check.run_id == dag_run_id:  # this sweep already checked (a retried task)
            return check.model_dump(mode="json")
    used = {c.seed for c in state.defence if c.config_hash == spec.config_hash}
    seed = SEED_BASE + len(used)
    while seed in used:
        seed += 1
    metric = spec.primary_metric
    try:
        result = run_seed(store.home, spec, seed)
        score = float(result.metrics[metric]) if metric in result.metrics else None
        if not result.cached:
            budget.record_usage(store, now, result.seconds)
    except RunFailed as exc:
        check = {"run_id": dag_run_id, "at": iso(now), "config_hash": spec.config_hash, "seed": seed, "score": None,
                 "regressed": True, "alert": f"[ALERT] Production failed its re-evaluation (seed {seed}): {exc}"}
        _keep(store, check)
        return check
    fresh = [c for c in state.defence if c.config_hash == spec.config_hash and c.score is not None]
    recent = [c.score for c in fresh[-(WINDOW - 1):]] + ([score] if score is not None else [])
    recent_seeds = {c.seed for c in fresh[-(WINDOW - 1):]} | {seed}
    full, _ = results.runs(store.home, PRODUCTION_ID, spec.config_hash, "full")
    history = [float(m[metric]) for s, m in full.items() if s not in recent_seeds and metric in m]
    check: dict[str, Any] = {"run_id": dag_run_id, "at": iso(now), "config_hash": spec.config_hash, "seed": seed,
                             "score": score, "regressed": False, "alert": None, "p_value": None}
    board = registry.target_leaderboards[0]
    hib = next((lb.higher_is_better for lb in registry.target_leaderboards
                if registry.our_solution.metric_map.get(lb.name) == metric), board.higher_is_better)
    if len(recent) >= WINDOW and len(history) >= 3:
        sign = 1.0 if hib else -1.0
        test = welch_t([sign * x for x in history], [sign * x for x in recent], alternative="less")
        drop = sign * (sum(history) / len(history) - sum(recent) / len(recent))
        check["p_value"] = round(test.p, 6)
        if test.p < P_ALERT and drop >= registry.promotion_threshold:
            cause = likely_cause(store, spec.config_hash, recent_seeds)
            check["regressed"] = True
            check["alert"] = (f"[ALERT] Production regressed on {metric}: {sum(history) / len(history):.4f} → "
                              f"{sum(recent) / len(recent):.4f} over its last {len(recent)} fresh seeds "
                              f"(p = {test.p:.2g}, Welch); likely cause: {cause}")
    _keep(store, check)
    return check


def _keep(store: StateStore, check: dict[str, Any]) -> None:
    with store.edit(SWEEP) as doc:
        items = doc.setdefault("defence", [])
        items.append(check)
        del items[:-KEEP]


def likely_cause(store: StateStore, config_hash: str, recent_seeds: set[int]) -> str:
    """What changed in the recorded environment between production's older runs and the recent ones."""
    envs = results.environments(store.home, PRODUCTION_ID, config_hash, "full")
    recent = [e for s, e in envs.items() if s in recent_seeds]
    older = [e for s, e in envs.items() if s not in recent_seeds]
    changes = []
    for key in ENVIRONMENT_KEYS:
        before = {str(e.get(key)) for e in older if key in e}
        after = {str(e.get(key)) for e in recent if key in e}
        if before and after and before != after:
            changes.append(f"{key} {'/'.join(sorted(before))} → {'/'.join(sorted(after))}")
    return "; ".join(changes) if changes else "no change in the recorded environment (data or code drift?)"
