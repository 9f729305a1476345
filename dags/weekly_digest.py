"""
### weekly_digest: Monday morning, in Slack

Every Monday at 09:00:

1. **write** — the week's digest (competitive position per leaderboard,
   what changed, the next automated actions, the experiments run) into `digests/<week>.md`; a
   `TECHNICAL_LOG.md` section for the week (a summary, every experiment with its criteria, every
   paper with its techniques, the queue); escalation briefs under `reports/` when a gap above 5%
   has no hypothesis to close it, a competitor's approach cannot be reproduced, or a promotion
   costs more to serve.
2. **send** — the digest to Slack as Block Kit with two plots (the gap to #1 over time; the
   latest experiment's seeds against production with confidence intervals). The token, channel
   and API address come from the `autobench_slack` connection (password = bot token,
   `extra.channel`, optional `extra.base_url`); without it the step is skipped, and the digest
   is still on disk. A retried task posts nothing twice.

The task bodies are `autobench.reporting.tasks`; the same from the command line:
`autobench digest [--send] --json` (`autobench.reporting.digest.cycle`).
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
