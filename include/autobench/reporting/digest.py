"""The weekly digest, the technical log and the escalation briefs (seed 002 phase 8).

:func:`build` gathers one week from the state files (snapshots, the monitor's cycles, every
``decision.json``, the queue, the research log, the sweep's defence checks) and renders:

- the digest in the seed's format (§8.1), for ``digests/<week>.md`` and Slack (Block Kit). Its
  "What Changed This Week" opens with how our rank moved on each leaderboard over the week
  (:func:`rank_movements`, from the snapshots: our rank at the week's start against our rank
  now); a movement line replaces the monitor's ``Our rank dropped`` alerts for its leaderboard,
  so a drop is said once;
- a ``TECHNICAL_LOG.md`` section for the week (§8.2): a summary an engineer reads in five
  minutes, then every experiment with its config, metrics and outcome, every promotion and
  rejection with its criteria, every paper with its techniques and disposition, and the queue
  with its priorities;
- escalation briefs under ``reports/`` in seed 002's three cases: a gap to #1 above 5% that no
  queued hypothesis is projected to close; a competitor post whose architecture cannot be
  reverse-engineered (nothing in it maps onto our solution); a promotion that regressed latency
  or memory (within the promotion limits, but worse).

Text from the web (competitor names, paper titles, the research log's quotes) is escaped for
where it goes: Slack mrkdwn, Markdown tables, Markdown prose. The week is read as it was at
``now``: positions come from the last snapshot taken at or before it, so a replayed digest says
what the original would have.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autobench import fsio
from autobench.clock import iso
from autobench.paths import RESULTS
from autobench.schemas import MONITOR, QUEUE, REGISTRY, SWEEP, Decision, Registry
from autobench.store import StateStore

TECHNICAL_LOG = "TECHNICAL_LOG.md"
ESCALATE_GAP_PCT = 5.0
ESCALATE_LATENCY_PCT = 5.0
ESCALATE_MEMORY_PCT = 10.0


@dataclass
class Week:
    start: dt.datetime
    end: dt.datetime
    positions: list[dict[str, Any]] = field(default_factory=list)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)
    defence: list[str] = field(default_factory=list)
    queue: list[Any] = field(default_factory=list)
    papers: list[str] = field(default_factory=list)  # research_log.md entries of the week
    escalations: list[dict[str, Any]] = field(default_factory=list)
    # our rank at the week's start against now, per leaderboard whose rank changed
    movements: list[dict[str, Any]] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.start.date().isoformat()


def _parse_time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))


def _decisions(home: Path, start: dt.datetime, end: dt.datetime) -> list[dict[str, Any]]:
    out = []
    for path in sorted((home / RESULTS).glob("*/*/decision.json")):
        try:
            record = Decision.model_validate_json(path.read_text()).model_dump(mode="json")
        except (OSError, ValueError):
            continue
        when = _parse_time(record["decided_at"])
        if start <= when < end and record["decision"] != "extend":
            record["_path"] = str(path.relative_to(home))
            out.append(record)
    out.sort(key=lambda r: r["decided_at"])
    return out


def _research_entries(home: Path, start: dt.datetime, end: dt.datetime) -> list[str]:
    path = home / "research_log.md"
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8")
    out = []
    for block in re.split(r"\n(?=## \[)", text):
        m = re.match(r"## \[(\d{4}-\d{2}-\d{2})\]", block)
        if m:
            day = dt.datetime.fromisoformat(m.group(1)).replace(tzinfo=dt.UTC)
            if start.date() <= day.date() < end.date() or (start <= day < end):
                out.append(block.strip())
    return out


def _board(registry: Registry, lb, snapshot):
    """A snapshot's rows ranked as the monitor ranks them."""
    from autobench.monitor.cycle import names_of
    from autobench.monitor.standings import ranking

    return ranking(lb.name, [{"system": r.system, "score": r.value} for r in snapshot.rows], names_of(registry),
                   registry.our_solution.name, lb.higher_is_better)


