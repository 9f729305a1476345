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

With ``experiments.confirmation_seeds`` set, a promotion's status is ``confirming`` and its record
names the fresh seeds it is confirmed on; deciding a confirming hypothesis concludes the
confirmation (:mod:`autobench.experiments.confirmation`) instead.

A hypothesis already closed is not decided again: its recorded decision is returned
(``replayed``). Nor is a promotion whose registry edit is done: a retry replays the record and
finishes the writes the first attempt left undone.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autobench.clock import iso
from autobench.errors import AutobenchError
from autobench.experiments import apply, explain, results
from autobench.experiments.config import spec_for
from autobench.experiments.fdr import STREAM_LOCK
from autobench.experiments.promotion import (
    NoiseLedger,
    Standing,
    evaluate,
    fast_screen,
    margin_test,
    noise_from_production,
)
from autobench.experiments.runner import RunSpec
from autobench.experiments.seed_policies import Evidence, Noise, SeedPolicy, get
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


def ledger(home: Path, metric: str, exclude: str, prior: Noise | None = None) -> NoiseLedger:
    """Paired differences from earlier decisions on the same metric, oldest first, each tested
    against the noise known before it (an unreadable record is an error)."""
    found = results.decisions(home)
    found.raise_invalid()
    book = NoiseLedger()
    for _, record in reversed(found.newest_first()):
        if record.hypothesis != exclude and record.evidence.metric == metric:
            book.add(record.evidence.fast_diff, record.evidence.diffs, reference=book.noise(prior))
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


WINDOW_STRIDE = 100_000  # window w's seeds are production's seeds + w × this (defence's fresh seeds sit below)


def control_window(registry: Registry, hid: str) -> int:
    """The window of control seeds ``hid`` is paired on (``experiments.control_windows``; 0 when
    there is one): round robin on the id's number, so consecutive hypotheses share no control run."""
    import zlib

    windows = registry.experiments.control_windows
    if windows <= 1:
        return 0
    digits = "".join(ch for ch in hid if ch.isdigit())
    return (int(digits) if digits else zlib.crc32(hid.encode())) % windows


def seed_order(registry: Registry, used: set[int], window: int = 0) -> list[int]:
    """Production's seeds first (shifted to the hypothesis's window of control seeds), then the
    next integers: the order seeds are run in."""
    seeds = [s + WINDOW_STRIDE * window for s in registry.our_solution.seeds]
    nxt = max(seeds) + 1
    while len(seeds) < len(used) + 64:
        seeds.append(nxt)
        nxt += 1
    return seeds


# ----------------------------------------------------------------------------- the decision


@dataclass
class _Gathered:
    """The evidence a decision reads: both configs' runs, the paired scores and the noise."""

    metric: str
    higher_is_better: bool
    threshold: float
    candidate_full: dict[int, Any]
    candidate_full_failed: dict[int, str]
    candidate_fast: dict[int, Any]
    candidate_fast_failed: dict[int, str]
    production_full: dict[int, Any]
    production_fast: dict[int, Any]
    seeds: list[int]  # the full seeds both configs ran, in the candidate's seed order
    control: list[float]  # production's scores on those seeds
    candidate: list[float]
    diffs: list[float]  # paired differences, positive = better
    production_fast_scores: list[float]
    noise: Noise | None
    production_full_scores: list[float] = field(default_factory=list)  # every cached full run of production
    hypothesis: str = ""
    production_full_failed: dict[int, str] = field(default_factory=dict)

    @property
    def sign(self) -> float:
        return 1.0 if self.higher_is_better else -1.0


@dataclass
class _Screen:
    """The fast run's screen: what it showed, its paired difference, and why the config is broken
    (a crashed or collapsed fast run, or a full run that failed twice), empty when it is not."""

    fast: dict[str, Any] = field(default_factory=dict)
    fast_diff: float | None = None
    broken: str = ""


