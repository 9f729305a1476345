"""Task bodies the `leaderboard_monitor` DAG calls: plain values in, JSON-able data out, a log line per step.

The DAG file only wires these together; everything here also runs without Airflow.
"""

from __future__ import annotations

from typing import Any

from autobench.home import resolve_home


def monitor_leaderboards(home: str | None = None) -> list[str]:
    from autobench.schemas import REGISTRY
    from autobench.store import StateStore

    return [lb.name for lb in StateStore(resolve_home(home)).load(REGISTRY).target_leaderboards]


def monitor_scrape(name: str, now, dag_run_id: str, home: str | None = None) -> dict[str, Any]:
    from autobench.monitor.cycle import scrape_leaderboard
    from autobench.store import StateStore

    out = scrape_leaderboard(StateStore(resolve_home(home)), name, now, dag_run_id)
    print(f"{name}: {out['status']}" + (f" ({out['rows']} rows, {out['snapshot']})" if out.get("snapshot") else ""))
    return out


def monitor_finish(now, dag_run_id: str, home: str | None = None) -> dict[str, Any]:
    from autobench.monitor.cycle import finish_cycle
    from autobench.store import StateStore

    result = finish_cycle(StateStore(resolve_home(home)), now, dag_run_id)
    for line in result["alerts"] + result["status"]:
        print(line)
    for refused in result["refused"]:
        print(f"[REFUSED] {refused['leaderboard']}: {refused['reason']}")
    return result



def alert_lines(result: dict[str, Any]) -> list[str]:
    """What the cycle tells people at once: its ``[ALERT]`` lines and each ``[REFUSED]`` board."""
    lines = [a for a in result["alerts"] if a.startswith("[ALERT]")]
    return lines + [f"[REFUSED] {r['leaderboard']}: {r['reason']}" for r in result["refused"]]


def trigger_event(result: dict[str, Any], uri: str) -> dict[str, Any] | None:
    """The cycle's event for the Asset ``uri``, if it raised one (Airflow adds a trailing ``/``)."""
    return next((t for t in result["trigger_events"] if t["asset"].rstrip("/") == uri.rstrip("/")), None)
