"""The daily experiment sweep: hypotheses become evidence, evidence becomes production.

One cycle, keyed on the Airflow run id (``dag_run_id``); each step is a function the DAG's tasks
call (:mod:`autobench.experiments.tasks`) and :func:`cycle` runs them all on this machine
(``autobench sweep``):

1. :func:`autobench.experiments.pick.prepare`: recover stale picks (per hypothesis: a lease that
   each step renews), re-rank the queue with the monitor's urgency, pick the top open
   hypothesis (within today's compute budget); :func:`cycle` picks the next ones as slots free.
2. Rounds (at most :data:`ROUNDS`) until the seed policy is satisfied: :func:`next_round` asks
   ``decide`` what the policy wants next (the fast validation first, then paired full seeds on
   production's seeds; production's runs come from the cache, the ones missing are run too),
   and the pick's backend (:mod:`autobench.experiments.backends`) groups the runs and turns them
   into payloads for its executor; the payloads run (:meth:`~autobench.experiments.backends.base.ExperimentBackend.run`
   in mapped tasks, or pods the DAG starts); :func:`collect` has the backend read what they
   returned into the results store and counts their compute against the budget.
3. :func:`finalize`: ``decide`` (promote / reject / extend; a crash or NaN is ``failed``); after
   a promotion the one evaluation on the test split and the leaderboard submissions
   (:mod:`autobench.experiments.submission`); ``BENCHMARK_REPORT.md`` (:mod:`autobench.experiments.report`).
4. :func:`autobench.experiments.defence.defend`: production on a fresh seed, an alert on a
   regression beyond its noise.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from autobench.errors import AutobenchError
from autobench.experiments import budget, results
from autobench.experiments.config import spec_for
from autobench.experiments.pick import Pick, renew
from autobench.schemas import PRODUCTION_ID, REGISTRY, SWEEP, Registry
from autobench.store import StateStore

ROUNDS = 4  # fast + up to three stages of full seeds per sweep; an unfinished one is `extended`
MAX_TURNS = 24  # the DAG's turns at most, whatever the settings ask (about 6 hypotheses one at a time)


def dag_turns(settings) -> int:
    """How many turns the experiment_sweep DAG has (fixed when it is parsed): enough for
    ``max_hypotheses_per_sweep`` hypotheses, ``max_parallel_hypotheses`` at a time, each taking up
    to :data:`ROUNDS` rounds; at most :data:`MAX_TURNS`. A hypothesis still in flight when they
    are used up is decided by the last task (``extend`` if its policy wants more runs)."""
    import math

    waves = math.ceil(settings.max_hypotheses_per_sweep / max(1, settings.max_parallel_hypotheses))
    per = ROUNDS + (1 if settings.confirmation_seeds > 0 else 0)  # a promotion's round on fresh seeds
    return min(MAX_TURNS, per * max(1, waves))


def backend_for(store: StateStore, pick: Pick):
    """The pick's backend, configured by the registry's ``experiments`` settings."""
    from autobench.experiments import backends

    return backends.get(pick.backend, store.load(REGISTRY).experiments)


# ----------------------------------------------------------------------------- rounds of runs


def plan(store: StateStore, now: dt.datetime, pick: Pick | None) -> list[dict[str, Any]]:
    """The runs the seed policy wants next, one request per seed (none once it is satisfied or
    the config is broken). Each request carries its config ready-made."""
    from autobench.experiments import confirmation
    from autobench.experiments.decide import decide

    if pick is None:
        return []
    if confirmation.confirming(store, pick.hypothesis) is not None:  # a promotion's fresh seeds, both configs
        return [_request(spec, seed, "full") for spec, seed in confirmation.wanted(store, pick.hypothesis)]
    decision = decide(store, pick.hypothesis, now, policy=pick.policy, write=False)
    if decision.decision != "extend" or not decision.next_runs:
        return []
    wanted = decision.next_runs
    cand = spec_for(store, pick.hypothesis)
    prod = spec_for(store, PRODUCTION_ID)
    out = [_request(cand, seed, wanted["mode"]) for seed in wanted["seeds"]]
    out += [_request(prod, seed, wanted["mode"]) for seed in wanted["production_missing"]]
    return out


def _request(spec, seed: int, mode: str) -> dict[str, Any]:
    return {"experiment_id": spec.experiment_id, "seed": int(seed), "mode": mode, "spec": spec.as_dict(),
            "config_hash": spec.config_hash}


@dataclass
class Round:
    """One round: the runs as the backend groups them, and a payload per run for its executor."""

    executor: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    payloads: list[Any] = field(default_factory=list)
    seeds: int = 0  # the seeds the round runs (a grouped run may hold several)
    batching: str = ""

    def as_dict(self) -> dict[str, Any]:
        """What the DAG maps over: ``task`` or ``pod`` payloads (the other empty), and the requests."""
        return {"requests": self.requests, "task": self.payloads if self.executor == "task" else [],
                "pod": self.payloads if self.executor == "pod" else []}


def next_round(store: StateStore, now: dt.datetime, pick: Pick | None) -> Round:
    """The next round's runs for the pick's backend (an empty round once the policy is satisfied)."""
    if pick is None:
        return Round("task")
    renew(store, pick.dag_run_id)
    backend = backend_for(store, pick)
    wanted = plan(store, now, pick)
    grouped = backend.group(wanted) if wanted else []
    return Round(backend.executor, grouped, backend.submit(grouped) if grouped else [], len(wanted), backend.batching)


def collect(store: StateStore, now: dt.datetime, pick: Pick | None, requests: Sequence[dict[str, Any]],
            outputs: Sequence[Any] | None) -> list[dict[str, Any]]:
    """What a round's runs returned, read by the backend into one-seed results (and their run
    folders); their compute counted against today's budget, once."""
    if pick is None or not requests:
        return []
    renew(store, pick.dag_run_id)
    done = backend_for(store, pick).collect(requests, outputs, store.home)
    budget.count(store, now, done)
    return done


