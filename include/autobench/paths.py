"""Where the state folder is, and the one rule for an experiment's id. Standard library only
(the lean runner uses it); the layout of the results is :mod:`autobench.experiments.results`'s."""

from __future__ import annotations

import os
import re
from pathlib import Path

HOME_ENV = "AUTOBENCH_HOME"
DEFAULT_HOME = "autobench_home"

#: a hypothesis id (H-042) or ``production``: one folder name under the results, never a path
EXPERIMENT_ID_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")


def resolve_home(explicit: str | os.PathLike[str] | None = None) -> Path:
    """``--home``, else ``$AUTOBENCH_HOME``, else ``./autobench_home``."""
    chosen = explicit or os.environ.get(HOME_ENV) or DEFAULT_HOME
    return Path(chosen).expanduser().resolve()


def check_experiment_id(experiment_id: str) -> str:
    """``experiment_id`` if it names one folder under the results (ValueError otherwise)."""
    if not isinstance(experiment_id, str) or not EXPERIMENT_ID_RE.match(experiment_id):
        raise ValueError(f"{experiment_id!r} is not an experiment id: a hypothesis id such as H-042, or production "
                         "(a letter, then letters, digits, '.', '_' or '-')")
    return experiment_id
