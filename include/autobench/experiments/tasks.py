"""Task bodies the `experiment_sweep` DAG calls: plain values in, JSON-able data out, a log line per step.

The DAG file only wires these together; everything here also runs without Airflow.
"""

from __future__ import annotations

from typing import Any

from autobench.home import resolve_home


def sweep_prepare(now, run_id: str, params: dict[str, Any] | None = None, home: str | None = None,
                  trigger: list[dict[str, Any]] | None = None) -> dict[str, Any] | None:
    """``trigger``: the Asset events that started the run ({asset, extra, source}), for the log."""
    from autobench.experiments.sweep import prepare
    from autobench.orchestration import event_details
    from autobench.store import StateStore

    params = params or {}
    for event in trigger or []:
        where = event_details(event.get("extra"))
        print(f"triggered by {event['asset']}" + (f" ({where})" if where else "")
              + (f" from {event['source']}" if event.get("source") else ""))
    pick = prepare(StateStore(resolve_home(home)), now, run_id, hypothesis=params.get("hypothesis") or None,
                   policy=params.get("seed_policy") or None, backend=params.get("backend") or None)
    print(f"picked {pick['hypothesis']} (policy {pick['policy']}, backend {pick['backend']})" if pick
          else "nothing to sweep: no open hypothesis, or today's compute budget is spent")
    return pick


def sweep_plan(pick: dict[str, Any] | None, now, home: str | None = None) -> dict[str, list]:
    """The next round's runs, split by backend: {"local": requests, "pods": kwargs, "pod_requests": requests}."""
    from autobench.experiments.sweep import plan
    from autobench.schemas import REGISTRY
    from autobench.store import StateStore

    store = StateStore(resolve_home(home))
    requests = plan(store, now, pick)
    out: dict[str, list] = {"local": [], "pods": [], "pod_requests": []}
    if not requests:
        print("the seed policy needs no more runs")
        return out
    for r in requests:
        print(f"plan: {r['run_id']} {r['mode']} seed {r['seed']} (config {r['config_hash']})")
    if pick and pick.get("backend") == "kubernetes":
        from autobench.experiments.backends.kubernetes import mapped_pod_kwargs, pod_requests

        settings = store.load(REGISTRY).experiments.kubernetes
        out["pods"] = mapped_pod_kwargs(settings, requests)
        out["pod_requests"] = pod_requests(settings, requests)
    else:
        from autobench.experiments.sweep import describe, group

        out["local"] = group(store, requests)
        if len(out["local"]) < len(requests):
            print(f"{len(requests)} seeds in {len(out['local'])} tasks (experiments.local.seeds_per_task): "
                  + "; ".join(describe(r) for r in out["local"]))
    return out


def sweep_run_local(request: dict[str, Any], now, home: str | None = None) -> dict[str, Any]:
    """One seed, or a batch of seeds of one config in one process; a line per seed."""
    from autobench.experiments.sweep import run_request
    from autobench.store import StateStore

    out = run_request(StateStore(resolve_home(home)), request, now, progress=print)
    for one in out.get("results", [out]):
        shown = one["error"] or ", ".join(f"{k}={v}" for k, v in sorted((one["metrics"] or {}).items()))
        print(f"{one['run_id']} {one['mode']} seed {one['seed']}{' (cached)' if one['cached'] else ''}: {shown}")
    return out


def sweep_collect_pods(requests: list[dict[str, Any]], xcoms: list[Any] | None, now,
                       home: str | None = None) -> list[dict[str, Any]]:
    """Record what the pods pushed (metrics come back through XCom when volumes are not shared)."""
    from autobench.experiments.backends.base import split_result
    from autobench.experiments.backends.kubernetes import result_from_xcom
    from autobench.experiments.sweep import record_pod_result
    from autobench.store import StateStore

    store = StateStore(resolve_home(home))
    out = []
    for request, xcom in zip(requests, list(xcoms or []) + [None] * (len(requests) - len(xcoms or [])), strict=False):
        for one in split_result(result_from_xcom(request, xcom)):
            single = {**request, "seed": one["seed"]}
            single.pop("seeds", None)
            out.append(record_pod_result(store, single, {"metrics": one.get("metrics"), "error": one.get("error")}, now))
    return out


def sweep_finalize(pick: dict[str, Any] | None, now, submission_token: str | None = None,
                   home: str | None = None) -> dict[str, Any]:
    from autobench.experiments.sweep import finalize
    from autobench.store import StateStore

    result = finalize(StateStore(resolve_home(home)), now, pick, submission_token=submission_token)
    if result["hypothesis"]:
        runs = f"{result['runs']} run" + ("" if result["runs"] == 1 else "s")
        print(f"{result['hypothesis']}: {result['decision']} → {result['status']} ({runs}); report {result['report']}")
        for c in result["criteria"]:
            print(f"  {'PASS' if c['passed'] else 'FAIL'} {c['name']}: {c['value']} (needs {c['requirement']})")
        print(result["reason"])
    return result


def sweep_defend(now, run_id: str, home: str | None = None) -> dict[str, Any]:
    from autobench.experiments.sweep import defend
    from autobench.store import StateStore

    check = defend(StateStore(resolve_home(home)), now, run_id)
    print(check["alert"] or f"defence: production seed {check['seed']} scored {check['score']} (no regression; "
                            f"p = {check.get('p_value')})")
    return check

