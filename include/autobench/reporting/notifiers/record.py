"""A notifier that records messages in a JSONL file instead of sending them (dry runs, tests).

It renders a message as JSON (:meth:`~autobench.reporting.notifiers.message.Message.as_dict`)
and appends one line per delivery, as a channel would show them:

- :meth:`RecordNotifier.post`: ``{"ts", "type": "message", "text", "blocks", "files", "thread"}``
  (``files``: the names still to come);
- :meth:`RecordNotifier.upload`: ``{"ts", "type": "file", "thread", "name", "bytes", "sha256",
  "path"}``, in the posted message's thread.

``ts`` counts the file's lines (``"1"``, ``"2"``, …), so a replay is predictable. A message is
checked as the Slack notifier would check it (its Block Kit rendering included), so a dry run
refuses what Slack would. Built by name (``get("record")``, ``autobench digest --send --notifier
record``) it writes to the file named by ``AUTOBENCH_RECORD_PATH``.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from autobench.reporting.notifiers import blocks
from autobench.reporting.notifiers.base import Notifier, NotifyError
from autobench.reporting.notifiers.message import Message

PATH_ENV = "AUTOBENCH_RECORD_PATH"


class RecordNotifier(Notifier):
    name = "record"

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RecordNotifier:
        """Built from ``AUTOBENCH_RECORD_PATH`` (the JSONL file to append to)."""
        env = os.environ if environ is None else environ
        path = (env.get(PATH_ENV) or "").strip()
        if not path:
            raise NotifyError(f"record: {PATH_ENV} is not set (the JSONL file to record messages in)")
        return cls(path)

    def __repr__(self) -> str:
        return f"RecordNotifier(path={str(self.path)!r})"

    def render(self, message: Message) -> dict[str, Any]:
        return message.as_dict()

    def problems(self, message: Message) -> list[str]:
        return super().problems(message) + blocks.validate_blocks(blocks.render(message))

    def post(self, message: Message) -> dict[str, Any]:
        self.check(message)
        ts = self._append({"type": "message", **self.render(message)})
        return {"ts": ts, "channel": str(self.path)}

    def upload(self, path: Path, *, channel: str, thread: str) -> dict[str, Any]:
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise NotifyError(f"record: cannot read {path}: {exc.strerror or exc}") from None
        entry = {"type": "file", "thread": thread, "name": path.name, "bytes": len(data),
                 "sha256": hashlib.sha256(data).hexdigest(), "path": str(path)}
        self._append(entry)
        return {"name": path.name, "bytes": len(data)}

    def _append(self, entry: dict[str, Any]) -> str:
        """Append ``entry`` with the next ``ts``; the ``ts``."""
        from filelock import FileLock

        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with FileLock(str(self.path) + ".lock"):
                count = 0
                if self.path.exists():
                    with self.path.open("rb") as fh:
                        count = sum(1 for line in fh if line.strip())
                ts = str(count + 1)
                with self.path.open("a", encoding="utf-8") as fh:
                    fh.write(json.dumps({"ts": ts, **entry}, ensure_ascii=False) + "\n")
                    fh.flush()
                    os.fsync(fh.fileno())
        except OSError as exc:
            raise NotifyError(f"record: cannot write {self.path}: {exc.strerror or exc}") from None
        return ts

    def messages(self) -> list[dict[str, Any]]:
        """Every line recorded so far (messages and files), oldest first."""
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line.strip()]
