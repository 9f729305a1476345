"""Today's compute budget: the GPU seconds the sweep's runs used, per UTC day.

The registry's ``experiments.compute_budget_gpu_hours_per_day`` is the day's allowance; runs count
against it with their own seconds (a cached run costs nothing), each once: a run folder is marked
when its time is counted, so a retried collect counts nothing twice. Once the day's budget is
spent, only hypotheses for a leaderboard with recorded urgency still run
(:func:`autobench.experiments.pick.prepare`). The last 31 days are kept in ``state/sweep.json``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from autobench.clock import iso
from autobench.experiments import results
from autobench.schemas import SWEEP, Registry
from autobench.store import StateStore

KEEP_DAYS = 31


def today(now: dt.datetime) -> str:
    return iso(now)[:10]


def left_s(store: StateStore, registry: Registry, now: dt.datetime) -> float:
    """Seconds left in today's budget (negative once it is overspent)."""
    used = store.load(SWEEP).gpu_seconds.get(today(now), 0.0)
    return registry.experiments.compute_budget_gpu_hours_per_day * 3600 - used


def record_usage(store: StateStore, now: dt.datetime, seconds: float) -> None:
    """Add ``seconds`` to today's use."""
    if seconds <= 0:
        return
    with store.edit(SWEEP) as doc:
        usage = doc.setdefault("gpu_seconds", {})
        day = today(now)
        usage[day] = round(float(usage.get(day, 0.0)) + seconds, 3)
        for old in sorted(usage)[:-KEEP_DAYS]:
            del usage[old]


def count(store: StateStore, now: dt.datetime, done: Iterable[Mapping[str, Any]]) -> float:
    """Count each one-seed result's ``seconds`` against today's budget, once per run folder;
    the seconds counted now."""
    total = 0.0
    for one in done:
        seconds = float(one.get("seconds") or 0.0)
        if seconds > 0 and results.count_once(store.home / one["folder"], seconds, iso(now)):
            total += seconds
    record_usage(store, now, total)
    return total
