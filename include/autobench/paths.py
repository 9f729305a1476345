"""Where things live under ``AUTOBENCH_HOME``. Standard library only (the lean runner uses it)."""

from __future__ import annotations

import os
import re
from pathlib import Path

HOME_ENV = "AUTOBENCH_HOME"
DEFAULT_HOME = "autobench_home"
RESULTS = Path("experiments") / "results"
MODES = ("fast", "full")


def resolve_home(explicit: str | os.PathLike[str] | None = None) -> Path:
    """``--home``, else ``$AUTOBENCH_HOME``, else ``./autobench_home``."""
    chosen = explicit or os.environ.get(HOME_ENV) or DEFAULT_HOME
    return Path(chosen).expanduser().resolve()


RUN_ID_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")  # H-042, production: one folder name, never a path


def check_run_id(run_id: str) -> str:
    """``run_id`` if it names one folder under ``experiments/results`` (ValueError otherwise)."""
    if not isinstance(run_id, str) or not RUN_ID_RE.match(run_id):
        raise ValueError(f"{run_id!r} is not a run id: a hypothesis id such as H-042, or production "
                         "(a letter, then letters, digits, '.', '_' or '-')")
    return run_id


def run_dir(home: Path, run_id: str, config_hash: str, mode: str, seed: int) -> Path:
    """``experiments/results/<id>/<config_hash>/<fast|full>/seed_<n>/``."""
    check_run_id(run_id)
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES} (got {mode!r})")
    return home / RESULTS / run_id / config_hash / mode / f"seed_{seed}"
