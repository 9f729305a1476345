"""The results store: the one module that knows where experiments' runs, decisions and reports live.

Under ``AUTOBENCH_HOME``::

    experiments/results/<experiment_id>/<config_hash>/
        <fast|full>/seed_<n>/      one run: config.yaml, train.log, then metrics.json (complete)
                                   or failure.json (failed twice); usage.json once its GPU time is counted
        decision.json              the decision on this config (:func:`write_decision`)
        BENCHMARK_REPORT.md        the sweep's report; eval_on_leaderboard.json (the one test-split
                                   evaluation after a promotion); submissions.json
    experiments/promoted/<id>-<time>.yaml   a promoted config
    experiments/archived/<id>-<time>.md     a rejected or failed hypothesis's note

``experiment_id`` is a hypothesis id or ``production`` (:func:`autobench.paths.check_experiment_id`).
Run folders record the experiment id under the key ``run_id`` (:data:`EXPERIMENT_ID_KEY`, in
``config.yaml`` and ``failure.json``), a format kept from the first version.
A run folder holding a valid ``metrics.json`` is the cache: the same (config hash, mode, seed) is
never run twice, and a run of the same config under another id is copied, not recomputed.

Standard library only at import (the lean runner imports it); pyyaml and the pydantic
:class:`~autobench.schemas.Decision` are imported inside the functions that need them.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autobench import fsio
from autobench.paths import check_experiment_id

if TYPE_CHECKING:
    from autobench.schemas import Decision

RESULTS = Path("experiments") / "results"
PROMOTED = Path("experiments") / "promoted"
ARCHIVED = Path("experiments") / "archived"
MODES = ("fast", "full")

# the files of one run folder
CONFIG = "config.yaml"
LOG = "train.log"
METRICS = "metrics.json"
FAILURE = "failure.json"
USAGE = "usage.json"  # its GPU time is in a day's budget already (counted once)
# the key a run's config.yaml and failure.json record its experiment id under (a kept format)
EXPERIMENT_ID_KEY = "run_id"

# the files beside a config's runs
_DECISION = "decision.json"
REPORT = "BENCHMARK_REPORT.md"
EVALUATION = "eval_on_leaderboard.json"
SUBMISSIONS = "submissions.json"


# ----------------------------------------------------------------------------- folders


def config_folder(home: Path, experiment_id: str, config_hash: str) -> Path:
    """``experiments/results/<id>/<config_hash>/``: a config's runs, its decision and its report."""
    return Path(home) / RESULTS / check_experiment_id(experiment_id) / config_hash


def relative_run_folder(experiment_id: str, config_hash: str, mode: str, seed: int | None = None) -> str:
    """A run folder relative to ``AUTOBENCH_HOME`` (the ``<mode>`` folder when ``seed`` is None),
    as a pod and the scheduler both read it (they mount the volume at different places)."""
    check_experiment_id(experiment_id)
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES} (got {mode!r})")
    folder = RESULTS / experiment_id / config_hash / mode
    return (folder / f"seed_{seed}" if seed is not None else folder).as_posix()


def run_folder(home: Path, experiment_id: str, config_hash: str, mode: str, seed: int) -> Path:
    """``experiments/results/<id>/<config_hash>/<fast|full>/seed_<n>/``."""
    return Path(home) / relative_run_folder(experiment_id, config_hash, mode, seed)


def relative(home: Path, path: Path) -> str:
    return str(Path(path).relative_to(home))


@dataclass(frozen=True)
class RunFolder:
    """One run's folder: ``experiments/results/<experiment_id>/<config_hash>/<mode>/seed_<seed>/``."""

    experiment_id: str
    config_hash: str
    mode: str
    seed: int
    path: Path


def all_runs(home: Path) -> Iterator[RunFolder]:
    """Every run folder under the results (finished or not), in path order."""
    root = Path(home) / RESULTS
    for experiment_dir in sorted(root.iterdir()) if root.is_dir() else ():
        for config_dir in sorted(experiment_dir.iterdir()) if experiment_dir.is_dir() else ():
            for mode in MODES:
                for seed, seed_dir in _seed_folders(config_dir / mode):
                    yield RunFolder(experiment_dir.name, config_dir.name, mode, seed, seed_dir)


def run_record(folder: Path) -> dict[str, Any] | None:
    """What a run recorded in its ``config.yaml`` (its config, environment, ``wall_seconds``…),
    None when the folder has none or it is unreadable."""
    import yaml

    try:
        record = yaml.safe_load((Path(folder) / CONFIG).read_text())
    except (OSError, yaml.YAMLError):
        return None
    return record if isinstance(record, dict) else None


