"""Where things live under ``AUTOBENCH_HOME``. Standard library only (the lean runner uses it)."""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "AUTOBENCH_HOME"
DEFAULT_HOME = "autobench_home"
RESULTS = Path("experiments") / "results"
MODES = ("fast", "full")


def resolve_home(explicit: str | os.PathLike[str] | None = None) -> Path:
    """``--home``, else ``$AUTOBENCH_HOME``, else ``./autobench_home``."""
    chosen = explicit or os.environ.get(HOME_ENV) or DEFAULT_HOME
    return Path(chosen).expanduser().resolve()


def run_dir(home: Path, run_id: str, config_hash: str, mode: str, seed: int) -> Path:
    """``experiments/results/<id>/<config_hash>/<fast|full>/seed_<n>/``."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES} (got {mode!r})")
    return home / RESULTS / run_id / config_hash / mode / f"seed_{seed}"
