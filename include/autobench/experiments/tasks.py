"""Task bodies the `experiment_sweep` DAG calls: plain values in, JSON-able data out, a log line per step.

The DAG file only wires these together (and maps its executors over :func:`sweep_plan`'s
payloads); everything here also runs without Airflow, and nothing here knows which backend runs.
"""

from __future__ import annotations

from typing import Any

from autobench.home import resolve_home


def _store(home: str | None):
    from autobench.store import StateStore

    return StateStore(resolve_home(home))


def sweep_prepare(now, dag_run_id: str, params: dict[str, Any] | None = None, home: str | None = None,
                  trigger: list[dict[str, Any]] | None = None) -> dict[str, Any] | None:
    """``trigger``: the Asset events that started the run ({asset, extra, source}), for the log."""
    from autobench.experiments.pick import prepare
    from autobench.orchestration import event_details

    params = params or {}
    for event in trigger or []:
        where = event_details(event.get("extra"))
        print(f"triggered by {event['asset']}" + (f" ({where})" if where else "")
              + (f" from {event['source']}" if event.get("source") else ""))
    pick = prepare(_store(home), now, dag_run_id, hypothesis=params.get("hypothesis") or None,
                   policy=params.get("seed_policy") or None, backend=params.get("backend") or None)
    print(f"picked {pick.hypothesis} (policy {pick.policy}, backend {pick.backend})" if pick
          else "nothing to sweep: no open hypothesis, or today's compute budget is spent")
    return pick.as_dict() if pick else None


def sweep_plan(pick: dict[str, Any] | None, now, home: str | None = None) -> dict[str, list]:
    """The next round: ``{"requests": the runs, "task": payloads, "pod": payloads}`` (the
    payloads under the pick's backend's executor, the other list empty)."""
    from autobench.experiments.backends.run_request import describe
    from autobench.experiments.pick import Pick
    from autobench.experiments.sweep import next_round

    step = next_round(_store(home), now, Pick.from_dict(pick))
    if not step.requests:
        print("the seed policy needs no more runs")
        return step.as_dict()
    for r in step.requests:
        print(f"plan: {describe(r)} (config {r['config_hash']})")
    if len(step.requests) < step.seeds:
        print(f"{step.seeds} seeds in {len(step.requests)} {step.executor}s ({step.batching}): "
              + "; ".join(describe(r) for r in step.requests))
    return step.as_dict()


def sweep_run(pick: dict[str, Any], payload: Any, home: str | None = None) -> dict[str, Any]:
    """One payload on this worker (a backend whose executor is a task): one seed, or a batch of
    seeds of one config in one process. A crash or NaN is data, not a task failure."""
    from autobench.experiments.pick import Pick, heartbeat
    from autobench.experiments.sweep import HEARTBEAT_S, backend_for

    store = _store(home)
    chosen = Pick.from_dict(pick)
    with heartbeat(store, chosen.dag_run_id, HEARTBEAT_S):  # a long run keeps its sweep's lease alive
        return backend_for(store, chosen).run(payload, store.home, progress=print)


def sweep_collect(pick: dict[str, Any] | None, requests: list[dict[str, Any]] | None, task_outputs: list | None,
                  pod_outputs: list | None, now, home: str | None = None) -> list[dict[str, Any]]:
    """What the round's tasks or pods returned, recorded beside the runs; a line per seed."""
    from autobench.experiments.pick import Pick
    from autobench.experiments.sweep import backend_for, collect, seed_line

    chosen = Pick.from_dict(pick)
    if chosen is None or not requests:
        return []
    store = _store(home)
    outputs = task_outputs if backend_for(store, chosen).executor == "task" else pod_outputs
    done = collect(store, now, chosen, list(requests), list(outputs or []))
    for one in done:
        print(seed_line(one))
    return done


def sweep_finalize(pick: dict[str, Any] | None, now, submission_token: str | None = None,
                   home: str | None = None) -> dict[str, Any]:
    from autobench.experiments import explain
    from autobench.experiments.pick import Pick
    from autobench.experiments.sweep import finalize

    result = finalize(_store(home), now, Pick.from_dict(pick), submission_token=submission_token)
    if result["hypothesis"]:
        runs = f"{result['runs']} run" + ("" if result["runs"] == 1 else "s")
        print(f"{result['hypothesis']}: {result['decision']} → {result['status']} ({runs}); report {result['report']}")
        for line in explain.lines(result["criteria"]):
            print(line)
        print(result["reason"])
    return result


def sweep_defend(now, dag_run_id: str, home: str | None = None) -> dict[str, Any]:
    from autobench.experiments.defence import defend

    check = defend(_store(home), now, dag_run_id)
    print(check["alert"] or f"defence: production seed {check['seed']} scored {check['score']} (no regression; "
                            f"p = {check.get('p_value')})")
    return check
