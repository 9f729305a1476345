"""Task bodies the `experiment_sweep` DAG calls: plain values in, JSON-able data out, a log line per step.

The DAG file only wires these together: turns (:func:`sweep_turn`, the sweep's progress kept in
``state/sweep.json`` between them), each mapping its runs over the previous turn's payloads
(:func:`sweep_run`, or pods), then :func:`sweep_finish` and :func:`sweep_defend`. Everything
here also runs without Airflow, and nothing here knows which backend runs.
"""

from __future__ import annotations

from typing import Any

from autobench.errors import AutobenchError
from autobench.home import resolve_home


def _store(home: str | None):
    from autobench.store import StateStore

    return StateStore(resolve_home(home))


def sweep_turn(turn: int, now, dag_run_id: str, params: dict[str, Any] | None = None,
               task_outputs: list | None = None, pod_outputs: list | None = None, home: str | None = None,
               trigger: list[dict[str, Any]] | None = None, pods: bool = True) -> dict[str, Any]:
    """Turn ``turn`` of the DAG's sweep: collect the previous turn's runs, decide the hypotheses
    whose seed policy is satisfied (a promotion's test-split evaluation and submissions wait for
    :func:`sweep_finish`, on the GPU queue), give their slots to the next items in the queue, plan
    the next round for every hypothesis in flight.

    The sweep's progress is kept between turns in ``state/sweep.json``
    (:func:`~autobench.experiments.sweep.save_progress`). Turn 0 starts it from ``params`` and logs
    the Asset events that started the run (``trigger``). Returns ``{"task", "pod"}``, the payloads
    the DAG maps its runs over, one list per executor (``task`` items are ``{"pick", "payload"}``,
    ``pod`` items the pods' kwargs); or ``{"skip": why}`` when there is nothing to continue: the
    sweep is over (a turn found nothing more to run) or the turn before did not finish. A retried
    turn that had recorded itself hands out its round again. ``pods``: whether the DAG wires pod
    operators (a round of pods it cannot start is refused). A run two hypotheses need in the same
    round (a production seed) is handed out once."""
    from autobench.experiments.backends.run_request import describe
    from autobench.experiments.sweep import Progress, advance, finalize, load_progress, save_progress
    from autobench.orchestration import event_details

    store = _store(home)
    if turn == 0:
        params = params or {}
        for event in trigger or []:
            where = event_details(event.get("extra"))
            print(f"triggered by {event['asset']}" + (f" ({where})" if where else "")
                  + (f" from {event['source']}" if event.get("source") else ""))
        progress = Progress.start(store, dag_run_id, hypothesis=params.get("hypothesis") or None,
                                  policy=params.get("seed_policy") or None, backend=params.get("backend") or None)
        print(f"sweep {dag_run_id}: up to {progress.parallel} hypotheses at once, at most {progress.limit} "
              f"decision{'s' if progress.limit != 1 else ''}")
    else:
        progress = load_progress(store, dag_run_id)
        if progress is not None and progress.turn == turn and not progress.over:  # a retry: the same round
            print(f"turn_{turn} ran before (state/sweep.json): its round is handed out again")
            return _hand_out(store, progress, pods)
        if progress is not None and progress.over:
            return {"skip": f"the sweep is over ({progress.stopped}): turn_{progress.turn} found nothing more to run"}
        if progress is None or progress.turn != turn - 1:
            done = "no turn" if progress is None else f"turn_{progress.turn}"
            return {"skip": f"turn_{turn - 1} did not finish ({done} is the last on record in state/sweep.json)"}
        _collect_round(store, now, progress, task_outputs, pod_outputs)
    steps = advance(store, now, progress, lambda pick: _decided(finalize(store, now, pick, defer_promotion=True)),
                    picked=lambda p: print(f"picked {p.hypothesis} (policy {p.policy}, backend {p.backend})"))
    progress.round = []
    for pick, step in steps:
        progress.round.append({"pick": pick.as_dict(), "requests": step.requests, "executor": step.executor})
        print(f"{pick.hypothesis}: round {progress.rounds[pick.hypothesis]}")
        for r in step.requests:
            print(f"plan: {describe(r)} (config {r['config_hash']})")
        if len(step.requests) < step.seeds:
            print(f"{step.seeds} seeds in {len(step.requests)} {step.executor}s ({step.batching}): "
                  + "; ".join(describe(r) for r in step.requests))
    progress.over, progress.turn = not steps, turn
    if not steps:
        print(f"nothing to sweep: {progress.stopped}" if turn == 0 and not progress.decisions
              else f"nothing more to run: {progress.stopped}; the turns after this one are skipped")
    out = _hand_out(store, progress, pods)
    save_progress(store, progress)
    return out


def _hand_out(store, progress, pods: bool) -> dict[str, Any]:
    """The round's payloads per executor, each run once (a production seed two picks need)."""
    from autobench.experiments.pick import Pick
    from autobench.experiments.sweep import backend_for

    out: dict[str, Any] = {"task": [], "pod": []}
    seen: list[Any] = []
    for part in progress.round:
        pick = Pick.from_dict(part["pick"])
        for payload in backend_for(store, pick).submit(part["requests"]):
            if payload in seen:
                continue
            seen.append(payload)
            out[part["executor"]].append({"pick": pick.as_dict(), "payload": payload} if part["executor"] == "task"
                                         else payload)
    if out["pod"] and not pods:
        raise AutobenchError(f"sweep: the {progress.backend} backend's runs are pods, but this DAG was parsed "
                             "without pod operators (the registry's experiments.backend was a task backend then): "
                             "set experiments.backend and let the DAG be parsed again")
    return out


