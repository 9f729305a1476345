"""Task bodies that the DAG files call. Each takes plain values and returns JSON-able data."""

from __future__ import annotations

from typing import Any

from autobench.home import resolve_home, validate


class StateInvalid(RuntimeError):
    pass


def check_state(home: str | None = None) -> dict[str, Any]:
    """Validate every state file; raise with every problem listed if any file is invalid."""
    report = validate(resolve_home(home))
    for line in report.warnings:
        print(f"warning: {line}")
    if not report.ok:
        raise StateInvalid(f"{len(report.errors)} problem(s) in {report.home}:\n" + "\n".join(report.errors))
    print(f"{report.home}: every state file is valid")
    return report.as_dict()


# ----------------------------------------------------------------------------- leaderboard_monitor


def monitor_leaderboards(home: str | None = None) -> list[str]:
    from autobench.schemas import REGISTRY
    from autobench.store import StateStore

    return [lb.name for lb in StateStore(resolve_home(home)).load(REGISTRY).target_leaderboards]


def monitor_scrape(name: str, now, run_id: str, home: str | None = None) -> dict[str, Any]:
    from autobench.leaderboard_monitor import scrape_leaderboard
    from autobench.store import StateStore

    out = scrape_leaderboard(StateStore(resolve_home(home)), name, now, run_id)
    print(f"{name}: {out['status']}" + (f" ({out['rows']} rows, {out['snapshot']})" if out.get("snapshot") else ""))
    return out


def monitor_finish(now, run_id: str, home: str | None = None) -> dict[str, Any]:
    from autobench.leaderboard_monitor import finish_cycle
    from autobench.store import StateStore

    result = finish_cycle(StateStore(resolve_home(home)), now, run_id)
    for line in result["alerts"] + result["status"]:
        print(line)
    for refused in result["refused"]:
        print(f"[REFUSED] {refused['leaderboard']}: {refused['reason']}")
    return result


# ----------------------------------------------------------------------------- research_ingest


def ingest_llm_settings(home: str | None = None) -> dict[str, Any] | None:
    """The LLM extractor's settings when research_config.yaml enables it, else None."""
    from autobench.schemas import RESEARCH_CONFIG
    from autobench.store import StateStore

    llm = StateStore(resolve_home(home)).load(RESEARCH_CONFIG).llm_extractor
    return {"connection_id": llm.connection_id, "model": llm.model} if llm.enabled else None


def ingest_sources(home: str | None = None) -> list[dict[str, str]]:
    from autobench.research_ingest import source_specs
    from autobench.schemas import RESEARCH_CONFIG
    from autobench.store import StateStore

    return [s.as_dict() for s in source_specs(StateStore(resolve_home(home)).load(RESEARCH_CONFIG))]


def ingest_fetch(source: dict[str, str], now, run_id: str, api_key: str | None = None,
                 home: str | None = None) -> dict[str, Any]:
    from autobench.research_ingest import SourceSpec, fetch_source
    from autobench.store import StateStore

    out = fetch_source(StateStore(resolve_home(home)), SourceSpec(**source), now, run_id, api_key)
    print(f"{out['source']}: {out['papers']} papers" + (f"; ERROR {out['error']}" if out["error"] else ""))
    return out


def ingest_process(now, run_id: str, llm_connection: dict[str, Any] | None = None,
                   home: str | None = None) -> dict[str, Any]:
    """``llm_connection``: {base_url, api_key, model} from the DAG's connection, when enabled."""
    from autobench.research_ingest import process
    from autobench.store import StateStore

    llm = None
    if llm_connection:
        from autobench.llm_extractor import LLMExtractor

        llm = LLMExtractor(llm_connection["base_url"], llm_connection.get("api_key"), llm_connection["model"])
    result = process(StateStore(resolve_home(home)), now, run_id, llm)
    print(f"{result['papers_fetched']} fetched, {result['papers_new']} new, relevant: {result['relevant']}, "
          f"hypotheses added: {result['hypotheses_added']}")
    for skipped in result["skipped"]:
        print(f"skipped, not relevant: {skipped}")
    for error in result["errors"]:
        print(f"[ERROR] {error['source']}: {error['reason']}")
    for note in result["gap_notes"]:
        print(f"[GAP] {note}")
    return result


# ----------------------------------------------------------------------------- experiment_sweep


def sweep_prepare(now, run_id: str, params: dict[str, Any] | None = None, home: str | None = None,
                  trigger: list[dict[str, Any]] | None = None) -> dict[str, Any] | None:
    """``trigger``: the Asset events that started the run ({asset, extra, source}), for the log."""
    from autobench.experiment_sweep import prepare
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
    from autobench.experiment_sweep import plan
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
        from autobench.backends.kubernetes import mapped_pod_kwargs, pod_requests

        settings = store.load(REGISTRY).experiments.kubernetes
        out["pods"] = mapped_pod_kwargs(settings, requests)
        out["pod_requests"] = pod_requests(settings, requests)
    else:
        from autobench.experiment_sweep import describe, group

        out["local"] = group(store, requests)
        if len(out["local"]) < len(requests):
            print(f"{len(requests)} seeds in {len(out['local'])} tasks (experiments.local.seeds_per_task): "
                  + "; ".join(describe(r) for r in out["local"]))
    return out


def sweep_run_local(request: dict[str, Any], now, home: str | None = None) -> dict[str, Any]:
    """One seed, or a batch of seeds of one config in one process; a line per seed."""
    from autobench.experiment_sweep import run_request
    from autobench.store import StateStore

    out = run_request(StateStore(resolve_home(home)), request, now, progress=print)
    for one in out.get("results", [out]):
        shown = one["error"] or ", ".join(f"{k}={v}" for k, v in sorted((one["metrics"] or {}).items()))
        print(f"{one['run_id']} {one['mode']} seed {one['seed']}{' (cached)' if one['cached'] else ''}: {shown}")
    return out


def sweep_collect_pods(requests: list[dict[str, Any]], xcoms: list[Any] | None, now,
                       home: str | None = None) -> list[dict[str, Any]]:
    """Record what the pods pushed (metrics come back through XCom when volumes are not shared)."""
    from autobench.backends.base import split_result
    from autobench.backends.kubernetes import result_from_xcom
    from autobench.experiment_sweep import record_pod_result
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
    from autobench.experiment_sweep import finalize
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
    from autobench.experiment_sweep import defend
    from autobench.store import StateStore

    check = defend(StateStore(resolve_home(home)), now, run_id)
    print(check["alert"] or f"defence: production seed {check['seed']} scored {check['score']} (no regression; "
                            f"p = {check.get('p_value')})")
    return check


# ----------------------------------------------------------------------------- weekly_digest


def digest_write(now, home: str | None = None) -> dict[str, Any]:
    from autobench.store import StateStore
    from autobench.weekly_digest import run

    result = run(StateStore(resolve_home(home)), now)
    print(result["markdown"])
    for brief in result["briefs"]:
        print(f"[ESCALATION] {brief}")
    return {"digest": result["digest"], "briefs": result["briefs"]}


def digest_send(now, notifier, home: str | None = None) -> dict[str, Any]:
    """Post the week's digest with ``notifier`` (the DAG builds it from its Slack connection)."""
    from autobench.store import StateStore
    from autobench.weekly_digest import run

    result = run(StateStore(resolve_home(home)), now, send=True, notifier=notifier)
    print(f"posted the digest: {result['sent']}")
    return result["sent"]
