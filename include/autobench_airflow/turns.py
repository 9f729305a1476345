"""The experiment_sweep DAG's turns (Airflow side): what a turn hands its mapped tasks.

Between turns the sweep's progress lives in ``state/sweep.json``
(:func:`autobench.experiments.tasks.sweep_turn`), not in XCom, so a turn needs nothing from the
one before but its runs' results. A turn with nothing to continue (the sweep is over, or the
turn before did not finish) is skipped: its runs are then skipped by the scheduler, so the turns
after an early end cost one short task each. ``finalize`` refuses a sweep whose turns did not all
finish (:func:`final`: failed at once, not retried), and the run ends failed: the failed turn's
alert and finalize's.
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


def final(fn, *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)``; a sweep whose turns did not all finish fails the task for good
    (``AirflowFailException``: retrying cannot help)."""
    from autobench.experiments.tasks import SweepIncomplete

    try:
        return fn(*args, **kwargs)
    except SweepIncomplete as exc:
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(str(exc)) from None