def boards_as_of(home: Path, registry: Registry, now: dt.datetime) -> list:
    """Each leaderboard as its last snapshot taken at or before ``now`` showed it.

    Snapshots taken after ``now`` are ignored, so a digest replayed (or run late) for a past week
    shows the positions of that week, not today's. Leaderboards with no such snapshot are left out.
    """
    from autobench.monitor.cycle import load_snapshot, snapshots

    out = []
    for lb in registry.target_leaderboards:
        snaps = [s for s in (load_snapshot(p) for p in snapshots(home, lb.name)) if s.taken_at <= now]
        if snaps:
            out.append(_board(registry, lb, max(snaps, key=lambda s: s.taken_at)))
    return out


def build(store: StateStore, now: dt.datetime) -> Week:
    """The week ending at ``now`` (seven days), read from the state folder."""
    from autobench.monitor.standings import gap_to_first

    registry: Registry = store.load(REGISTRY)
    home = store.home
    week = Week(start=now - dt.timedelta(days=7), end=now)
    for board in boards_as_of(home, registry, now):
        mine = board.our_entry()
        lb = registry.leaderboard(board.name)
        gap = gap_to_first(board)
        week.positions.append({"leaderboard": board.name, "rank": mine.rank if mine else None,
                               "score": mine.score if mine else None, "gap": gap,
                               "first": board.entries[0].system if board.entries else None,
                               "higher_is_better": lb.higher_is_better})
    week.movements = rank_movements(home, registry, week)
    week.decisions = _decisions(home, week.start, week.end)
    for cycle in store.load(MONITOR).cycles:
        if week.start <= cycle.at < week.end:
            week.alerts += [a for a in cycle.alerts if a.startswith("[ALERT]")]
    for check in store.load(SWEEP).defence:
        if week.start <= check.at < week.end and check.alert:
            week.defence.append(check.alert)
    from autobench.hypothesis_queue import ranked

    queue = store.load(QUEUE)
    week.queue = queue.hypotheses
    week.papers = _research_entries(home, week.start, week.end)
    week.escalations = escalations(store, registry, week, ranked(queue.hypotheses))
    return week


def rank_movements(home: Path, registry: Registry, week: Week) -> list[dict[str, Any]]:
    """How our rank moved over the week, per leaderboard, from the snapshots.

    ``was``: our rank in the last snapshot at or before the week's start (the first snapshot of
    the week when there is none before); ``now``: our rank in ``week.positions`` (the last
    snapshot at or before the week's end, as "Competitive Position" shows it); ``None`` when we
    are not listed. ``worst``: our worst rank from ``was``'s snapshot on, when it is worse than
    both ends (a dip the net movement hides), else ``None``. Only leaderboards whose rank changed
    are returned.
    """
    from autobench.monitor.cycle import load_snapshot, snapshots

    now_rank = {pos["leaderboard"]: pos["rank"] for pos in week.positions}
    out = []
    for lb in registry.target_leaderboards:
        if lb.name not in now_rank:
            continue
        snaps = [load_snapshot(p) for p in snapshots(home, lb.name)]
        before = [s for s in snaps if s.taken_at <= week.start]
        during = [s for s in snaps if week.start < s.taken_at < week.end]
        if not before and not during:
            continue

        def rank_in(s, lb=lb) -> int | None:
            mine = _board(registry, lb, s).our_entry()
            return mine.rank if mine else None

        was, now = rank_in(before[-1] if before else during[0]), now_rank[lb.name]
        if was == now:
            continue
        ranks = [r for r in [was, *(rank_in(s) for s in during), now] if r is not None]
        ends = [r for r in (was, now) if r is not None]
        worst = max(ranks) if ranks and max(ranks) > max(ends) else None
        out.append({"leaderboard": lb.name, "was": was, "now": now, "worst": worst})
    return out