def adopted(run: RunFolder, record: dict[str, Any]) -> bool:
    """Whether a run was copied from another id's cache (its record names that id), not run here."""
    return record.get(EXPERIMENT_ID_KEY) != run.experiment_id


def _seed_folders(folder: Path) -> list[tuple[int, Path]]:
    out = []
    for seed_dir in folder.glob("seed_*") if folder.is_dir() else ():
        try:
            out.append((int(seed_dir.name.removeprefix("seed_")), seed_dir))
        except ValueError:
            continue
    return sorted(out)


# ----------------------------------------------------------------------------- runs


def bad_metrics(metrics: Any, primary: str | None = None) -> str | None:
    """Why a metrics object is unusable (None if it is fine): numbers (or text), all finite."""
    if not isinstance(metrics, dict) or not metrics:
        return f"the solution returned {type(metrics).__name__}, not a non-empty dict of metrics"
    for key, value in metrics.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            if isinstance(value, str):
                continue
            return f"metric {key!r} is {type(value).__name__}, not a number"
        if not math.isfinite(value):
            return f"metric {key!r} is {value} (NaN or infinite)"
    if primary and primary not in metrics:
        return f"the primary metric {primary!r} is missing (got {', '.join(sorted(metrics))})"
    return None


def is_complete(folder: Path) -> dict[str, Any] | None:
    """The metrics of a finished run folder, or None if it is not complete."""
    metrics = _read_json(Path(folder) / METRICS)
    if not isinstance(metrics, dict) or bad_metrics(metrics):
        return None
    return metrics


def failure_message(folder: Path) -> str | None:
    """The last error of a seed that failed (its ``failure.json``), None when it did not fail."""
    path = Path(folder) / FAILURE
    if not path.is_file():
        return None
    info = _read_json(path)
    if not isinstance(info, dict):
        return "failed (failure.json unreadable)"
    return str((info.get("attempts") or ["failed"])[-1])


def runs(home: Path, experiment_id: str, config_hash: str,
         mode: str) -> tuple[dict[int, dict[str, Any]], dict[int, str]]:
    """Complete runs (seed → metrics) and failed ones (seed → the last error) of one config."""
    done: dict[int, dict[str, Any]] = {}
    failed: dict[int, str] = {}
    folder = config_folder(home, experiment_id, config_hash) / mode
    for seed, seed_dir in _seed_folders(folder):
        metrics = is_complete(seed_dir)
        if metrics is not None:
            done[seed] = metrics
            continue
        error = failure_message(seed_dir)
        if error is not None:
            failed[seed] = error
    return done, failed


def count_runs(home: Path, experiment_id: str, config_hash: str) -> int:
    """Runs of a config that ended (with metrics or a recorded failure), fast and full."""
    folder = config_folder(home, experiment_id, config_hash)
    return sum(1 for mode in MODES for _, d in _seed_folders(folder / mode)
               if (d / METRICS).exists() or (d / FAILURE).exists())


def seed_record(home: Path, experiment_id: str, config_hash: str, mode: str, seed: int) -> dict[str, Any]:
    """``{"metrics": …, "failure": …}`` as a seed's folder holds them (None where absent); the
    same record a pod's shell command pushes through XCom."""
    folder = run_folder(home, experiment_id, config_hash, mode, seed)
    return {"metrics": _read_json(folder / METRICS), "failure": _read_json(folder / FAILURE)}


