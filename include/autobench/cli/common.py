"""What every command module shares: exit codes, the input error, printing, and reading --home and --now.

The phase modules (state.py, monitor.py, research.py, experiments.py, reporting.py) import from here
only, and the package's ``__init__`` imports them: no module of the command imports its own package.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from autobench.errors import AutobenchError

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


class CommandError(AutobenchError):
    """A problem with the user's input, reported as one line on stderr."""


def emit(args: argparse.Namespace, data: Any, text: str | Callable[[], str]) -> None:
    """Print ``data`` as one JSON document under ``--json``, else the human ``text`` (a string or a thunk)."""
    if getattr(args, "json", False):
        json.dump(data, sys.stdout, indent=2, ensure_ascii=False, default=str)
        sys.stdout.write("\n")
    else:
        sys.stdout.write((text() if callable(text) else text) + "\n")


def home_of(args: argparse.Namespace):
    """The state folder: ``--home``, else ``$AUTOBENCH_HOME``, else ``./autobench_home``."""
    from autobench.home import resolve_home

    return resolve_home(getattr(args, "home", None))


def now_of(args: argparse.Namespace):
    """The time decisions use: ``--now`` parsed as UTC, else the wall clock."""
    from autobench import clock

    raw = getattr(args, "now", None)
    return clock.parse_now(raw) if raw else clock.wall_clock()