def _movement(m: dict[str, Any]) -> tuple:
    """One rank movement as a neutral line (spans; see :mod:`autobench.reporting.notifiers.message`)."""
    from autobench.reporting.notifiers import Emoji

    name, was, now = m["leaderboard"], m["was"], m["now"]
    if was is None:
        spans: tuple = (name, f": we are newly listed at #{now}")
    elif now is None:
        spans = (name, f": we are no longer listed (was #{was}) ", Emoji("warning"))
    else:
        spans = (name, f": our rank #{was} → #{now} ", Emoji("arrow_up" if now < was else "arrow_down"))
    if m.get("worst"):
        spans += (f" (fell to #{m['worst']} during the week)",)
    return spans


_MD_EMOJI = {"arrow_up": "⬆️", "arrow_down": "⬇️", "warning": "⚠️", "white_check_mark": "✅"}


def _md(line) -> str:
    """A neutral line as Markdown prose, every plain span escaped."""
    from autobench.escaping import md_text
    from autobench.reporting.notifiers.message import render_line

    def text(piece: str) -> str:  # a span inside a line keeps its leading space
        body = piece.lstrip()
        return piece[: len(piece) - len(body)] + md_text(body)

    return render_line(line, text, lambda t: f"**{md_text(t)}**", lambda name: _MD_EMOJI.get(name, f":{name}:"))


def _shown_alerts(week: Week) -> list[str]:
    """The week's alerts, less the monitor's rank drops that a movement line already says."""
    said = tuple(f"[ALERT] Our rank dropped on {m['leaderboard']}: " for m in week.movements)
    return [a for a in week.alerts if not a.startswith(said)]


# ----------------------------------------------------------------------------- escalations


def escalations(store: StateStore, registry: Registry, week: Week, ranked_open: list) -> list[dict[str, Any]]:
    """The week's escalations: ``title`` is plain text (each renderer escapes it), ``detail`` is
    Markdown for the brief, its web-sourced pieces already escaped."""
    from autobench.escaping import md_text

    out = []
    for pos in week.positions:
        gap = pos["gap"]
        if gap is None or gap >= 0 or pos["score"] is None:
            continue
        gap_pct = 100 * -gap / abs(pos["score"]) if pos["score"] else 0.0
        if gap_pct <= ESCALATE_GAP_PCT:
            continue
        closing = [h for h in ranked_open if pos["leaderboard"] in h.target_leaderboards
                   and h.implementation.estimated_gain >= -gap]
        if not closing:
            out.append({"case": "gap", "leaderboard": pos["leaderboard"],
                        "title": f"{pos['leaderboard']}: {gap_pct:.1f}% behind #1 and nothing queued closes it",
                        "detail": f"Our score {pos['score']:.3f}, {md_text(pos['first'])} leads by {-gap:.3f} "
                                  f"({gap_pct:.1f}%). No open hypothesis for {md_text(pos['leaderboard'])} is estimated to "
                                  f"gain {-gap:.3f} or more: an architectural change is needed (seed 002 §4.3), "
                                  "beyond what autobench runs by itself."})
    for entry in week.papers:
        if "Competitor post" not in entry.splitlines()[0]:
            continue
        if "**Techniques extracted:** none from the catalog" in entry or (
                "not applicable" in entry and "PRIORITIZED" not in entry):
            title = _unescape(re.sub(r"^## \[[^\]]*\] Competitor post: ", "", entry.splitlines()[0]).strip('"'))
            out.append({"case": "competitor", "leaderboard": None,
                        "title": f"A competitor's approach autobench cannot reproduce: {title}",
                        "detail": "Its post names no technique that maps onto our solution's knobs, so no "
                                  "experiment was queued. Someone should read it and decide whether to "
                                  "reverse-engineer it (seed 002 §3.3).\n\n" + _safe_entry(entry)})
    for record in week.decisions:
        if record["decision"] != "promote":
            continue
        reg = next(c for c in record["criteria"] if c["name"] == "regression")["value"] or {}
        lat, mem = reg.get("latency_change_pct"), reg.get("memory_change_pct")
        if (lat is not None and lat >= ESCALATE_LATENCY_PCT) or (mem is not None and mem >= ESCALATE_MEMORY_PCT):
            out.append({"case": "regression", "leaderboard": None,
                        "title": f"{record['hypothesis']} was promoted but costs more to serve",
                        "detail": f"Latency {lat:+.1f}% and memory {mem:+.1f}% against the production it replaced "
                                  "(within the promotion limits of +10% and +15%, so it was promoted). Decide "
                                  f"whether the gain is worth it; the decision: `{record['_path']}`."})
    return out


