"""Task bodies that the DAG files call. Each takes plain values and returns JSON-able data."""

from __future__ import annotations

from typing import Any

from autobench.home import resolve_home, validate


class StateInvalid(RuntimeError):
    pass


def check_state(home: str | None = None) -> dict[str, Any]:
    """Validate every state file; raise with every problem listed if any file is invalid."""
    report = validate(resolve_home(home))
    for line in report.warnings:
        print(f"warning: {line}")
    if not report.ok:
        raise StateInvalid(f"{len(report.errors)} problem(s) in {report.home}:\n" + "\n".join(report.errors))
    print(f"{report.home}: every state file is valid")
    return report.as_dict()
