"""The digest's week, gathered from the state folder: where we stand, what changed, what to escalate.

:func:`gather` reads one week as it was at ``now`` (positions from the last snapshot taken at or
before it, so a replayed digest says what the original would have): our position and gap on
each leaderboard, how our rank moved over the week (:func:`rank_movements`), the week's closing
decisions, the monitor's alerts, the sweep's defence checks, the queue, the research log's
entries, and the escalations (:func:`escalations`) in three cases: a gap to #1 beyond tuning
(:data:`~autobench.schemas.ARCHITECTURAL_GAP_PCT`) that no queued hypothesis is projected to
close; a competitor post whose approach maps onto nothing in our solution; a promotion that
regressed latency or memory (within the promotion limits, but worse).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autobench.monitor.snapshots import boards_as_of
from autobench.schemas import ARCHITECTURAL_GAP_PCT, MONITOR, QUEUE, REGISTRY, SWEEP, Registry
from autobench.store import StateStore

if TYPE_CHECKING:
    from autobench.schemas import Decision

ESCALATE_LATENCY_PCT = 5.0
ESCALATE_MEMORY_PCT = 10.0


@dataclass
class Week:
    start: dt.datetime
    end: dt.datetime
    positions: list[dict[str, Any]] = field(default_factory=list)
    # the week's closing decisions: (decision file relative to the home, the decision), oldest first
    decisions: list[tuple[str, Decision]] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)
    defence: list[str] = field(default_factory=list)
    queue: list[Any] = field(default_factory=list)
    papers: list[str] = field(default_factory=list)  # research_log.md entries of the week
    escalations: list[dict[str, Any]] = field(default_factory=list)
    # our rank at the week's start against now, per leaderboard whose rank changed
    movements: list[dict[str, Any]] = field(default_factory=list)
    # estimated vs realised gains per source kind, in words (experiments.calibration), "" when none
    calibration: str = ""

    @property
    def label(self) -> str:
        return self.start.date().isoformat()

    @property
    def decided(self) -> list[tuple[str, Decision]]:
        """The decisions made this week (without the earlier promotions whose confirmation
        concluded this week, which ``decisions`` also holds for their line)."""
        return [(rel, d) for rel, d in self.decisions if self.start <= d.decided_at < self.end]


def _decisions(home: Path, start: dt.datetime, end: dt.datetime) -> list[tuple[str, Decision]]:
    """The week's closing decisions (not ``extend``) with their files, oldest first; an invalid
    record is skipped."""
    from autobench.experiments import results

    def concluded(decision: Decision) -> bool:  # a confirmation that concluded this week (promoted before)
        when = (decision.confirmation or {}).get("concluded_at")
        return bool(when) and start <= dt.datetime.fromisoformat(str(when).replace("Z", "+00:00")) < end

    out = [(rel, decision) for rel, decision in results.decisions(home).valid
           if decision.decision != "extend" and (start <= decision.decided_at < end or concluded(decision))]
    out.sort(key=lambda item: item[1].decided_at)
    return out


def _research_entries(home: Path, start: dt.datetime, end: dt.datetime) -> list[str]:
    """The research log's entries dated in the week."""
    from autobench.research.research_log import RESEARCH_LOG

    path = home / RESEARCH_LOG
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


def gather(store: StateStore, now: dt.datetime) -> Week:
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
    for entry in store.load(MONITOR).cycles:
        if week.start <= entry.at < week.end:
            week.alerts += [a for a in entry.alerts if a.startswith("[ALERT]")]
    for check in store.load(SWEEP).defence:
        if week.start <= check.at < week.end and check.alert:
            week.defence.append(check.alert)
    from autobench.hypothesis_queue import ranked

    queue = store.load(QUEUE)
    week.queue = queue.hypotheses
    week.papers = _research_entries(home, week.start, week.end)
    week.escalations = escalations(store, registry, week, ranked(queue.hypotheses))
    from autobench.experiments import calibration

    week.calibration = calibration.words(calibration.table(calibration.outcomes(home, queue.hypotheses))["sources"])
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
    from autobench.monitor.snapshots import board, load_snapshot, snapshots

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
            mine = board(registry, lb, s).our_entry()
            return mine.rank if mine else None

        was, now = rank_in(before[-1] if before else during[0]), now_rank[lb.name]
        if was == now:
            continue
        ranks = [r for r in [was, *(rank_in(s) for s in during), now] if r is not None]
        ends = [r for r in (was, now) if r is not None]
        worst = max(ranks) if ranks and max(ranks) > max(ends) else None
        out.append({"leaderboard": lb.name, "was": was, "now": now, "worst": worst})
    return out