def record_seed(home: Path, experiment_id: str, config_hash: str, mode: str, seed: int,
                metrics: dict[str, Any] | None, error: str | None) -> Path:
    """What a run elsewhere reported (a pod's XCom), written where the runs live when its
    folder does not hold it yet (a volume the scheduler does not share). A crash is data here
    too: a ``failure.json`` the decision reads as a failed seed. Nothing is overwritten."""
    folder = run_folder(home, experiment_id, config_hash, mode, seed)
    if metrics and not (folder / METRICS).exists():
        folder.mkdir(parents=True, exist_ok=True)
        fsio.atomic_write(folder / METRICS, json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    elif not metrics and error and not (folder / FAILURE).exists() and not (folder / METRICS).exists():
        folder.mkdir(parents=True, exist_ok=True)
        fsio.atomic_write(folder / FAILURE, json.dumps({EXPERIMENT_ID_KEY: experiment_id, "seed": seed, "mode": mode,
                                                         "attempts": [error]}) + "\n")
    return folder


def count_once(folder: Path, seconds: float, at: str) -> bool:
    """Mark a run's GPU time as counted in a day's budget; False when it was counted already
    (a retried collect), or there is nothing to count."""
    marker = Path(folder) / USAGE
    if seconds <= 0 or not Path(folder).is_dir() or marker.exists():
        return False
    fsio.atomic_write(marker, json.dumps({"seconds": seconds, "counted_at": at}) + "\n")
    return True


def find_complete(home: Path, experiment_id: str, config_hash: str, mode: str, seed: int) -> Path | None:
    """A complete run of this config, mode and seed: the id's own folder first, then any other
    id's (the same config run for another hypothesis, or for production)."""
    own = run_folder(home, experiment_id, config_hash, mode, seed)
    if is_complete(own) is not None:
        return own
    for other in sorted((Path(home) / RESULTS).glob(f"*/{config_hash}/{mode}/seed_{seed}")):
        if other != own and is_complete(other) is not None:
            return other
    return None


def adopt(src: Path, dest: Path) -> None:
    """Copy a complete run folder from another id (same config): ``metrics.json`` last."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in (CONFIG, LOG):
        if (src / name).exists():
            fsio.atomic_write(dest / name, (src / name).read_bytes())
    fsio.atomic_write(dest / METRICS, (src / METRICS).read_bytes())


_HELD = threading.local()  # the run locks this thread holds (a batch falling back to single seeds re-enters)


@contextmanager
def run_lock(home: Path, config_hash: str, mode: str, seed: int) -> Iterator[None]:
    """One run of (config hash, mode, seed) at a time, across threads, processes and hosts that
    share the home (an exclusive ``flock`` on ``.locks/runs/<hash>-<mode>-<seed>.lock``, released
    by the kernel if the holder dies). The runner holds it around its cache check and the run, so
    two sweeps that need the same production seed at once run it once: the second waits, then
    finds the complete folder in the cache. Re-entrant within a thread."""
    import fcntl

    key = (str(Path(home).resolve()), config_hash, mode, int(seed))
    held = getattr(_HELD, "keys", None)
    if held is None:
        held = _HELD.keys = set()
    if key in held:
        yield
        return
    path = Path(home) / ".locks" / "runs" / f"{config_hash}-{mode}-{int(seed)}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        held.add(key)
        try:
            yield
        finally:
            held.discard(key)
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def stale_failures(home: Path, experiment_id: str, config_hash: str, mode: str, seeds: list[int]) -> list[Path]:
    """The ``failure.json`` files a new run of these seeds replaces (removed before it runs)."""
    return [run_folder(home, experiment_id, config_hash, mode, s) / FAILURE for s in seeds]


# ----------------------------------------------------------------------------- environments


def _environment_of(seed_dir: Path) -> dict[str, Any] | None:
    import yaml

    try:
        return (yaml.safe_load((seed_dir / CONFIG).read_text()) or {}).get("environment") or {}
    except (OSError, yaml.YAMLError, AttributeError):
        return None


def environment(home: Path, experiment_id: str, config_hash: str) -> dict[str, Any]:
    """The environment a config's runs recorded (the first full run's, else a fast run's)."""
    folder = config_folder(home, experiment_id, config_hash)
    for mode in ("full", "fast"):
        for _, seed_dir in _seed_folders(folder / mode):
            if (seed_dir / CONFIG).is_file():
                env = _environment_of(seed_dir)
                if env is not None:
                    return env
    return {}


def environments(home: Path, experiment_id: str, config_hash: str, mode: str = "full") -> dict[int, dict[str, Any]]:
    """Each run's recorded environment (package versions, device, image), by seed."""
    folder = config_folder(home, experiment_id, config_hash) / mode
    return {seed: _environment_of(d) or {} for seed, d in _seed_folders(folder)}


# ----------------------------------------------------------------------------- decisions


def decision_file(experiment_id: str, config_hash: str) -> str:
    """Where a config's decision is recorded, relative to ``AUTOBENCH_HOME``."""
    return (RESULTS / check_experiment_id(experiment_id) / config_hash / _DECISION).as_posix()


def write_decision(home: Path, decision: Decision) -> str:
    """Record ``decision`` beside its runs; its path relative to ``AUTOBENCH_HOME``."""
    rel = decision_file(decision.hypothesis, decision.config_hash)
    path = Path(home) / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    fsio.atomic_write(path, json.dumps(_record_of(decision), indent=2, ensure_ascii=False) + "\n")
    return rel


def _record_of(decision: Decision) -> dict[str, Any]:
    data = decision.as_dict()
    data.pop("replayed", None)  # a property of reading it back, never recorded
    return data


def _parse_decision(path: Path) -> Decision:
    """The decision in ``path``; ValueError (one line) when it is unreadable or invalid."""
    from pydantic import ValidationError

    from autobench.schemas import Decision

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"unreadable ({exc})") from None
    try:
        return Decision.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": str(exc)}
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise ValueError(f"{where + ': ' if where else ''}{first.get('msg', 'invalid')}") from None