@dataclass
class _Next:
    """The seed policy's verdict as the decision records it."""

    action: str
    why: str
    outcome: str
    status: str
    next_runs: dict[str, Any] | None = None


def decide(store: StateStore, hid: str, now: dt.datetime, *, policy: str | None = None,
           write: bool = True) -> Decision:
    """Decide on ``hid``'s runs (and with ``write``, record and apply the outcome)."""
    home = store.home
    registry: Registry = store.load(REGISTRY)
    hyp = _hypothesis(store, hid)
    if hyp.status in CLOSED_STATUSES:
        return _replay(home, hyp)
    if hyp.status == "confirming":
        from autobench.experiments.confirmation import conclude

        return conclude(store, hyp, now, write=write)
    chosen = _policy(registry, policy)

    cand = spec_for(store, hid)
    prod = spec_for(store, PRODUCTION_ID)
    applied = apply.applied_promotion(home, hid, cand.config_hash, prod.config_hash)
    if applied is not None:  # a retry after the registry edit: finish the promotion, decide nothing
        if write:
            done, _ = results.runs(home, hid, cand.config_hash, "full")
            apply.promote(store, registry, hyp, applied, cand.config,
                          {s: done[s] for s in applied.evidence.seeds if s in done}, registry_done=True)
        return applied.model_copy(update={"replayed": True})

    got = _gather(home, registry, hyp, cand, prod)
    screen = _screen(got, hid, cand.config_hash)
    rule = registry.experiments.improvement_rule
    lat = mem = None
    if got.seeds and all("latency_ms" in got.production_full[s] and "latency_ms" in got.candidate_full[s]
                         for s in got.seeds):
        lat = ([got.production_full[s]["latency_ms"] for s in got.seeds],
               [got.candidate_full[s]["latency_ms"] for s in got.seeds])
    if got.seeds and all("memory_mb" in got.production_full[s] and "memory_mb" in got.candidate_full[s]
                         for s in got.seeds):
        mem = ([got.production_full[s]["memory_mb"] for s in got.seeds],
               [got.candidate_full[s]["memory_mb"] for s in got.seeds])
    crits, projection = evaluate(threshold=got.threshold, control=got.control, candidate=got.candidate,
                                 higher_is_better=got.higher_is_better, latency=lat, memory=mem,
                                 standings=standings(registry, hyp.target_leaderboards), rule=rule, noise=got.noise,
                                 reproducibility=registry.experiments.reproducibility,
                                 production=got.production_full_scores)
    evidence = Evidence(got.threshold, screen.fast_diff, got.diffs, got.noise, criteria=lambda: crits, rule=rule)
    step = _next(chosen, evidence, got, screen, registry, all(c.passed for c in crits))
    margin = margin_test(got.diffs, got.threshold, got.noise, rule) if got.diffs else None
    # the stream's next test number and level are read, and the record holding them written,
    # under one lock: two decisions at once (a CLI sweep beside the DAG's) cannot share a level
    with store.lock(STREAM_LOCK) if write else contextlib.nullcontext():
        final = step.status != "failed" and step.outcome != "extend" and bool(got.diffs)
        found = results.decisions(home) if final else None  # the stream so far, read once under the lock
        fdr = _stream_test(found, registry, hid, step, got, rule, all(c.passed for c in crits),
                           chosen.sequential_p(evidence) if got.diffs else None)
        decision = _decision(hyp, got, screen, step, chosen, crits, projection, cand.config_hash, prod.config_hash,
                             now, margin, fdr)
        if found is not None and decision.margin:
            decision.margin = {**decision.margin, "shrunk": _shrunk(found, hid, margin)}
        _confirming(decision, registry, got)
        if write:
            apply.apply(store, registry, hyp, decision, cand.config, {s: got.candidate_full[s] for s in got.seeds},
                        now)
    return decision


