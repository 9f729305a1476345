"""What started a run: the Asset events behind it.

Under the scheduler an Asset-triggered run has them in ``triggering_asset_events``. A run
replayed by hand (`airflow dags test`, `make demo`) carries no Asset events, so it takes the same
details from its conf, one key per Asset: ``{"urgent": {"leaderboard", "reason"}}`` for
``autobench://urgent``, ``{"gap_widened": {...}}`` for ``autobench://gap-widened``
(:func:`autobench.orchestration.conf_key`). Either way a task gets one list of
``{"asset", "extra", "source"}``.
"""

from __future__ import annotations

from typing import Any

from autobench import orchestration

TRIGGERS = (orchestration.ASSET_URGENT, orchestration.ASSET_GAP_WIDENED)


def triggered_by(context: dict[str, Any]) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    accessor = context.get("triggering_asset_events") or {}
    for asset in accessor:
        for event in accessor[asset]:
            events.append({"asset": event.asset.uri.rstrip("/"), "extra": dict(event.extra or {}),
                           "source": f"{event.source_dag_id}/{event.source_run_id}" if event.source_dag_id else None})
    dag_run = context.get("dag_run")
    conf = getattr(dag_run, "conf", None) or {}
    for uri in TRIGGERS:
        details = conf.get(orchestration.conf_key(uri))
        if isinstance(details, dict) and not any(e["asset"] == uri for e in events):
            events.append({"asset": uri, "extra": dict(details), "source": "conf"})
    return events
