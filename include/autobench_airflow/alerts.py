"""Slack alerts for the DAGs (Airflow side): failure callbacks and the alert tasks' notifier.

Everything comes from the ``autobench_slack`` connection: the password is the bot token,
``extra.channel`` the channel and, optionally, ``extra.base_url`` the Slack API address (a
fake Slack in tests); they build the registry's ``slack`` notifier
(:func:`autobench.reporting.notifiers.get`). Without the connection nothing is sent and nothing
fails: the alerts stay in the task logs and the state files.
"""

from __future__ import annotations

from typing import Any

CONNECTION_ID = "autobench_slack"
NOTIFIER = "slack"  # the registered notifier the connection configures


def slack_notifier():
    """autobench's ``slack`` notifier from the connection, or None when there is none."""
    from airflow.sdk import Connection

    try:
        conn = Connection.get(CONNECTION_ID)
    except Exception:  # noqa: BLE001 - no connection: alerts stay in the logs
        return None
    extra = conn.extra_dejson or {}
    if not conn.password or not extra.get("channel"):
        return None
    from autobench.reporting import notifiers

    return notifiers.get(NOTIFIER, token=conn.password, channel=extra["channel"], api_url=extra.get("base_url"))


def on_failure(context: dict[str, Any]) -> None:
    """``on_failure_callback`` of every autobench task: one Slack message when a task has failed
    for good (after its retry), sent like every alert (:func:`autobench.reporting.alerts.post`)."""
    from autobench.reporting import alerts

    notifier = slack_notifier()
    if notifier is None:
        return
    ti = context.get("ti") or context.get("task_instance")
    dag_id = getattr(ti, "dag_id", "?")
    task_id = getattr(ti, "task_id", "?")
    error = str(context.get("exception") or "failed").splitlines()[0][:500]
    dag_run_id = context.get("run_id")  # Airflow's name for the DAG run's id
    try:
        alerts.post(notifier, f"autobench task failed: {dag_id}.{task_id}", [error],
                    context=f"run {dag_run_id} · try {getattr(ti, 'try_number', '?')}")
    except Exception as exc:  # noqa: BLE001 - a failing alert must not hide the task's own failure
        print(f"could not send the failure alert: {exc}")


def post_alert(title: str, line: str | list[str] | None) -> None:
    """An alert (one line, or several) to Slack through the connection (nothing when there is no
    line or no connection)."""
    lines = [x for x in ([line] if isinstance(line, str) else line or []) if x]
    if not lines:
        return
    notifier = slack_notifier()
    if notifier is None:
        print(f"no {CONNECTION_ID} connection: the alert stays in this log")
        return
    from autobench.reporting import alerts

    alerts.post(notifier, title, lines)