def write_briefs(store: StateStore, week: Week, now: dt.datetime) -> list[str]:
    written = []
    for i, esc in enumerate(week.escalations, 1):
        slug = re.sub(r"[^a-z0-9]+", "-", (esc["leaderboard"] or esc["case"]).lower()).strip("-")
        path = store.home / "reports" / f"escalation-{week.end.date().isoformat()}-{esc['case']}-{slug}-{i}.md"
        if not path.exists():
            from autobench.escaping import md_text

            body = (f"# Escalation: {md_text(esc['title'])}\n\n**Raised:** {iso(now)} by the weekly digest\n"
                    f"**Case:** {esc['case']}\n\n{esc['detail']}\n")
            fsio.atomic_write(path, body)
        written.append(str(path.relative_to(store.home)))
    return written


# ----------------------------------------------------------------------------- the digest (§8.1)


def _counts(week: Week) -> tuple[int, int, int]:
    completed = sum(1 for d in week.decisions if d["status"] in ("promoted", "rejected"))
    failed = sum(1 for d in week.decisions if d["status"] == "failed")
    promoted = sum(1 for d in week.decisions if d["decision"] == "promote")
    return completed, failed, promoted


def _gain(record: dict[str, Any]) -> float | None:
    return next((c["value"] for c in record["criteria"] if c["name"] == "improvement"), None)


def _alert_sentence(line: str) -> tuple:
    """A monitor alert as a neutral line: ``X improved Board to 0.861`` for an improvement."""
    text = line.removeprefix("[ALERT] ")
    m = re.match(r"(.+) improved on (\S+): ([\d.]+) → ([\d.]+)", text)
    if m:
        return (m.group(1), " improved ", m.group(2), f" to {m.group(4)}")
    return (text,)


def markdown(week: Week, registry: Registry) -> str:
    from autobench.escaping import md_text

    lines = [f"# Benchmark Digest — Week of {week.label}", "", "## Competitive Position"]
    for pos in week.positions:
        if pos["rank"] is None:
            lines.append(f"- {md_text(pos['leaderboard'])}: not listed ⚠️")
            continue
        if pos["rank"] == 1:
            lines.append(f"- {md_text(pos['leaderboard'])}: #1 ✅ (our score: {pos['score']:.3f} | gap to #2: {pos['gap']:+.3f})")
        else:
            lines.append(f"- {md_text(pos['leaderboard'])}: #{pos['rank']} ⚠️ (our score: {pos['score']:.3f} | "
                         f"gap to #1: {pos['gap']:+.3f})")
    if not week.positions:
        lines.append("- no leaderboard scraped yet")
    lines += ["", "## What Changed This Week"]
    changed = [f"- {_md(_movement(m))}" for m in week.movements]
    for d in week.decisions:
        if d["decision"] == "promote":
            hyp = next((h for h in week.queue if h.id == d["hypothesis"]), None)
            title = md_text(hyp.title) if hyp else d["hypothesis"]
            board = d["projection"].get("leaderboard") or ""
            changed.append(f"- Promoted {d['hypothesis']} ({title}): {_gain(d):+.3f} on {md_text(board)}")
    changed += [f"- {_md(_alert_sentence(a))}" for a in _shown_alerts(week)]
    changed += [f"- {md_text(a.removeprefix('[ALERT] '))}" for a in week.defence]
    lines += changed or ["- no change"]
    lines += ["", "## Next Actions (Automated)"]
    waiting = [h for h in week.queue if h.status in ("extended", "queued")]
    waiting.sort(key=lambda h: (h.status != "extended", -h.priority_score))
    for h in waiting[:3]:
        verb = "extended (more seeds)" if h.status == "extended" else "queued"
        lines.append(f"- Experiment {h.id} ({md_text(h.title)}) {verb} for {md_text(', '.join(h.target_leaderboards))} — "
                     f"est. gain {h.implementation.estimated_gain:+.3f}")
    lines.append("- Research ingest scheduled for Monday")
    for esc in week.escalations:
        lines.append(f"- Escalated to the research team: {md_text(esc['title'])}")
    completed, failed, promoted = _counts(week)
    lines += ["", "## Experiments Run This Week",
              f"- {completed} experiments completed | {failed} failed fast validation | {promoted} promoted", ""]
    return "\n".join(lines)


