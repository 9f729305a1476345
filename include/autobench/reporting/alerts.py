"""Alerts to people: the monitor's ``[ALERT]`` lines, production's regressions, task failures.

Builds :class:`~autobench.reporting.notifiers.Message` objects (Block Kit with every web-sourced text
escaped for Slack) that a notifier sends; the DAGs get the notifier from their Slack connection,
the command line from ``AUTOBENCH_SLACK_*``.
"""

from __future__ import annotations

from typing import Any

MAX_LINES = 40


def message(title: str, lines: list[str], context: str = ""):
    from autobench.escaping import slack_text
    from autobench.reporting.notifiers import Message

    shown = lines[:MAX_LINES]
    more = len(lines) - len(shown)
    body = "\n".join(f"• {slack_text(line)}" for line in shown) + (f"\n… and {more} more" if more else "")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},  # plain_text: no mentions
        {"type": "section", "text": {"type": "mrkdwn", "text": body[:2900] or "(nothing)"}},
    ]
    if context:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": slack_text(context)[:2000]}]})
    # the fallback text shows in notifications and is parsed as mrkdwn too: escaped like the rest
    return Message(text=slack_text(f"{title}: " + "; ".join(shown))[:2000], blocks=blocks)


def post(notifier, title: str, lines: list[str], context: str = "") -> dict[str, Any] | None:
    """Send ``lines`` if there are any; returns what the notifier answered."""
    if not lines:
        return None
    return notifier.send(message(title, lines, context))
