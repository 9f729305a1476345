"""The experiment runner: one run of a config on one seed, done right, exactly once.

``autobench run ID (--seed N | --seeds 1,2,3) [--fast] [--force] [--config FILE|-]``

- Each attempt runs the solution (``module:function(config, seed, subset) -> metrics``) in a
  child process, so a crash, a NaN and an OOM kill (SIGKILL) are all observed and recorded by
  the parent: the run retries once itself, then writes the failure with its error to
  ``train.log`` (and ``failure.json``) and reports one clear line. Airflow's retries are for
  infrastructure, not for this.
- The child seeds Python, NumPy and torch, turns deterministic algorithms on (with the cuBLAS
  workspace setting CUDA needs for that) and runs; the solution evaluates in eval mode.
- Results go to the run's folder in the results store (:mod:`autobench.experiments.results`):
  ``config.yaml`` (the config, its hash and the run's environment), ``train.log`` and, last,
  ``metrics.json``, each written atomically. A folder with a complete ``metrics.json`` is the
  cache: the same (config hash, seed, mode) is never run twice unless ``--force``; a run of the
  same config under another id is reused (copied), not recomputed.

This module is the lean path: it imports only the standard library and pyyaml (the child adds
numpy and torch), never pydantic, scipy or Airflow, so it runs in the experiment image and on a
GPU machine as it is.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from autobench import __version__, fsio
from autobench.errors import AutobenchError
from autobench.experiments.results import (  # noqa: F401  (bad_metrics, is_complete: what a run's metrics must be)
    CONFIG,
    EXPERIMENT_ID_KEY,
    FAILURE,
    LOG,
    METRICS,
    adopt,
    bad_metrics,
    find_complete,
    is_complete,
    run_folder,
    run_lock,
)

DEFAULT_SOLUTION = "autobench.workloads.recall:train_and_evaluate"
DEFAULT_FAST_SUBSET = 0.1
ATTEMPTS = 2  # the run retries once itself
DETERMINISM_ENV = {"CUBLAS_WORKSPACE_CONFIG": ":4096:8", "PYTHONHASHSEED": "0"}


class RunFailed(AutobenchError):
    """A seed failed twice (crash, NaN/inf metrics, OOM kill). ``str()`` is one line."""

    def __init__(self, line: str, folder: Path | None = None):
        self.folder = folder
        super().__init__(line)


@dataclass
class RunSpec:
    """Everything a run needs: what a pod receives with ``--config``."""

    experiment_id: str
    solution: str
    config: dict[str, Any]
    fast_subset: float = DEFAULT_FAST_SUBSET
    primary_metric: str | None = None

    @property
    def config_hash(self) -> str:
        return config_hash(self.solution, self.config)

    def as_dict(self) -> dict[str, Any]:
        return {"solution": self.solution, "config": self.config, "fast_subset": self.fast_subset,
                "primary_metric": self.primary_metric}


@dataclass
class SeedResult:
    seed: int
    metrics: dict[str, Any]
    folder: Path
    cached: bool
    seconds: float = 0.0
    attempts: list[str] = field(default_factory=list)


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)


def config_hash(solution: str, config: dict[str, Any]) -> str:
    """12 hex digits of SHA-256 over the solution and its config, key order ignored."""
    return hashlib.sha256(canonical_json({"solution": solution, "config": config}).encode()).hexdigest()[:12]


def spec_from_mapping(experiment_id: str, data: Any, source: str, registry_solution: str | None = None) -> RunSpec:
    """A spec from what ``--config`` gave: ``{solution, config, fast_subset?}``, or a bare config."""
    if not isinstance(data, dict):
        raise AutobenchError(f"{source}: expected a mapping (a config, or solution + config), "
                             f"got {type(data).__name__}")
    if "config" in data and isinstance(data.get("config"), dict):
        unknown = set(data) - {"solution", "config", "fast_subset", "primary_metric", "config_hash"}
        if unknown:
            raise AutobenchError(f"{source}: {sorted(unknown)[0]}: unknown key "
                                 "(allowed: solution, config, fast_subset, primary_metric)")
        solution = data.get("solution") or registry_solution or DEFAULT_SOLUTION
        subset = data.get("fast_subset", DEFAULT_FAST_SUBSET)
        if not isinstance(subset, (int, float)) or not 0 < subset <= 1:
            raise AutobenchError(f"{source}: fast_subset: must be a number in (0, 1] (got {subset!r})")
        return RunSpec(experiment_id, str(solution), dict(data["config"]), float(subset), data.get("primary_metric"))
    return RunSpec(experiment_id, registry_solution or DEFAULT_SOLUTION, dict(data))


# ----------------------------------------------------------------------------- the parent side


def find_cached(home: Path, spec: RunSpec, mode: str, seed: int) -> Path | None:
    """A complete run of the spec's config on this seed, its own or another id's."""
    return find_complete(home, spec.experiment_id, spec.config_hash, mode, seed)


def environment() -> dict[str, Any]:
    """What the parent knows of the run's environment (the child adds torch and the device)."""
    env: dict[str, Any] = {
        "autobench": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "hostname": platform.node(),
        "git_commit": _git_commit(),
    }
    if os.environ.get("AUTOBENCH_IMAGE"):  # the container image a pod ran (set in the experiment image)
        env["image"] = os.environ["AUTOBENCH_IMAGE"]
    return env


