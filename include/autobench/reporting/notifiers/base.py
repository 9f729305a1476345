"""The shape every notifier shares: a message is posted, then its files are uploaded into its
thread, and a delivery cut short resumes where it stopped.

A notifier implements three methods:

- :meth:`Notifier.render`: the neutral :class:`~autobench.reporting.notifiers.message.Message`
  in the notifier's own form (Block Kit for Slack, a JSON record for the record notifier);
- :meth:`Notifier.post`: check the whole message (its files too), deliver its rendering,
  upload nothing; ``{"ts", "channel"}``, where ``ts`` names the posted message (its thread);
- :meth:`Notifier.upload`: one file into ``thread`` in ``channel``; what the notifier knows of it
  (``{"id", "name", "title"}`` for Slack).

:meth:`Notifier.send` is the path every caller takes (the digest, the monitor's alerts, the
sweep's defence alert, task-failure callbacks) and is not overridden: it posts, then uploads
each file, and reports its progress as a plain dict after the post and after each upload
(``{"ok": False, "ts", "channel", "files": [...], "pending": [names]}``). A caller that keeps that
dict (the digest writes it to ``digests/<week>.sent.json``) and hands it back as ``resume`` after
a failure gets the missing files uploaded into the posted message's thread, never a second post.
The answer is ``{"ok": True, "ts", "channel", "files"}``. Failures raise :class:`NotifyError`
(an :class:`~autobench.errors.AutobenchError`) with a one-line message.

Before anything is delivered, :meth:`Notifier.check` refuses a message that could not be
delivered whole (empty text, a missing file) or whose rendering the channel would refuse
(:meth:`Notifier.problems`, e.g. Block Kit limits), so a dry run finds what the real one would.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from autobench.errors import AutobenchError
from autobench.reporting.notifiers.message import Message

MAX_TEXT = 40_000  # chat.postMessage truncates longer text

Progress = Callable[[dict[str, Any]], None]


class NotifyError(AutobenchError):
    """A message was refused or could not be delivered (one line, never a credential)."""


class Notifier(ABC):
    """Delivers messages somewhere: subclasses implement :meth:`render`, :meth:`post` and
    :meth:`upload`; callers use :meth:`send`."""

    name: str = ""

    @abstractmethod
    def render(self, message: Message) -> Any:
        """``message`` in this notifier's form (what :meth:`post` delivers)."""

    @abstractmethod
    def post(self, message: Message) -> dict[str, Any]:
        """Check ``message`` first (:meth:`check`: nothing is delivered from a message that would
        fail half-way), deliver its rendering, upload none of its files; ``{"ts", "channel"}``."""

    @abstractmethod
    def upload(self, path: Path, *, channel: str, thread: str) -> dict[str, Any]:
        """Deliver one file into ``thread`` (a posted message's ``ts``) in ``channel``; a dict with
        at least ``name``."""

    def send(self, message: Message, *, resume: Mapping[str, Any] | None = None,
             progress: Progress | None = None) -> dict[str, Any]:
        """Post ``message``, then upload its files into its thread (see the module docstring).

        ``resume``: the last progress of an earlier attempt at this message: when it was posted,
        only its ``pending`` files are uploaded (one no longer among ``message.files`` is dropped);
        when it is complete (``ok``), it is the answer and nothing is sent. ``progress`` is called
        with the state after the post and after each upload.
        """
        def report(state: dict[str, Any]) -> None:
            if progress is not None:
                progress(dict(state, files=list(state["files"]), pending=list(state.get("pending", []))))

        if resume is not None and resume.get("ok", False):
            return dict(resume)
        if resume is None or not resume.get("ts"):
            posted = self.post(message)
            state: dict[str, Any] = {"ok": False, "ts": posted["ts"], "channel": posted["channel"], "files": [],
                                     "pending": [f.name for f in message.files]}
            report(state)  # from here on, a resumed send never posts again
        else:
            state = {"ok": False, "ts": resume["ts"], "channel": resume["channel"],
                     "files": list(resume.get("files") or []), "pending": list(resume.get("pending") or [])}
        by_name = {f.name: f for f in message.files}
        total = len(state["files"]) + len(state["pending"])
        for name in list(state["pending"]):
            path = by_name.get(name)
            if path is not None:
                try:
                    state["files"].append(self.upload(path, channel=state["channel"],
                                                      thread=message.thread or state["ts"]))
                except NotifyError as exc:
                    retry = "; a retry uploads only the rest" if progress is not None else ""
                    raise NotifyError(f"{exc}; the message was posted (ts {state['ts']}) with {len(state['files'])} of "
                                      f"{total} files, {name} failed{retry}") from None
            state["pending"].remove(name)  # uploaded, or not drawn any more: nothing to upload
            report(state)
        done = {"ok": True, "ts": state["ts"], "channel": state["channel"], "files": state["files"]}
        if progress is not None:
            progress(done)
        return done

    def problems(self, message: Message) -> list[str]:
        """Every reason ``message`` cannot be delivered whole; notifiers add their rendering's."""
        problems: list[str] = []
        if not isinstance(message.text, str) or not message.text.strip():
            problems.append("text: required (the fallback shown in notifications)")
        elif len(message.text) > MAX_TEXT:
            problems.append(f"text: {len(message.text)} characters (at most {MAX_TEXT})")
        for path in message.files:
            if not path.is_file():
                problems.append(f"files: {path}: no such file")
        if message.thread is not None and (not isinstance(message.thread, str) or not message.thread):
            problems.append("thread: must be the parent message's ts (a non-empty string)")
        return problems

    def check(self, message: Message) -> None:
        """Refuse, with every reason on one line, a message that cannot be delivered whole."""
        problems = self.problems(message)
        if problems:
            more = f" (and {len(problems) - 1} more: {'; '.join(problems[1:])})" if len(problems) > 1 else ""
            raise NotifyError(f"{self.name or type(self).__name__}: message refused: {problems[0]}{more}")