def message(week: Week, registry: Registry, files: list[Path] | None = None):
    """The digest as a neutral message (what a notifier renders: Block Kit for Slack)."""
    from autobench.reporting.notifiers import (
        Context,
        Divider,
        Emoji,
        Header,
        Message,
        Section,
        Strong,
    )

    title = f"Benchmark Digest — Week of {week.label}"
    positions = []
    for pos in week.positions:
        name = Strong(pos["leaderboard"])
        if pos["rank"] is None:
            positions.append((name, ": not listed ", Emoji("warning")))
        elif pos["rank"] == 1:
            positions.append((name, ": #1 ", Emoji("white_check_mark"),
                              f" (our score: {pos['score']:.3f} | gap to #2: {pos['gap']:+.3f})"))
        else:
            positions.append((name, f": #{pos['rank']} ", Emoji("warning"),
                              f" (our score: {pos['score']:.3f} | gap to #1: {pos['gap']:+.3f})"))
    changed: list = [_movement(m) for m in week.movements]
    for d in week.decisions:
        if d["decision"] == "promote":
            changed.append(f"Promoted {d['hypothesis']}: {_gain(d):+.3f} on {d['projection'].get('leaderboard') or ''}")
    changed += [_alert_sentence(a) for a in _shown_alerts(week)]
    changed += [a.removeprefix("[ALERT] ") for a in week.defence]
    waiting = sorted([h for h in week.queue if h.status in ("extended", "queued")],
                     key=lambda h: (h.status != "extended", -h.priority_score))[:3]
    nxt = [f"{h.id} ({h.title}) for {', '.join(h.target_leaderboards)} — "
           f"est. gain {h.implementation.estimated_gain:+.3f}" for h in waiting] + ["Research ingest scheduled for Monday"]
    nxt += [f"Escalated: {e['title']}" for e in week.escalations]
    completed, failed, promoted = _counts(week)
    more = "… (more in the digest)"
    return Message(text=title, files=list(files or []), blocks=[
        Header(title),
        Section(positions, title="Competitive Position", empty="no leaderboard scraped yet", cut=more),
        Section(changed, title="What Changed This Week", empty="no change", cut=more),
        Section(nxt, title="Next Actions (Automated)", cut=more),
        Divider(),
        Context(f"{completed} experiments completed | {failed} failed fast validation | {promoted} promoted"),
    ])


def blocks(week: Week, registry: Registry) -> list[dict[str, Any]]:
    """The digest's message as Slack Block Kit (``autobench digest --json``'s ``blocks``)."""
    from autobench.reporting.notifiers import blocks as block_kit

    return block_kit.render(message(week, registry))


# ----------------------------------------------------------------------------- the technical log (§8.2)


