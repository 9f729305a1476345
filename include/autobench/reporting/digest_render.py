"""The digest's week, rendered: the digest in Markdown (``digests/<week>.md``), the digest as a
neutral message for a notifier (:func:`message`; Block Kit for ``--json``: :func:`blocks`), and
the week's ``TECHNICAL_LOG.md`` section.

The digest: competitive position per leaderboard, what changed this week (opening with how our
rank moved, which replaces the monitor's rank-drop alerts for that leaderboard, so a drop is
said once), the next automated actions, the experiments run. The technical log section: a
summary an engineer reads in five minutes, then every experiment with its config, metrics and
outcome, every promotion and rejection with its criteria, every paper with its techniques and
disposition, and the queue with its priorities.

Text from the web (competitor names, paper titles, the research log's quotes) is escaped for
where it goes: Markdown prose and tables here, and each notifier escapes the message for its own
format.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autobench.schemas import Registry

if TYPE_CHECKING:
    from autobench.reporting.digest_gather import Week
    from autobench.schemas import Decision


def _counts(week: Week) -> tuple[int, int, int]:
    completed = sum(1 for _, d in week.decided if d.status in ("promoted", "rejected", "rolled_back"))
    failed = sum(1 for _, d in week.decided if d.status == "failed")
    promoted = sum(1 for _, d in week.decided if d.decision == "promote" and d.status != "rolled_back")
    return completed, failed, promoted


def _gain(decision: Decision) -> float | None:
    """The gain a promotion reports: its confirmation's on fresh seeds where it has one, else the
    selection's corrected for its selection from the stream of decisions (Tweedie's formula,
    :func:`autobench.experiments.statistics.shrink`, where the stream is long enough),
    else the selection's."""
    confirmed = (decision.confirmation or {}).get("gain")
    if isinstance(confirmed, (int, float)):
        return confirmed
    shrunk = ((decision.margin or {}).get("shrunk") or {}).get("shrunk")
    if isinstance(shrunk, (int, float)):
        return shrunk
    improvement = decision.criterion("improvement")
    return improvement.value if improvement else None


def _promotion(d: Decision, title: str) -> str:
    """A promotion as the digest tells it: confirmed (the fresh seeds' gain), still confirming
    (the selection's estimate, said to be one), or rolled back."""
    from autobench.experiments.explain import confirmation_words

    board = d.projection.get("leaderboard") or ""
    gain = _gain(d)
    shown = f"{gain:+.3f}" if isinstance(gain, (int, float)) else "?"
    words = confirmation_words(d)
    if d.status == "rolled_back":
        return f"Rolled back {d.hypothesis} ({title}): {words}"
    if d.status == "confirming":
        selected = d.criterion("improvement").value if d.criterion("improvement") else None
        shown = f"{selected:+.3f}" if isinstance(selected, (int, float)) else "?"
        return f"Promoted {d.hypothesis} ({title}): selection estimate {shown} on {board}, {words}"
    shrunk = (d.margin or {}).get("shrunk") or {}
    if not words and isinstance(shrunk.get("shrunk"), (int, float)):
        words = f"corrected for selection against {shrunk['k']} decisions (measured {shrunk['estimate']:+.3f})"
    return f"Promoted {d.hypothesis} ({title}): {shown} on {board}" + (f", {words}" if words else "")


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


def _alert_sentence(line: str) -> tuple:
    """A monitor alert as a neutral line: ``X improved Board to 0.861`` for an improvement."""
    text = line.removeprefix("[ALERT] ")
    m = re.match(r"(.+) improved on (\S+): ([\d.]+) → ([\d.]+)", text)
    if m:
        return (m.group(1), " improved ", m.group(2), f" to {m.group(4)}")
    return (text,)


# ----------------------------------------------------------------------------- the digest


def markdown(week: Week, registry: Registry) -> str:
    from autobench.escaping import md_text

    lines = [f"# Benchmark Digest — Week of {week.label}", "", "## Competitive Position"]
    for pos in week.positions:
        if pos["rank"] is None:
            lines.append(f"- {md_text(pos['leaderboard'])}: not listed ⚠️")
            continue
        if pos["rank"] == 1:
            lines.append(f"- {md_text(pos['leaderboard'])}: #1 ✅ (our score: {pos['score']:.3f} | "
                         f"gap to #2: {pos['gap']:+.3f})")
        else:
            lines.append(f"- {md_text(pos['leaderboard'])}: #{pos['rank']} ⚠️ (our score: {pos['score']:.3f} | "
                         f"gap to #1: {pos['gap']:+.3f})")
    if not week.positions:
        lines.append("- no leaderboard scraped yet")
    lines += ["", "## What Changed This Week"]
    changed = [f"- {_md(_movement(m))}" for m in week.movements]
    for _, d in week.decisions:
        if d.decision == "promote":
            hyp = next((h for h in week.queue if h.id == d.hypothesis), None)
            changed.append(f"- {md_text(_promotion(d, hyp.title if hyp else d.hypothesis))}")
    changed += [f"- {_md(_alert_sentence(a))}" for a in _shown_alerts(week)]
    changed += [f"- {md_text(a.removeprefix('[ALERT] '))}" for a in week.defence]
    lines += changed or ["- no change"]
    lines += ["", "## Next Actions (Automated)"]
    waiting = [h for h in week.queue if h.status in ("extended", "queued")]
    waiting.sort(key=lambda h: (h.status != "extended", -h.priority_score))
    for h in waiting[:3]:
        verb = "extended (more seeds)" if h.status == "extended" else "queued"
        lines.append(f"- Experiment {h.id} ({md_text(h.title)}) {verb} "
                     f"for {md_text(', '.join(h.target_leaderboards))} — "
                     f"est. gain {h.implementation.estimated_gain:+.3f}")
    lines.append("- Research ingest scheduled for Monday")
    for esc in week.escalations:
        lines.append(f"- Escalated to the research team: {md_text(esc['title'])}")
    completed, failed, promoted = _counts(week)
    lines += ["", "## Experiments Run This Week",
              f"- {completed} experiments completed | {failed} failed fast validation | {promoted} promoted"]
    if (control := stream_line(week)) is not None:
        lines.append(f"- {md_text(control)}")
    if week.calibration:
        lines.append(f"- Estimated vs realised gains: {md_text(week.calibration)}")
    lines.append("")
    return "\n".join(lines)


