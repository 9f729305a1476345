"""
### weekly_digest: Monday morning, in Slack

**When:** every Monday at 09:00.

**Tasks:** `write` (the week's digest in `digests/<week>.md`, the week's `TECHNICAL_LOG.md`
section, escalation briefs under `reports/`) → `send` (the digest to Slack as Block Kit with two
plots; skipped without the `autobench_slack` connection, whose password is the bot token,
`extra.channel` the channel and optional `extra.base_url` another API address). A retried task
posts nothing twice.

The rules live in `autobench.reporting` (`digest.py` is the cycle); the same on the command line
is `autobench digest [--send]`.
"""

from __future__ import annotations

from airflow.sdk import dag, task

from autobench import orchestration
from autobench_airflow.alerts import on_failure


@dag(
    schedule="0 9 * * 1",
    start_date=orchestration.START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=orchestration.default_args(on_failure_callback=on_failure),
    doc_md=__doc__,
    tags=["autobench", "reporting"],
)
def weekly_digest():
    @task(multiple_outputs=False)
    def write(**context) -> dict:
        """digests/<week>.md, the TECHNICAL_LOG.md section, escalation briefs."""
        from autobench import clock
        from autobench.reporting.tasks import digest_write

        return digest_write(clock.from_context(context))

    @task(multiple_outputs=False)
    def send(written: dict, **context) -> dict:
        """Block Kit and the two plots to Slack, through the autobench_slack connection."""
        from airflow.sdk.exceptions import AirflowSkipException

        from autobench import clock
        from autobench.reporting.tasks import digest_send
        from autobench_airflow.alerts import CONNECTION_ID, slack_notifier

        notifier = slack_notifier()
        if notifier is None:
            raise AirflowSkipException(f"no {CONNECTION_ID} connection (password = bot token, extra.channel); "
                                       f"the digest is in {written['digest']}")
        return digest_send(clock.from_context(context), notifier)

    send(write())


weekly_digest()