def _git_commit() -> str | None:
    here = Path(__file__).resolve().parent
    try:
        proc = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout.strip() or None if proc.returncode == 0 else None


def _describe_exit(code: int) -> str:
    if code < 0:
        sig = signal.Signals(-code).name if -code in {s.value for s in signal.Signals} else str(-code)
        hint = " (out of memory? the kernel's OOM killer sends SIGKILL)" if sig == "SIGKILL" else ""
        return f"killed by {sig}{hint}"
    return f"exited with status {code}"


def _attempt(spec: RunSpec, seed: int, subset: float, log: list[str],
             verbose: TextIO | None) -> tuple[dict | None, dict | None, str]:
    """One child process. Returns (metrics, child environment, error or '')."""
    with tempfile.TemporaryDirectory(prefix="autobench-run-") as tmp:
        spec_path, out_path = Path(tmp) / "spec.json", Path(tmp) / "out.json"
        spec_path.write_text(json.dumps({**spec.as_dict(), "seed": seed, "subset": subset}))
        env = {**os.environ, **DETERMINISM_ENV}
        proc = subprocess.Popen([sys.executable, "-m", "autobench.experiments.runner", str(spec_path), str(out_path)],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, bufsize=1)
        assert proc.stdout is not None
        for line in proc.stdout:
            log.append(line.rstrip("\n"))
            if verbose is not None:
                verbose.write(line)
        code = proc.wait()
        try:
            out = json.loads(out_path.read_text())
        except (OSError, ValueError):
            out = {}
    if code != 0:
        error = out.get("error") or _describe_exit(code)
        if out.get("traceback"):
            log.append(out["traceback"].rstrip("\n"))
        return None, None, error
    problem = bad_metrics(out.get("metrics"), spec.primary_metric)
    if problem:
        return None, None, problem
    return out["metrics"], out.get("environment"), ""


