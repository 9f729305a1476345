"""The hypothesis queue: ``experiment_queue.yaml``, every hypothesis and its status, ranked.

Every hypothesis ever made stays in the file with one ``status`` (nothing is deleted, so dead
ends are remembered). The waiting ones are ranked by ``priority_score``: the top
:data:`~autobench.schemas.QUEUE_ACTIVE_LIMIT` are ``queued``, the rest ``backlog``. ``running``,
``extended`` and the closed statuses are never touched by ranking.

``priority_score = 100 × estimated_gain / effort_score × urgency_multiplier``,
the urgency multiplier being the highest one the monitor recorded for the hypothesis's target
leaderboards in ``state/urgency.json``, and ``estimated_gain`` calibrated by what decisions measured
for estimates from the same kind of source, once there are enough of them (the callers pass the
factors :mod:`autobench.experiments.calibration` computes).
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

from pydantic import ValidationError

from autobench.schemas import (
    CLOSED_STATUSES,
    EFFORT_SCORE,
    NUMBERED_ID_RE,
    OPEN_STATUSES,
    QUEUE,
    QUEUE_ACTIVE_LIMIT,
    REGISTRY,
    URGENCY,
    WAITING_STATUSES,
    ExperimentQueue,
    Hypothesis,
    NewHypothesis,
    StateError,
    UrgencyState,
    describe,
    find_secrets,
)
from autobench.store import StateStore

# Key order of a hypothesis as written to the file (the seed's order).
FIELD_ORDER = ("id", "title", "claim", "source", "target_leaderboards", "implementation",
               "priority_score", "status", "created_at", "notes")
IMPLEMENTATION_ORDER = ("change", "effort", "estimated_gain", "config_patch")


SOURCE_KINDS = ("paper", "competitor", "gap strategy", "other")


def source_kind(source: str) -> str:
    """The kind of a hypothesis's ``source`` text: ``competitor`` (a competitor's post),
    ``paper`` (``arXiv:…``, ``DOI:…``, a URL), ``gap strategy`` (the gap-size strategies) or
    ``other`` (written by hand)."""
    text = (source or "").strip()
    if text.startswith("competitor post"):
        return "competitor"
    if text.startswith(("arXiv:", "DOI:", "http://", "https://")):
        return "paper"
    if text.startswith("gap analysis"):
        return "gap strategy"
    return "other"


def calibrated(estimated: float, source: str, factors: dict[str, float] | None) -> float:
    """``estimated`` times its source kind's calibration factor (``factors``: kind → factor, from
    :func:`autobench.experiments.calibration.factors`; none: the estimate as it is)."""
    return estimated * (factors or {}).get(source_kind(source), 1.0)


def priority_score(estimated_gain: float, effort: str, urgency_multiplier: float = 1.0) -> float:
    """The priority: 100 × estimated_gain / effort_score × urgency_multiplier."""
    return round(100.0 * estimated_gain / EFFORT_SCORE[effort] * urgency_multiplier, 4)


def urgency_multiplier(targets: list[str], urgency: UrgencyState) -> float:
    return max((urgency.leaderboards[t].multiplier for t in targets if t in urgency.leaderboards), default=1.0)


def ranked(hypotheses: list[Hypothesis]) -> list[Hypothesis]:
    """Open hypotheses in the order the sweep takes them: promotions waiting for their
    confirmation, running, extended, then waiting by priority (ties keep file order, i.e. the
    older first)."""
    group = {"confirming": 0, "running": 0, "extended": 1, "queued": 2, "backlog": 2}
    opened = [(i, h) for i, h in enumerate(hypotheses) if h.status in OPEN_STATUSES]
    opened.sort(key=lambda ih: (group[ih[1].status], -ih[1].priority_score, ih[0]))
    return [h for _, h in opened]


def apply_ranking(doc: Any) -> list[tuple[str, str, str]]:
    """Set queued/backlog on the waiting hypotheses of a round-trip queue document in place.

    Returns the status changes as (id, old, new).
    """
    items = list(doc.get("hypotheses") or [])
    waiting = [(i, h) for i, h in enumerate(items) if h.get("status", "queued") in WAITING_STATUSES]
    waiting.sort(key=lambda ih: (-float(ih[1]["priority_score"]), ih[0]))
    changes = []
    for position, (_, h) in enumerate(waiting):
        new = "queued" if position < QUEUE_ACTIVE_LIMIT else "backlog"
        old = h.get("status", "queued")
        if old != new or "status" not in h:
            h["status"] = new
            changes.append((str(h["id"]), old, new))
    return changes


def next_id(existing: list[str]) -> str:
    highest = 0
    for hid in existing:
        m = NUMBERED_ID_RE.match(hid)
        if m:
            highest = max(highest, int(m.group(1)))
    return f"H-{highest + 1:03d}"


def parse_new(source_name: str, data: Any) -> list[tuple[str, NewHypothesis]]:
    """Hypotheses from a file given to ``queue add``.

    Accepted shapes: the seed's ``hypothesis: {...}``, a bare hypothesis mapping,
    ``hypotheses: [...]``, or a list. Returns (field path prefix, hypothesis) pairs.
    """
    if isinstance(data, dict) and set(data) == {"hypothesis"}:
        entries = [("hypothesis", data["hypothesis"])]
    elif isinstance(data, dict) and set(data) == {"hypotheses"} and isinstance(data["hypotheses"], list):
        entries = [(f"hypotheses[{i}]", h) for i, h in enumerate(data["hypotheses"])]
    elif isinstance(data, list):
        entries = [(f"[{i}]", h) for i, h in enumerate(data)]
    elif isinstance(data, dict):
        entries = [("", data)]
    else:
        raise StateError(source_name,
                         [("", "expected a hypothesis (a mapping), `hypothesis:`, `hypotheses:` or a list")])
    if not entries:
        raise StateError(source_name, [("", "no hypothesis in the file")])
    out = []
    for prefix, raw in entries:
        if not isinstance(raw, dict):
            raise StateError(source_name, [(prefix, f"a hypothesis must be a mapping (got {type(raw).__name__})")])
        secrets = find_secrets(raw)
        if secrets:
            raise StateError(source_name, [(_join(prefix, f), m) for f, m in secrets])
        try:
            out.append((prefix, NewHypothesis.model_validate(raw)))
        except ValidationError as exc:
            raise StateError(source_name, [(_join(prefix, f), m) for f, m in describe(NewHypothesis, exc)]) from None
    return out


def _join(prefix: str, field: str) -> str:
    if not prefix:
        return field
    if not field:
        return prefix
    return prefix + (field if field.startswith("[") else "." + field)


def _to_document(h: Hypothesis) -> Any:
    from ruamel.yaml.comments import CommentedMap

    data = h.model_dump(mode="python", exclude_none=True)
    if not data.get("notes"):
        data.pop("notes", None)
    impl = CommentedMap((k, data["implementation"][k]) for k in IMPLEMENTATION_ORDER if k in data["implementation"])
    data["implementation"] = impl
    return CommentedMap((k, data[k]) for k in FIELD_ORDER if k in data)


def add(store: StateStore, source_name: str, data: Any, now: dt.datetime,
        factors: dict[str, float] | None = None) -> list[Hypothesis]:
    """Validate, number, score and append new hypotheses, then re-rank. Nothing is removed."""
    from ruamel.yaml.comments import CommentedSeq

    new = parse_new(source_name, data)
    registry = store.load(REGISTRY)
    known_boards = [lb.name for lb in registry.target_leaderboards]
    for prefix, h in new:
        for i, board in enumerate(h.target_leaderboards):
            if board not in known_boards:
                raise StateError(source_name, [(_join(prefix, f"target_leaderboards[{i}]"),
                                                f"unknown leaderboard {board!r} "
                                                f"(the registry has {', '.join(known_boards)})")])
    urgency = store.load(URGENCY)
    added: list[tuple[Hypothesis, Any]] = []
    with store.edit(QUEUE) as doc:
        if doc.get("hypotheses") is None:
            doc["hypotheses"] = CommentedSeq()
        items = doc["hypotheses"]
        ids = [str(h["id"]) for h in items]
        for prefix, h in new:
            hid = h.id or next_id(ids)
            if hid in ids:
                raise StateError(source_name, [(_join(prefix, "id"), f"{hid} is already in {QUEUE}")])
            ids.append(hid)
            score = h.priority_score
            if score is None:
                score = priority_score(calibrated(h.implementation.estimated_gain, h.source, factors),
                                       h.implementation.effort,
                                       urgency_multiplier(h.target_leaderboards, urgency))
            full = Hypothesis.model_validate(
                {**h.model_dump(exclude={"id", "priority_score", "created_at"}),
                 "id": hid, "priority_score": score, "created_at": h.created_at or now}
            )
            entry = _to_document(full)
            items.append(entry)
            added.append((full, entry))
        apply_ranking(doc)
    # the statuses the ranking gave them, without reading the file again
    return [h.model_copy(update={"status": str(entry["status"])}) for h, entry in added]


def rank(store: StateStore) -> list[tuple[str, str, str]]:
    """Re-apply the ranking (queued / backlog) to the file; returns the status changes."""
    with store.edit(QUEUE) as doc:
        changes = apply_ranking(doc)
    return changes


def listing(queue: ExperimentQueue) -> dict[str, list[dict[str, Any]]]:
    """``queue list --json``: active (ranked) and archived (file order)."""
    return {
        "active": [h.model_dump(mode="json") for h in ranked(queue.hypotheses)],
        "archived": [h.model_dump(mode="json") for h in queue.hypotheses if h.status in CLOSED_STATUSES],
    }


def format_table(queue: ExperimentQueue) -> str:
    rows = [("#", "id", "status", "priority", "effort", "gain", "title")]
    for i, h in enumerate(ranked(queue.hypotheses), 1):
        rows.append((str(i), h.id, h.status, f"{h.priority_score:g}", h.implementation.effort,
                     f"{h.implementation.estimated_gain:+g}", h.title))
    closed = [h for h in queue.hypotheses if h.status in CLOSED_STATUSES]
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]) - 1)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r[:-1], widths, strict=False)) + "  " + r[-1] for r in rows]
    if len(rows) == 1:
        lines.append("(no open hypotheses)")
    lines.append(f"{len(rows) - 1} open, {len(closed)} closed"
                 + (" (" + ", ".join(f"{s} {sum(h.status == s for h in closed)}" for s in CLOSED_STATUSES
                                     if any(h.status == s for h in closed)) + ")" if closed else ""))
    return "\n".join(lines)


def set_status(store: StateStore, changes: list[tuple[str, str, str]], now: dt.datetime) -> list[tuple[str, str, str]]:
    """Set statuses, appending a dated note to each: ``changes`` is (id, new status, note).

    Returns (id, old, new) for what changed; a change already made (same status, same note) is
    skipped, so a retried task writes nothing twice. Waiting hypotheses are re-ranked after.
    """
    from ruamel.yaml.comments import CommentedSeq

    from autobench.clock import iso

    done: list[tuple[str, str, str]] = []
    with store.edit(QUEUE) as doc:
        by_id = {str(h["id"]): h for h in doc.get("hypotheses") or []}
        for hid, status, note in changes:
            h = by_id.get(hid)
            if h is None:
                raise StateError(QUEUE, [("hypotheses", f"no hypothesis {hid!r}")])
            old = str(h.get("status", "queued"))
            notes = h.get("notes")
            stamped = f"{iso(now)} {status}: {note}"
            if old == status and notes and str(notes[-1]) == stamped:
                continue
            h["status"] = status
            if notes is None:
                h["notes"] = notes = CommentedSeq()
            notes.append(stamped)
            done.append((hid, old, status))
        apply_ranking(doc)
    return done


def superseded(queue: ExperimentQueue, production_config: dict[str, Any], why: str,
               exclude: str | None = None) -> list[tuple[str, str, str]]:
    """The one "superseded" rule: every waiting hypothesis whose patch production's config already
    has is moot. Returns the status changes for :func:`set_status` (``exclude``: the hypothesis
    that was just promoted)."""
    return [(h.id, "superseded", why) for h in queue.hypotheses
            if h.id != exclude and h.status in WAITING_STATUSES
            and patch_applied(h.implementation.config_patch, production_config)]


# ----------------------------------------------------------------------------- what a patch means


def merge_patch(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """RFC 7396 JSON merge patch, without modifying either argument."""
    out = copy.deepcopy(base)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_patch(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def patch_applied(patch: dict[str, Any], config: dict[str, Any]) -> bool:
    """Does ``config`` already have everything the merge ``patch`` would set (an empty patch: no)?"""
    if not patch:
        return False
    for key, value in patch.items():
        if value is None:
            if key in config:
                return False
        elif isinstance(value, dict) and isinstance(config.get(key), dict):
            if not patch_applied(value, config[key]):
                return False
        elif config.get(key) != value:
            return False
    return True
