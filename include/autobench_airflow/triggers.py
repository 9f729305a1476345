"""What started a run: the Asset events behind it.

Under the scheduler an Asset-triggered run has them in ``triggering_asset_events``; when
``make demo`` plays the scheduler's part over ``airflow dags test`` it passes the same details
as the run's conf (``{"triggered_by": [{"asset", "extra", "source"}]}``). Either way a task gets
one list of ``{"asset", "extra", "source"}``.
"""

from __future__ import annotations

from typing import Any

CONF_KEY = "triggered_by"


def triggered_by(context: dict[str, Any]) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    accessor = context.get("triggering_asset_events") or {}
    for asset in accessor:
        for event in accessor[asset]:
            events.append({"asset": event.asset.uri.rstrip("/"), "extra": dict(event.extra or {}),
                           "source": f"{event.source_dag_id}/{event.source_run_id}" if event.source_dag_id else None})
    dag_run = context.get("dag_run")
    conf = getattr(dag_run, "conf", None) or {}
    for event in conf.get(CONF_KEY) or []:
        if isinstance(event, dict) and event.get("asset"):
            events.append({"asset": str(event["asset"]).rstrip("/"), "extra": dict(event.get("extra") or {}),
                           "source": event.get("source")})
    return events