def _hypothesis(store: StateStore, hid: str) -> Hypothesis:
    """The queue's hypothesis ``hid`` (production, or an id not in the queue, is an error)."""
    queue = store.load(QUEUE)
    hyp = next((h for h in queue.hypotheses if h.id == hid), None)
    if hid == PRODUCTION_ID:
        raise AutobenchError("decide: production is what candidates are compared with; give a hypothesis id")
    if hyp is None:
        known = ", ".join(h.id for h in queue.hypotheses[-5:]) or "none"
        raise AutobenchError(f"decide: no hypothesis {hid!r} in {QUEUE} (ids like {known})")
    return hyp


def _policy(registry: Registry, policy: str | None) -> SeedPolicy:
    """``policy`` (the registry's knobs apply only to the registry's own policy), else the registry's."""
    settings = registry.experiments
    name = policy or settings.seed_policy
    options = settings.seed_policy_options if name == settings.seed_policy else {}
    return get(name, **options)


def _gather(home: Path, registry: Registry, hyp: Hypothesis, cand: RunSpec, prod: RunSpec) -> _Gathered:
    """Both configs' runs, the paired full scores, and the noise (production's runs, refined by
    earlier decisions)."""
    hid = hyp.id
    metric = cand.primary_metric
    if metric is None:
        raise AutobenchError(f"decide {hid}: none of its leaderboards ({', '.join(hyp.target_leaderboards)}) "
                             "has a metric in our_solution.metric_map")
    hib = registry.leaderboard(hyp.target_leaderboards[0]).higher_is_better
    sign = 1.0 if hib else -1.0

    c_full, c_full_failed = results.runs(home, hid, cand.config_hash, "full")
    c_fast, c_fast_failed = results.runs(home, hid, cand.config_hash, "fast")
    p_full, p_full_failed = results.runs(home, PRODUCTION_ID, prod.config_hash, "full")
    p_fast, _ = results.runs(home, PRODUCTION_ID, prod.config_hash, "fast")

    paired = [s for s in c_full if s in p_full]
    control = [_score(p_full[s], metric, results.relative_run_folder(PRODUCTION_ID, prod.config_hash, "full", s))
               for s in paired]
    candidate = [_score(c_full[s], metric, results.relative_run_folder(hid, cand.config_hash, "full", s))
                 for s in paired]
    diffs = [sign * (b - a) for a, b in zip(control, candidate, strict=True)]

    prod_fast_scores = [_score(m, metric, "production fast run") for m in p_fast.values()]
    prod_full_scores = [_score(m, metric, "production full run") for m in p_full.values()]
    prior = noise_from_production(prod_full_scores, prod_fast_scores)
    noise = ledger(home, metric, exclude=hid, prior=prior).noise(prior)
    return _Gathered(metric, hib, registry.promotion_threshold, c_full, c_full_failed, c_fast, c_fast_failed,
                     p_full, p_fast, paired, control, candidate, diffs, prod_fast_scores, noise, prod_full_scores, hid,
                     p_full_failed)


def _screen(got: _Gathered, hid: str, config_hash: str) -> _Screen:
    """The fast screen (a crashed or collapsed fast run is a broken config), then the full runs'
    failures; with production's fast run on the same seed, the fast run's paired difference."""
    out = _Screen()
    if got.candidate_fast_failed and not got.candidate_fast:
        seed, error = next(iter(got.candidate_fast_failed.items()))
        out.broken = f"the fast validation (seed {seed}) failed twice: {error}"
    elif got.candidate_fast:
        seed, metrics = next(iter(got.candidate_fast.items()))
        score = _score(metrics, got.metric, results.relative_run_folder(hid, config_hash, "fast", seed))
        ok, why = fast_screen(score, got.production_fast_scores, got.threshold, got.higher_is_better)
        out.fast = {"seed": seed, "score": score, "screen": why}
        if not ok:
            out.broken = f"the fast validation (seed {seed}) {why}"
        elif seed in got.production_fast:
            out.fast["production"] = _score(got.production_fast[seed], got.metric, "production fast run")
            out.fast_diff = got.sign * (score - out.fast["production"])
    if not out.broken and got.candidate_full_failed:
        seed, error = next(iter(sorted(got.candidate_full_failed.items())))
        out.broken = f"full run seed {seed} failed twice: {error}"
    return out