def escalations(store: StateStore, registry: Registry, week: Week, ranked_open: list) -> list[dict[str, Any]]:
    """The week's escalations: ``title`` is plain text (each renderer escapes it), ``detail`` is
    Markdown for the brief, its web-sourced pieces already escaped."""
    from autobench.escaping import md_text
    from autobench.escaping import md_unescape as unescape
    from autobench.experiments.promotion import LATENCY_LIMIT, MEMORY_LIMIT
    from autobench.research.research_log import safe_entry

    out = []
    for pos in week.positions:
        gap = pos["gap"]
        if gap is None or gap >= 0 or pos["score"] is None:
            continue
        gap_pct = 100 * -gap / abs(pos["score"]) if pos["score"] else 0.0
        if gap_pct <= ARCHITECTURAL_GAP_PCT:
            continue
        closing = [h for h in ranked_open if pos["leaderboard"] in h.target_leaderboards
                   and h.implementation.estimated_gain >= -gap]
        if not closing:
            out.append({"case": "gap", "leaderboard": pos["leaderboard"],
                        "title": f"{pos['leaderboard']}: {gap_pct:.1f}% behind #1 and nothing queued closes it",
                        "detail": f"Our score {pos['score']:.3f}, {md_text(pos['first'])} leads by {-gap:.3f} "
                                  f"({gap_pct:.1f}%). No open hypothesis for {md_text(pos['leaderboard'])} "
                                  f"is estimated to gain {-gap:.3f} or more: an architectural change is needed, "
                                  "beyond what autobench runs by itself."})
    for entry in week.papers:
        if "Competitor post" not in entry.splitlines()[0]:
            continue
        if "**Techniques extracted:** none from the catalog" in entry or (
                "not applicable" in entry and "PRIORITIZED" not in entry):
            title = unescape(re.sub(r"^## \[[^\]]*\] Competitor post: ", "", entry.splitlines()[0]).strip('"'))
            out.append({"case": "competitor", "leaderboard": None,
                        "title": f"A competitor's approach autobench cannot reproduce: {title}",
                        "detail": "Its post names no technique that maps onto our solution's knobs, so no "
                                  "experiment was queued. Someone should read it and decide whether to "
                                  "reverse-engineer it.\n\n" + safe_entry(entry)})
    for path, decision in week.decided:
        if decision.decision != "promote" or decision.status == "rolled_back":
            continue
        regression = decision.criterion("regression")
        reg = (regression.value if regression else None) or {}
        lat, mem = reg.get("latency_change_pct"), reg.get("memory_change_pct")
        if (lat is not None and lat >= ESCALATE_LATENCY_PCT) or (mem is not None and mem >= ESCALATE_MEMORY_PCT):
            lat_text, mem_text = (f"{v:+.1f}%" if v is not None else "not reported" for v in (lat, mem))
            out.append({"case": "regression", "leaderboard": None,
                        "title": f"{decision.hypothesis} was promoted but costs more to serve",
                        "detail": f"Latency {lat_text} and memory {mem_text} against the production it replaced "
                                  f"(within the promotion limits of {LATENCY_LIMIT:+.0%} and {MEMORY_LIMIT:+.0%}, "
                                  f"so it was promoted). Decide whether the gain is worth it; the decision: `{path}`."})
    return out
