"""
### leaderboard_monitor: where we stand, every morning

**When:** every day at 06:00.

**Tasks:** `scrape`, mapped over the registry's leaderboards (a page that lost its rows, most of
them, or the metric's column is refused: that task fails naming the leaderboard and why, and
changes nothing) → `finish_cycle` (the delta report's `[ALERT]`/`[STATUS]` lines, the registry's
competitors and published scores, the gap matrix, victory and urgency in `state/`) →
`post_alerts` (the `[ALERT]` and `[REFUSED]` lines to Slack, through the `autobench_slack`
connection when there is one) and `emit_urgent`, `emit_gap_widened`, `emit_registry` (the Asset
events below; each skipped when its trigger did not fire).

**Raises:**

| Asset | when | extra |
| --- | --- | --- |
| `autobench://urgent` | our rank dropped | leaderboard, reason, detail |
| `autobench://gap-widened` | the gap to #1 grew by `triggers.gap_widened_pct` points | leaderboard, detail |
| `autobench://registry` | every successful update | leaderboards |

A retried or re-run task writes nothing twice. The rules live in `autobench.monitor` (`cycle.py`
is the cycle); the same cycle on the command line is `autobench monitor`.
"""

from __future__ import annotations

from airflow.sdk import Asset, TriggerRule, dag, task

from autobench import orchestration
from autobench_airflow.alerts import on_failure

URGENT = Asset(orchestration.ASSET_URGENT)
GAP_WIDENED = Asset(orchestration.ASSET_GAP_WIDENED)
REGISTRY = Asset(orchestration.ASSET_REGISTRY)


@dag(
    schedule="0 6 * * *",
    start_date=orchestration.START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=orchestration.default_args(on_failure_callback=on_failure),
    doc_md=__doc__,
    tags=["autobench", "monitor"],
)
def leaderboard_monitor():
    @task
    def leaderboards() -> list[str]:
        """The registry's leaderboards: one mapped scrape each."""
        from autobench.monitor.tasks import monitor_leaderboards

        return monitor_leaderboards()

    @task(multiple_outputs=False, map_index_template="{{ name }}")
    def scrape(name: str, **context) -> dict:
        """Fetch, parse and snapshot one leaderboard (refusals fail this task only)."""
        from autobench import clock
        from autobench.monitor.tasks import monitor_scrape

        return monitor_scrape(name, clock.from_context(context), dag_run_id=context["run_id"])

    @task(multiple_outputs=False, trigger_rule=TriggerRule.ALL_DONE)
    def finish_cycle(**context) -> dict:
        """Delta report, registry, gap matrix, victory, urgency, triggers."""
        from autobench import clock
        from autobench.monitor.tasks import monitor_finish

        return monitor_finish(clock.from_context(context), dag_run_id=context["run_id"])

    def emitter(asset: Asset, task_id: str):
        @task(task_id=task_id, outlets=[asset], multiple_outputs=False)
        def emit(result: dict, **context) -> dict:
            from airflow.sdk.exceptions import AirflowSkipException

            from autobench.monitor.tasks import trigger_event

            event = trigger_event(result, asset.uri)
            if event is None:
                raise AirflowSkipException(f"no {asset.uri} event this cycle")
            context["outlet_events"][asset].extra = event["extra"]
            print(f"{asset.uri}: {event['extra']}")
            return event

        return emit

    @task(multiple_outputs=False)
    def post_alerts(result: dict) -> dict | None:
        """The cycle's [ALERT] lines to Slack (autobench_slack connection); skipped when none."""
        from airflow.sdk.exceptions import AirflowSkipException

        from autobench.monitor.tasks import alert_lines
        from autobench.reporting import alerts
        from autobench_airflow.alerts import slack_notifier

        lines = alert_lines(result)
        notifier = slack_notifier()
        if not lines or notifier is None:
            raise AirflowSkipException("no alert this cycle" if not lines else "no autobench_slack connection")
        return alerts.post(notifier, "autobench: leaderboards moved", lines, context="\n".join(result["status"]))

    names = leaderboards()
    scraped = scrape.expand(name=names)
    result = finish_cycle()
    scraped >> result
    post_alerts(result)
    for asset, task_id in ((URGENT, "emit_urgent"), (GAP_WIDENED, "emit_gap_widened"), (REGISTRY, "emit_registry")):
        emitter(asset, task_id)(result)


leaderboard_monitor()
