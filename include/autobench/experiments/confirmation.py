"""A promotion confirmed on fresh seeds, or rolled back.

With ``experiments.confirmation_seeds`` = k > 0, a promotion moves production to the winner at
once (so the hypotheses still in flight are judged against it) with status ``confirming``, and
its decision record names k **fresh seeds** (``confirmation: {"seeds", "outcome": "pending"}``):
seeds no run of the winner or of the config it replaced used. Neither the seeds the selection
stopped on nor the production runs every hypothesis of the period was paired with (the shared
control) have a say in the confirmation: both configs run on the fresh seeds (:func:`wanted`), in
the same sweep, before anything else is picked.

:func:`conclude` then pairs them. The confirmation's own estimate of the gain (the mean paired
difference, its standard error pooled with production's known noise as
:func:`~autobench.experiments.promotion.margin_test` does) and its 95% interval are recorded in
the decision; it is what the ``CHANGELOG.md`` entry, the registry's ``current_scores`` (the
winner's mean on the fresh seeds) and the digest report, not the selection's estimate, which
sequential stopping and the choice of the winner bias upwards.

The confirmation **contradicts** the promotion when its 95% interval lies wholly below the
promotion threshold (the fresh seeds show the gain falls short), or when the winner fails on a
fresh seed. Then the promotion is **rolled back**: production's previous config and scores are
restored (when production is still the winner: a later promotion built on it is left to a
person, and the alert says so), the status is ``rolled_back``, a ``CHANGELOG.md`` entry and an
archive note are written, the hypotheses the promotion superseded are queued again, and an
alert line goes out. When the config it replaced fails on every fresh seed, nothing can be
compared: the promotion stands, ``unconfirmed``, with an alert.

Every write is idempotent and comes after the record, so a retried task finishes what the first
attempt left undone.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

from autobench import fsio
from autobench.clock import iso
from autobench.errors import AutobenchError
from autobench.experiments import results
from autobench.schemas import PRODUCTION_ID, QUEUE, REGISTRY, Decision, Hypothesis, Registry
from autobench.store import StateStore

LEVEL = 0.95  # the confirmation's two-sided interval
OUTCOMES = ("pending", "confirmed", "rolled_back", "unconfirmed")


def fresh_seeds(used: set[int], k: int) -> list[int]:
    """``k`` seeds above every seed in ``used`` (the runs of both configs)."""
    start = max(used, default=0) + 1
    return list(range(start, start + k))


def confirming(store: StateStore, hid: str) -> Decision | None:
    """``hid``'s promotion waiting for its confirmation: the queue says ``confirming`` (the
    promotion's writes are done) and the record's confirmation has not concluded; else None."""
    hyp = next((h for h in store.load(QUEUE).hypotheses if h.id == hid), None)
    if hyp is None or hyp.status != "confirming":
        return None
    return pending(store.home, hid)


def pending(home: Path, hid: str) -> Decision | None:
    """``hid``'s latest record if it is a promotion whose confirmation has not concluded, else None."""
    record = results.latest_decision(home, hid)
    if record is None or record.decision != "promote" or not record.confirmation:
        return None
    return record if record.confirmation.get("outcome") == "pending" else None


def promoted_file(home: Path, record: Decision) -> dict[str, Any]:
    """The promoted config file the promotion wrote (the winner's config and the one it replaced)."""
    import yaml

    rel = record.files_written[1] if len(record.files_written) > 1 else ""
    path = Path(home) / rel
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise AutobenchError(f"confirm {record.hypothesis}: cannot read the promoted config {rel or '(none recorded)'}:"
                             f" {exc}") from None
    if not isinstance(data, dict) or "replaces_config" not in data:
        raise AutobenchError(f"confirm {record.hypothesis}: {rel} does not hold the config the promotion replaced "
                             "(replaces_config); it cannot be confirmed against it")
    return data


