"""Where everyone stands: name matching, the delta report and the gap matrix.

Pure functions over scraped rows, so the monitor, the digest and the UI agree:

- :func:`normalise` matches names across snapshots and aliases: Unicode NFKC, case folded,
  emoji and other symbols dropped, dashes unified, runs of spaces collapsed;
- :func:`ranking` orders a leaderboard's rows by score (ties share a rank), in the
  leaderboard's direction;
- :func:`delta` compares two snapshots of one leaderboard and gives the report's lines:
  ``[ALERT] CompetitorA improved on MemoryBench: 0.847 → 0.861 (+0.014)``,
  ``[ALERT] New entrant: StartupX at 0.855 — now ranked #2, ahead of us``,
  ``[STATUS] Our rank: #3 | Gap to #1: -0.038``, plus drops, removals and rank shifts. Lines
  name their leaderboard (``… on MemoryBench``);
- :func:`gap_matrix` builds the ranked table over all leaderboards with Δ to our score.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

_SPACES = re.compile(r"\s+")


def normalise(name: str) -> str:
    """A key for matching one system's name across snapshots (not for display)."""
    text = unicodedata.normalize("NFKC", str(name)).casefold()
    kept = []
    for ch in text:
        cat = unicodedata.category(ch)
        if cat.startswith("S") or cat in ("Cf", "Mn", "Co", "Cn"):  # symbols and emoji, joiners, selectors
            kept.append(" ")
        elif cat == "Pd":  # every dash is a hyphen
            kept.append("-")
        else:
            kept.append(ch)
    return _SPACES.sub(" ", "".join(kept)).strip()


class Names:
    """Canonical names: aliases map onto one display name."""

    def __init__(self, groups: Iterable[Sequence[str]] = ()):
        self._canon: dict[str, str] = {}
        for group in groups:
            group = [g for g in group if g]
            if not group:
                continue
            for alias in group:
                self._canon.setdefault(normalise(alias), group[0])

    def key(self, name: str) -> str:
        return normalise(self._canon.get(normalise(name), name))

    def display(self, name: str) -> str:
        return self._canon.get(normalise(name), name)


@dataclass(frozen=True)
class Entry:
    system: str
    score: float
    rank: int


@dataclass
class Board:
    """One leaderboard at one moment: entries ranked, and which one is ours."""

    name: str
    entries: list[Entry]
    higher_is_better: bool = True
    ours: str | None = None  # the key (normalised) of our entry
    keys: dict[str, Entry] = field(default_factory=dict)

    def our_entry(self) -> Entry | None:
        return self.keys.get(self.ours) if self.ours else None


def ranking(name: str, rows: Iterable[Mapping[str, Any]], names: Names, ours: str | None,
            higher_is_better: bool = True) -> Board:
    """Rows ``{system, score}`` (fractions already) ranked by score; ties share a rank."""
    best: dict[str, tuple[str, float]] = {}
    for row in rows:
        key = names.key(row["system"])
        score = float(row["score"])
        sign = 1 if higher_is_better else -1
        if key not in best or sign * score > sign * best[key][1]:
            best[key] = (names.display(row["system"]), score)
    ordered = sorted(best.items(), key=lambda kv: (-kv[1][1] if higher_is_better else kv[1][1], kv[0]))
    entries: list[Entry] = []
    keys: dict[str, Entry] = {}
    previous = None
    rank = 0
    for position, (key, (system, score)) in enumerate(ordered, 1):
        if score != previous:
            rank = position
            previous = score
        entry = Entry(system, score, rank)
        entries.append(entry)
        keys[key] = entry
    our_key = names.key(ours) if ours else None
    return Board(name, entries, higher_is_better, our_key if our_key in keys else None, keys)


def _fmt(x: float) -> str:
    return f"{x:.3f}"


def _signed(x: float) -> str:
    return f"{x:+.3f}"


def status_line(board: Board) -> str:
    mine = board.our_entry()
    if mine is None:
        return f"[STATUS] Our rank: not listed on {board.name}"
    sign = 1 if board.higher_is_better else -1
    others = [e for k, e in board.keys.items() if k != board.ours]
    if mine.rank == 1:
        runner_up = max(others, key=lambda e: sign * e.score, default=None)
        lead = sign * (mine.score - runner_up.score) if runner_up else 0.0
        return f"[STATUS] Our rank: #1 | Lead over #2: {_signed(lead)} on {board.name}"
    top = board.entries[0]
    return f"[STATUS] Our rank: #{mine.rank} | Gap to #1: {_signed(sign * (mine.score - top.score))} on {board.name}"