def seed_line(one: dict[str, Any]) -> str:
    """``H-001 full seed 2: accuracy=0.8123, latency_ms=1.2`` (or the seed's error)."""
    shown = one["error"] or ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                      for k, v in sorted((one["metrics"] or {}).items()))
    return f"{one['experiment_id']} {one['mode']} seed {one['seed']}{' (cached)' if one.get('cached') else ''}: {shown}"


# ----------------------------------------------------------------------------- the decision and after


def finalize(store: StateStore, now: dt.datetime, pick: Pick | None, *,
             submission_token: str | None = None, defer_promotion: bool = False) -> dict[str, Any]:
    """Decide, and after a promotion evaluate on the test split and submit; the report.

    ``defer_promotion``: a promotion's test-split evaluation and submissions (a training run, so
    GPU work) are left for :func:`complete_promotion` (the DAG's last task, on the GPU queue);
    the result says ``"deferred": True``."""
    from autobench.experiments import report
    from autobench.experiments.decide import decide

    if pick is None:
        return {"hypothesis": None, "decision": None, "runs": 0, "criteria": [], "report": None}
    hid = pick.hypothesis
    decision = decide(store, hid, now, policy=pick.policy, write=True)
    path = report.write(store, hid, decision, now)
    if decision.status != "confirming":  # (a promotion being confirmed stays this sweep's: see `release`)
        release(store, hid)
    result = {"hypothesis": hid, "decision": decision.decision, "status": decision.status,
              "runs": results.count_runs(store.home, hid, decision.config_hash),
              "criteria": decision.as_dict()["criteria"], "reason": decision.reason,
              "report": results.relative(store.home, path)}
    if decision.status == "confirming":  # the test split and submissions wait for the confirmation
        result["confirming"] = decision.confirmation["seeds"]
    elif decision.status == "rolled_back" or (decision.confirmation or {}).get("outcome") == "unconfirmed":
        from autobench.experiments.confirmation import alert_line

        result["alert"] = alert_line(decision)
        result["confirmation"] = decision.confirmation
    if decision.decision == "promote" and decision.status == "promoted":
        if decision.confirmation:
            result["confirmation"] = decision.confirmation
        if defer_promotion:
            result["deferred"] = True
        else:
            result.update(_after_promotion(store, now, hid, decision, submission_token))
    return result


def release(store: StateStore, hid: str) -> None:
    """``hid`` is no longer this sweep's (a promotion still confirming when its sweep leaves it
    is free for the next sweep to confirm)."""
    with store.edit(SWEEP) as doc:
        doc.setdefault("running", {}).pop(hid, None)


def _after_promotion(store: StateStore, now: dt.datetime, hid: str, decision, token: str | None) -> dict[str, Any]:
    from autobench.experiments import submission

    registry: Registry = store.load(REGISTRY)
    return {"eval_on_leaderboard": submission.evaluate_on_test(store, hid, decision, now),
            "submissions": submission.submit(store, registry, hid, decision, now, token)}


def complete_promotion(store: StateStore, now: dt.datetime, result: dict[str, Any], *,
                       submission_token: str | None = None) -> dict[str, Any]:
    """A deferred promotion's test-split evaluation and submissions (each done once: a retry
    finds them on record). Other results are returned as they are."""
    if not result.get("deferred"):
        return result
    decision = results.latest_decision(store.home, result["hypothesis"])
    if decision is None:
        raise AutobenchError(f"sweep: {result['hypothesis']} was promoted but its decision is not on record")
    done = {k: v for k, v in result.items() if k != "deferred"}
    return {**done, **_after_promotion(store, now, result["hypothesis"], decision, submission_token)}


