"""Which hypothesis a sweep works on: recovery, ranking, the pick.

:func:`prepare`, once per sweep (keyed on the Airflow run id, ``dag_run_id``):

- a hypothesis left ``running`` by a sweep that is not this one and is no longer alive (a crash,
  a killed worker) goes back to the queue with a note (its runs are kept: the next sweep resumes
  from the cache). Liveness is a **lease** in ``state/sweep.json``'s running entry: the sweep's
  run id and a wall-clock heartbeat that each step of that sweep renews (:func:`renew`). An
  entry is stale once its lease is older than ``experiments.stale_after_minutes``, or when it has
  no lease (written before leases). Nothing else is consulted (not Airflow's idea of whether the
  run finished): a sweep that died mid-run is recovered one lease later, a live one never. The
  lease reads the real clock, not the run's ``now``: liveness is infrastructure, not a decision,
  and a replayed week's ``now`` says nothing about whether a process is still there;
- the queue is re-ranked with the urgency the monitor recorded (priority × the urgency
  multiplier; the top 10 waiting ones ``queued``, the rest ``backlog``);
- the top open hypotheses (``extended`` ones first: they are waiting for more seeds), as many
  as asked (:func:`pick_many`; :func:`prepare` takes one), are marked ``running`` under the
  queue's lock, so two overlapping sweeps never pick the same one; once today's compute budget
  is spent (:mod:`autobench.experiments.budget`), only a
  hypothesis for a leaderboard with recorded urgency still runs.

The pick travels between the DAG's tasks as :meth:`Pick.as_dict` (XCom).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
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
    """Priority with the monitor's urgency and the calibration of the estimate's source
    (:mod:`autobench.experiments.calibration`), then queued (top 10) / backlog."""
    from autobench import hypothesis_queue as hq
    from autobench.experiments import calibration

    urgency = store.load(URGENCY)
    factors = calibration.factors(store.home, store.load(QUEUE).hypotheses)
    with store.edit(QUEUE) as doc:
        for h in doc.get("hypotheses") or []:
            if h.get("status", "queued") not in WAITING_STATUSES:
                continue
            impl = h["implementation"]
            gain = hq.calibrated(float(impl["estimated_gain"]), str(h.get("source") or ""), factors)
            score = hq.priority_score(gain, str(impl["effort"]),
                                      hq.urgency_multiplier(list(h["target_leaderboards"]), urgency))
            if float(h["priority_score"]) != score:
                h["priority_score"] = score
        return hq.apply_ranking(doc)


def _urgent(store: StateStore, hyp) -> bool:
    urgency = store.load(URGENCY)
    return any(urgency.leaderboards[b].multiplier > 1 for b in hyp.target_leaderboards if b in urgency.leaderboards)


def wall_clock() -> dt.datetime:
    """The real time, for leases only (tests replace it): :func:`autobench.clock.lease_clock`."""
    from autobench.clock import lease_clock

    return lease_clock()


def renew(store: StateStore, dag_run_id: str) -> None:
    """Renew the lease of every hypothesis this sweep runs (each step of the sweep calls it)."""
    stamp = iso(wall_clock())
    with store.edit(SWEEP) as doc:
        for entry in (doc.get("running") or {}).values():
            if entry.get("run_id") == dag_run_id:
                entry["lease"] = stamp


@contextmanager
def heartbeat(store: StateStore, dag_run_id: str, every_s: float = 60.0) -> Iterator[None]:
    """Renew this sweep's lease every ``every_s`` seconds while the block runs (a long run)."""
    import threading

    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(every_s):
            renew(store, dag_run_id)

    thread = threading.Thread(target=beat, name="sweep-lease", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _stale(entry, registry: Registry, dag_run_id: str) -> bool:
    if entry is None:
        return True  # running in the queue with no sweep on record
    if entry.run_id == dag_run_id:
        return False
    if entry.lease is None:
        return True
    return wall_clock() - entry.lease > dt.timedelta(minutes=registry.experiments.stale_after_minutes)


def prepare(store: StateStore, now: dt.datetime, dag_run_id: str, *, hypothesis: str | None = None,
            policy: str | None = None, backend: str | None = None) -> Pick | None:
    """Recover stale runs, re-rank, pick the top hypothesis and mark it running (or None)."""
    picks, _ = pick_many(store, now, dag_run_id, 1, hypothesis=hypothesis, policy=policy, backend=backend)
    return picks[0] if picks else None


def pick_many(store: StateStore, now: dt.datetime, dag_run_id: str, n: int, *, hypothesis: str | None = None,
              policy: str | None = None, backend: str | None = None,
              exclude: Collection[str] = ()) -> tuple[list[Pick], str | None]:
    """This sweep's picks, topped up to ``n``: the hypotheses it already runs (a retried task gets
    the same picks back), then the best open ones not in ``exclude`` (those it decided already),
    each marked ``running`` with this sweep's lease. All of it under the queue's lock, so an
    overlapping sweep waits and then sees them running.

    Returns the picks and, when fewer than ``n`` could be had, why: ``"queue empty"`` (nothing
    runnable left) or ``"budget spent"`` (today's compute budget is spent and what is left is not
    urgent)."""
    from autobench import hypothesis_queue as hq
    from autobench.experiments import backends, seed_policies

    registry: Registry = store.load(REGISTRY)
    with store.lock(QUEUE):
        sweep = store.load(SWEEP)
        mine = [Pick(hid, entry.policy or registry.experiments.seed_policy,
                     entry.backend or registry.experiments.backend, dag_run_id)
                for hid, entry in sweep.running.items() if entry.run_id == dag_run_id and hid not in exclude]
        if len(mine) >= n:
            renew(store, dag_run_id)
            return mine[:n], None
        queue = store.load(QUEUE)
        stale = [h.id for h in queue.hypotheses if h.status == "running" and _stale(sweep.running.get(h.id), registry,
                                                                                     dag_run_id)]
        if stale:
            hq.set_status(store, [
                (hid, "queued", "recovered: its sweep "
                                f"({sweep.running[hid].run_id if hid in sweep.running else 'unknown'}) "
                                "ended without a decision (a crash or a killed worker); runs kept, "
                                "so the next sweep resumes from the cache")
                for hid in stale], now)
        # a promotion being confirmed keeps its sweep's entry (its status stays `confirming`)
        running = {h.id for h in store.load(QUEUE).hypotheses if h.status in ("running", "confirming")}
        with store.edit(SWEEP) as doc:
            entries = doc.setdefault("running", {})
            for hid in [k for k in entries if k not in running]:
                del entries[hid]
        rerank(store)
        queue = store.load(QUEUE)
        try:
            chosen_policy = seed_policies.REGISTRY.check(policy or registry.experiments.seed_policy)
            chosen_backend = backends.REGISTRY.check(backend or registry.experiments.backend)
        except ValueError as exc:
            raise AutobenchError(f"sweep: {exc}") from None
        why: str | None = None
        if hypothesis:
            chosen = next((h for h in queue.hypotheses if h.id == hypothesis), None)
            if chosen is None:
                raise AutobenchError(f"sweep: no hypothesis {hypothesis!r} in {QUEUE}")
            if any(p.hypothesis == hypothesis for p in mine):
                return mine, None
            entry = sweep.running.get(hypothesis)
            if chosen.status == "confirming" and entry is not None and not _stale(entry, registry, dag_run_id):
                raise AutobenchError(f"sweep: {hypothesis} is being confirmed by sweep {entry.run_id}; "
                                     "it is not swept twice at once")
            if chosen.status not in ("queued", "backlog", "extended", "confirming"):
                raise AutobenchError(f"sweep: {hypothesis} is {chosen.status}; only queued, backlog, extended or "
                                     "confirming hypotheses can be swept")
            new = [chosen]
        else:
            held = {hid for hid, entry in store.load(SWEEP).running.items()
                    if entry.run_id != dag_run_id and not _stale(entry, registry, dag_run_id)}
            order = [h for h in hq.ranked(queue.hypotheses) if h.status != "running" and h.id not in exclude
                     and not (h.status == "confirming" and h.id in held)]  # another sweep confirms it
            spent = budget.left_s(store, registry, now) <= 0
            new = []
            held_back = False
            for h in order:
                if len(mine) + len(new) >= n:
                    break
                if spent and not _urgent(store, h) and h.status != "confirming":  # (production already moved)
                    held_back = True  # only urgent work runs once today's budget is spent
                    continue
                new.append(h)
            if len(mine) + len(new) < n:  # a reason only when slots stay empty
                why = "budget spent" if held_back else "queue empty"
        if new:  # (a promotion being confirmed keeps its status: `running` would lose the stage it is in)
            hq.set_status(store, [(h.id, "running", f"picked by sweep {dag_run_id} (policy {chosen_policy}, "
                                                    f"backend {chosen_backend})") for h in new
                                  if h.status != "confirming"], now)
            lease = iso(wall_clock())
            with store.edit(SWEEP) as doc:
                for h in new:
                    doc.setdefault("running", {})[h.id] = {"run_id": dag_run_id, "since": iso(now), "lease": lease,
                                                           "policy": chosen_policy, "backend": chosen_backend}
        renew(store, dag_run_id)
    return mine + [Pick(h.id, chosen_policy, chosen_backend, dag_run_id) for h in new], why
