"""``research_log.md``: one entry per relevant paper, what was extracted and what was done about it.

An entry is ``## [date] Paper: "title"`` (``Competitor post`` for a competitor's blog), a marker
comment naming the paper (so a re-run never logs it twice), its source, relevant leaderboards,
venue, reported gains, each technique with its disposition (``← PRIORITIZED`` when a hypothesis
was queued for it) and the action taken.

Every piece of web- or LLM-sourced text (titles, quoted sentences, technique names, venues,
URLs) is escaped with :mod:`autobench.escaping`: it shows as written and never becomes a link,
heading or formatting of its own; a plain http(s) URL is an autolink nothing inside can end.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from autobench import fsio
from autobench.clock import iso
from autobench.escaping import md_text, md_unescape
from autobench.store import StateStore

RESEARCH_LOG = "research_log.md"
PRIORITIZED = "PRIORITIZED"  # the disposition of a technique a hypothesis was queued for

_PLAIN_URL = re.compile(r"https?://[^\s<>\x00-\x1f\x7f]+", re.IGNORECASE)


def short(text: str, n: int) -> str:
    """``text`` on one line, at most ``n`` characters (``…`` when cut)."""
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1] + "…"


def source_label(paper: dict[str, Any], competitor: bool) -> str:
    """How a paper is named as a hypothesis's source: ``arXiv:<id>``, ``DOI:…``, its URL, or
    ``competitor post <that>``."""
    pid = paper["id"]
    if pid.startswith("url:"):
        label = paper.get("url") or pid[4:]
    elif pid.startswith("doi:"):
        label = pid.upper()
    else:
        label = f"arXiv:{pid}"
    return f"competitor post {label}" if competitor else label


def md_link(url: Any) -> str:
    """A URL for Markdown: an autolink ``<url>`` when it is a plain http(s) URL (nothing in it can
    end the autolink), else the text escaped (shown, not followed)."""
    text = "" if url is None else str(url)
    return f"<{text}>" if _PLAIN_URL.fullmatch(text) else md_text(text)


def _md_source(paper: dict[str, Any]) -> str:
    pid = paper["id"]
    if pid.startswith("url:"):
        return md_link(paper.get("url") or pid[4:])
    return md_text(source_label(paper, False))


def comment_safe(text: Any) -> str:
    """Text inside an HTML comment on one line: ``--``, ``<``, ``>`` and whitespace percent-encoded
    (so ``-->`` cannot end the comment, nor a line break the marker); plain ids are unchanged."""
    return re.sub(r"-(?=-)|[<>\s]", lambda m: "".join(f"%{b:02X}" for b in m.group().encode()), str(text))


def entry(paper: dict[str, Any], verdict, gains_found, dispositions, now: dt.datetime, competitor: bool,
          venue: str | None = None) -> str:
    """The log entry of one relevant paper; ``dispositions``: (extracted technique, what was done)."""
    pid = paper["id"]
    boards = ", ".join(md_text(b) for b in verdict.leaderboards) or f"none named ({md_text(verdict.reason)})"
    lines = [f"## [{iso(now)[:10]}] {'Competitor post' if competitor else 'Paper'}: \"{md_text(paper['title'])}\"",
             f"<!-- autobench: paper {comment_safe(pid)} -->",
             f"**Source:** {_md_source(paper)}",
             f"**Relevant leaderboard:** {boards}"]
    if venue:
        lines.append(f"**Venue:** {md_text(venue)}")
    if gains_found:
        shown = "; ".join(f"{g.gain * 100:+.1f}% on {md_text(g.leaderboard or 'an unnamed benchmark')} "
                          f"(\"{md_text(short(g.text, 80))}\")" for g in gains_found[:3])
        lines.append(f"**Reported gain:** {shown}")
    else:
        lines.append("**Reported gain:** none stated")
    lines.append("**Techniques extracted:**" if dispositions else "**Techniques extracted:** none from the catalog")
    for item, disposition in dispositions:
        t = item.technique
        tail = f" ← {PRIORITIZED}" if disposition == PRIORITIZED else f" — {disposition}"
        lines.append(f"- {md_text(t.name)} (effort: {md_text(t.effort)}, "
                     f"impact: {md_text(item.impact or 'unknown')}){tail}")
    chosen = [md_text(item.technique.name.lower()) for item, d in dispositions if d == PRIORITIZED]
    action = (f"Generate hypothesis for {', '.join(chosen)} — schedule experiment." if chosen
              else "No new experiment: nothing here applies that was not in production or already tried.")
    lines.append(f"**Action:** {action}")
    return "\n".join(lines) + "\n"


def append(store: StateStore, dag_run_id: str, now: dt.datetime, counts: tuple[int, int, int],
           entries: list[str]) -> None:
    """Append the entries not logged yet (by their marker), under one comment naming the run and
    its ``counts`` (fetched, new, relevant)."""
    path = store.home / RESEARCH_LOG
    with store.lock(RESEARCH_LOG):
        text = path.read_text(encoding="utf-8") if path.exists() else (
            "# Research log\n\nPapers autobench read, what it extracted, and what it did about them.\n")
        fresh = [e for e in entries if e.splitlines()[1] not in text]
        if not fresh:
            return
        fetched, new, relevant = counts
        head = (f"\n<!-- ingest {comment_safe(dag_run_id)} at {iso(now)}: {fetched} fetched, {new} new, "
                f"{relevant} relevant -->\n")
        fsio.atomic_write(path, text.rstrip("\n") + "\n" + head + "\n" + "\n".join(fresh))


_ENTRY_HEADING = re.compile(r"^(## \[\d{4}-\d{2}-\d{2}\] [A-Za-z ]{1,40}: )(.*)$")
_ENTRY_LABEL = re.compile(r"^(\*\*[A-Za-z][A-Za-z ]{0,40}:\*\*)(\s*)(.*)$")
_ENTRY_AUTOLINK = re.compile(r"<https?://[^\s<>\x00-\x1f\x7f]+>", re.IGNORECASE)  # nothing in it can end it
_ENTRY_MARKER = re.compile(r"^<!--[^>]*-->$")  # an HTML comment (markers), nothing inside can close it early


def safe_entry(entry: str) -> str:
    """A ``research_log.md`` entry with its web text (titles, quoted claims, URLs) escaped and the
    log's own formatting kept: the ``## [date] Kind:`` heading, the ``**Label:**`` labels, list
    markers, its HTML comments (the ``<!-- autobench: … -->`` markers) and a label's value that is
    one plain http(s) autolink (``**Source:** <https://…>``, which nothing inside can end).

    Each piece is unescaped first, then escaped with :func:`~autobench.escaping.md_text`, so a
    piece the research log already escaped is not escaped twice, and one it did not (or did only in
    part) cannot become a link, heading or HTML.
    """
    def esc(piece: str) -> str:
        return md_text(md_unescape(piece))

    out = []
    for line in entry.splitlines():
        heading = _ENTRY_HEADING.match(line)
        label = _ENTRY_LABEL.match(line)
        if not line.strip() or _ENTRY_MARKER.match(line):
            out.append(line)
        elif heading:
            out.append(heading.group(1) + esc(heading.group(2)))
        elif label:
            value = label.group(3)
            out.append(label.group(1) + label.group(2) + (value if _ENTRY_AUTOLINK.fullmatch(value) else esc(value)))
        elif line.startswith("- "):
            out.append("- " + esc(line[2:]))
        else:
            out.append(esc(line))
    return "\n".join(out)