def delta(before: Board | None, after: Board) -> list[str]:
    """The delta report's lines for one leaderboard (alerts first, then the status line)."""
    lines: list[str] = []
    sign = 1 if after.higher_is_better else -1
    mine = after.our_entry()
    if before is not None:
        for key, entry in after.keys.items():
            if key == after.ours:
                continue
            old = before.keys.get(key)
            if old is None:
                where = ""
                if mine is not None:
                    where = ", ahead of us" if sign * entry.score > sign * mine.score else ", behind us"
                lines.append(f"[ALERT] New entrant: {entry.system} at {_fmt(entry.score)} — now ranked "
                             f"#{entry.rank}{where} on {after.name}")
            elif entry.score != old.score:
                verb = "improved" if sign * (entry.score - old.score) > 0 else "dropped"
                lines.append(f"[ALERT] {entry.system} {verb} on {after.name}: {_fmt(old.score)} → "
                             f"{_fmt(entry.score)} ({_signed(entry.score - old.score)})")
                if mine is not None and before.our_entry() is not None:
                    was_ahead = sign * old.score > sign * before.our_entry().score
                    now_ahead = sign * entry.score > sign * mine.score
                    if now_ahead and not was_ahead:
                        lines.append(f"[ALERT] {entry.system} overtook us on {after.name}")
            elif entry.rank != old.rank:
                lines.append(f"[INFO] {entry.system} moved #{old.rank} → #{entry.rank} on {after.name}")
        for key, old in before.keys.items():
            if key not in after.keys and key != before.ours:
                lines.append(f"[INFO] {old.system} is no longer listed on {after.name} "
                             f"(was #{old.rank} at {_fmt(old.score)})")
        old_mine = before.our_entry()
        if mine is not None and old_mine is not None and mine.rank != old_mine.rank:
            word = "dropped" if mine.rank > old_mine.rank else "rose"
            tag = "[ALERT]" if mine.rank > old_mine.rank else "[INFO]"
            lines.append(f"{tag} Our rank {word} on {after.name}: #{old_mine.rank} → #{mine.rank}")
    lines.append(status_line(after))
    return lines


def rank_dropped(before: Board | None, after: Board) -> bool:
    if before is None:
        return False
    a, b = before.our_entry(), after.our_entry()
    return a is not None and b is not None and b.rank > a.rank


def gap_to_first(board: Board) -> float | None:
    """Ours − #1 (oriented: negative when behind); the lead over #2 when we are #1."""
    mine = board.our_entry()
    if mine is None:
        return None
    sign = 1 if board.higher_is_better else -1
    others = [e for k, e in board.keys.items() if k != board.ours]
    if not others:
        return 0.0
    best = max(others, key=lambda e: sign * e.score)
    return sign * (mine.score - best.score)


def gap_matrix(boards: Sequence[Board], our_name: str, current: Mapping[str, float] | None = None) -> dict[str, Any]:
    """One row per system over every leaderboard, ranked, with Δ to our score.

    Systems are ranked by their mean rank over the leaderboards they appear on (then by how
    many they appear on); Δ is averaged over the leaderboards both we and they appear on.
    """
    systems: dict[str, dict[str, Any]] = {}
    for board in boards:
        for key, entry in board.keys.items():
            row = systems.setdefault(key, {"system": entry.system, "scores": {}, "ranks": []})
            row["scores"][board.name] = entry.score
            row["ranks"].append(entry.rank)
    ours_key = next((b.ours for b in boards if b.ours), None)
    ours = systems.get(ours_key) if ours_key else None
    rows = []
    for key, row in systems.items():
        deltas = []
        if ours is not None and key != ours_key:
            for board in boards:
                if board.name in row["scores"] and board.name in ours["scores"]:
                    sign = 1 if board.higher_is_better else -1
                    deltas.append(sign * (ours["scores"][board.name] - row["scores"][board.name]))
        rows.append({
            "system": row["system"] if key != ours_key else our_name,
            "scores": {b.name: row["scores"][b.name] for b in boards if b.name in row["scores"]},
            "delta_to_ours": round(sum(deltas) / len(deltas), 6) if deltas else None,
            "ours": key == ours_key,
            "_sort": (sum(row["ranks"]) / len(row["ranks"]), -len(row["ranks"]), row["system"].casefold()),
        })
    rows.sort(key=lambda r: r["_sort"])
    for i, row in enumerate(rows, 1):
        row.pop("_sort")
        row["rank"] = i
        if row["ours"] and current:
            row["current_scores"] = {k: v for k, v in current.items() if row["scores"].get(k) != v}
    return {"leaderboards": [b.name for b in boards], "rows": rows}


def markdown(matrix: Mapping[str, Any]) -> str:
    """The matrix as a Markdown table (names escaped for tables)."""
    from autobench.escaping import md_cell

    boards = matrix["leaderboards"]
    out = ["| Rank | System | " + " | ".join(md_cell(b) for b in boards) + " | Δ to Our Score |",
           "|" + "---|" * (len(boards) + 3)]
    for row in matrix["rows"]:
        name = md_cell(row["system"])
        cells = [("—" if row["scores"].get(b) is None else _fmt(row["scores"][b])) for b in boards]
        d = "—" if row["delta_to_ours"] is None else _signed(row["delta_to_ours"])
        out.append(f"| #{row['rank']} | {name} | " + " | ".join(cells) + f" | {d} |")
    return "\n".join(out)