def _next(chosen: SeedPolicy, evidence: Evidence, got: _Gathered, screen: _Screen, registry: Registry,
          all_pass: bool) -> _Next:
    """A broken config fails at once; otherwise the seed policy's next step: run more, or decide."""
    if screen.broken:
        return _Next("stop", screen.broken, "reject", "failed")
    step = chosen.next_step(evidence)
    outcome, status, next_runs = _outcome(step.action, step.runs, all_pass, registry, got.candidate_full,
                                          got.production_full, got.production_fast, got.hypothesis)
    why = step.reason
    if step.action == "fast" and got.candidate_fast and screen.fast.get("production") is None:
        why = f"production's fast run on seed {next_runs['seeds'][0]} is needed to pair with the candidate's"
    return _Next(step.action, why, outcome, status, next_runs)


def stream(home: Path, budget: float, exclude: str = "") -> Any:
    """The stream of final decisions so far (LORD++ over every decision record that holds a test,
    in test order, renumbered: two sweeps deciding at once cannot leave a gap)."""
    return _stream_of(results.decisions(home), budget, exclude)


def _stream_of(found: Any, budget: float, exclude: str = "") -> Any:
    """:func:`stream` over decision records already read."""
    from autobench.experiments.fdr import replay

    found.raise_invalid()
    tests = sorted((r.fdr["test"], r.decided_at, bool(r.fdr["discovery"]), r.hypothesis)
                   for _, r in found.valid if r.fdr and r.hypothesis != exclude)
    return replay([(t, discovery, hid) for t, (_, _, discovery, hid) in enumerate(tests, 1)], budget)


def _shrunk(found: Any, hid: str, margin: Any) -> dict[str, Any] | None:
    """The gain corrected for its selection from the stream of final decisions (Tweedie's formula,
    :func:`~autobench.experiments.statistics.shrink`): what is reported of a promotion until a
    confirmation on fresh seeds measures it."""
    from autobench.experiments.statistics import shrink

    stream_z = []
    for _, r in found.valid:
        m = r.margin or {}
        if (r.hypothesis != hid and r.decision != "extend" and r.status != "failed"
                and isinstance(m.get("gain"), (int, float)) and isinstance(m.get("se"), (int, float))
                and m["se"] > 0):
            stream_z.append(float(m["gain"]) / float(m["se"]))
    if not (math.isfinite(margin.gain) and math.isfinite(margin.se)) or margin.se <= 0:
        return None
    out = shrink(margin.gain, margin.se, [*stream_z, margin.gain / margin.se])
    return None if out is None else {k: round(v, 8) if isinstance(v, float) else v for k, v in out.items()}


def _stream_test(found: Any, registry: Registry, hid: str, step: _Next, got: _Gathered, rule: str,
                 all_pass: bool, sequential: float | None = None) -> dict[str, Any] | None:
    """A final decision on a config that ran is the stream's next test (:mod:`autobench.experiments.fdr`);
    under ``false_promotion_control: enforce`` a promotion outside its level becomes a rejection
    (``step`` is changed in place). Its p-value is the margin test's on the seeds run, or, for a
    policy that chose when to stop, the larger of that and the policy's ``sequential`` one (valid
    under its stopping rule)."""
    if found is None:  # not a final decision on a config that ran
        return None
    settings = registry.experiments
    fixed = margin_test(got.diffs, got.threshold if rule == "margin" else 0.0, got.noise, rule).p_value
    fixed = 1.0 if fixed != fixed else fixed  # one seed and no known noise: no evidence
    p = fixed if sequential is None or sequential != sequential else max(fixed, sequential)
    eligible = all_pass and step.outcome == "promote"
    test = _stream_of(found, settings.false_promotion_budget, exclude=hid).test(p, hid, eligible=eligible)
    enforced = settings.false_promotion_control == "enforce"
    if enforced and step.outcome == "promote" and not test.discovery:
        step.outcome, step.status = "reject", "rejected"
        step.why += (f"; stream-wide control (LORD++, budget {settings.false_promotion_budget:g}): p = {p:.3g} "
                     f"is above this decision's level {test.level:.3g}")
    return {**test.as_dict(settings.false_promotion_budget, enforced), "p_fixed_n": fixed,
            "p_sequential": sequential}


