"""The errors autobench reports as one line (``file: field: what is wrong``).

Standard library only, so the command line can recognise them in the lean experiment image,
where pydantic and the rest of the control plane are absent.
"""

from __future__ import annotations


class AutobenchError(Exception):
    """Bad input or state: reported on one line, exit status 1."""


class StateError(AutobenchError):
    """A state file is missing, unreadable or invalid. ``str()`` is one line: file: field: what."""

    def __init__(self, file: str, problems: list[tuple[str, str]]):
        self.file = file
        self.problems = problems  # (field path, message)
        super().__init__(self.lines()[0] + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""))

    def lines(self) -> list[str]:
        return [f"{self.file}: {field}: {msg}" if field else f"{self.file}: {msg}" for field, msg in self.problems]


class HomeError(AutobenchError):
    """The state folder cannot be created or used as asked."""