def stream_line(week: Week) -> str | None:
    """The stream-wide false-promotion control after the week's last final decision, in words."""
    tested = [d.fdr for _, d in week.decided if d.fdr]
    if not tested:
        return None
    last = max(tested, key=lambda f: f["test"])
    how = "enforced" if last.get("enforced") else "recorded, not enforced"
    found = sum(1 for f in tested if f["discovery"])
    return (f"False-promotion control ({last['procedure']}, budget {last['budget']:g}, {how}): "
            f"{len(tested)} test(s) this week, {found} discovery(ies); wealth {last['wealth_after']:.4g} "
            f"after test #{last['test']}")



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
    for _, d in week.decisions:
        if d.decision == "promote":
            hyp = next((h for h in week.queue if h.id == d.hypothesis), None)
            changed.append(_promotion(d, hyp.title if hyp else d.hypothesis))
    changed += [_alert_sentence(a) for a in _shown_alerts(week)]
    changed += [a.removeprefix("[ALERT] ") for a in week.defence]
    waiting = sorted([h for h in week.queue if h.status in ("extended", "queued")],
                     key=lambda h: (h.status != "extended", -h.priority_score))[:3]
    nxt = ([f"{h.id} ({h.title}) for {', '.join(h.target_leaderboards)} — "
            f"est. gain {h.implementation.estimated_gain:+.3f}" for h in waiting]
           + ["Research ingest scheduled for Monday"])
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


# ----------------------------------------------------------------------------- the technical log


def technical_log_section(week: Week) -> str:
    from autobench.escaping import md_cell, md_text
    from autobench.experiments import explain

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
    for _, d in week.decisions:
        lines.append(f"- {d.hypothesis}: **{d.decision}** — {md_text(_first_sentence(d.reason))}")
    lines += ["", "### Experiments", ""]
    if not week.decisions:
        lines.append("No experiment was decided this week.")
    for path, d in week.decisions:
        hyp = next((h for h in week.queue if h.id == d.hypothesis), None)
        ev = d.evidence
        lines += [f"#### {d.hypothesis}: {md_text(hyp.title) if hyp else ''} — {d.decision} ({d.status})", "",
                  f"- config patch: `{json.dumps(hyp.implementation.config_patch) if hyp else '?'}` "
                  f"(config {d.config_hash}, production {d.production_hash})",
                  f"- seed policy {d.policy['name']}: {md_text(d.policy['why'])}",
                  f"- {ev.metric} by seed: "
                  + (", ".join(f"{s}: {ev.candidate[str(s)]:.4f} vs {ev.control[str(s)]:.4f}"
                               for s in ev.seeds) or "no full runs"),
                  *explain.statistics_lines(d),
                  "", *explain.markdown_table(d.criteria)]
        lines += ["", f"Reason: {md_text(d.reason)}", "", f"Decision record: `{path}`", ""]
    lines += ["### Papers", ""]
    lines += [_demote(entry) for entry in week.papers] or ["No paper was logged this week."]
    lines += ["", "### Queue", "", "| # | id | status | priority | effort | est. gain | title |",
              "| --- | --- | --- | --- | --- | --- | --- |"]
    from autobench.hypothesis_queue import ranked

    for i, h in enumerate(ranked(week.queue), 1):
        lines.append(f"| {i} | {h.id} | {h.status} | {h.priority_score:g} | {h.implementation.effort} | "
                     f"{h.implementation.estimated_gain:+.3f} | {md_cell(h.title)} |")
    from autobench.schemas import CLOSED_STATUSES

    closed = [h for h in week.queue if h.status in CLOSED_STATUSES]
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
    from autobench.research import research_log

    return "\n".join(("##" + line[1:] if line.startswith("## ") else line)
                     for line in research_log.safe_entry(entry).splitlines()) + "\n"
