"""Notifiers: where the digest, alerts and failure reports go.

Swappable parts sharing one shape (:class:`~autobench.reporting.notifiers.base.Notifier`, one decisive
method, ``send(message) -> dict``), one module per implementation:

- ``slack`` (:mod:`.slack`): Slack's Web API through slack-sdk (``chat.postMessage``, then
  ``files_upload_v2`` per file into the message's thread); configured from
  ``AUTOBENCH_SLACK_TOKEN``, ``AUTOBENCH_SLACK_CHANNEL`` and ``AUTOBENCH_SLACK_API_URL``;
- ``record`` (:mod:`.record`): appends each message to a JSONL file (dry runs and tests).

Block Kit is checked by :func:`~autobench.reporting.notifiers.blocks.validate_blocks` before anything is
sent. slack-sdk is imported only when a Slack message is sent.
"""

from __future__ import annotations

import inspect
from typing import Any

from autobench.reporting.notifiers.base import Message, Notifier, NotifyError
from autobench.reporting.notifiers.blocks import validate_blocks

NOTIFIERS = ("slack", "record")

__all__ = ["NOTIFIERS", "Message", "Notifier", "NotifyError", "get", "validate_blocks"]


def get(name: str, **kw: Any) -> Notifier:
    """The notifier called ``name`` built with ``kw`` (unknown names and arguments are errors).

    ``get("slack")`` with no arguments reads the environment (:meth:`SlackNotifier.from_env`).
    """
    if name == "slack":
        from autobench.reporting.notifiers.slack import SlackNotifier as cls

        if not kw:
            return cls.from_env()
    elif name == "record":
        from autobench.reporting.notifiers.record import RecordNotifier as cls
    else:
        raise NotifyError(f"unknown notifier {name!r} (choose from {', '.join(NOTIFIERS)})")
    allowed = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    unknown = sorted(set(kw) - set(allowed))
    if unknown:
        raise NotifyError(f"unknown argument {unknown[0]!r} for the {name} notifier (arguments: {', '.join(allowed)})")
    try:
        return cls(**kw)
    except TypeError as exc:
        raise NotifyError(f"{name} notifier: {exc}") from None
