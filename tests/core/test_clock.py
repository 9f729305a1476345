"""Time is injected: --now parsing and the DAG run's time."""

from __future__ import annotations

import datetime as dt
import types

import pytest

from autobench import clock


def test_parse_now_utc_forms():
    expected = dt.datetime(2026, 1, 5, 6, tzinfo=dt.UTC)
    assert clock.parse_now("2026-01-05T06:00:00Z") == expected
    assert clock.parse_now("2026-01-05T07:00:00+01:00") == expected
    assert clock.parse_now("2026-01-05T06:00:00+00:00").tzinfo == dt.UTC
    assert clock.iso(expected) == "2026-01-05T06:00:00Z"


@pytest.mark.parametrize("text,fragment", [("yesterday", "not an ISO 8601 time"), ("2026-01-05T06:00", "no time zone")])
def test_parse_now_refuses(text, fragment):
    with pytest.raises(clock.TimeError, match=fragment):
        clock.parse_now(text)


def test_from_context_prefers_logical_date_then_run_after():
    logical = dt.datetime(2026, 1, 5, 6, tzinfo=dt.UTC)
    run_after = dt.datetime(2026, 1, 7, 9, 30, tzinfo=dt.UTC)
    dag_run = types.SimpleNamespace(run_after=run_after)
    assert clock.from_context({"logical_date": logical, "dag_run": dag_run}) == logical
    # manual and Asset-triggered runs have no logical date
    assert clock.from_context({"logical_date": None, "dag_run": dag_run}) == run_after
    with pytest.raises(clock.TimeError):
        clock.from_context({"logical_date": None})


def test_from_context_accepts_pendulum():
    import pendulum

    value = pendulum.datetime(2026, 1, 5, 6, tz="Europe/Paris")
    assert clock.from_context({"logical_date": value}) == dt.datetime(2026, 1, 5, 5, tzinfo=dt.UTC)


def test_no_package_module_reads_the_wall_clock_except_the_cli_edge():
    """Decisions never read the wall clock: only clock.py may (wall_clock() for the CLI default,
    lease_clock() for the sweep's liveness leases)."""
    from pathlib import Path

    import autobench

    root = Path(autobench.__file__).parent
    offenders = []
    for path in root.rglob("*.py"):
        if path.name == "clock.py":
            continue
        text = path.read_text()
        for needle in ("datetime.now(", "time.time()", "date.today(", "utcnow("):
            if needle in text:
                offenders.append(f"{path.relative_to(root)}: {needle}")
    assert offenders == []
