"""A notifier that records messages in a JSONL file instead of sending them (dry runs, tests).

Each :meth:`RecordNotifier.send` checks the message as the Slack notifier would, then appends
one line: ``{"ts", "at", "text", "blocks", "files": [{"path", "name", "bytes", "sha256"}],
"thread"}``. ``ts`` counts the file's lines (``"1"``, ``"2"``, …), so a replay is predictable.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from autobench.reporting.notifiers.base import Message, Notifier, NotifyError


class RecordNotifier(Notifier):
    name = "record"

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RecordNotifier(path={str(self.path)!r})"

    def send(self, message: Message) -> dict[str, Any]:
        from filelock import FileLock

        self.check(message)
        files = []
        for f in message.files:
            data = f.read_bytes()
            files.append({"path": str(f), "name": f.name, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()})
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with FileLock(str(self.path) + ".lock"):
                count = 0
                if self.path.exists():
                    with self.path.open("rb") as fh:
                        count = sum(1 for line in fh if line.strip())
                ts = str(count + 1)
                entry = {"ts": ts, "text": message.text, "blocks": message.blocks, "files": files, "thread": message.thread}
                with self.path.open("a", encoding="utf-8") as fh:
                    fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
                    fh.flush()
                    os.fsync(fh.fileno())
        except OSError as exc:
            raise NotifyError(f"record: cannot write {self.path}: {exc.strerror or exc}") from None
        return {"ok": True, "ts": ts, "channel": str(self.path), "files": [{"name": f["name"], "bytes": f["bytes"]} for f in files]}

    def messages(self) -> list[dict[str, Any]]:
        """Every message recorded so far, oldest first."""
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line.strip()]