def _decided(result: dict[str, Any]) -> dict[str, Any]:
    """A decision's log lines (criteria in words), the result unchanged."""
    from autobench.experiments import explain

    runs = f"{result['runs']} run" + ("" if result["runs"] == 1 else "s")
    print(f"{result['hypothesis']}: {result['decision']} → {result['status']} ({runs}); report {result['report']}")
    for line in explain.lines(result["criteria"]):
        print(line)
    print(result["reason"])
    return result


def _collect_round(store, now, progress, task_outputs: list | None, pod_outputs: list | None) -> None:
    """What the last turn's runs returned, read per pick into the results store; a line per seed."""
    from autobench.experiments.pick import Pick
    from autobench.experiments.sweep import collect, seed_line

    outputs = {"task": [o for o in task_outputs or []], "pod": [o for o in pod_outputs or []]}
    for part in progress.round:
        # every output of the executor: the backend matches each request to the output that names
        # its run (a task that failed for good returned none: its run folders are read instead)
        for one in collect(store, now, Pick.from_dict(part["pick"]), part["requests"], outputs[part["executor"]]):
            print(seed_line(one))
    progress.round = []


def sweep_run(pick: dict[str, Any], payload: Any, home: str | None = None) -> dict[str, Any]:
    """One payload on this worker (a backend whose executor is a task): one seed, or a batch of
    seeds of one config in one process. A crash or NaN is data, not a task failure."""
    from autobench.experiments.pick import Pick, heartbeat
    from autobench.experiments.sweep import HEARTBEAT_S, backend_for

    store = _store(home)
    chosen = Pick.from_dict(pick)
    with heartbeat(store, chosen.dag_run_id, HEARTBEAT_S):  # a long run keeps its sweep's lease alive
        return backend_for(store, chosen).run(payload, store.home, progress=print)


def sweep_finish(turns: int, now, dag_run_id: str, task_outputs: list | None = None,
                 pod_outputs: list | None = None, submission_token: str | None = None,
                 home: str | None = None) -> dict[str, Any]:
    """The sweep's end, after its ``turns`` turns: collect the last turn's runs, decide what is
    still in flight (``extend`` where its seed policy wants more than the turns gave it), and run
    the promotions' test-split evaluation and submissions. ``{"decisions", "stopped"}`` as
    ``autobench sweep --json``. A sweep whose turns did not all finish (one failed) is refused."""
    from autobench.experiments.sweep import finalize, load_progress, release, save_progress

    store = _store(home)
    progress = load_progress(store, dag_run_id)
    if progress is None or not (progress.over or progress.turn == turns - 1):
        done = "no turn" if progress is None else f"turn_{progress.turn}"
        alerts = []
        if progress is not None:  # what was promoted before the failed turn still gets its evaluation
            progress.decisions = _complete(store, now, progress.decisions, submission_token)
            save_progress(store, progress)
            alerts = [d["alert"] for d in progress.decisions if d.get("alert")]
        # (the failure alert carries the rollbacks concluded before the failed turn)
        raise SweepIncomplete(f"sweep: its turns did not all finish ({done} is the last on record in "
                              "state/sweep.json; see the failed turn's log): its hypotheses go back to the queue "
                              "once their lease expires" + "".join(f"\n{line}" for line in alerts))
    _collect_round(store, now, progress, task_outputs, pod_outputs)
    if not progress.over and progress.picks and progress.why is None:
        progress.why = "the DAG's turns are used up"  # what is in flight is decided now (extend if unsatisfied)
    for pick in list(progress.picks):
        result = _decided(finalize(store, now, pick, defer_promotion=True))
        if result.get("status") == "confirming":  # promoted in the last turn: the next sweep confirms it
            release(store, pick.hypothesis)
        progress.decisions.append(result)
        progress.picks.remove(pick)
    decisions = _complete(store, now, progress.decisions, submission_token)
    for d in decisions:
        if d.get("eval_on_leaderboard"):
            print(f"{d['hypothesis']}: evaluated once on the test split ({d['eval_on_leaderboard']}); "
                  f"{len(d.get('submissions') or [])} submission(s)")
    progress.decisions, progress.over, progress.turn = decisions, True, turns
    save_progress(store, progress)
    print(f"{len(decisions)} decision(s); stopped: {progress.stopped}")
    alerts = [d["alert"] for d in decisions if d.get("alert")]  # promotions rolled back or not confirmed
    for line in alerts:
        print(line)
    return {"decisions": decisions, "stopped": progress.stopped, "alerts": alerts}


class SweepIncomplete(AutobenchError):
    """A sweep whose turns did not all finish: final, nothing to retry (the DAG fails the task)."""


def _complete(store, now, decisions: list[dict[str, Any]], token: str | None) -> list[dict[str, Any]]:
    from autobench.experiments.sweep import complete_promotion

    return [complete_promotion(store, now, d, submission_token=token) for d in decisions]


def sweep_defend(now, dag_run_id: str, home: str | None = None) -> dict[str, Any]:
    from autobench.experiments.defence import defend

    check = defend(_store(home), now, dag_run_id)
    print(check["alert"] or f"defence: production seed {check['seed']} scored {check['score']} (no regression; "
                            f"p = {check.get('p_value')})")
    return check
