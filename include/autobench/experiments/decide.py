"""``autobench decide ID``: one experiment's runs on disk → a decision → the state files.

Reads (validation metrics only, never the test split):

- the candidate's runs, ``experiments/results/<ID>/<config_hash>/{fast,full}/seed_<n>/``, where
  the hash is that of production's config with the hypothesis's patch applied *today*;
- production's runs of today's config (cached; they do not count as the experiment's runs),
  which pair with the candidate's by seed and give the prior on the noise;
- earlier ``decision.json`` files, whose paired differences refine that prior
  (:class:`~autobench.experiments.promotion.NoiseLedger`);
- the registry's competitors and our published scores, for the projection.

The seed policy (the registry's ``experiments.seed_policy``, or ``--policy``) says whether the
evidence is enough; the five criteria of :mod:`autobench.experiments.promotion` judge it. Outcomes:

``promote``  the config goes to ``experiments/promoted/<ID>-<time>.yaml``; the registry's
             ``our_solution.config`` and ``current_scores`` are updated (comments kept); a
             ``CHANGELOG.md`` entry; status ``promoted``; open hypotheses whose patch production
             now already has become ``superseded``.
``reject``   a note in ``experiments/archived/<ID>-<time>.md`` naming each failed criterion;
             status ``rejected`` (``failed`` when a run crashed, gave NaN, or the fast run
             collapsed).
``extend``   status ``extended`` and the runs still wanted (``next_runs``).

Every decision is written to ``decision.json`` beside the runs first, then the rest, each write
idempotent, so a retried task writes nothing twice. A hypothesis already closed is not decided
again: its recorded decision is returned. Nor is a promotion whose registry edit is done (production's
config hash is the recorded ``config_hash``): a retry replays the record and finishes the writes
the first attempt left undone (CHANGELOG entry, statuses, the promoted config), each once.

Titles come from papers (web text): they are escaped (:mod:`autobench.escaping`) wherever they
reach Markdown (``CHANGELOG.md``, the archived notes).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

from autobench import fsio
from autobench.clock import iso
from autobench.errors import AutobenchError
from autobench.experiments.config import spec_for
from autobench.experiments.promotion import (
    NoiseLedger,
    Standing,
    evaluate,
    fast_screen,
    noise_from_production,
)
from autobench.experiments.runner import is_complete
from autobench.experiments.seed_policies import Evidence, SeedPolicy, get
from autobench.hypothesis_queue import superseded
from autobench.paths import RESULTS
from autobench.schemas import (
    CLOSED_STATUSES,
    PRODUCTION_ID,
    QUEUE,
    REGISTRY,
    Decision,
    Hypothesis,
    Registry,
    StateError,
)
from autobench.store import StateStore

CHANGELOG = "CHANGELOG.md"
CHANGELOG_HEAD = "# Changelog\n\nProduction configs promoted by autobench, newest last.\n"


# ----------------------------------------------------------------------------- reading runs


def runs(home: Path, run_id: str, chash: str, mode: str) -> tuple[dict[int, dict[str, Any]], dict[int, str]]:
    """Complete runs (seed → metrics) and failed ones (seed → the error) of one config."""
    folder = home / RESULTS / run_id / chash / mode
    done: dict[int, dict[str, Any]] = {}
    failed: dict[int, str] = {}
    if not folder.is_dir():
        return done, failed
    for seed_dir in folder.glob("seed_*"):
        try:
            seed = int(seed_dir.name.removeprefix("seed_"))
        except ValueError:
            continue
        metrics = is_complete(seed_dir)
        if metrics is not None:
            done[seed] = metrics
        elif (seed_dir / "failure.json").is_file():
            try:
                info = json.loads((seed_dir / "failure.json").read_text())
                failed[seed] = str((info.get("attempts") or ["failed"])[-1])
            except (OSError, ValueError):
                failed[seed] = "failed (failure.json unreadable)"
    return dict(sorted(done.items())), failed


def _score(metrics: dict[str, Any], metric: str, where: str) -> float:
    value = metrics.get(metric)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise AutobenchError(f"{where}: the metric {metric!r} is missing or not a number (got {value!r})")
    return float(value)


def ledger(home: Path, metric: str, exclude: str) -> NoiseLedger:
    """Paired differences from earlier decisions on the same metric."""
    book = NoiseLedger()
    for path in sorted((home / RESULTS).glob("*/*/decision.json")):
        if path.parent.parent.name == exclude:
            continue
        try:
            record = Decision.model_validate_json(path.read_text())
        except (OSError, ValueError) as exc:
            rel = path.relative_to(home)
            raise StateError(str(rel), [("", f"unreadable decision record: {str(exc).splitlines()[0]}")]) from None
        if record.evidence.metric == metric:
            book.add(record.evidence.fast_diff, record.evidence.diffs)
    return book


def standings(registry: Registry, boards: list[str]) -> list[Standing]:
    out = []
    ours = registry.our_solution
    for name in boards:
        lb = registry.leaderboard(name)
        score = ours.published_scores.get(name, ours.current_scores.get(name))
        comps = {c.name: c.latest_score for c in registry.competitors if c.source == name and c.latest_score is not None}
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
           write: bool = True) -> dict[str, Any]:
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
    applied = _applied_promotion(home, hid, cand.config_hash, prod.config_hash)
    if applied is not None:  # a retry after the registry edit: finish the promotion, decide nothing
        if write:
            done, _ = runs(home, hid, cand.config_hash, "full")
            seeds = applied["evidence"]["seeds"]
            _promote(store, registry, hyp, applied, cand.config, {s: done[s] for s in seeds if s in done},
                     registry_done=True)
        applied["replayed"] = True
        return applied
    metric = cand.primary_metric
    if metric is None:
        raise AutobenchError(f"decide {hid}: none of its leaderboards ({', '.join(hyp.target_leaderboards)}) "
                             "has a metric in our_solution.metric_map")
    board = registry.leaderboard(hyp.target_leaderboards[0])
    hib = board.higher_is_better
    sign = 1.0 if hib else -1.0
    threshold = registry.promotion_threshold

    c_full, c_full_failed = runs(home, hid, cand.config_hash, "full")
    c_fast, c_fast_failed = runs(home, hid, cand.config_hash, "fast")
    p_full, _ = runs(home, PRODUCTION_ID, prod.config_hash, "full")
    p_fast, _ = runs(home, PRODUCTION_ID, prod.config_hash, "fast")
    where = f"{RESULTS}/{hid}/{cand.config_hash}"

    paired = [s for s in c_full if s in p_full]
    control = [_score(p_full[s], metric, f"{RESULTS}/{PRODUCTION_ID}/{prod.config_hash}/full/seed_{s}") for s in paired]
    candidate = [_score(c_full[s], metric, f"{where}/full/seed_{s}") for s in paired]
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
        score = _score(metrics, metric, f"{where}/fast/seed_{seed}")
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

    def criteria_now():
        lat = mem = None
        if paired and all("latency_ms" in p_full[s] and "latency_ms" in c_full[s] for s in paired):
            lat = ([p_full[s]["latency_ms"] for s in paired], [c_full[s]["latency_ms"] for s in paired])
        if paired and all("memory_mb" in p_full[s] and "memory_mb" in c_full[s] for s in paired):
            mem = ([p_full[s]["memory_mb"] for s in paired], [c_full[s]["memory_mb"] for s in paired])
        return evaluate(threshold=threshold, control=control, candidate=candidate, higher_is_better=hib,
                        latency=lat, memory=mem, standings=standings(registry, hyp.target_leaderboards))

    crits, projection = criteria_now()
    evidence = Evidence(threshold, fast_diff if (c_fast and fast_info.get("production") is not None) else None,
                        diffs, noise, criteria=lambda: crits)
    if broken:
        step_action, step_reason, decision, status = "stop", broken, "reject", "failed"
        next_runs = None
    else:
        step = chosen.next_step(evidence)
        step_action, step_reason = step.action, step.reason
        next_runs = None
        if step.action == "fast":
            decision, status = "extend", "extended"
            seed = registry.our_solution.seeds[0]
            next_runs = {"mode": "fast", "seeds": [seed],
                         "production_missing": [] if seed in p_fast else [seed]}
            if c_fast and fast_info.get("production") is None:
                step_reason = f"production's fast run on seed {seed} is needed to pair with the candidate's"
        elif step.action == "full":
            decision, status = "extend", "extended"
            order = [s for s in seed_order(registry, set(c_full)) if s not in c_full]
            want = order[:step.runs]
            missing_prod = [s for s in c_full if s not in p_full]
            next_runs = {"mode": "full", "seeds": want,
                         "production_missing": sorted(set(missing_prod) | {s for s in want if s not in p_full})}
        elif step.action == "decide" and all(c.passed for c in crits):
            decision, status = "promote", "promoted"
        else:
            decision, status = "reject", "rejected"

    record: dict[str, Any] = {
        "hypothesis": hid,
        "decision": decision,
        "status": status,
        "criteria": [c.as_dict() for c in crits],
        "projection": projection,
        "reason": "",
        "policy": {"name": chosen.name, "knobs": chosen.knobs(), "step": step_action, "why": step_reason},
        "evidence": {"metric": metric, "higher_is_better": hib, "seeds": paired,
                     "control": {str(s): v for s, v in zip(paired, control, strict=True)},
                     "candidate": {str(s): v for s, v in zip(paired, candidate, strict=True)},
                     "diffs": diffs, "fast_diff": evidence.fast_diff, "fast": fast_info,
                     "noise": noise.as_dict() if noise else None},
        "config_hash": cand.config_hash,
        "production_hash": prod.config_hash,
        "next_runs": next_runs,
        "comparison": None,
        "decided_at": iso(now),
        "files_written": [],
    }
    if len(paired) >= 2:
        from autobench.experiments.statistics import compare

        record["comparison"] = compare({str(s): v for s, v in zip(paired, control, strict=True)},
                                       {str(s): v for s, v in zip(paired, candidate, strict=True)})
    record["reason"] = reason(hyp, record, threshold, c_full_mean=_mean_of(candidate), p_full_mean=_mean_of(control))
    Decision.model_validate(record)  # what is written is what the schema says
    if write:
        _apply(store, registry, hyp, record, cand.config, {s: c_full[s] for s in paired}, now)
    return record


def _mean_of(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _replay(home: Path, hyp: Hypothesis) -> dict[str, Any]:
    found = sorted((home / RESULTS / hyp.id).glob("*/decision.json"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise AutobenchError(f"decide: {hyp.id} is already {hyp.status} and has no decision.json "
                             f"(closed by hand?); nothing to decide")
    record = json.loads(found[-1].read_text())
    record["replayed"] = True
    return record


# ----------------------------------------------------------------------------- the words


def _fmt(x: float | None, signed: bool = False) -> str:
    if x is None:
        return "n/a"
    return f"{x:+.4f}" if signed else f"{x:.4f}"


def reason(hyp: Hypothesis, record: dict[str, Any], threshold: float, *, c_full_mean: float | None,
           p_full_mean: float | None) -> str:
    """One paragraph a person can audit."""
    ev = record["evidence"]
    crits = {c["name"]: c for c in record["criteria"]}
    n = len(ev["seeds"])
    parts: list[str] = []
    head = {"promote": "is promoted", "reject": "is rejected", "extend": "needs more evidence"}[record["decision"]]
    if record["status"] == "failed":
        head = "failed"
    parts.append(f"{hyp.id} ({hyp.title}) {head}.")
    if n:
        comp = record.get("comparison") or {}
        ci = comp.get("ci95_diff")
        ci_text = f" (95% CI {ci[0]:+.4f} to {ci[1]:+.4f})" if ci else ""
        parts.append(f"On {n} paired seed(s) ({', '.join(map(str, ev['seeds']))}) its validation {ev['metric']} "
                     f"averages {_fmt(c_full_mean)} against production's {_fmt(p_full_mean)}, a gain of "
                     f"{_fmt(crits['improvement']['value'], True)}{ci_text} where {threshold:g} is required.")
    elif ev.get("fast"):
        parts.append(f"Only the fast validation has run: {ev['fast'].get('screen', '')}.")
    else:
        parts.append("No runs yet.")
    failed = [c for c in record["criteria"] if not c["passed"]]
    passed = [c["name"] for c in record["criteria"] if c["passed"]]
    if record["status"] == "failed":
        parts.append(f"Cause: {record['policy']['why']}. A broken config gets no more compute (seed 002 §5.2).")
    elif record["decision"] == "promote":
        pj = record["projection"]
        where = (f" On {pj['leaderboard']} the projected rank is #{pj['projected_rank']} (today #{pj['current_rank']}), "
                 f"P(#1) = {pj['p_first']:.2f}." if pj.get("current_rank") else "")
        sig = crits["significance"]
        rep = crits["reproducibility"]["value"]
        parts.append(f"All five criteria are met: paired t-test p = {sig['value']:.4g}; "
                     f"{_regression_text(crits['regression'])}; std {rep['std_pct_of_mean']:.3g}% of the mean over "
                     f"{rep['seeds']} seeds.{where}")
    else:
        if failed:
            parts.append("Failed: " + "; ".join(f"{c['name']} ({_value_text(c)}; needs {c['requirement']})"
                                                for c in failed) + ".")
        if passed:
            parts.append(f"Met: {', '.join(passed)}.")
    pol = record["policy"]
    tail = f"Seed policy {pol['name']}: {pol['why']}."
    if record["decision"] == "extend" and record.get("next_runs"):
        nr = record["next_runs"]
        tail += f" Next: {nr['mode']} run(s) on seed(s) {', '.join(map(str, nr['seeds']))}."
    parts.append(tail)
    return " ".join(parts)


def _regression_text(c: dict[str, Any]) -> str:
    v = c["value"] or {}
    bits = []
    for key, label in (("latency_change_pct", "latency"), ("memory_change_pct", "memory")):
        bits.append(f"{label} {v[key]:+.1f}%" if v.get(key) is not None else f"{label} not reported")
    return ", ".join(bits)


def _value_text(c: dict[str, Any]) -> str:
    v = c["value"]
    if c["name"] == "regression":
        return _regression_text(c)
    if c["name"] == "reproducibility":
        pct = v["std_pct_of_mean"]
        return f"{v['seeds']} seed(s), std {'n/a' if pct is None else f'{pct:.3g}%'} of the mean"
    if c["name"] == "projection":
        return f"rank #{v['current_rank']} → #{v['projected_rank']}" if v.get("current_rank") else "not ranked"
    if c["name"] == "significance":
        return "not computable" if v is None else f"p = {v:.4g}" + (f", {c['detail']}" if c.get("detail") else "")
    return "no runs" if v is None else f"{v:+.4f}"


# ----------------------------------------------------------------------------- the writes


def _stamp(now: dt.datetime) -> str:
    return iso(now).replace(":", "").replace("-", "")


def _apply(store: StateStore, registry: Registry, hyp: Hypothesis, record: dict[str, Any],
           config: dict[str, Any], c_full: dict[int, dict[str, Any]], now: dt.datetime) -> None:
    from autobench.hypothesis_queue import set_status

    home = store.home
    folder = home / RESULTS / hyp.id / record["config_hash"]
    written: list[str] = [str((folder / "decision.json").relative_to(home))]
    outcome, status = record["decision"], record["status"]
    if outcome == "promote":
        written.append(f"experiments/promoted/{hyp.id}-{_stamp(now)}.yaml")
        written += [REGISTRY, CHANGELOG]
    elif outcome == "reject":
        written.append(f"experiments/archived/{hyp.id}-{_stamp(now)}.md")
    written.append(QUEUE)
    record["files_written"] = written
    folder.mkdir(parents=True, exist_ok=True)
    fsio.atomic_write(folder / "decision.json", json.dumps(record, indent=2, ensure_ascii=False) + "\n")

    if outcome == "promote":
        _promote(store, registry, hyp, record, config, c_full, registry_done=False)
    elif outcome == "reject":
        fsio.atomic_write(home / written[1], _archive_note(hyp, record))
        set_status(store, [(hyp.id, status, _notes_line(record))], now)
    else:
        set_status(store, [(hyp.id, "extended", _notes_line(record))], now)


def _notes_line(record: dict[str, Any]) -> str:
    return f"{record['decision']}: {record['reason']} (see {record['files_written'][0]})"


def _means(c_full: dict[int, dict[str, Any]]) -> dict[str, float]:
    means = {}
    metrics = sorted({k for m in c_full.values() for k, v in m.items() if isinstance(v, (int, float))})
    for key in metrics:
        values = [float(m[key]) for m in c_full.values() if isinstance(m.get(key), (int, float))]
        means[key] = sum(values) / len(values)
    return means


def _promote(store: StateStore, registry: Registry, hyp: Hypothesis, record: dict[str, Any],
             config: dict[str, Any], c_full: dict[int, dict[str, Any]], *, registry_done: bool) -> None:
    """A promotion's writes after ``decision.json``, each idempotent, in an order a retry can finish.

    The promoted config file (once), the registry (unless ``registry_done``: production already has
    the candidate's config), the CHANGELOG entry (once: its marker), then the statuses. Times come
    from the record, so a retry writes what the first attempt would have.
    """
    import yaml

    from autobench.hypothesis_queue import set_status

    home = store.home
    when = dt.datetime.fromisoformat(record["decided_at"].replace("Z", "+00:00"))
    means = _means(c_full)
    promoted_file = home / record["files_written"][1]
    if not promoted_file.exists():
        promoted = {"hypothesis": hyp.id, "title": hyp.title, "promoted_at": record["decided_at"],
                    "config_hash": record["config_hash"], "replaces": record["production_hash"],
                    "solution": registry.our_solution.solution, "config": config,
                    "config_patch": hyp.implementation.config_patch,
                    "validation_means": means, "seeds": record["evidence"]["seeds"],
                    "criteria": {c["name"]: c["passed"] for c in record["criteria"]}}
        fsio.atomic_write(promoted_file, yaml.safe_dump(promoted, sort_keys=False, allow_unicode=True))
    if not registry_done:
        with store.edit(REGISTRY) as doc:
            ours = doc["our_solution"]
            _replace_mapping(ours, "config", config)
            scores = {}
            for board, metric in registry.our_solution.metric_map.items():
                if metric in means:
                    scores[board] = round(means[metric], 6)
            if scores:
                if ours.get("current_scores") is None:
                    ours["current_scores"] = {}
                for board, value in scores.items():
                    ours["current_scores"][board] = value
    _changelog(store, hyp, record, when)
    changes = [(hyp.id, "promoted", _notes_line(record))]
    changes += superseded(store.load(QUEUE), config, f"production now has its patch (promoted {hyp.id})", exclude=hyp.id)
    set_status(store, changes, when)


def _applied_promotion(home: Path, hid: str, chash: str, prod_hash: str) -> dict[str, Any] | None:
    """The recorded promotion of ``chash`` when production already has that config, else ``None``.

    The registry edit is a promotion's first write after ``decision.json``; once it is done,
    deciding again would compare the candidate with itself (and say ``extend``). A retry replays
    the record instead and finishes what the first attempt left undone.
    """
    path = home / RESULTS / hid / chash / "decision.json"
    if chash != prod_hash or not path.is_file():
        return None
    try:
        text = path.read_text()
        Decision.model_validate_json(text)
        record = json.loads(text)
    except (OSError, ValueError) as exc:
        rel = path.relative_to(home)
        raise StateError(str(rel), [("", f"unreadable decision record: {str(exc).splitlines()[0]}")]) from None
    if record["decision"] != "promote" or record["config_hash"] != prod_hash:
        return None
    return record


def _replace_mapping(parent: Any, key: str, new: dict[str, Any]) -> None:
    """Make ``parent[key]`` equal ``new`` in place, so comments on unchanged keys survive."""
    current = parent.get(key)
    if not hasattr(current, "keys"):
        parent[key] = new
        return
    for k in list(current.keys()):
        if k not in new:
            del current[k]
    for k, v in new.items():
        if isinstance(v, dict) and hasattr(current.get(k), "keys"):
            _replace_mapping(current, k, v)
        elif current.get(k) != v or type(current.get(k)) is not type(v):
            current[k] = v


def _changelog(store: StateStore, hyp: Hypothesis, record: dict[str, Any], now: dt.datetime) -> None:
    from autobench.escaping import md_text

    path = store.home / CHANGELOG
    marker = f"<!-- autobench: {hyp.id} {record['config_hash']} -->"
    with store.lock(CHANGELOG):
        text = path.read_text(encoding="utf-8") if path.exists() else CHANGELOG_HEAD
        if marker in text:
            return
        gain = next(c["value"] for c in record["criteria"] if c["name"] == "improvement")
        pj = record["projection"]
        rank = (f"; {md_text(pj['leaderboard'])} projected #{pj['projected_rank']} (was #{pj['current_rank']}), "
                f"P(#1) {pj['p_first']:.2f}" if pj.get("current_rank") else "")
        patch = ", ".join(f"{k}: {v}" for k, v in hyp.implementation.config_patch.items()) or "no change"
        entry = (f"\n## {iso(now)[:10]} — promoted {hyp.id}: {md_text(hyp.title)}\n{marker}\n\n"
                 f"- change: {md_text(patch)} (config {record['production_hash']} → {record['config_hash']})\n"
                 f"- {record['evidence']['metric']}: {gain:+.4f} over {len(record['evidence']['seeds'])} paired seeds{rank}\n"
                 f"- decision: {record['files_written'][0]}\n")
        fsio.atomic_write(path, text.rstrip("\n") + "\n" + entry)


def _archive_note(hyp: Hypothesis, record: dict[str, Any]) -> str:
    """The note for ``experiments/archived/``: titles and reasons (web text in them) escaped."""
    from autobench.escaping import md_cell, md_text

    lines = [f"# {hyp.id}: {md_text(hyp.title)} — {record['status']}", "",
             f"Decided {record['decided_at']} by the {record['policy']['name']} seed policy "
             f"({md_text(record['policy']['why'])}).", "", md_text(record["reason"]), "", "| criterion | passed | value | requirement |",
             "| --- | --- | --- | --- |"]
    for c in record["criteria"]:
        value = c["value"] if not isinstance(c["value"], dict) else ", ".join(f"{k} {v}" for k, v in c["value"].items())
        lines.append(f"| {c['name']} | {'yes' if c['passed'] else '**no**'} | {md_cell(str(value))} | {md_cell(c['requirement'])} |")
    failed = [c["name"] for c in record["criteria"] if not c["passed"]]
    lines += ["", f"Failed criteria: {', '.join(failed) if failed else 'none'}.",
              f"Config hash {record['config_hash']}; patch {json.dumps(hyp.implementation.config_patch)}.", ""]
    return "\n".join(lines)