def specs(store: StateStore, record: Decision):
    """(winner, replaced): the two configs the confirmation runs, as the promotion recorded them."""
    from autobench.experiments.runner import RunSpec

    registry: Registry = store.load(REGISTRY)
    kept = promoted_file(store.home, record)
    solution, subset, metric = kept.get("solution", registry.our_solution.solution), \
        registry.experiments.fast_subset, record.evidence.metric
    winner = RunSpec(record.hypothesis, solution, kept["config"], subset, metric)
    replaced = RunSpec(PRODUCTION_ID, solution, kept["replaces_config"], subset, metric)
    for spec, want in ((winner, record.config_hash), (replaced, record.production_hash)):
        if spec.config_hash != want:
            raise AutobenchError(f"confirm {record.hypothesis}: the promoted config file's {spec.experiment_id} config "
                                 f"hashes to {spec.config_hash}, the decision recorded {want}")
    return winner, replaced


def wanted(store: StateStore, hid: str) -> list[tuple[Any, int]]:
    """The confirmation runs still to do: (spec, seed) for each fresh seed either config lacks
    (a run that failed twice is not run again)."""
    record = confirming(store, hid)
    if record is None:
        return []
    out = []
    for spec in specs(store, record):
        done, failed = results.runs(store.home, spec.experiment_id, spec.config_hash, "full")
        out += [(spec, s) for s in record.confirmation["seeds"] if s not in done and s not in failed]
    return out


def _noise(record: Decision):
    from autobench.experiments.seed_policies import Noise

    data = record.evidence.noise
    if not data or data.get("sd_diff") is None:
        return None
    inf = math.inf
    return Noise(float(data["sd_diff"]), inf if data.get("df") is None else float(data["df"]),
                 inf if data.get("fast_ratio") is None else float(data["fast_ratio"]), str(data.get("source") or ""))


def estimate(diffs: list[float], threshold: float, noise=None) -> dict[str, Any]:
    """The confirmation's gain, standard error and 95% interval (production's known noise pooled
    in), the confidence that the gain reaches the threshold, and whether the interval lies wholly
    below the threshold (``contradicts``)."""
    from autobench.experiments.promotion import margin_test
    from autobench.experiments.statistics import t_quantile

    test = margin_test(diffs, threshold, noise, "margin")
    if test.n == 0 or not math.isfinite(test.se):
        return {"n": test.n, "gain": None if test.n == 0 else test.gain, "se": None, "df": None, "interval": None,
                "confidence": None, "contradicts": False, "noise": test.noise}
    half = t_quantile(0.5 + LEVEL / 2, test.df) * test.se
    interval = [test.gain - half, test.gain + half]
    return {"n": test.n, "gain": test.gain, "se": test.se, "df": None if math.isinf(test.df) else test.df,
            "interval": interval, "confidence": test.confidence, "contradicts": interval[1] < threshold,
            "noise": test.noise}


def conclude(store: StateStore, hyp: Hypothesis, now: dt.datetime, *, write: bool = True) -> Decision:
    """Pair the fresh seeds and conclude (confirmed, rolled back, or unconfirmed), once every
    fresh seed has run on both configs; before that, the pending record as it is. With
    ``write``, the outcome is recorded and made true (a concluded record's writes are finished:
    a retry)."""
    import contextlib

    from autobench.experiments.fdr import STREAM_LOCK

    record = results.latest_decision(store.home, hyp.id)
    if record is None or record.decision != "promote" or not record.confirmation:
        raise AutobenchError(f"confirm {hyp.id}: it is confirming but has no promotion on record to confirm")
    # under the lock promotions hold from reading production to editing the registry: a rollback's
    # check that production is still the winner and its restore cannot interleave with one
    with store.lock(STREAM_LOCK) if write else contextlib.nullcontext():
        if record.confirmation.get("outcome") == "pending":
            found = _judge(store, record, now)
            if found is None:
                return record  # fresh seeds still to run
            record = found
            if write:
                results.write_decision(store.home, record)
        if write:
            _apply(store, hyp, record, now)
    return record


