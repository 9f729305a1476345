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