def evaluate_once(spec: RunSpec, seed: int, overrides: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """One child run of ``spec`` with ``overrides`` merged into its config (e.g. the test split
    after a promotion), outside the run cache. Returns (metrics, environment); raises
    :class:`RunFailed` after the usual one retry."""
    probe = RunSpec(spec.experiment_id, spec.solution, {**spec.config, **overrides}, spec.fast_subset,
                    spec.primary_metric)
    log: list[str] = []
    errors = []
    for _ in range(ATTEMPTS):
        metrics, env, error = _attempt(probe, seed, 1.0, log, None)
        if metrics is not None:
            return metrics, {**environment(), **(env or {})}
        errors.append(error)
    raise RunFailed(f"{spec.experiment_id} seed={seed} with {overrides}: failed {len(errors)} times: {errors[-1]}")


def run_seed(home: Path, spec: RunSpec, seed: int, *, fast: bool = False, force: bool = False,
             verbose: TextIO | None = None) -> SeedResult:
    """Run one seed (or return its cached result). The cache check and the run hold the run's
    lock (:func:`~autobench.experiments.results.run_lock`): a second caller for the same
    (config hash, mode, seed) waits, then returns the first one's result as cached."""
    mode = "fast" if fast else "full"
    with run_lock(home, spec.config_hash, mode, seed):
        return _run_seed(home, spec, seed, mode, fast=fast, force=force, verbose=verbose)


def _run_seed(home: Path, spec: RunSpec, seed: int, mode: str, *, fast: bool, force: bool,
              verbose: TextIO | None) -> SeedResult:
    folder = run_folder(home, spec.experiment_id, spec.config_hash, mode, seed)
    if not force:
        cached = find_cached(home, spec, mode, seed)
        if cached is not None:
            if cached != folder:
                adopt(cached, folder)
            return SeedResult(seed, is_complete(folder) or {}, folder, cached=True)

    subset = spec.fast_subset if fast else 1.0
    log = [f"autobench {__version__}: run {spec.experiment_id} seed={seed} mode={mode} config_hash={spec.config_hash}",
           f"solution {spec.solution} subset={subset:g}", f"config {canonical_json(spec.config)}"]
    t0 = time.perf_counter()
    errors: list[str] = []
    metrics = child_env = None
    for attempt in range(1, ATTEMPTS + 1):
        log.append(f"--- attempt {attempt}/{ATTEMPTS}")
        metrics, child_env, error = _attempt(spec, seed, subset, log, verbose)
        if metrics is not None:
            log.append(f"--- attempt {attempt} succeeded: {canonical_json(metrics)}")
            break
        errors.append(error)
        log.append(f"--- attempt {attempt} failed: {error}")
    seconds = time.perf_counter() - t0

    folder.mkdir(parents=True, exist_ok=True)
    import yaml

    record = {EXPERIMENT_ID_KEY: spec.experiment_id, "config_hash": spec.config_hash, "solution": spec.solution,
              "mode": mode, "seed": seed, "subset": subset, "config": spec.config,
              "wall_seconds": round(seconds, 3),  # the child's start, training, evaluation and latency, all attempts
              "environment": {**environment(), **(child_env or {})}}
    fsio.atomic_write(folder / CONFIG, yaml.safe_dump(record, sort_keys=False, allow_unicode=True))
    fsio.atomic_write(folder / LOG, "\n".join(log) + "\n")
    if metrics is None:
        failure = {EXPERIMENT_ID_KEY: spec.experiment_id, "seed": seed, "mode": mode, "attempts": errors,
                   "seconds": round(seconds, 3)}
        fsio.atomic_write(folder / FAILURE, json.dumps(failure, indent=2) + "\n")
        raise RunFailed(f"{spec.experiment_id} seed={seed} {mode}: failed {len(errors)} times: {errors[-1]} "
                        f"(log: {folder / LOG})", folder)
    try:
        (folder / FAILURE).unlink()
    except FileNotFoundError:
        pass
    fsio.atomic_write(folder / METRICS, json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    return SeedResult(seed, metrics, folder, cached=False, seconds=seconds, attempts=errors)


def run_seeds(home: Path, spec: RunSpec, seeds: Sequence[int], *, fast: bool = False, force: bool = False,
              progress: Callable[[str], None] | None = None, verbose: TextIO | None = None) -> dict[int, SeedResult]:
    """Run several seeds one after another, with a progress line per run and the time left."""
    results: dict[int, SeedResult] = {}
    failures: list[RunFailed] = []
    spent: list[float] = []
    primary = spec.primary_metric
    for i, seed in enumerate(seeds, 1):
        try:
            result = run_seed(home, spec, seed, fast=fast, force=force, verbose=verbose)
        except RunFailed as exc:
            failures.append(exc)
            if progress:
                progress(f"[{i}/{len(seeds)}] {spec.experiment_id} seed={seed} — FAILED: {exc}")
            continue
        results[seed] = result
        if not result.cached:
            spent.append(result.seconds)
        if progress:
            key = primary if primary in result.metrics else next(iter(sorted(result.metrics)), "")
            value = result.metrics.get(key)
            shown = f"{key}={value:.4f}" if isinstance(value, (int, float)) else "done"
            extra = " (cached)" if result.cached else f" in {result.seconds:.1f}s"
            left = len(seeds) - i
            if left and spent:
                extra += f", about {_duration(left * sum(spent) / len(spent))} left"
            progress(f"[{i}/{len(seeds)}] {spec.experiment_id} seed={seed} — {shown}{extra}")
    if failures:
        raise failures[0] if len(failures) == 1 else RunFailed(
            f"{len(failures)} of {len(seeds)} seeds failed; first: {failures[0]}", failures[0].folder)
    return results


def gpu_visible(dev: Path = Path("/dev")) -> bool:
    """Whether this machine shows a GPU to its processes, without importing torch: an NVIDIA
    (``nvidiactl``) or ROCm (``kfd``) device node, and ``CUDA_VISIBLE_DEVICES`` not hiding them all."""
    hidden = os.environ.get("CUDA_VISIBLE_DEVICES")
    if hidden is not None and hidden.strip() in ("", "-1"):
        return False
    return any((dev / name).exists() for name in ("nvidiactl", "kfd"))


def batch_by_default(spec: RunSpec, seeds: Sequence[int]) -> bool:
    """``autobench run --seeds`` batches on its own where it pays: several seeds, a solution with
    a batched variant, a visible GPU, and a config that does not pin the CPU."""
    device = str(spec.config.get("device", "auto")).lower()
    return len(seeds) > 1 and device != "cpu" and gpu_visible() and batched_solution(spec.solution) is not None


def batched_solution(name: str) -> str | None:
    """The seed-batched variant of a solution, if it has one: ``module:function_batched`` or
    ``module_batched:function_batched`` (``(config, seeds, subset) -> {seed: metrics}``)."""
    import importlib
    import importlib.util

    module_name, _, func = name.partition(":")
    for mod in (module_name, f"{module_name}_batched"):
        try:
            if importlib.util.find_spec(mod) is None:
                continue
        except (ImportError, ValueError):
            continue
        # importing the module would pull torch into this (lean) parent: read its source instead
        spec = importlib.util.find_spec(mod)
        origin = getattr(spec, "origin", None)
        try:
            source = Path(origin).read_text(encoding="utf-8") if origin else ""
        except OSError:
            source = ""
        if f"def {func}_batched(" in source:
            return f"{mod}:{func}_batched"
    return None


def run_seeds_batched(home: Path, spec: RunSpec, seeds: Sequence[int], *, fast: bool = False, force: bool = False,
                      progress: Callable[[str], None] | None = None,
                      verbose: TextIO | None = None) -> dict[int, SeedResult]:
    """Several seeds of one config in one child process, vectorised over seeds (the GPU path).

    Cached seeds are not run again; the others run together through the solution's batched
    variant (each seed with the init and data a separate run would have had), and each gets its
    own folder as if it had run alone (its ``config.yaml`` says ``batched``). Without a batched
    variant, or if the batch fails, the seeds run one by one (each retried once as usual). The
    seeds' run locks are held throughout (taken in seed order, so two batches cannot deadlock).
    """
    from contextlib import ExitStack

    mode = "fast" if fast else "full"
    with ExitStack() as locks:
        for seed in sorted(set(seeds)):
            locks.enter_context(run_lock(home, spec.config_hash, mode, seed))
        return _run_seeds_batched(home, spec, seeds, mode, fast=fast, force=force, progress=progress, verbose=verbose)


def _run_seeds_batched(home: Path, spec: RunSpec, seeds: Sequence[int], mode: str, *, fast: bool, force: bool,
                       progress: Callable[[str], None] | None, verbose: TextIO | None) -> dict[int, SeedResult]:
    results: dict[int, SeedResult] = {}
    todo = []
    for seed in seeds:
        cached = None if force else find_cached(home, spec, mode, seed)
        if cached is not None:
            folder = run_folder(home, spec.experiment_id, spec.config_hash, mode, seed)
            if cached != folder:
                adopt(cached, folder)
            results[seed] = SeedResult(seed, is_complete(folder) or {}, folder, cached=True)
        else:
            todo.append(seed)
    batched = batched_solution(spec.solution)
    if len(todo) < 2 or batched is None:
        if todo and batched is None and progress:
            progress(f"{spec.solution} has no batched variant: running {len(todo)} seed(s) one by one")
        results.update(run_seeds(home, spec, todo, fast=fast, force=force, progress=progress, verbose=verbose))
        return dict(sorted(results.items()))
    subset = spec.fast_subset if fast else 1.0
    log = [f"autobench {__version__}: run {spec.experiment_id} seeds={todo} mode={mode} "
           f"config_hash={spec.config_hash} (batched)",
           f"solution {batched} subset={subset:g}", f"config {canonical_json(spec.config)}"]
    t0 = time.perf_counter()
    out, child_env, error = _attempt_batch(spec, batched, todo, subset, log, verbose)
    seconds = time.perf_counter() - t0
    if out is None:
        if progress:
            progress(f"batch of seeds {todo} failed ({error}); running them one by one")
        results.update(run_seeds(home, spec, todo, fast=fast, force=force, progress=progress, verbose=verbose))
        return dict(sorted(results.items()))
    import yaml

    for seed in todo:
        metrics = out[str(seed)]
        folder = run_folder(home, spec.experiment_id, spec.config_hash, mode, seed)
        folder.mkdir(parents=True, exist_ok=True)
        record = {EXPERIMENT_ID_KEY: spec.experiment_id, "config_hash": spec.config_hash, "solution": spec.solution,
                  "mode": mode, "seed": seed, "subset": subset, "config": spec.config,
                  "batched": {"solution": batched, "seeds": todo},
                  "wall_seconds": round(seconds / len(todo), 3),  # the batch's wall time, shared by its seeds
                  "environment": {**environment(), **(child_env or {})}}
        fsio.atomic_write(folder / CONFIG, yaml.safe_dump(record, sort_keys=False, allow_unicode=True))
        fsio.atomic_write(folder / LOG, "\n".join(log) + "\n")
        try:
            (folder / FAILURE).unlink()
        except FileNotFoundError:
            pass
        fsio.atomic_write(folder / METRICS, json.dumps(metrics, indent=2, sort_keys=True) + "\n")
        results[seed] = SeedResult(seed, metrics, folder, cached=False, seconds=seconds / len(todo))
        if progress:
            value = metrics.get(spec.primary_metric) if spec.primary_metric else None
            shown = f"{spec.primary_metric}={value:.4f}" if isinstance(value, (int, float)) else "done"
            progress(f"[batch] {spec.experiment_id} seed={seed} — {shown}")
    if progress:
        progress(f"[batch] {len(todo)} seeds in {seconds:.1f}s")
    return dict(sorted(results.items()))


def _attempt_batch(spec: RunSpec, batched: str, seeds: list[int], subset: float, log: list[str],
                   verbose: TextIO | None) -> tuple[dict | None, dict | None, str]:
    probe = RunSpec(spec.experiment_id, batched, spec.config, spec.fast_subset, spec.primary_metric)
    with tempfile.TemporaryDirectory(prefix="autobench-batch-") as tmp:
        spec_path, out_path = Path(tmp) / "spec.json", Path(tmp) / "out.json"
        spec_path.write_text(json.dumps({**probe.as_dict(), "seeds": seeds, "subset": subset}))
        env = {**os.environ, **DETERMINISM_ENV}
        proc = subprocess.run([sys.executable, "-m", "autobench.experiments.runner", str(spec_path), str(out_path)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        log.extend(proc.stdout.splitlines())
        if verbose is not None:
            verbose.write(proc.stdout)
        try:
            out = json.loads(out_path.read_text())
        except (OSError, ValueError):
            out = {}
    if proc.returncode != 0:
        return None, None, out.get("error") or _describe_exit(proc.returncode)
    per_seed = out.get("metrics") or {}
    for seed in seeds:
        problem = bad_metrics(per_seed.get(str(seed)), spec.primary_metric)
        if problem:
            return None, None, f"seed {seed}: {problem}"
    return per_seed, out.get("environment"), ""


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


# ----------------------------------------------------------------------------- the child side


def seed_everything(seed: int) -> None:
    """Python, NumPy and torch RNGs; deterministic algorithms (CUDA's needs included)."""
    import random

    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True


def child_environment() -> dict[str, Any]:
    import numpy as np
    import torch

    env: dict[str, Any] = {"torch": torch.__version__, "numpy": np.__version__,
                           "device": "cpu", "threads": torch.get_num_threads()}
    if torch.cuda.is_available():
        env["device"] = torch.cuda.get_device_name(0)
        env["cuda"] = torch.version.cuda
    return env


def load_solution(name: str) -> Callable[..., dict[str, Any]]:
    import importlib

    module_name, _, func = name.partition(":")
    module = importlib.import_module(module_name)
    try:
        return getattr(module, func)
    except AttributeError:
        raise AutobenchError(f"solution {name}: {module_name} has no function {func!r}") from None


def child_main(spec_path: str, out_path: str) -> int:
    spec = json.loads(Path(spec_path).read_text())
    try:
        if "seeds" in spec:  # a seed batch: the batched solution seeds each seed's init and data itself
            seeds = [int(x) for x in spec["seeds"]]
            seed_everything(seeds[0])
            fn = load_solution(spec["solution"])
            per_seed = fn(dict(spec["config"]), seeds, float(spec["subset"]))
            metrics = {str(k): v for k, v in per_seed.items()}
            Path(out_path).write_text(json.dumps({"metrics": metrics, "environment": child_environment()},
                                                 default=_json_number))
            return 0
        seed_everything(int(spec["seed"]))
        fn = load_solution(spec["solution"])
        metrics = fn(dict(spec["config"]), int(spec["seed"]), float(spec["subset"]))
        out = {"metrics": metrics, "environment": child_environment()}
        Path(out_path).write_text(json.dumps(out, default=_json_number))
        return 0
    except BaseException as exc:  # an experiment's crash is data: report it, do not hide it
        name = type(exc).__name__
        if isinstance(exc, MemoryError) or name == "OutOfMemoryError":
            error = f"out of memory ({name}: {exc})"
        else:
            error = f"{name}: {exc}"
        Path(out_path).write_text(json.dumps({"error": error.splitlines()[0], "traceback": traceback.format_exc()}))
        return 1


def _json_number(value: Any) -> Any:
    try:
        return float(value)  # numpy / torch scalars
    except (TypeError, ValueError):
        return str(value)


if __name__ == "__main__":
    raise SystemExit(child_main(sys.argv[1], sys.argv[2]))
