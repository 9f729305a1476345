"""Escaping untrusted text (competitor names, paper titles, reasons) for each place it goes.

Names come from scraped leaderboards and feeds: anyone can call their system ``<!channel>``,
``*winner*`` or ``a | b``. Everything that renders a name escapes it for the target format:

- :func:`slack_text`: Slack mrkdwn (``chat.postMessage`` text and Block Kit ``mrkdwn`` objects).
  Slack's control sequences all start with ``<`` (``<!channel>``, ``<@U123>``, ``<url|label>``),
  so escaping ``&``, ``<`` and ``>`` as ``&amp;``, ``&lt;``, ``&gt;`` (Slack's own rule) means a
  name pings nobody and links nowhere. ``*``, ``_`` and ``~`` have no escape in mrkdwn and are
  left as they are (they can only change the look).
- :func:`md_text`: Markdown prose (CommonMark/GFM). Characters that would format are
  backslash-escaped, block markers at the start of a line are neutralised (``#``, ``>``, list
  markers, rules), and characters that cannot format are left alone so the raw text stays
  readable (``snake_case`` keeps its underscores, ``2 * 3`` its star, ``C:\\dir`` its backslash).
- :func:`md_cell`: one cell of a Markdown table: :func:`md_text`'s inline escaping, ``|``
  escaped, line breaks turned into spaces.
- :func:`html_text`: HTML text and attribute values (:func:`html.escape` with ``quote=True``).

Every function takes any object (``None`` is the empty string) and returns a ``str``.
Standard library only.
"""

from __future__ import annotations

import html
import re
import string

__all__ = ["html_text", "md_cell", "md_text", "slack_text"]

_PUNCT = frozenset(string.punctuation)  # CommonMark's "ASCII punctuation": what a backslash escapes
_LINE_BREAKS = re.compile(r"\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")
_ENTITY = re.compile(r"&(#[0-9]{1,7};|#[xX][0-9a-fA-F]{1,6};|[A-Za-z][A-Za-z0-9]{1,31};)")
# A line that CommonMark would read as a block: heading, quote, list item, rule, setext underline,
# fenced code, table delimiter row. Matched after leading whitespace is removed.
_ORDERED = re.compile(r"^(\d{1,9})([.)])(?=\s|$)")
_BULLET = re.compile(r"^[-+*](?=\s|$)")
_RULE_OR_UNDERLINE = re.compile(r"^(?:(?:[-_*=]\s*){2,}|[=]+)$")


def _str(s: object) -> str:
    return "" if s is None else str(s)


# ----------------------------------------------------------------------------- Slack


def slack_text(s: object) -> str:
    """Text safe inside Slack mrkdwn: ``&`` ``<`` ``>`` as Slack's entities.

    ``slack_text("<!channel>") == "&lt;!channel&gt;"``: shown as typed, notifies nobody.
    """
    return _str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# ----------------------------------------------------------------------------- Markdown


def _is_word(ch: str) -> bool:
    return ch.isalnum()


def _inline(text: str) -> str:
    """Backslash-escape what would format inside a line of CommonMark/GFM, and nothing else."""
    out: list[str] = []
    n = len(text)
    for i, ch in enumerate(text):
        prev = text[i - 1] if i else ""
        nxt = text[i + 1] if i + 1 < n else ""
        if ch == "\\":
            # a backslash escapes only ASCII punctuation; at the end it could escape what follows
            out.append("\\\\" if (nxt == "" or nxt in _PUNCT) else "\\")
        elif ch in "`[]<~":
            out.append("\\" + ch)  # code spans, links and images, HTML and autolinks, strikethrough
        elif ch == "*":
            # a star between two spaces can neither open nor close emphasis
            blank_both = (prev == "" or prev.isspace()) and (nxt == "" or nxt.isspace())
            out.append("*" if blank_both and prev and nxt else "\\*")
        elif ch == "_":
            # intraword underscores never make emphasis (snake_case stays readable)
            out.append("_" if prev and nxt and _is_word(prev) and _is_word(nxt) else "\\_")
        elif ch == "&" and _ENTITY.match(text, i):
            out.append("\\&")  # `&copy;` would render as ©
        else:
            out.append(ch)
    return "".join(out)


def _block_start(line: str) -> str:
    """Neutralise what would make an (already inline-escaped) line a block of its own."""
    line = line.lstrip(" \t")  # four spaces of indent would make a code block
    if not line:
        return line
    m = _ORDERED.match(line)
    if m:
        return m.group(1) + "\\" + line[len(m.group(1)):]
    if line[0] in "#>" or _BULLET.match(line) or _RULE_OR_UNDERLINE.match(line):
        return "\\" + line
    if line[0] in "-|" and re.fullmatch(r"[\s|:\-]+", line):  # a table's delimiter row
        return "\\" + line
    return line


def md_text(s: object, *, multiline: bool = False) -> str:
    """Text safe in Markdown prose: shown as written, never as formatting.

    Line breaks become spaces unless ``multiline``, which keeps them and neutralises the start
    of every line (so a name cannot start a heading, quote or list of its own).
    """
    text = _str(s)
    if not multiline:
        return _block_start(_inline(" ".join(_LINE_BREAKS.split(text))))
    return "\n".join(_block_start(_inline(line)) for line in _LINE_BREAKS.split(text))


def md_cell(s: object) -> str:
    """Text safe in one cell of a Markdown (GFM) table.

    ``|`` is escaped (GFM splits cells on a bare pipe), backslashes are escaped where they would
    escape what follows, line breaks (which would end the row) become spaces, and inline
    formatting is escaped as in :func:`md_text`. Leading and trailing spaces are dropped (GFM
    trims cells anyway).
    """
    text = " ".join(_LINE_BREAKS.split(_str(s))).strip()
    return _inline(text).replace("|", "\\|")


# ----------------------------------------------------------------------------- HTML


def html_text(s: object) -> str:
    """Text safe in HTML content and in quoted attribute values: ``& < > " '`` escaped."""
    return html.escape(_str(s), quote=True)


_ASCII_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")


def md_unescape(text: str) -> str:
    """Undo CommonMark backslash escapes (``\\[`` → ``[``): what the text says, as plain text."""
    return _ASCII_ESCAPE.sub(r"\1", text)
