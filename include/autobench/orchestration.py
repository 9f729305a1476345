"""What the DAG files share, without importing Airflow.

DAG files are thin wiring: they take their defaults, pools and Asset URIs from here, so the
package stays importable in pods and on the command line where Airflow is absent.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

OWNER = "autobench"
START_DATE = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
RETRY_DELAY_ENV = "AUTOBENCH_RETRY_DELAY_SECONDS"
DEFAULT_RETRY_DELAY_S = 300.0

# Airflow pools the DAGs use; `make run` and the compose init import config/pools.json.
GPU_POOL = "gpu"
ARXIV_POOL = "arxiv"  # one slot: paper-source fetches one at a time across workers (arXiv's pacing is per process)

# Assets: the DAGs talk through these (one DAG's update schedules the next). Defined here once;
# DAG files wrap each URI in `airflow.sdk.Asset`.
ASSET_REGISTRY = "autobench://registry"  # the monitor updated the registry
ASSET_URGENT = "autobench://urgent"  # our rank dropped; extra: leaderboard, reason
ASSET_GAP_WIDENED = "autobench://gap-widened"  # the gap to #1 grew past the registry's threshold
ASSET_QUEUE = "autobench://queue"  # new hypotheses


def conf_key(uri: str) -> str:
    """The conf key that carries an Asset event's details when a run is replayed by hand
    (`airflow dags test` runs carry no Asset events): ``autobench://urgent`` ->
    ``urgent`` (``{"urgent": {"leaderboard", "reason"}}``), ``autobench://gap-widened`` ->
    ``gap_widened``."""
    return uri.split("://", 1)[-1].strip("/").replace("-", "_")


def event_details(extra: dict | None) -> str:
    """An Asset event's extra as a log reads it: ``MemoryBench, rank_dropped`` for an urgent or
    gap-widened event, ``H-004, H-005`` for new hypotheses; empty when it carries none of those."""
    extra = extra or {}
    parts = [str(extra[k]) for k in ("leaderboard", "reason") if extra.get(k)]
    hypotheses = extra.get("hypotheses")
    if isinstance(hypotheses, (list, tuple)):
        parts += [str(h) for h in hypotheses]
    elif hypotheses:
        parts.append(str(hypotheses))
    return ", ".join(parts)


def retry_delay() -> dt.timedelta:
    """Airflow's retry delay for autobench tasks; tests set ``AUTOBENCH_RETRY_DELAY_SECONDS``."""
    raw = os.environ.get(RETRY_DELAY_ENV)
    seconds = DEFAULT_RETRY_DELAY_S if raw in (None, "") else float(raw)
    if seconds < 0:
        raise ValueError(f"{RETRY_DELAY_ENV} must be >= 0 (got {raw})")
    return dt.timedelta(seconds=seconds)


def default_args(**overrides: Any) -> dict[str, Any]:
    """``default_args`` for every autobench DAG. Airflow's retries are for infrastructure;
    an experiment's own crash is data (the runner retries once itself)."""
    args: dict[str, Any] = {
        "owner": OWNER,
        "retries": 1,
        "retry_delay": retry_delay(),
        "retry_exponential_backoff": False,
    }
    args.update(overrides)
    return args


def experiment_settings(home: str | None = None):
    """The registry's ``experiments`` block for DAG parse time (pod settings of the mapped
    ``KubernetesPodOperator``): read cheaply, and the defaults when the state folder is not
    there (a dag-processor without the volume). Runtime choices are re-read by the tasks."""
    from autobench.paths import resolve_home
    from autobench.schemas import REGISTRY, ExperimentsSettings

    path = resolve_home(home) / REGISTRY
    try:
        import yaml

        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return ExperimentsSettings.model_validate(data.get("experiments") or {})
    except Exception:  # noqa: BLE001 - parse time must never fail on the state folder; `validate` reports it
        return ExperimentsSettings()