def technical_log_section(week: Week, registry: Registry, store: StateStore) -> str:
    from autobench.escaping import md_cell, md_text

    completed, failed, promoted = _counts(week)
    marker = f"<!-- autobench: week {week.label} -->"
    lines = [f"## Week of {week.label}", marker, "", "### Summary", ""]
    moved = {m["leaderboard"]: m for m in week.movements}
    for pos in week.positions:
        where = "not listed" if pos["rank"] is None else f"#{pos['rank']}, gap {pos['gap']:+.3f}"
        m = moved.get(pos["leaderboard"])
        if m:
            where += (" (not listed at the start of the week)" if m["was"] is None
                      else f" (#{m['was']} at the start of the week)")
            if m["worst"]:
                where += f"; fell to #{m['worst']} during the week"
        lines.append(f"- {md_text(pos['leaderboard'])}: {where}")
    lines.append(f"- {completed} experiments decided ({promoted} promoted), {failed} failed; "
                 f"{len(week.papers)} papers logged; {len(week.alerts)} competitor alerts; "
                 f"{len(week.escalations)} escalations")
    for d in week.decisions:
        lines.append(f"- {d['hypothesis']}: **{d['decision']}** — {md_text(_first_sentence(d['reason']))}")
    lines += ["", "### Experiments", ""]
    if not week.decisions:
        lines.append("No experiment was decided this week.")
    for d in week.decisions:
        hyp = next((h for h in week.queue if h.id == d["hypothesis"]), None)
        ev = d["evidence"]
        lines += [f"#### {d['hypothesis']}: {md_text(hyp.title) if hyp else ''} — {d['decision']} ({d['status']})", "",
                  f"- config patch: `{json.dumps(hyp.implementation.config_patch) if hyp else '?'}` "
                  f"(config {d['config_hash']}, production {d['production_hash']})",
                  f"- seed policy {d['policy']['name']}: {md_text(d['policy']['why'])}",
                  f"- {ev['metric']} by seed: " + (", ".join(f"{s}: {ev['candidate'][str(s)]:.4f} vs {ev['control'][str(s)]:.4f}"
                                                           for s in ev["seeds"]) or "no full runs"),
                  "", "| criterion | passed | value | requirement |", "| --- | --- | --- | --- |"]
        for c in d["criteria"]:
            value = c["value"] if not isinstance(c["value"], dict) else ", ".join(f"{k} {v}" for k, v in c["value"].items())
            lines.append(f"| {c['name']} | {'yes' if c['passed'] else '**no**'} | {md_cell(str(value))} | {md_cell(c['requirement'])} |")
        lines += ["", f"Reason: {md_text(d['reason'])}", "", f"Decision record: `{d['_path']}`", ""]
    lines += ["### Papers", ""]
    lines += [_demote(entry) for entry in week.papers] or ["No paper was logged this week."]
    lines += ["", "### Queue", "", "| # | id | status | priority | effort | est. gain | title |",
              "| --- | --- | --- | --- | --- | --- | --- |"]
    from autobench.hypothesis_queue import ranked

    for i, h in enumerate(ranked(week.queue), 1):
        lines.append(f"| {i} | {h.id} | {h.status} | {h.priority_score:g} | {h.implementation.effort} | "
                     f"{h.implementation.estimated_gain:+.3f} | {md_cell(h.title)} |")
    closed = [h for h in week.queue if h.status in ("promoted", "rejected", "failed", "superseded")]
    if closed:
        lines.append("")
        lines.append("Closed: " + ", ".join(f"{h.id} ({h.status})" for h in closed))
    lines.append("")
    return "\n".join(lines)


def _first_sentence(text: str) -> str:
    parts = re.split(r"(?<=[.!?])\s", text, maxsplit=2)
    return " ".join(parts[:2])


def _demote(entry: str) -> str:
    """A research log entry under the log's own heading levels, its web text escaped."""
    return "\n".join(("##" + line[1:] if line.startswith("## ") else line)
                     for line in _safe_entry(entry).splitlines()) + "\n"


_ASCII_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
_ENTRY_HEADING = re.compile(r"^(## \[\d{4}-\d{2}-\d{2}\] [A-Za-z ]{1,40}: )(.*)$")
_ENTRY_LABEL = re.compile(r"^(\*\*[A-Za-z][A-Za-z ]{0,40}:\*\*)(\s*)(.*)$")
_ENTRY_AUTOLINK = re.compile(r"<https?://[^\s<>\x00-\x1f\x7f]+>", re.IGNORECASE)  # nothing in it can end it
_ENTRY_MARKER = re.compile(r"^<!--[^>]*-->$")  # an HTML comment (markers), nothing inside can close it early


