"""Block Kit: a neutral :class:`~autobench.reporting.notifiers.message.Message` rendered for
Slack (:func:`render`), and the limits Slack enforces, found before a message is sent
(:func:`validate_blocks`).

Rendering escapes every plain span for mrkdwn (:func:`autobench.escaping.slack_text`: a name
pings nobody and links nowhere), writes :class:`Strong` as ``*bold*`` and :class:`Emoji` as
``:code:``, and shortens a section or context at a line boundary to stay inside Slack's limits
(the section's ``cut`` says so).

Slack answers a message that breaks a Block Kit limit with ``invalid_blocks`` and no hint of
which limit; :func:`validate_blocks` names each problem (``blocks[2].text.text: 3120
characters (at most 3000)``) so a notifier can refuse the message, dry runs included. The
checks cover the blocks autobench builds: ``header``, ``section``, ``divider``, ``context``,
``image`` and ``actions``, at most 50 blocks. Standard library only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from autobench.escaping import slack_text
from autobench.reporting.notifiers.message import (
    Context,
    Divider,
    Header,
    Line,
    Message,
    Section,
    render_line,
)

__all__ = ["BLOCK_TYPES", "MAX_BLOCKS", "fallback", "mrkdwn", "render", "validate_blocks"]

BLOCK_TYPES = ("header", "section", "divider", "context", "image", "actions")
MAX_BLOCKS = 50
HEADER_TEXT_MAX = 150
SECTION_TEXT_MAX = 3000
FIELDS_MAX = 10
FIELD_TEXT_MAX = 2000
CONTEXT_ELEMENTS_MAX = 10
ACTIONS_ELEMENTS_MAX = 25
ALT_TEXT_MAX = 2000
IMAGE_URL_MAX = 3000
BLOCK_ID_MAX = 255
TEXT_TYPES = ("plain_text", "mrkdwn")
SECTION_CUT = 2900  # a section's text is shortened below SECTION_TEXT_MAX, at a line boundary
CONTEXT_CUT = 2000


# ----------------------------------------------------------------------------- rendering


def mrkdwn(line: Line) -> str:
    """One neutral line as Slack mrkdwn, every plain span escaped."""
    return render_line(line, slack_text, lambda t: f"*{slack_text(t)}*", lambda name: f":{name}:")


def _cap(text: str, limit: int, cut: str) -> str:
    """``text`` if it fits, else its whole lines that fit and ``cut`` on a line of its own."""
    if len(text) <= limit:
        return text
    tail = "\n" + slack_text(cut)
    return text[: limit - len(tail)].rsplit("\n", 1)[0] + tail


def _section(section: Section) -> dict[str, Any]:
    body = "\n".join(f"• {mrkdwn(line)}" for line in section.lines) or slack_text(section.empty)
    if section.tail:
        body += "\n" + slack_text(section.tail)
    body = _cap(body, SECTION_CUT, section.cut)
    title = f"*{slack_text(section.title)}*\n" if section.title else ""
    return {"type": "section", "text": {"type": "mrkdwn", "text": title + body}}


def render(message: Message) -> list[dict[str, Any]]:
    """``message``'s blocks as Block Kit (``[]`` for a text-only message)."""
    out: list[dict[str, Any]] = []
    for block in message.blocks:
        if isinstance(block, Header):  # plain_text: no mentions, no escaping needed
            text = block.text if len(block.text) <= HEADER_TEXT_MAX else block.text[: HEADER_TEXT_MAX - 1] + "…"
            out.append({"type": "header", "text": {"type": "plain_text", "text": text}})
        elif isinstance(block, Section):
            out.append(_section(block))
        elif isinstance(block, Divider):
            out.append({"type": "divider"})
        elif isinstance(block, Context):
            out.append({"type": "context", "elements": [{"type": "mrkdwn",
                                                          "text": _cap(mrkdwn(block.text), CONTEXT_CUT, "…")}]})
        else:
            raise TypeError(f"not a message block: {type(block).__name__}")
    return out


def fallback(message: Message) -> str:
    """The message's fallback text for ``chat.postMessage`` (parsed as mrkdwn too: escaped)."""
    return slack_text(message.text)


# ----------------------------------------------------------------------------- limits



def _text(obj: Any, where: str, *, types: tuple[str, ...] = TEXT_TYPES, limit: int) -> list[str]:
    """Problems of one text object ``{"type": "mrkdwn"|"plain_text", "text": "..."}``."""
    if not isinstance(obj, Mapping):
        return [f"{where}: must be a text object {{type, text}} (got {type(obj).__name__})"]
    problems = []
    kind = obj.get("type")
    if kind not in types:
        problems.append(f"{where}.type: must be {' or '.join(types)} (got {kind!r})")
    text = obj.get("text")
    if not isinstance(text, str):
        problems.append(f"{where}.text: must be a string (got {type(text).__name__})")
    elif not text:
        problems.append(f"{where}.text: must not be empty")
    elif len(text) > limit:
        problems.append(f"{where}.text: {len(text)} characters (at most {limit})")
    if kind == "mrkdwn" and "emoji" in obj:
        problems.append(f"{where}.emoji: only plain_text takes `emoji`")
    return problems


