"""The shape every notifier shares: one decisive method, :meth:`Notifier.send`.

A notifier delivers one :class:`Message` (fallback text, Block Kit blocks, files such as the
digest's PNGs, optionally a thread to reply in) and answers with a plain dict:
``{"ok": True, "ts": ..., "channel": ..., "files": [...]}``. Failures raise
:class:`NotifyError` (an :class:`~autobench.errors.AutobenchError`) with a one-line message.

Before anything is sent, :meth:`Notifier.check` refuses a message Slack would refuse (invalid
Block Kit, empty text) or could not complete (a missing file), so a dry run through
:class:`~autobench.reporting.notifiers.record.RecordNotifier` catches what the real one would.

Text in ``text`` and in ``mrkdwn`` blocks is sent as it is: escape untrusted names with
:func:`autobench.escaping.slack_text` when building the message.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autobench.errors import AutobenchError
from autobench.reporting.notifiers.blocks import validate_blocks

MAX_TEXT = 40_000  # chat.postMessage truncates longer text


class NotifyError(AutobenchError):
    """A message was refused or could not be delivered (one line, never a credential)."""


@dataclass
class Message:
    """One notification: ``text`` is the fallback (notifications, screen readers) and must be set."""

    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    thread: str | None = None  # reply in this thread (the parent message's ts)

    def __post_init__(self) -> None:
        self.files = [Path(f) for f in self.files]


class Notifier(ABC):
    """Delivers messages somewhere; subclasses implement :meth:`send`."""

    name: str = ""

    @abstractmethod
    def send(self, message: Message) -> dict[str, Any]:
        """Deliver ``message``; ``{"ok", "ts", "channel", "files"}``, or raise :class:`NotifyError`."""

    def check(self, message: Message) -> None:
        """Refuse, with every reason on one line, a message that cannot be delivered whole."""
        problems: list[str] = []
        if not isinstance(message.text, str) or not message.text.strip():
            problems.append("text: required (the fallback shown in notifications)")
        elif len(message.text) > MAX_TEXT:
            problems.append(f"text: {len(message.text)} characters (at most {MAX_TEXT})")
        problems += validate_blocks(message.blocks)
        for path in message.files:
            if not path.is_file():
                problems.append(f"files: {path}: no such file")
        if message.thread is not None and (not isinstance(message.thread, str) or not message.thread):
            problems.append("thread: must be the parent message's ts (a non-empty string)")
        if problems:
            more = f" (and {len(problems) - 1} more: {'; '.join(problems[1:])})" if len(problems) > 1 else ""
            raise NotifyError(f"{self.name or type(self).__name__}: message refused: {problems[0]}{more}")
