"""
### state_check: the state folder is sound before the day's cycle

autobench's state is a handful of YAML files that people edit by hand (registry, research
config, hypothesis queue) plus machine-written bookkeeping under `state/`. A typo in one of
them would make the 06:00 monitor fail; this DAG finds it first, at 05:30, and fails with every
problem listed as `file: field: what is wrong`, so the failure alert says exactly what to fix.

Reads `AUTOBENCH_HOME`; writes nothing. The same check is `autobench validate`.
"""

from __future__ import annotations

from airflow.sdk import dag, task

from autobench import orchestration
from autobench_airflow.alerts import on_failure


@dag(
    schedule="30 5 * * *",
    start_date=orchestration.START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=orchestration.default_args(on_failure_callback=on_failure),
    doc_md=__doc__,
    tags=["autobench", "housekeeping"],
)
def state_check():
    @task(multiple_outputs=False)
    def validate_state() -> dict:
        """Every state file against its schema, and the folders against the queue."""
        from autobench.home import check_state

        return check_state()

    validate_state()


state_check()