def _image(block: Mapping[str, Any], where: str) -> list[str]:
    problems = []
    url, file = block.get("image_url"), block.get("slack_file")
    if (url is None) == (file is None):
        problems.append(f"{where}: needs exactly one of image_url and slack_file")
    elif url is not None and (not isinstance(url, str) or not url or len(url) > IMAGE_URL_MAX):
        problems.append(f"{where}.image_url: must be a URL of 1 to {IMAGE_URL_MAX} characters")
    alt = block.get("alt_text")
    if not isinstance(alt, str) or not alt:
        problems.append(f"{where}.alt_text: required (a plain description of the image)")
    elif len(alt) > ALT_TEXT_MAX:
        problems.append(f"{where}.alt_text: {len(alt)} characters (at most {ALT_TEXT_MAX})")
    return problems


def _block(block: Any, where: str) -> list[str]:
    if not isinstance(block, Mapping):
        return [f"{where}: must be an object (got {type(block).__name__})"]
    kind = block.get("type")
    if kind not in BLOCK_TYPES:
        return [f"{where}.type: {kind!r} is not one of {', '.join(BLOCK_TYPES)}"]
    problems: list[str] = []
    block_id = block.get("block_id")
    if block_id is not None and (not isinstance(block_id, str) or not block_id or len(block_id) > BLOCK_ID_MAX):
        problems.append(f"{where}.block_id: must be a string of 1 to {BLOCK_ID_MAX} characters")
    if kind == "header":
        problems += _text(block.get("text"), f"{where}.text", types=("plain_text",), limit=HEADER_TEXT_MAX)
    elif kind == "section":
        text, fields = block.get("text"), block.get("fields")
        if text is None and not fields:
            problems.append(f"{where}: a section needs `text` or `fields`")
        if text is not None:
            problems += _text(text, f"{where}.text", limit=SECTION_TEXT_MAX)
        if fields is not None:
            if not isinstance(fields, list):
                problems.append(f"{where}.fields: must be a list of text objects")
            else:
                if len(fields) > FIELDS_MAX:
                    problems.append(f"{where}.fields: {len(fields)} fields (at most {FIELDS_MAX})")
                for i, f in enumerate(fields):
                    problems += _text(f, f"{where}.fields[{i}]", limit=FIELD_TEXT_MAX)
    elif kind == "context":
        elements = block.get("elements")
        if not isinstance(elements, list) or not elements:
            problems.append(f"{where}.elements: a context needs 1 to {CONTEXT_ELEMENTS_MAX} elements")
        else:
            if len(elements) > CONTEXT_ELEMENTS_MAX:
                problems.append(f"{where}.elements: {len(elements)} elements (at most {CONTEXT_ELEMENTS_MAX})")
            for i, el in enumerate(elements):
                if isinstance(el, Mapping) and el.get("type") == "image":
                    problems += _image(el, f"{where}.elements[{i}]")
                else:
                    problems += _text(el, f"{where}.elements[{i}]", limit=SECTION_TEXT_MAX)
    elif kind == "image":
        problems += _image(block, where)
        if block.get("title") is not None:
            problems += _text(block["title"], f"{where}.title", types=("plain_text",), limit=FIELD_TEXT_MAX)
    elif kind == "actions":
        elements = block.get("elements")
        if not isinstance(elements, list) or not elements:
            problems.append(f"{where}.elements: an actions block needs 1 to {ACTIONS_ELEMENTS_MAX} elements")
        elif len(elements) > ACTIONS_ELEMENTS_MAX:
            problems.append(f"{where}.elements: {len(elements)} elements (at most {ACTIONS_ELEMENTS_MAX})")
        else:
            for i, el in enumerate(elements):
                if not isinstance(el, Mapping) or not el.get("type"):
                    problems.append(f"{where}.elements[{i}]: must be an interactive element with a `type`")
    elif kind == "divider":
        extra = sorted(set(block) - {"type", "block_id"})
        if extra:
            problems.append(f"{where}: a divider takes no {', '.join(extra)}")
    return problems


def validate_blocks(blocks: Any) -> list[str]:
    """Every Block Kit problem in ``blocks`` (a list of block objects); ``[]`` when valid."""
    if not isinstance(blocks, list):
        return [f"blocks: must be a list of blocks (got {type(blocks).__name__})"]
    problems: list[str] = []
    if len(blocks) > MAX_BLOCKS:
        problems.append(f"blocks: {len(blocks)} blocks (at most {MAX_BLOCKS} in one message)")
    seen: dict[str, int] = {}
    for i, block in enumerate(blocks):
        problems += _block(block, f"blocks[{i}]")
        block_id = block.get("block_id") if isinstance(block, Mapping) else None
        if isinstance(block_id, str):
            if block_id in seen:
                problems.append(f"blocks[{i}].block_id: {block_id!r} already used by blocks[{seen[block_id]}]")
            seen.setdefault(block_id, i)
    return problems