def _judge(store: StateStore, record: Decision, now: dt.datetime) -> Decision | None:
    from autobench.experiments.apply import is_number, means_of, stamp

    winner, replaced = specs(store, record)
    seeds = record.confirmation["seeds"]
    w_done, w_failed = results.runs(store.home, winner.experiment_id, winner.config_hash, "full")
    r_done, r_failed = results.runs(store.home, replaced.experiment_id, replaced.config_hash, "full")
    if any(s not in w_done and s not in w_failed or s not in r_done and s not in r_failed for s in seeds):
        return None
    registry: Registry = store.load(REGISTRY)
    metric, sign = record.evidence.metric, 1.0 if record.evidence.higher_is_better else -1.0
    threshold = registry.promotion_threshold
    paired = [s for s in seeds if s in w_done and s in r_done and is_number(w_done[s].get(metric))
              and is_number(r_done[s].get(metric))]
    control = {str(s): float(r_done[s][metric]) for s in paired}
    candidate = {str(s): float(w_done[s][metric]) for s in paired}
    diffs = [sign * (candidate[str(s)] - control[str(s)]) for s in paired]
    found = estimate(diffs, threshold, _noise(record))
    crashed = sorted(s for s in seeds if s in w_failed or (s in w_done and not is_number(w_done[s].get(metric))))
    both = [s for s in crashed if s in r_failed]  # the config it replaced failed there too: the environment
    crashed = [s for s in crashed if s not in r_failed]
    selected = record.criterion("improvement").value if record.criterion("improvement") else None
    if crashed:
        outcome = "rolled_back"
        why = f"the winner failed on fresh seed {crashed[0]}: {w_failed.get(crashed[0], f'no {metric}')}"
    elif found["gain"] is None or found["interval"] is None and found["n"] < 2:
        outcome = "unconfirmed"
        why = (f"{len(paired)} of the {len(seeds)} fresh seeds ran on both configs"
               + (f" (both failed on seed {both[0]}: the environment, not the winner?)" if both else "")
               + ": nothing to pair with; the promotion stands unconfirmed")
    elif found["contradicts"]:
        outcome = "rolled_back"
        why = (f"on {found['n']} fresh seeds the gain is {found['gain']:+.4f}, 95% interval "
               f"[{found['interval'][0]:+.4f}, {found['interval'][1]:+.4f}], wholly below the threshold "
               f"{threshold:g} (the selection estimated {selected:+.4f})")
    else:
        outcome = "confirmed"
        low, high = found["interval"] or (math.nan, math.nan)
        why = (f"on {found['n']} fresh seeds the gain is {found['gain']:+.4f}, 95% interval [{low:+.4f}, {high:+.4f}]"
               f" (the selection estimated {selected:+.4f})")
    means = means_of({s: w_done[s] for s in seeds if s in w_done})  # the winner's own fresh runs, paired or not
    confirmation = {**record.confirmation, "outcome": outcome, "why": why, "threshold": threshold,
                    "selection_gain": selected, "control": control, "candidate": candidate, "diffs": diffs,
                    **{k: found[k] for k in ("n", "gain", "se", "df", "interval", "confidence", "noise")},
                    "winner_means": means, "concluded_at": iso(now)}
    status = {"confirmed": "promoted", "unconfirmed": "promoted", "rolled_back": "rolled_back"}[outcome]
    written = list(record.files_written)
    if outcome == "rolled_back":
        written.append(results.archived_file(record.hypothesis, stamp(now)))
    from autobench.experiments.explain import confirmation_words

    out = record.model_copy(update={"confirmation": confirmation, "status": status, "files_written": written})
    out.reason = f"{record.reason} Then {confirmation_words(out)}."
    return out


def _production_hash(registry: Registry) -> str:
    from autobench.experiments.runner import config_hash

    return config_hash(registry.our_solution.solution, registry.our_solution.config)


