"""Which hypothesis a sweep works on: recovery, ranking, the pick.

:func:`prepare`, once per sweep (keyed on the Airflow run id, ``dag_run_id``):

- a hypothesis left ``running`` by a sweep that is not this one (a crash, a killed worker) goes
  back to the queue with a note (its runs are kept: the next sweep resumes from the cache);
- the queue is re-ranked with the urgency the monitor recorded (priority × the urgency
  multiplier; the top 10 waiting ones ``queued``, the rest ``backlog``);
- the top open hypothesis (``extended`` ones first: they are waiting for more seeds) is marked
  ``running``; once today's compute budget is spent (:mod:`autobench.experiments.budget`), only a
  hypothesis for a leaderboard with recorded urgency still runs.

The pick travels between the DAG's tasks as :meth:`Pick.as_dict` (XCom).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from autobench.clock import iso
from autobench.errors import AutobenchError
from autobench.experiments import budget
from autobench.schemas import QUEUE, REGISTRY, SWEEP, URGENCY, WAITING_STATUSES, Registry
from autobench.store import StateStore


@dataclass(frozen=True)
class Pick:
    """The hypothesis a sweep works on, the seed policy that sizes its evidence, the backend
    its runs go to, and the sweep's Airflow run id."""

    hypothesis: str
    policy: str
    backend: str
    dag_run_id: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | Pick | None) -> Pick | None:
        """A pick from its XCom form (None stays None: nothing was picked)."""
        if data is None or isinstance(data, Pick):
            return data
        return cls(**{k: str(data[k]) for k in ("hypothesis", "policy", "backend", "dag_run_id")})


def rerank(store: StateStore) -> list[tuple[str, str, str]]:
    """Priority with the monitor's urgency, then queued (top 10) / backlog."""
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


def _urgent(store: StateStore, hyp) -> bool:
    urgency = store.load(URGENCY)
    return any(urgency.leaderboards[b].multiplier > 1 for b in hyp.target_leaderboards if b in urgency.leaderboards)


def prepare(store: StateStore, now: dt.datetime, dag_run_id: str, *, hypothesis: str | None = None,
            policy: str | None = None, backend: str | None = None) -> Pick | None:
    """Recover stale runs, re-rank, pick the top hypothesis and mark it running (or None)."""
    from autobench import hypothesis_queue as hq
    from autobench.experiments import backends, seed_policies

    registry: Registry = store.load(REGISTRY)
    sweep = store.load(SWEEP)
    for hid, entry in sweep.running.items():
        if entry.run_id == dag_run_id:  # this sweep already picked (a retried task)
            return Pick(hid, entry.policy or registry.experiments.seed_policy,
                        entry.backend or registry.experiments.backend, dag_run_id)
    queue = store.load(QUEUE)
    stale = [h.id for h in queue.hypotheses if h.status == "running"]
    if stale:
        hq.set_status(store, [
            (hid, "queued", "recovered: its sweep "
                            f"({sweep.running[hid].run_id if hid in sweep.running else 'unknown'}) "
                            "ended without a decision (a crash or a killed worker); runs kept, "
                            "so the next sweep resumes from the cache")
            for hid in stale], now)
    with store.edit(SWEEP) as doc:
        doc.setdefault("running", {}).clear()
    rerank(store)
    queue = store.load(QUEUE)
    if hypothesis:
        chosen = next((h for h in queue.hypotheses if h.id == hypothesis), None)
        if chosen is None:
            raise AutobenchError(f"sweep: no hypothesis {hypothesis!r} in {QUEUE}")
        if chosen.status not in ("queued", "backlog", "extended"):
            raise AutobenchError(f"sweep: {hypothesis} is {chosen.status}; only queued, backlog or extended "
                                 "hypotheses can be swept")
    else:
        order = hq.ranked(queue.hypotheses)
        chosen = order[0] if order else None
        if chosen is None:
            return None
        if budget.left_s(store, registry, now) <= 0 and not _urgent(store, chosen):
            return None  # today's compute budget is spent: only urgent work runs
    try:
        chosen_policy = seed_policies.REGISTRY.check(policy or registry.experiments.seed_policy)
        chosen_backend = backends.REGISTRY.check(backend or registry.experiments.backend)
    except ValueError as exc:
        raise AutobenchError(f"sweep: {exc}") from None
    hq.set_status(store, [(chosen.id, "running", f"picked by sweep {dag_run_id} (policy {chosen_policy}, "
                                                 f"backend {chosen_backend})")], now)
    with store.edit(SWEEP) as doc:
        doc.setdefault("running", {})[chosen.id] = {"run_id": dag_run_id, "since": iso(now), "policy": chosen_policy,
                                                     "backend": chosen_backend}
    return Pick(chosen.id, chosen_policy, chosen_backend, dag_run_id)
