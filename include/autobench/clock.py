"""Time is injected, never read from the wall clock for a decision.

Every function that needs "now" takes it as an argument. It comes from the DAG run
(:func:`from_context`: the run's ``logical_date``, or ``run_after`` for manual and
Asset-triggered runs, which have no logical date) or, on the command line, from ``--now``
(:func:`parse_now`). That is what lets a whole week be replayed with ``airflow dags test``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from autobench.errors import AutobenchError

UTC = dt.UTC


class TimeError(AutobenchError, ValueError):
    pass


def parse_now(text: str) -> dt.datetime:
    """Parse an ISO 8601 instant (``2026-01-05T06:00:00Z``) into an aware UTC datetime.

    A naive time is refused: "06:00" in which zone would be a guess.
    """
    raw = text.strip()
    try:
        value = dt.datetime.fromisoformat(raw[:-1] + "+00:00" if raw.endswith(("Z", "z")) else raw)
    except ValueError:
        raise TimeError(f"--now: not an ISO 8601 time: {text!r} (e.g. 2026-01-05T06:00:00Z)") from None
    if value.tzinfo is None:
        raise TimeError(f"--now: {text!r} has no time zone; write it in UTC, e.g. {raw}Z")
    return value.astimezone(UTC)


def ensure_utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        raise TimeError(f"naive datetime {value.isoformat()} (times must be timezone-aware)")
    return value.astimezone(UTC)


def from_context(context: Mapping[str, Any]) -> dt.datetime:
    """"Now" for a task: the run's logical date, or its ``run_after`` when it has none."""
    logical = context.get("logical_date")
    if logical is not None:
        return ensure_utc(_as_datetime(logical))
    dag_run = context.get("dag_run")
    run_after = getattr(dag_run, "run_after", None) if dag_run is not None else None
    if run_after is None:
        run_after = context.get("run_after")
    if run_after is None:
        raise TimeError("the task context has neither logical_date nor dag_run.run_after")
    return ensure_utc(_as_datetime(run_after))


def _as_datetime(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return dt.datetime.fromisoformat(value.isoformat())  # pendulum -> stdlib, same instant
    if isinstance(value, str):
        return parse_now(value)
    raise TimeError(f"not a datetime: {value!r}")


def wall_clock() -> dt.datetime:
    """The current time, for the command line's default ``--now`` only (the outermost edge)."""
    return dt.datetime.now(UTC)


def lease_clock() -> dt.datetime:
    """The current time, for liveness leases only (is a sweep still alive?): infrastructure, never
    an input to a decision, so replays stay exact."""
    return dt.datetime.now(UTC)


def iso(value: dt.datetime) -> str:
    """``2026-01-05T06:00:00Z``."""
    return ensure_utc(value).isoformat().replace("+00:00", "Z")