def _confirming(decision: Decision, registry: Registry, got: _Gathered) -> None:
    """A promotion to be confirmed (``experiments.confirmation_seeds`` > 0): status ``confirming``,
    and the fresh seeds, above every seed either config ran, recorded."""
    k = registry.experiments.confirmation_seeds
    if decision.decision != "promote" or k <= 0:
        return
    from autobench.experiments.confirmation import fresh_seeds

    used = (set(got.candidate_full) | set(got.candidate_full_failed) | set(got.production_full)
            | set(got.production_full_failed) | set(registry.our_solution.seeds))
    decision.status = "confirming"
    decision.confirmation = {"seeds": fresh_seeds(used, k), "outcome": "pending"}


def _decision(hyp: Hypothesis, got: _Gathered, screen: _Screen, step: _Next, chosen: SeedPolicy, crits: list[Any],
              projection: dict[str, Any], config_hash: str, production_hash: str, now: dt.datetime,
              margin: Any = None, fdr: dict[str, Any] | None = None) -> Decision:
    """The record: validated by the schema (what is recorded is what the schema says), with the
    paired comparison and the reason in words."""
    by_seed = [str(s) for s in got.seeds]
    decision = Decision.model_validate({
        "hypothesis": hyp.id, "decision": step.outcome, "status": step.status,
        "criteria": [c.as_dict() for c in crits], "projection": projection, "reason": "-",
        "policy": {"name": chosen.name, "knobs": chosen.knobs(), "step": step.action, "why": step.why},
        "evidence": {"metric": got.metric, "higher_is_better": got.higher_is_better, "seeds": got.seeds,
                     "control": dict(zip(by_seed, got.control, strict=True)),
                     "candidate": dict(zip(by_seed, got.candidate, strict=True)),
                     "diffs": got.diffs, "fast_diff": screen.fast_diff, "fast": screen.fast,
                     "noise": got.noise.as_dict() if got.noise else None},
        "config_hash": config_hash, "production_hash": production_hash, "next_runs": step.next_runs,
        "comparison": None, "decided_at": iso(now), "files_written": [],
        "margin": margin.as_dict() if margin is not None else None, "fdr": fdr,
    })
    if len(got.seeds) >= 2:
        from autobench.experiments.statistics import compare

        decision.comparison = compare(dict(zip(by_seed, got.control, strict=True)),
                                      dict(zip(by_seed, got.candidate, strict=True)))
    decision.reason = explain.reason(hyp.id, hyp.title, decision, got.threshold,
                                     candidate_mean=_mean_of(got.candidate), production_mean=_mean_of(got.control))
    return decision


def _outcome(action: str, runs: int, all_pass: bool, registry: Registry, c_full: dict[int, Any],
             p_full: dict[int, Any], p_fast: dict[int, Any], hid: str = "") -> tuple[str, str, dict[str, Any] | None]:
    """(decision, status, next_runs) for the seed policy's step."""
    if action == "fast":
        seed = registry.our_solution.seeds[0]
        return "extend", "extended", {"mode": "fast", "seeds": [seed],
                                      "production_missing": [] if seed in p_fast else [seed]}
    if action == "full":
        want = [s for s in seed_order(registry, set(c_full), control_window(registry, hid)) if s not in c_full][:runs]
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
