"""``autobench decide ID``: one experiment's runs in the results store → a :class:`~autobench.schemas.Decision`.

Reads (validation metrics only, never the test split), through :mod:`autobench.experiments.results`:

- the candidate's runs of its config (production's config with the hypothesis's patch applied
  *today*), fast and full;
- production's runs of today's config (cached; they do not count as the experiment's runs),
  which pair with the candidate's by seed and give the prior on the noise;
- earlier decisions, whose paired differences refine that prior
  (:class:`~autobench.experiments.promotion.NoiseLedger`);
- the registry's competitors and our published scores, for the projection.

The seed policy (the registry's ``experiments.seed_policy``, or ``--policy``) says whether the
evidence is enough; the five criteria of :mod:`autobench.experiments.promotion` judge it. The
outcome is ``promote``, ``reject`` (status ``failed`` when a run crashed, gave NaN, or the fast
run collapsed) or ``extend`` (with the runs still wanted, ``next_runs``);
:mod:`autobench.experiments.explain` words it and :mod:`autobench.experiments.apply` writes it.

A hypothesis already closed is not decided again: its recorded decision is returned
(``replayed``). Nor is a promotion whose registry edit is done: a retry replays the record and
finishes the writes the first attempt left undone.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

from autobench.clock import iso
from autobench.errors import AutobenchError
from autobench.experiments import apply, explain, results
from autobench.experiments.config import spec_for
from autobench.experiments.promotion import (
    NoiseLedger,
    Standing,
    evaluate,
    fast_screen,
    noise_from_production,
)
from autobench.experiments.seed_policies import Evidence, SeedPolicy, get
from autobench.schemas import (
    CLOSED_STATUSES,
    PRODUCTION_ID,
    QUEUE,
    REGISTRY,
    Decision,
    Hypothesis,
    Registry,
)
from autobench.store import StateStore

# ----------------------------------------------------------------------------- reading evidence


def _score(metrics: dict[str, Any], metric: str, where: str) -> float:
    value = metrics.get(metric)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise AutobenchError(f"{where}: the metric {metric!r} is missing or not a number (got {value!r})")
    return float(value)


def ledger(home: Path, metric: str, exclude: str) -> NoiseLedger:
    """Paired differences from earlier decisions on the same metric (an unreadable record is an error)."""
    found = results.decisions(home)
    found.raise_invalid()
    book = NoiseLedger()
    for _, record in found.valid:
        if record.hypothesis != exclude and record.evidence.metric == metric:
            book.add(record.evidence.fast_diff, record.evidence.diffs)
    return book


def standings(registry: Registry, boards: list[str]) -> list[Standing]:
    out = []
    ours = registry.our_solution
    for name in boards:
        lb = registry.leaderboard(name)
        score = ours.published_scores.get(name, ours.current_scores.get(name))
        comps = {c.name: c.latest_score for c in registry.competitors
                 if c.source == name and c.latest_score is not None}
        out.append(Standing(name, score, comps, lb.higher_is_better))
    return out


def seed_order(registry: Registry, used: set[int]) -> list[int]:
    """Production's seeds first, then the next integers: the order seeds are run in."""
    seeds = list(registry.our_solution.seeds)
    nxt = max(seeds) + 1
    while len(seeds) < len(used) + 64:
        seeds.append(nxt)
        nxt += 1
    return seeds


# ----------------------------------------------------------------------------- the decision


