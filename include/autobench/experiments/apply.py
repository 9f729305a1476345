"""A decision's writes: the record, then what the outcome changes in the state folder.

``promote``  the config goes to ``experiments/promoted/``; the registry's ``our_solution.config``
             and ``current_scores`` are updated (comments kept); a ``CHANGELOG.md`` entry; status
             ``promoted``; open hypotheses whose patch production now already has become
             ``superseded``.
``reject``   a note in ``experiments/archived/`` with the criteria table and each failed one
             named; status ``rejected`` (or ``failed``).
``extend``   status ``extended``.

With ``experiments.confirmation_seeds`` set, a promotion's status is ``confirming``: production
has the winner's config at once, but ``current_scores`` and the CHANGELOG's gain wait for the
confirmation on fresh seeds (:mod:`autobench.experiments.confirmation`, whose entry
:func:`changelog_confirmation` writes); the promoted config file keeps the config and scores it
replaced, for a rollback.

The decision is recorded first (:func:`autobench.experiments.results.write_decision`), then the
rest, each write idempotent, so a retried task writes nothing twice; a promotion whose registry
edit is done (:func:`applied_promotion`) is finished from its record, not decided again. Titles
and reasons carry web text: they are escaped wherever they reach Markdown.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

from autobench import fsio
from autobench.clock import iso
from autobench.experiments import explain, results
from autobench.hypothesis_queue import set_status, superseded
from autobench.schemas import QUEUE, REGISTRY, Decision, Hypothesis, Registry
from autobench.store import StateStore

CHANGELOG = "CHANGELOG.md"
CHANGELOG_HEAD = "# Changelog\n\nProduction configs promoted by autobench, newest last.\n"


def stamp(now: dt.datetime) -> str:
    return iso(now).replace(":", "").replace("-", "")


def apply(store: StateStore, registry: Registry, hyp: Hypothesis, decision: Decision,
          config: dict[str, Any], c_full: dict[int, dict[str, Any]], now: dt.datetime) -> None:
    """Record ``decision`` and make its outcome true in the state folder."""
    home = store.home
    written = [results.decision_file(hyp.id, decision.config_hash)]
    if decision.decision == "promote":  # (also a promotion that is confirming)
        written += [results.promoted_file(hyp.id, stamp(now)), REGISTRY, CHANGELOG]
    elif decision.decision == "reject":
        written.append(results.archived_file(hyp.id, stamp(now)))
    written.append(QUEUE)
    decision.files_written = written
    results.write_decision(home, decision)

    if decision.decision == "promote":
        promote(store, registry, hyp, decision, config, c_full, registry_done=False)
    elif decision.decision == "reject":
        note = home / written[1]
        note.parent.mkdir(parents=True, exist_ok=True)
        fsio.atomic_write(note, archive_note(hyp, decision))
        set_status(store, [(hyp.id, decision.status, notes_line(decision))], now)
    else:
        set_status(store, [(hyp.id, "extended", notes_line(decision))], now)


def notes_line(decision: Decision) -> str:
    return f"{decision.decision}: {decision.reason} (see {decision.files_written[0]})"


def is_number(value: Any) -> bool:
    """A finite int or float (not a bool): a metric that can be averaged."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def means_of(runs: dict[int, dict[str, Any]]) -> dict[str, float]:
    """Each numeric metric's mean over ``runs`` (seed → metrics), where it is a finite number."""
    means = {}
    for key in sorted({k for m in runs.values() for k, v in m.items() if is_number(v)}):
        values = [float(m[key]) for m in runs.values() if is_number(m.get(key))]
        means[key] = sum(values) / len(values)
    return means


def set_scores(ours: Any, scores: dict[str, float]) -> None:
    """Write ``scores`` into a round-trip ``our_solution`` mapping's ``current_scores`` (made if absent)."""
    if not scores:
        return
    if ours.get("current_scores") is None:
        ours["current_scores"] = {}
    for board, value in scores.items():
        ours["current_scores"][board] = value