def _unescape(text: str) -> str:
    """Undo CommonMark backslash escapes (``\\[`` → ``[``): what the text says, as plain text."""
    return _ASCII_ESCAPE.sub(r"\1", text)


def _safe_entry(entry: str) -> str:
    """A ``research_log.md`` entry with its web text (titles, quoted claims, URLs) escaped and the
    log's own formatting kept: the ``## [date] Kind:`` heading, the ``**Label:**`` labels, list
    markers, its HTML comments (the ``<!-- autobench: … -->`` markers) and a label's value that is
    one plain http(s) autolink (``**Source:** <https://…>``, which nothing inside can end).

    Each piece is unescaped first, then escaped with :func:`~autobench.escaping.md_text`, so a
    piece the research log already escaped is not escaped twice, and one it did not (or did only in
    part) cannot become a link, heading or HTML.
    """
    from autobench.escaping import md_text

    def esc(piece: str) -> str:
        return md_text(_unescape(piece))

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


def append_technical_log(store: StateStore, section: str) -> bool:
    path = store.home / TECHNICAL_LOG
    marker = section.splitlines()[1]
    with store.lock(TECHNICAL_LOG):
        text = path.read_text(encoding="utf-8") if path.exists() else (
            "# Technical log\n\nWhat autobench did and why, week by week (seed 002 §8.2): each week opens with a "
            "summary, then every experiment with its criteria, every paper with its techniques, and the queue.\n")
        if marker in text:
            return False
        fsio.atomic_write(path, text.rstrip("\n") + "\n\n" + section)
    return True


# ----------------------------------------------------------------------------- one run


def run(store: StateStore, now: dt.datetime, *, send: bool = False, notifier=None) -> dict[str, Any]:
    """Build the week, write the digest, the log section and the briefs; optionally post to Slack."""
    registry: Registry = store.load(REGISTRY)
    week = build(store, now)
    md = markdown(week, registry)
    digest_path = store.home / "digests" / f"{week.label}.md"
    if not digest_path.exists() or digest_path.read_text(encoding="utf-8") != md:
        fsio.atomic_write(digest_path, md)
    append_technical_log(store, technical_log_section(week, registry, store))
    briefs = write_briefs(store, week, now)
    result: dict[str, Any] = {"markdown": md, "blocks": blocks(week, registry),
                              "digest": str(digest_path.relative_to(store.home)), "briefs": briefs, "sent": None}
    if send:
        result["sent"] = post(store, week, registry, notifier)
    return result


def post(store: StateStore, week: Week, registry: Registry, notifier=None) -> dict[str, Any]:
    """The digest with its two plots through ``notifier`` (Slack from the environment by default),
    its progress kept in ``digests/<week>.sent.json`` so a retried task posts nothing twice.

    The marker is written as soon as the message is posted (its ``ts``, the files still to upload,
    ``"ok": false``) and after each upload; a retry hands it back to
    :meth:`~autobench.reporting.notifiers.base.Notifier.send`, which uploads only the missing plots
    into the posted message's thread. A complete marker (``"ok": true``) is the answer.
    """
    import tempfile

    from autobench.reporting import plots

    marker = store.home / "digests" / f"{week.label}.sent.json"
    state = json.loads(marker.read_text()) if marker.exists() else None
    if state is not None and state.get("ok", True):
        return state
    if notifier is None:
        from autobench.reporting import notifiers

        notifier = notifiers.get("slack")

    def save(data: dict[str, Any]) -> None:
        fsio.atomic_write(marker, json.dumps(data, default=str) + "\n")

    with tempfile.TemporaryDirectory(prefix="autobench-plots-") as tmp:
        files = [p for p in (plots.gap_over_time(store.home, registry, Path(tmp) / "gap_over_time.png"),
                             plots.latest_experiment(store.home, Path(tmp) / "latest_experiment.png")) if p]
        return notifier.send(message(week, registry, files), resume=state, progress=save)
