"""Notifiers: where the digest, alerts and failure reports go.

Swappable parts sharing one shape (:class:`~autobench.reporting.notifiers.base.Notifier`:
``render``, ``post``, ``upload``; callers use ``send``, which resumes an interrupted delivery),
one module per implementation, named in :data:`REGISTRY`:

- ``slack`` (:mod:`.slack`): Slack's Web API through slack-sdk (``chat.postMessage``, then
  ``files_upload_v2`` per file into the message's thread); configured from
  ``AUTOBENCH_SLACK_TOKEN``, ``AUTOBENCH_SLACK_CHANNEL`` and ``AUTOBENCH_SLACK_API_URL``;
- ``record`` (:mod:`.record`): appends each message and file to a JSONL file (dry runs, tests);
  configured from ``AUTOBENCH_RECORD_PATH``.

Messages are neutral (:mod:`.message`); each notifier renders them (Block Kit: :mod:`.blocks`).
A new notifier is one module and one line in :data:`REGISTRY` (or a ``REGISTRY.register`` call
from outside the package). slack-sdk is imported only when a Slack message is sent.
"""

from __future__ import annotations

from typing import Any

from autobench.registry import Registry
from autobench.reporting.notifiers.base import Notifier, NotifyError
from autobench.reporting.notifiers.blocks import validate_blocks
from autobench.reporting.notifiers.message import (
    Context,
    Divider,
    Emoji,
    Header,
    Message,
    Section,
    Strong,
)

REGISTRY = Registry("notifier", {
    "slack": "autobench.reporting.notifiers.slack:SlackNotifier",
    "record": "autobench.reporting.notifiers.record:RecordNotifier",
}, error=NotifyError)

__all__ = ["REGISTRY", "Context", "Divider", "Emoji", "Header", "Message", "Notifier", "NotifyError", "Section",
           "Strong", "get", "names", "validate_blocks"]


def names() -> tuple[str, ...]:
    """The registered notifiers' names."""
    return REGISTRY.names()


def get(name: str, **options: Any) -> Notifier:
    """The notifier called ``name`` built with ``options`` (unknown names and options are errors).

    A notifier with a ``from_env`` constructor is built from the environment when no option is
    given (``get("slack")`` reads ``AUTOBENCH_SLACK_*``).
    """
    cls = REGISTRY.get(name)
    if not options and callable(getattr(cls, "from_env", None)):
        return cls.from_env()
    try:
        return REGISTRY.create(name, **options)
    except TypeError as exc:
        raise NotifyError(f"{name} notifier: {exc}") from None