def promote(store: StateStore, registry: Registry, hyp: Hypothesis, decision: Decision,
            config: dict[str, Any], c_full: dict[int, dict[str, Any]], *, registry_done: bool) -> None:
    """A promotion's writes after the record, each idempotent, in an order a retry can finish.

    The promoted config file (once), the registry (unless ``registry_done``: production already has
    the candidate's config), the CHANGELOG entry (once: its marker), then the statuses. Times come
    from the record, so a retry writes what the first attempt would have.
    """
    import yaml

    home = store.home
    when = decision.decided_at
    means = means_of(c_full)
    promoted_file = home / decision.files_written[1]
    if not promoted_file.exists():
        promoted = {"hypothesis": hyp.id, "title": hyp.title, "promoted_at": iso(decision.decided_at),
                    "config_hash": decision.config_hash, "replaces": decision.production_hash,
                    "replaces_config": registry.our_solution.config,
                    "replaces_scores": dict(registry.our_solution.current_scores or {}),
                    "solution": registry.our_solution.solution, "config": config,
                    "config_patch": hyp.implementation.config_patch,
                    "validation_means": means, "seeds": decision.evidence.seeds,
                    "criteria": {c.name: c.passed for c in decision.criteria}}
        promoted_file.parent.mkdir(parents=True, exist_ok=True)
        fsio.atomic_write(promoted_file, yaml.safe_dump(promoted, sort_keys=False, allow_unicode=True))
    if not registry_done:
        with store.edit(REGISTRY) as doc:
            ours = doc["our_solution"]
            _replace_mapping(ours, "config", config)
            scores = {board: round(means[metric], 6) for board, metric in registry.our_solution.metric_map.items()
                      if metric in means}
            if decision.status != "confirming":  # a confirmed gain's scores come from its fresh seeds
                set_scores(ours, scores)
    changelog(store, hyp, decision, when)
    changes = [(hyp.id, decision.status, notes_line(decision))]
    changes += superseded(store.load(QUEUE), config, f"production now has its patch (promoted {hyp.id})",
                          exclude=hyp.id)
    set_status(store, changes, when)


def applied_promotion(home, hid: str, chash: str, prod_hash: str) -> Decision | None:
    """The recorded promotion of ``chash`` when production already has that config, else ``None``.

    The registry edit is a promotion's first write after the record; once it is done, deciding
    again would compare the candidate with itself (and say ``extend``). A retry replays the
    record instead and finishes what the first attempt left undone.
    """
    if chash != prod_hash:
        return None
    record = results.read_decision(home, hid, chash)
    if record is None or record.decision != "promote" or record.config_hash != prod_hash:
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


def changelog(store: StateStore, hyp: Hypothesis, decision: Decision, now: dt.datetime) -> None:
    """The promotion's ``CHANGELOG.md`` entry, once (its marker says it is there)."""
    from autobench.escaping import md_text

    path = store.home / CHANGELOG
    marker = f"<!-- autobench: {hyp.id} {decision.config_hash} -->"
    with store.lock(CHANGELOG):
        text = path.read_text(encoding="utf-8") if path.exists() else CHANGELOG_HEAD
        if marker in text:
            return
        gain = decision.criterion("improvement").value
        confirming = decision.status == "confirming"
        pj = decision.projection
        rank = (f"; {md_text(pj['leaderboard'])} projected #{pj['projected_rank']} (was #{pj['current_rank']}), "
                f"P(#1) {pj['p_first']:.2f}" if pj.get("current_rank") else "")
        patch = ", ".join(f"{k}: {v}" for k, v in hyp.implementation.config_patch.items()) or "no change"
        seeds = len(decision.evidence.seeds)
        shrunk = ((decision.margin or {}).get("shrunk") or {}).get("shrunk")
        corrected = (f" (corrected for selection against {decision.margin['shrunk']['k']} decisions, Tweedie: "
                     f"{shrunk:+.4f})" if isinstance(shrunk, (int, float)) else "")
        measured = (f"selection estimate {gain:+.4f} over {seeds} paired seeds, to be confirmed on "
                    f"{len((decision.confirmation or {}).get('seeds', []))} fresh seeds" if confirming
                    else f"{gain:+.4f} over {seeds} paired seeds{corrected}")
        entry = (f"\n## {iso(now)[:10]} — promoted {hyp.id}{' (confirming)' if confirming else ''}: "
                 f"{md_text(hyp.title)}\n{marker}\n\n"
                 f"- change: {md_text(patch)} (config {decision.production_hash} → {decision.config_hash})\n"
                 f"- {decision.evidence.metric}: {measured}{rank}\n"
                 f"- decision: {decision.files_written[0]}\n")
        fsio.atomic_write(path, text.rstrip("\n") + "\n" + entry)