def alert_line(record: Decision) -> str | None:
    """The alert a rolled-back or unconfirmed promotion sends (None for a confirmed one)."""
    conf = record.confirmation or {}
    if conf.get("outcome") == "rolled_back":
        kept = (f"production's previous config {record.production_hash} restored" if conf.get("restored", True)
                else f"production has moved on since (config {conf.get('production_now')}) and still holds its "
                     "patch: NOT restored, review it by hand")
        return f"[ALERT] Promotion of {record.hypothesis} rolled back: {conf.get('why')}; {kept}"
    if conf.get("outcome") == "unconfirmed":
        return f"[ALERT] Promotion of {record.hypothesis} could not be confirmed: {conf.get('why')}"
    return None


def _apply(store: StateStore, hyp: Hypothesis, record: Decision, now: dt.datetime) -> None:
    """The concluded record's writes: the registry, the CHANGELOG entry, the archive note and the statuses."""
    from autobench.experiments import apply
    from autobench.hypothesis_queue import set_status

    conf = record.confirmation or {}
    outcome = conf.get("outcome")
    if outcome == "pending":
        return
    registry: Registry = store.load(REGISTRY)
    when = dt.datetime.fromisoformat(conf["concluded_at"])
    production_now = _production_hash(registry)
    if outcome in ("confirmed", "unconfirmed"):
        means = conf.get("winner_means") or promoted_file(store.home, record).get("validation_means") or {}
        scores = {b: round(means[m], 6) for b, m in registry.our_solution.metric_map.items() if m in means}
        if scores and production_now == record.config_hash:
            with store.edit(REGISTRY) as doc:
                apply.set_scores(doc["our_solution"], scores)
        apply.changelog_confirmation(store, hyp, record, when)
        set_status(store, [(hyp.id, "promoted", f"{outcome}: {conf.get('why')}")], when)
        return
    # rolled back
    kept = promoted_file(store.home, record)
    restore = production_now == record.config_hash
    if restore or "restored" not in conf:
        conf["restored"] = restore or production_now == record.production_hash
        conf["production_now"] = production_now
        results.write_decision(store.home, record)
    if restore:
        with store.edit(REGISTRY) as doc:
            ours = doc["our_solution"]
            apply._replace_mapping(ours, "config", kept["replaces_config"])
            previous = kept.get("replaces_scores")
            apply.set_scores(ours, previous if isinstance(previous, dict) else {})
    note = store.home / record.files_written[-1]
    if not note.exists():
        note.parent.mkdir(parents=True, exist_ok=True)
        fsio.atomic_write(note, rollback_note(hyp, record))
    apply.changelog_confirmation(store, hyp, record, when)
    changes = [(hyp.id, "rolled_back", f"rolled back: {conf.get('why')} (see {record.files_written[0]})")]
    marker = f"(promoted {hyp.id})"
    if conf.get("restored"):  # (production that moved on still holds the patch: they stay superseded)
        changes += [(h.id, "queued", f"production no longer has its patch: {hyp.id} was rolled back")
                    for h in store.load(QUEUE).hypotheses
                    if h.status == "superseded" and h.notes and marker in str(h.notes[-1])]
    set_status(store, changes, when)


def rollback_note(hyp: Hypothesis, record: Decision) -> str:
    """The archive note of a rolled-back promotion (titles and reasons escaped)."""
    import json

    from autobench.escaping import md_text

    conf = record.confirmation or {}
    lines = [f"# {hyp.id}: {md_text(hyp.title)} — rolled_back", "",
             f"Promoted {iso(record.decided_at)} ({md_text(record.reason)}); rolled back {conf.get('concluded_at')}.",
             "", f"Confirmation on fresh seeds {', '.join(str(s) for s in conf.get('seeds', []))}: "
                 f"{md_text(str(conf.get('why')))}.", "",
             "| seed | production (replaced) | winner | difference |", "| --- | --- | --- | --- |"]
    for seed, diff in zip(conf.get("control", {}), conf.get("diffs", []), strict=False):
        lines.append(f"| {seed} | {conf['control'][seed]:.4f} | {conf['candidate'][seed]:.4f} | {diff:+.4f} |")
    lines += ["", f"Config {record.config_hash} replaced {record.production_hash}; patch "
                  f"{json.dumps(hyp.implementation.config_patch)}.", ""]
    return "\n".join(lines)
