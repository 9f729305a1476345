"""The neutral message every notifier renders in its own form (Block Kit, a JSONL record, ...).

A :class:`Message` says *what* to tell people, never how a channel shows it:

- ``text``: the fallback, plain text (notifications, screen readers); required;
- ``blocks``: :class:`Header` (a title), :class:`Section` (an optional title over a list of
  lines), :class:`Divider`, :class:`Context` (a small print line);
- ``files``: files to attach (the digest's plots), uploaded after the message, into its thread;
- ``thread``: reply in this thread (the parent message's ``ts``) instead of posting anew.

A line is a plain string or a tuple of spans: plain strings (any text, web-sourced names
included: each renderer escapes them for its format), :class:`Strong` (emphasis, a
leaderboard's name) and :class:`Emoji` (a short code such as ``warning`` or ``arrow_up``).
Nothing in a message is pre-escaped, so a renderer cannot be handed text it would read as
markup. Standard library only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Block", "Context", "Divider", "Emoji", "Header", "Line", "Message", "Section", "Strong", "plain",
           "render_line"]


@dataclass(frozen=True)
class Strong:
    """Emphasised text (bold in Slack and Markdown)."""

    text: str


@dataclass(frozen=True)
class Emoji:
    """An emoji by its short code (``warning``, ``arrow_up``, ``white_check_mark``)."""

    name: str


Span = str | Strong | Emoji
Line = str | tuple[Span, ...]


@dataclass
class Header:
    text: str


@dataclass
class Section:
    """``title`` over ``lines`` (a list, one item a line); ``empty`` stands in for no lines; ``tail``
    is a last line that is not an item (``… and 3 more``); ``cut`` ends a section a renderer had
    to shorten (``… (more in the digest)``)."""

    lines: list[Line] = field(default_factory=list)
    title: str = ""
    empty: str = "(nothing)"
    tail: str = ""
    cut: str = "…"


@dataclass
class Divider:
    pass


@dataclass
class Context:
    text: Line


Block = Header | Section | Divider | Context


@dataclass
class Message:
    """One notification (see the module docstring)."""

    text: str
    blocks: list[Block] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    thread: str | None = None

    def __post_init__(self) -> None:
        self.files = [Path(f) for f in self.files]

    def as_dict(self) -> dict[str, Any]:
        """The message as JSON-able data (the record notifier's form): spans as ``{"strong": …}``
        and ``{"emoji": …}``, files by name."""
        return {"text": self.text, "blocks": [_block_dict(b) for b in self.blocks],
                "files": [f.name for f in self.files], "thread": self.thread}


def _span_dict(span: Span) -> Any:
    if isinstance(span, Strong):
        return {"strong": span.text}
    if isinstance(span, Emoji):
        return {"emoji": span.name}
    return str(span)


def _line_dict(line: Line) -> Any:
    return line if isinstance(line, str) else [_span_dict(s) for s in line]


def _block_dict(block: Block) -> dict[str, Any]:
    if isinstance(block, Header):
        return {"type": "header", "text": block.text}
    if isinstance(block, Section):
        return {"type": "section", "title": block.title, "lines": [_line_dict(x) for x in block.lines],
                "empty": block.empty, "tail": block.tail}
    if isinstance(block, Context):
        return {"type": "context", "text": _line_dict(block.text)}
    if isinstance(block, Divider):
        return {"type": "divider"}
    raise TypeError(f"not a message block: {type(block).__name__}")


def render_line(line: Line, text: Callable[[str], str], strong: Callable[[str], str],
                emoji: Callable[[str], str]) -> str:
    """One line in a renderer's format: ``text`` escapes plain spans, ``strong`` and ``emoji``
    render the others (their argument is the raw text or short code)."""
    if isinstance(line, str):
        return text(line)
    out = []
    for span in line:
        if isinstance(span, Strong):
            out.append(strong(span.text))
        elif isinstance(span, Emoji):
            out.append(emoji(span.name))
        else:
            out.append(text(str(span)))
    return "".join(out)


def plain(line: Line) -> str:
    """A line as plain text (emoji as ``:code:``), for logs and plain-text channels."""
    return render_line(line, str, str, lambda name: f":{name}:")
