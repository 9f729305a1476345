"""Snapshots: what one scrape of one leaderboard found, under ``snapshots/<leaderboard>/``.

One file per leaderboard and DAG run (``<time>-<hash of the run id>.json``, a
:class:`~autobench.schemas.Snapshot`), never rewritten. Read back as the monitor ranks them
(:func:`board`): the monitor diffs a run's snapshot against the one before it
(:func:`boards_at`), the digest and the plots read the leaderboards as they stood at a time
(:func:`boards_as_of`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from pathlib import Path

from autobench.clock import iso
from autobench.errors import AutobenchError
from autobench.monitor.standings import Board, Names, ranking
from autobench.schemas import Leaderboard, Registry, Snapshot

FOLDER = "snapshots"


def slug(name: str) -> str:
    """A leaderboard's folder name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "leaderboard"


def snapshots(home: Path, board: str) -> list[Path]:
    """The snapshot files of the leaderboard ``board``, oldest first."""
    folder = home / FOLDER / slug(board)
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


def path_for(home: Path, board: str, now: dt.datetime, dag_run_id: str) -> Path:
    """Where the snapshot of ``board`` taken by the DAG run ``dag_run_id`` at ``now`` goes."""
    stamp = iso(now).replace(":", "").replace("-", "") + "-" + hashlib.sha1(dag_run_id.encode()).hexdigest()[:8]
    return home / FOLDER / slug(board) / f"{stamp}.json"


def load_snapshot(path: Path) -> Snapshot:
    from pydantic import ValidationError

    try:
        return Snapshot.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValidationError, ValueError) as exc:
        raise AutobenchError(f"{path}: not a valid snapshot: {str(exc).splitlines()[0]}") from None


def names_of(registry: Registry) -> Names:
    """The registry's names and aliases (ours first), for matching systems across snapshots."""
    ours = registry.our_solution
    groups = [[ours.name, *ours.aliases]] + [[c.name, *c.aliases] for c in registry.competitors]
    return Names(groups)


def board(registry: Registry, lb: Leaderboard, snapshot: Snapshot, names: Names | None = None) -> Board:
    """A snapshot's rows ranked as the monitor ranks them (scores on the fraction scale)."""
    return ranking(lb.name, [{"system": r.system, "score": r.value} for r in snapshot.rows],
                   names or names_of(registry), registry.our_solution.name, lb.higher_is_better)


def boards_at(home: Path, registry: Registry, dag_run_id: str) -> list[tuple[Board | None, Board]]:
    """(previous, latest) per leaderboard with a snapshot; latest = this run's or the last one,
    previous = the one before this run's (None when the run took no snapshot of it)."""
    names = names_of(registry)
    out = []
    for lb in registry.target_leaderboards:
        paths = snapshots(home, lb.name)
        if not paths:
            continue
        snaps = [load_snapshot(p) for p in paths]
        mine = [i for i, s in enumerate(snaps) if s.run_id == dag_run_id]
        last = mine[-1] if mine else len(snaps) - 1
        before = snaps[last - 1] if mine and last > 0 else None
        out.append((board(registry, lb, before, names) if before else None, board(registry, lb, snaps[last], names)))
    return out


def boards_as_of(home: Path, registry: Registry, now: dt.datetime) -> list[Board]:
    """Each leaderboard as its last snapshot taken at or before ``now`` showed it.

    Snapshots taken after ``now`` are ignored, so a digest replayed (or run late) for a past week
    shows the positions of that week, not today's. Leaderboards with no such snapshot are left out.
    """
    out = []
    for lb in registry.target_leaderboards:
        snaps = [s for s in (load_snapshot(p) for p in snapshots(home, lb.name)) if s.taken_at <= now]
        if snaps:
            out.append(board(registry, lb, max(snaps, key=lambda s: s.taken_at)))
    return out