def _state_error(rel: str, problem: str) -> Exception:
    from autobench.errors import StateError

    return StateError(rel, [("", f"unreadable decision record: {problem}")])


def read_decision(home: Path, experiment_id: str, config_hash: str) -> Decision | None:
    """The recorded decision on a config, None when there is none (a StateError naming the
    file when it is unreadable)."""
    rel = decision_file(experiment_id, config_hash)
    path = Path(home) / rel
    if not path.is_file():
        return None
    try:
        return _parse_decision(path)
    except ValueError as exc:
        raise _state_error(rel, str(exc)) from None


def latest_decision(home: Path, experiment_id: str) -> Decision | None:
    """The decision recorded last (by file time) on any config of ``experiment_id``."""
    root = Path(home) / RESULTS / check_experiment_id(experiment_id)
    found = sorted(root.glob(f"*/{_DECISION}"), key=lambda p: p.stat().st_mtime) if root.is_dir() else []
    if not found:
        return None
    try:
        return _parse_decision(found[-1])
    except ValueError as exc:
        raise _state_error(relative(home, found[-1]), str(exc)) from None


@dataclass
class Decisions:
    """Every recorded decision: ``valid`` (path relative to home, the decision) in path order,
    and one ``path: what is wrong`` line per file that is unreadable or invalid."""

    valid: list[tuple[str, Decision]] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)

    def newest_first(self) -> list[tuple[str, Decision]]:
        return sorted(self.valid, key=lambda item: (item[1].decided_at, item[0]), reverse=True)

    def raise_invalid(self) -> None:
        """A StateError for the first invalid file (for readers that must not skip one)."""
        if self.invalid:
            rel, _, problem = self.invalid[0].partition(": ")
            raise _state_error(rel, problem)


def decisions(home: Path) -> Decisions:
    """Every ``<id>/<config_hash>`` decision under the results."""
    out = Decisions()
    root = Path(home) / RESULTS
    for path in sorted(root.glob(f"*/*/{_DECISION}")) if root.is_dir() else ():
        rel = relative(home, path)
        try:
            out.valid.append((rel, _parse_decision(path)))
        except ValueError as exc:
            out.invalid.append(f"{rel}: {exc}")
    return out


# ----------------------------------------------------------------------------- after a decision


def promoted_file(experiment_id: str, stamp: str) -> str:
    """Where a promoted config is kept, relative to ``AUTOBENCH_HOME``."""
    return (PROMOTED / f"{check_experiment_id(experiment_id)}-{stamp}.yaml").as_posix()


def archived_file(experiment_id: str, stamp: str) -> str:
    """Where a rejected or failed hypothesis's note is kept, relative to ``AUTOBENCH_HOME``."""
    return (ARCHIVED / f"{check_experiment_id(experiment_id)}-{stamp}.md").as_posix()


def experiment_ids(home: Path) -> list[str]:
    """The ids that have a folder under the results, sorted."""
    root = Path(home) / RESULTS
    return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def kept(home: Path) -> dict[str, list[str]]:
    """The file names under ``promoted`` and ``archived`` (each starts with its hypothesis id)."""
    out = {}
    for kind, folder in (("promoted", PROMOTED), ("archived", ARCHIVED)):
        root = Path(home) / folder
        out[kind] = sorted(p.name for p in root.iterdir() if not p.name.startswith(".")) if root.is_dir() else []
    return out


def report_path(home: Path, experiment_id: str, config_hash: str) -> Path:
    return config_folder(home, experiment_id, config_hash) / REPORT


def evaluation_path(home: Path, experiment_id: str, config_hash: str) -> Path:
    return config_folder(home, experiment_id, config_hash) / EVALUATION


def submissions_path(home: Path, experiment_id: str, config_hash: str) -> Path:
    return config_folder(home, experiment_id, config_hash) / SUBMISSIONS


def read_json(path: Path) -> Any:
    """A JSON file's data, None when it is missing or unreadable."""
    return _read_json(path)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