# ----------------------------------------------------------------------------- one cycle (the CLI)

HEARTBEAT_S = 60.0  # how often a sweep renews its lease while its runs execute


def _run_all(jobs: list[tuple[Any, Any]], home, workers: int, progress: Callable[[str], None]) -> list[Any]:
    """Each (backend, payload) run; several at once when ``workers`` > 1 (each run is a child
    process, so threads suffice). Outputs in the order of ``jobs``."""
    if workers <= 1 or len(jobs) <= 1:
        return [runner.run(payload, home, progress=progress) for runner, payload in jobs]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
        futures = [pool.submit(runner.run, payload, home, progress=progress) for runner, payload in jobs]
        return [f.result() for f in futures]


@dataclass
class Progress:
    """Where a sweep stands between its turns (JSON-able: the DAG hands it from task to task).

    ``picks``: the hypotheses in flight; ``rounds``: rounds run per hypothesis; ``decisions``:
    :func:`finalize`'s result per hypothesis decided so far; ``why``: why the last top-up got
    fewer picks than slots (``"queue empty"`` / ``"budget spent"``), after which no more are
    picked; ``round``: the runs of the turn in progress, per pick (its requests, and which of
    the turn's payloads are its own: ``executor``, ``start``, ``count``); ``over``: a turn found
    nothing more to run."""

    dag_run_id: str
    parallel: int = 1
    limit: int = 1
    hypothesis: str | None = None
    policy: str | None = None
    backend: str | None = None
    picks: list[Pick] = field(default_factory=list)
    rounds: dict[str, int] = field(default_factory=dict)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    why: str | None = None
    round: list[dict[str, Any]] = field(default_factory=list)
    over: bool = False  # a turn found nothing more to run: the DAG's later turns are skipped
    turn: int = -1  # the last turn done (the DAG's turn_k), -1 before the first
    confirming: list[str] = field(default_factory=list)  # promotions kept in flight for their confirmation

    @classmethod
    def start(cls, store: StateStore, dag_run_id: str, *, hypothesis: str | None = None, policy: str | None = None,
              backend: str | None = None, parallel: int | None = None, limit: int | None = None) -> Progress:
        """A new sweep: ``parallel`` and ``limit`` default to the registry's ``experiments``
        settings; an explicit ``hypothesis`` is one decision."""
        settings = store.load(REGISTRY).experiments
        return cls(dag_run_id, max(1, parallel or settings.max_parallel_hypotheses),
                   1 if hypothesis else max(1, limit or settings.max_hypotheses_per_sweep),
                   hypothesis, policy, backend or settings.backend)

    @property
    def stopped(self) -> str:
        return "limit reached" if len(self.decisions) >= self.limit else (self.why or "queue empty")

    def as_dict(self) -> dict[str, Any]:
        data = {k: getattr(self, k) for k in ("dag_run_id", "parallel", "limit", "hypothesis", "policy", "backend",
                                                "rounds", "decisions", "why", "round", "over", "turn",
                                                "confirming")}
        return {**data, "picks": [p.as_dict() for p in self.picks]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Progress:
        fields = {k: v for k, v in data.items() if k != "picks"}
        return cls(**fields, picks=[Pick.from_dict(p) for p in data.get("picks") or []])


KEPT_TURNS = 20  # sweeps whose progress state/sweep.json keeps


def save_progress(store: StateStore, progress: Progress) -> None:
    """Where the DAG's sweep stands, in ``state/sweep.json``'s ``turns`` (the next turn reads it)."""
    with store.edit(SWEEP) as doc:
        turns = doc.setdefault("turns", {})
        turns.pop(progress.dag_run_id, None)
        turns[progress.dag_run_id] = progress.as_dict()
        for old in list(turns)[:-KEPT_TURNS]:
            del turns[old]


def load_progress(store: StateStore, dag_run_id: str) -> Progress | None:
    data = store.load(SWEEP).turns.get(dag_run_id)
    return Progress.from_dict(data) if data else None


def advance(store: StateStore, now: dt.datetime, progress: Progress,
            decided: Callable[[Pick], dict[str, Any]],
            picked: Callable[[Pick], None] | None = None) -> list[tuple[Pick, Round]]:
    """One turn: decide each pick whose seed policy is satisfied (or that has had :data:`ROUNDS`
    rounds) with ``decided`` (:func:`finalize`), give its slot to the next item in the queue
    (:func:`~autobench.experiments.pick.pick_many`) in the same turn, and plan one round for every
    pick in flight, after the turn's decisions (so against the production they leave). Returns
    (pick, round) for each round to run now; none once the sweep is over (``progress.stopped``
    says why). ``picked`` is told of each new pick. The shared step of :func:`cycle` and the
    DAG's turns."""
    from autobench.experiments.pick import pick_many

    while True:
        room = min(progress.parallel, progress.limit - len(progress.decisions))
        if len(progress.picks) < room and progress.why is None:
            picks, progress.why = pick_many(
                store, now, progress.dag_run_id, room, hypothesis=progress.hypothesis, policy=progress.policy,
                backend=progress.backend, exclude={d["hypothesis"] for d in progress.decisions})
            for pick in picks:
                if pick not in progress.picks:
                    progress.picks.append(pick)
                    if picked is not None:
                        picked(pick)
        if not progress.picks:
            return []
        steps: list[tuple[Pick, Round]] = []
        decided_now = False
        for pick in list(progress.picks):
            done = progress.rounds.get(pick.hypothesis, 0) >= ROUNDS
            step = Round("task") if done else next_round(store, now, pick)
            if not step.requests:
                result = decided(pick)
                decided_now = True
                if result.get("status") == "confirming" and pick.hypothesis not in progress.confirming:
                    # promoted: it stays in flight for one more round, its confirmation on fresh seeds
                    progress.confirming.append(pick.hypothesis)
                    progress.rounds[pick.hypothesis] = ROUNDS - 1
                    continue
                if result.get("status") == "confirming":  # its fresh seeds could not all run: left for the next sweep
                    release(store, pick.hypothesis)
                progress.decisions.append(result)
                progress.picks.remove(pick)
                continue
            steps.append((pick, step))
        if not decided_now:  # every pick in flight has its round: a freed slot was refilled this turn
            for pick, _ in steps:
                progress.rounds[pick.hypothesis] = progress.rounds.get(pick.hypothesis, 0) + 1
            return steps
        # a decision (a promotion changes production) frees a slot: refill it now, and plan every
        # round again against the state after the decisions


def cycle(store: StateStore, now: dt.datetime, dag_run_id: str, *, hypothesis: str | None = None,
          policy: str | None = None, backend: str | None = None, defence: bool = True,
          progress: Callable[[str], None] | None = None, parallel: int | None = None,
          limit: int | None = None) -> dict[str, Any]:
    """``autobench sweep``: the whole cycle on this machine, for a backend whose runs execute
    in a task (``local``); a backend whose runs are pods runs through the experiment_sweep DAG.

    It keeps deciding hypotheses, best first, with up to ``parallel`` (default
    ``experiments.max_parallel_hypotheses``) in flight at once: each turn tops the picks up
    (:func:`~autobench.experiments.pick.pick_many`), plans one round for each, runs all their
    payloads together, collects; a pick whose policy is satisfied (or after :data:`ROUNDS`
    rounds) is decided and its slot goes to the next item in the queue. It stops when nothing
    runnable is left (``"queue empty"``), today's compute budget is spent (``"budget spent"``;
    urgent work still runs, and what is in flight is finished) or ``limit`` decisions (default
    ``experiments.max_hypotheses_per_sweep``) are made (``"limit reached"``; an explicit
    ``hypothesis`` is one decision). A promotion changes production for the hypotheses still in
    flight: their next round is planned against the new production, as if swept after it.

    Returns ``{"decisions": [finalize's result per hypothesis], "stopped": why, "defence": …}``.
    """
    from autobench.experiments import backends
    from autobench.experiments.defence import defend
    from autobench.experiments.pick import heartbeat

    state = Progress.start(store, dag_run_id, hypothesis=hypothesis, policy=policy, backend=backend,
                           parallel=parallel, limit=limit)
    try:
        executor = backends.REGISTRY.get(state.backend).executor
    except ValueError as exc:
        raise AutobenchError(f"sweep: {exc}") from None
    if executor != "task":
        raise AutobenchError(f"sweep: the command line runs backends whose runs execute here (local); the "
                             f"{state.backend} backend's runs are {executor}s, started by the experiment_sweep "
                             "DAG (or pass --backend local)")
    quiet = progress or (lambda line: None)
    while steps := advance(store, now, state, lambda pick: finalize(store, now, pick)):
        jobs = [(backend_for(store, pick), payload) for pick, step in steps for payload in step.payloads]
        with heartbeat(store, dag_run_id, HEARTBEAT_S):
            outputs = _run_all(jobs, store.home, state.parallel, quiet)
        start = 0
        for pick, step in steps:
            for one in collect(store, now, pick, step.requests, outputs[start:start + len(step.payloads)]):
                quiet(seed_line(one))
            start += len(step.payloads)
    result: dict[str, Any] = {"decisions": state.decisions, "stopped": state.stopped}
    if defence:
        result["defence"] = defend(store, now, dag_run_id)
    return result
