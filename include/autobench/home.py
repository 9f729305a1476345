"""The state folder (``AUTOBENCH_HOME``): where it is, creating it, and checking it whole."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from autobench.errors import HomeError
from autobench.experiments import results
from autobench.paths import resolve_home  # noqa: F401  (re-exported)
from autobench.schemas import (
    CLOSED_STATUSES,
    FILES,
    PRODUCTION_ID,
    QUEUE,
    REGISTRY,
    StateError,
)

# The folders of an initialised home (the experiments' three are the results store's).
FOLDERS: tuple[str, ...] = ("state", "snapshots", "history", results.RESULTS.as_posix(),
                            results.PROMOTED.as_posix(), results.ARCHIVED.as_posix(), "digests", "reports")


def examples() -> list[str]:
    root = resources.files("autobench") / "examples"
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))


def init(home: Path, example: str = "recall") -> list[str]:
    """Create a state folder from an example shipped in the package. Never overwrites state."""
    available = examples()
    if example not in available:
        raise HomeError(f"init: no example {example!r} (available: {', '.join(available)})")
    present = [name for name in FILES if (home / name).exists()]
    if present:
        raise HomeError(f"init: {home} already holds state ({', '.join(present)}); nothing was changed")
    source = resources.files("autobench") / "examples" / example
    home.mkdir(parents=True, exist_ok=True)
    created: list[str] = []
    with resources.as_file(source) as src:
        for path in sorted(Path(src).rglob("*")):
            rel = path.relative_to(src)
            if any(part.startswith(".") or part == "__pycache__" for part in rel.parts):
                continue
            dest = home / rel
            if path.is_dir():
                dest.mkdir(parents=True, exist_ok=True)
            elif not dest.exists():
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, dest)
                created.append(str(rel))
    for folder in FOLDERS:
        (home / folder).mkdir(parents=True, exist_ok=True)
    return created


@dataclass
class ValidationReport:
    home: Path
    files: dict[str, str] = field(default_factory=dict)  # name -> "ok" | "absent" | "invalid"
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "home": str(self.home), "files": self.files,
                "errors": self.errors, "warnings": self.warnings}


def validate(home: Path) -> ValidationReport:
    """Every state file against its schema, then the folders against the queue and registry."""
    from autobench.store import StateStore

    store = StateStore(home)
    report = ValidationReport(home=store.home)
    if not store.home.is_dir():
        report.errors.append(f"{store.home}: no such folder (create it with `autobench init`)")
        return report
    loaded: dict[str, Any] = {}
    for name, spec in FILES.items():
        if not store.exists(name) and not spec.required:
            report.files[name] = "absent"
            continue
        try:
            loaded[name] = store.load(name)
            report.files[name] = "ok"
        except StateError as exc:
            report.files[name] = "invalid"
            report.errors.extend(exc.lines())
    for folder in FOLDERS:
        if not (store.home / folder).is_dir():
            report.warnings.append(f"{folder}/: missing (it is created when first written)")
    registry, queue = loaded.get(REGISTRY), loaded.get(QUEUE)
    if queue is not None:
        _check_queue_against_registry(queue, registry, report)
        _check_folders_against_queue(store.home, queue, report)
    if registry is not None:
        _check_registry_paths(store.home, registry, report)
    return report


def _check_queue_against_registry(queue: Any, registry: Any, report: ValidationReport) -> None:
    if registry is None:
        return
    boards = [lb.name for lb in registry.target_leaderboards]
    for i, h in enumerate(queue.hypotheses):
        for j, board in enumerate(h.target_leaderboards):
            if board not in boards:
                report.errors.append(f"{QUEUE}: hypotheses[{i}].target_leaderboards[{j}]: unknown leaderboard "
                                     f"{board!r} (the registry has {', '.join(boards)})")


def _check_folders_against_queue(home: Path, queue: Any, report: ValidationReport) -> None:
    ids = {h.id for h in queue.hypotheses}
    status = {h.id: h.status for h in queue.hypotheses}
    for name in results.experiment_ids(home):
        if name != PRODUCTION_ID and name not in ids:
            report.errors.append(f"{results.RESULTS.as_posix()}/{name}/: no hypothesis {name} in {QUEUE}")
    kept = results.kept(home)
    archived = set(CLOSED_STATUSES) - {"promoted"}  # a closed hypothesis that was not promoted has a note
    # a promotion still being confirmed, or rolled back after it, keeps its promoted config
    for kind, expected in (("promoted", {"promoted", "confirming", "rolled_back"}), ("archived", archived)):
        for name in kept[kind]:
            hid = _id_of(name, ids)
            if hid is None:
                if not name.startswith(PRODUCTION_ID):
                    report.errors.append(f"experiments/{kind}/{name}: names no hypothesis in {QUEUE}")
            elif status[hid] not in expected:
                report.errors.append(f"experiments/{kind}/{name}: {hid} is {status[hid]} in {QUEUE}, "
                                     f"expected {' or '.join(sorted(expected))}")


def _id_of(filename: str, ids: set[str]) -> str | None:
    """The hypothesis a note or config file belongs to: its name starts with the id."""
    best = None
    for hid in ids:
        if filename == hid or filename.startswith((hid + "_", hid + "-", hid + ".")):
            if best is None or len(hid) > len(best):
                best = hid
    return best


def _check_registry_paths(home: Path, registry: Any, report: ValidationReport) -> None:
    for i, lb in enumerate(registry.target_leaderboards):
        if "://" in lb.url:
            continue
        if not (home / lb.url).is_file():
            report.errors.append(f"{REGISTRY}: target_leaderboards[{i}].url: {lb.url} does not exist under {home}")


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
