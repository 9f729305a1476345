"""The experiment_sweep DAG's turns hand the sweep's state on through XCom (Airflow side).

A turn whose predecessor failed gets no state (``None``): it is skipped, not failed, so one
failure is one alert; the DAG's ``finalize`` then fails with the reason
(:func:`autobench.experiments.tasks.sweep_finish` refuses a missing state), and the run ends failed.
"""

from __future__ import annotations

from typing import Any


def continue_from(state: Any) -> dict[str, Any]:
    """The previous turn's state, or skip this turn when that turn did not finish."""
    if isinstance(state, dict):
        return state
    from airflow.sdk.exceptions import AirflowSkipException

    raise AirflowSkipException("the turn before this one did not finish (see its log): nothing to continue")