def changelog_confirmation(store: StateStore, hyp: Hypothesis, decision: Decision, now: dt.datetime) -> None:
    """A concluded confirmation's ``CHANGELOG.md`` entry, once: the confirmed gain (the one the
    log reports for this promotion), or the rollback."""
    from autobench.escaping import md_text

    conf = decision.confirmation or {}
    outcome = conf.get("outcome")
    path = store.home / CHANGELOG
    marker = f"<!-- autobench: {hyp.id} {decision.config_hash} {outcome} -->"
    gain, interval = conf.get("gain"), conf.get("interval")
    measured = (f"{gain:+.4f} over {conf.get('n')} fresh seeds"
                + (f", 95% interval [{interval[0]:+.4f}, {interval[1]:+.4f}]" if interval else "")
                if isinstance(gain, (int, float)) else "no paired fresh seed")
    selection = conf.get("selection_gain")
    selected = f" (the selection estimated {selection:+.4f})" if isinstance(selection, (int, float)) else ""
    with store.lock(CHANGELOG):
        text = path.read_text(encoding="utf-8") if path.exists() else CHANGELOG_HEAD
        if marker in text:
            return
        if outcome == "rolled_back":
            restored = (f"config {decision.config_hash} → {decision.production_hash} restored" if conf.get("restored")
                        else f"production had moved on to {conf.get('production_now')}: not restored, review it")
            entry = (f"\n## {iso(now)[:10]} — rolled back {hyp.id}: {md_text(hyp.title)}\n{marker}\n\n"
                     f"- {decision.evidence.metric}: {measured}{selected}\n"
                     f"- why: {md_text(str(conf.get('why')))}\n- {restored}\n"
                     f"- decision: {decision.files_written[0]}\n")
        else:
            entry = (f"\n## {iso(now)[:10]} — {outcome} {hyp.id}: {md_text(hyp.title)}\n{marker}\n\n"
                     f"- {decision.evidence.metric}: {measured}{selected}\n"
                     f"- decision: {decision.files_written[0]}\n")
        fsio.atomic_write(path, text.rstrip("\n") + "\n" + entry)


def archive_note(hyp: Hypothesis, decision: Decision) -> str:
    """The note for a rejected or failed hypothesis: titles and reasons (web text in them) escaped."""
    from autobench.escaping import md_text

    failed = explain.failed_names(decision.criteria)
    lines = [f"# {hyp.id}: {md_text(hyp.title)} — {decision.status}", "",
             f"Decided {iso(decision.decided_at)} by the {decision.policy['name']} seed policy "
             f"({md_text(decision.policy['why'])}).", "", md_text(decision.reason), "",
             *explain.markdown_table(decision.criteria), "",
             f"Failed criteria: {', '.join(failed) if failed else 'none'}.",
             f"Config hash {decision.config_hash}; patch {json.dumps(hyp.implementation.config_patch)}.", ""]
    return "\n".join(lines)