def decide(store: StateStore, hid: str, now: dt.datetime, *, policy: str | None = None,
           write: bool = True) -> Decision:
    """Decide on ``hid``'s runs (and with ``write``, record and apply the outcome)."""
    home = store.home
    registry: Registry = store.load(REGISTRY)
    queue = store.load(QUEUE)
    hyp = next((h for h in queue.hypotheses if h.id == hid), None)
    if hid == PRODUCTION_ID:
        raise AutobenchError("decide: production is what candidates are compared with; give a hypothesis id")
    if hyp is None:
        known = ", ".join(h.id for h in queue.hypotheses[-5:]) or "none"
        raise AutobenchError(f"decide: no hypothesis {hid!r} in {QUEUE} (ids like {known})")
    if hyp.status in CLOSED_STATUSES:
        return _replay(home, hyp)

    settings = registry.experiments
    name = policy or settings.seed_policy
    options = settings.seed_policy_options if name == settings.seed_policy else {}
    chosen: SeedPolicy = get(name, **options)

    cand = spec_for(store, hid)
    prod = spec_for(store, PRODUCTION_ID)
    applied = apply.applied_promotion(home, hid, cand.config_hash, prod.config_hash)
    if applied is not None:  # a retry after the registry edit: finish the promotion, decide nothing
        if write:
            done, _ = results.runs(home, hid, cand.config_hash, "full")
            apply.promote(store, registry, hyp, applied, cand.config,
                          {s: done[s] for s in applied.evidence.seeds if s in done}, registry_done=True)
        return applied.model_copy(update={"replayed": True})
    metric = cand.primary_metric
    if metric is None:
        raise AutobenchError(f"decide {hid}: none of its leaderboards ({', '.join(hyp.target_leaderboards)}) "
                             "has a metric in our_solution.metric_map")
    hib = registry.leaderboard(hyp.target_leaderboards[0]).higher_is_better
    sign = 1.0 if hib else -1.0
    threshold = registry.promotion_threshold

    c_full, c_full_failed = results.runs(home, hid, cand.config_hash, "full")
    c_fast, c_fast_failed = results.runs(home, hid, cand.config_hash, "fast")
    p_full, _ = results.runs(home, PRODUCTION_ID, prod.config_hash, "full")
    p_fast, _ = results.runs(home, PRODUCTION_ID, prod.config_hash, "fast")

    paired = [s for s in c_full if s in p_full]
    control = [_score(p_full[s], metric, results.relative_run_folder(PRODUCTION_ID, prod.config_hash, "full", s))
               for s in paired]
    candidate = [_score(c_full[s], metric, results.relative_run_folder(hid, cand.config_hash, "full", s))
                 for s in paired]
    diffs = [sign * (b - a) for a, b in zip(control, candidate, strict=True)]

    prod_fast_scores = [_score(m, metric, "production fast run") for m in p_fast.values()]
    prior = noise_from_production([_score(m, metric, "production full run") for m in p_full.values()], prod_fast_scores)
    noise = ledger(home, metric, exclude=hid).noise(prior)

    fast_info: dict[str, Any] = {}
    fast_diff = None
    broken = ""
    if c_fast_failed and not c_fast:
        seed, error = next(iter(c_fast_failed.items()))
        broken = f"the fast validation (seed {seed}) failed twice: {error}"
    elif c_fast:
        seed, metrics = next(iter(c_fast.items()))
        score = _score(metrics, metric, results.relative_run_folder(hid, cand.config_hash, "fast", seed))
        ok, why = fast_screen(score, prod_fast_scores, threshold, hib)
        fast_info = {"seed": seed, "score": score, "screen": why}
        if not ok:
            broken = f"the fast validation (seed {seed}) {why}"
        elif seed in p_fast:
            fast_info["production"] = _score(p_fast[seed], metric, "production fast run")
            fast_diff = sign * (score - fast_info["production"])
    if not broken and c_full_failed:
        seed, error = next(iter(sorted(c_full_failed.items())))
        broken = f"full run seed {seed} failed twice: {error}"

    lat = mem = None
    if paired and all("latency_ms" in p_full[s] and "latency_ms" in c_full[s] for s in paired):
        lat = ([p_full[s]["latency_ms"] for s in paired], [c_full[s]["latency_ms"] for s in paired])
    if paired and all("memory_mb" in p_full[s] and "memory_mb" in c_full[s] for s in paired):
        mem = ([p_full[s]["memory_mb"] for s in paired], [c_full[s]["memory_mb"] for s in paired])
    crits, projection = evaluate(threshold=threshold, control=control, candidate=candidate, higher_is_better=hib,
                                 latency=lat, memory=mem, standings=standings(registry, hyp.target_leaderboards))
    evidence = Evidence(threshold, fast_diff if (c_fast and fast_info.get("production") is not None) else None,
                        diffs, noise, criteria=lambda: crits)
    if broken:
        step_action, step_reason, outcome, status, next_runs = "stop", broken, "reject", "failed", None
    else:
        step = chosen.next_step(evidence)
        step_action, step_reason = step.action, step.reason
        outcome, status, next_runs = _outcome(step.action, step.runs, all(c.passed for c in crits), registry,
                                              c_full, p_full, p_fast)
        if step.action == "fast" and c_fast and fast_info.get("production") is None:
            step_reason = (f"production's fast run on seed {next_runs['seeds'][0]} is needed to pair with "
                           "the candidate's")

    by_seed = [str(s) for s in paired]
    decision = Decision.model_validate({  # what is recorded is what the schema says
        "hypothesis": hid, "decision": outcome, "status": status,
        "criteria": [c.as_dict() for c in crits], "projection": projection, "reason": "-",
        "policy": {"name": chosen.name, "knobs": chosen.knobs(), "step": step_action, "why": step_reason},
        "evidence": {"metric": metric, "higher_is_better": hib, "seeds": paired,
                     "control": dict(zip(by_seed, control, strict=True)),
                     "candidate": dict(zip(by_seed, candidate, strict=True)),
                     "diffs": diffs, "fast_diff": evidence.fast_diff, "fast": fast_info,
                     "noise": noise.as_dict() if noise else None},
        "config_hash": cand.config_hash, "production_hash": prod.config_hash, "next_runs": next_runs,
        "comparison": None, "decided_at": iso(now), "files_written": [],
    })
    if len(paired) >= 2:
        from autobench.experiments.statistics import compare

        decision.comparison = compare(dict(zip(by_seed, control, strict=True)),
                                      dict(zip(by_seed, candidate, strict=True)))
    decision.reason = explain.reason(hid, hyp.title, decision, threshold, candidate_mean=_mean_of(candidate),
                                     production_mean=_mean_of(control))
    if write:
        apply.apply(store, registry, hyp, decision, cand.config, {s: c_full[s] for s in paired}, now)
    return decision


def _outcome(action: str, runs: int, all_pass: bool, registry: Registry, c_full: dict[int, Any],
             p_full: dict[int, Any], p_fast: dict[int, Any]) -> tuple[str, str, dict[str, Any] | None]:
    """(decision, status, next_runs) for the seed policy's step."""
    if action == "fast":
        seed = registry.our_solution.seeds[0]
        return "extend", "extended", {"mode": "fast", "seeds": [seed],
                                      "production_missing": [] if seed in p_fast else [seed]}
    if action == "full":
        want = [s for s in seed_order(registry, set(c_full)) if s not in c_full][:runs]
        missing_prod = {s for s in c_full if s not in p_full} | {s for s in want if s not in p_full}
        return "extend", "extended", {"mode": "full", "seeds": want, "production_missing": sorted(missing_prod)}
    if action == "decide" and all_pass:
        return "promote", "promoted", None
    return "reject", "rejected", None


def _mean_of(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _replay(home: Path, hyp: Hypothesis) -> Decision:
    record = results.latest_decision(home, hyp.id)
    if record is None:
        raise AutobenchError(f"decide: {hyp.id} is already {hyp.status} and has no decision record "
                             f"(closed by hand?); nothing to decide")
    return record.model_copy(update={"replayed": True})
