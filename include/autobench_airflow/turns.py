"""The experiment_sweep DAG's turns (Airflow side): what a turn hands its mapped tasks.

Between turns the sweep's progress lives in ``state/sweep.json``
(:func:`autobench.experiments.tasks.sweep_turn`), not in XCom, so a turn needs nothing from the
one before but its runs' results. A turn with nothing to continue (the sweep is over, or the
turn before did not finish) is skipped: its runs are then skipped by the scheduler, so the turns
after an early end cost one short task each, and a failure stays one alert. ``finalize`` refuses
a sweep whose turns did not all finish, and the run ends failed.
"""

from __future__ import annotations

from typing import Any


def hand_on(out: dict[str, Any], context: dict[str, Any]) -> list:
    """A turn's result as the DAG maps it: the runs as the return value (``run_k`` maps over
    it), the pods' kwargs under the XCom key ``pod``; or skip this turn."""
    if "skip" in out:
        from airflow.sdk.exceptions import AirflowSkipException

        raise AirflowSkipException(out["skip"])
    context["ti"].xcom_push(key="pod", value=out["pod"])
    return out["task"]
