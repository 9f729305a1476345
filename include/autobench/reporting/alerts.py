"""Alerts to people: the monitor's ``[ALERT]`` lines, production's regressions, task failures.

Builds one neutral :class:`~autobench.reporting.notifiers.Message` (a title, the lines, a small
print context) and sends it with :meth:`~autobench.reporting.notifiers.base.Notifier.send`, the
path every notifier delivers on; each notifier escapes the web-sourced text for where it goes.
The DAGs get the notifier from their Slack connection, the command line from
``AUTOBENCH_SLACK_*``.
"""

from __future__ import annotations

from typing import Any

MAX_LINES = 40
MAX_FALLBACK = 2000


def message(title: str, lines: list[str], context: str = ""):
    """The alert as a neutral message: at most :data:`MAX_LINES` lines, then how many more."""
    from autobench.reporting.notifiers import Context, Header, Message, Section

    shown = lines[:MAX_LINES]
    more = len(lines) - len(shown)
    blocks: list[Any] = [Header(title), Section(list(shown), tail=f"… and {more} more" if more else "")]
    if context:
        blocks.append(Context(context))
    return Message(text=(f"{title}: " + "; ".join(shown))[:MAX_FALLBACK], blocks=blocks)


def post(notifier, title: str, lines: list[str], context: str = "") -> dict[str, Any] | None:
    """Send ``lines`` if there are any; returns what the notifier answered."""
    if not lines:
        return None
    return notifier.send(message(title, lines, context))
