"""Run requests and their results: the plain data a backend receives and returns.

A *run request* is a JSON-able dict the sweep builds::

    {"experiment_id": "H-003", "seed": 2, "mode": "fast" | "full",
     "spec": {"solution": ..., "config": {...}, "fast_subset": 0.1, "primary_metric": "accuracy"},
     "config_hash": "abc123def456"}

(``spec`` is :meth:`autobench.experiments.runner.RunSpec.as_dict`). A *batch* has ``"seeds": [1, 2, 3]``
instead of ``"seed"``. A *result* is also JSON-able:

- one seed: ``{"experiment_id", "seed", "mode", "config_hash", "metrics": {...} | None,
  "error": str | None, "folder": str}``, plus ``cached`` and ``seconds`` where the backend knows them;
- a batch: ``{"experiment_id", "seeds", "mode", "config_hash", "metrics": None, "error": str | None,
  "folder": str, "results": {"<seed>": <one-seed result>}}`` (keys are strings, as JSON and
  XCom make them; ``error`` summarises the failed seeds, None when all succeeded).
  :func:`split_result` turns either shape into a list of one-seed results.

``folder`` is relative to ``AUTOBENCH_HOME`` (a seed's run folder, the ``<mode>`` folder for a
batch), so it means the same in a pod and on the scheduler, which mount the same volume at
different places. A *record* is what each seed's folder held after a run
(``{"exit_code", "seeds": {"<seed>": {"metrics", "failure"}}}``): a pod pushes it through XCom,
the local backend reads it from the folders, and :func:`result_from_record` turns it into a result.

Standard library and the lean runner only: importable in the experiment image.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from autobench.experiments import results
from autobench.experiments.runner import config_hash as compute_config_hash
from autobench.paths import EXPERIMENT_ID_RE

KEYS = ("experiment_id", "seed", "seeds", "mode", "spec", "config_hash")


def check_request(request: Mapping[str, Any]) -> dict[str, Any]:
    """A validated copy of a run request (``config_hash`` filled in when absent).

    Raises ValueError naming the field: a malformed request is the scheduler's bug.
    """
    if not isinstance(request, Mapping):
        raise ValueError(f"a run request must be a mapping, got {type(request).__name__}")
    unknown = set(request) - set(KEYS)
    if unknown:
        raise ValueError(f"run request: unknown key {sorted(unknown)[0]!r}")
    experiment_id = request.get("experiment_id")
    if not isinstance(experiment_id, str) or not EXPERIMENT_ID_RE.match(experiment_id):
        raise ValueError(f"run request: experiment_id must look like H-042 or production (got {experiment_id!r})")
    mode = request.get("mode", "full")
    if mode not in results.MODES:
        raise ValueError(f"run request: mode must be one of {results.MODES} (got {mode!r})")
    spec = request.get("spec")
    if not isinstance(spec, Mapping) or not isinstance(spec.get("config"), Mapping):
        raise ValueError("run request: spec must be {solution, config, fast_subset, primary_metric}")
    if not isinstance(spec.get("solution"), str) or not spec["solution"]:
        raise ValueError("run request: spec.solution must be `module:function`")
    expected = compute_config_hash(spec["solution"], dict(spec["config"]))
    chash = request.get("config_hash") or expected
    if chash != expected:
        raise ValueError(f"run request: config_hash {chash!r} does not match the spec (its hash is {expected})")
    out: dict[str, Any] = {"experiment_id": experiment_id, "mode": mode, "spec": dict(spec), "config_hash": chash}
    if ("seed" in request) == ("seeds" in request):
        raise ValueError("run request: give exactly one of seed and seeds")
    if "seed" in request:
        out["seed"] = _seed(request["seed"])
    else:
        seeds = request["seeds"]
        if not isinstance(seeds, (list, tuple)) or not seeds:
            raise ValueError("run request: seeds must be a non-empty list of integers")
        seeds = [_seed(s) for s in seeds]
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"run request: seeds must be distinct (got {seeds})")
        out["seeds"] = seeds
    return out


def _seed(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"run request: a seed must be a non-negative integer (got {value!r})")
    return value


def seeds_of(request: Mapping[str, Any]) -> list[int]:
    return [request["seed"]] if "seed" in request else list(request["seeds"])


def is_batch(request: Mapping[str, Any]) -> bool:
    return "seeds" in request


def describe(request: Mapping[str, Any]) -> str:
    """``H-001 full seed 2`` or ``H-001 full seeds 1,2,3`` (a batch)."""
    if is_batch(request):
        return f"{request['experiment_id']} {request['mode']} seeds {','.join(str(s) for s in request['seeds'])}"
    return f"{request['experiment_id']} {request['mode']} seed {request['seed']}"


def group_requests(requests: Iterable[Mapping[str, Any]], seeds_per_run: int = 1) -> list[dict[str, Any]]:
    """Regroup requests into runs of at most ``seeds_per_run`` seeds each.

    Batches are split into seeds first; seeds of the same (experiment id, mode, config hash) are
    then grouped in order of first appearance. ``seeds_per_run=1`` gives one single-seed request
    per seed; a group of one seed is always a single-seed request (``"seed"``), never a batch of one.
    """
    if seeds_per_run < 1:
        raise ValueError(f"seeds per run must be >= 1 (got {seeds_per_run})")
    groups: dict[tuple[str, str, str], dict[str, Any]] = {}
    for raw in requests:
        req = check_request(raw)
        key = (req["experiment_id"], req["mode"], req["config_hash"])
        group = groups.setdefault(key, {"base": req, "seeds": []})
        for seed in seeds_of(req):
            if seed not in group["seeds"]:
                group["seeds"].append(seed)
    out: list[dict[str, Any]] = []
    for group in groups.values():
        base, seeds = group["base"], group["seeds"]
        for i in range(0, len(seeds), seeds_per_run):
            chunk = seeds[i:i + seeds_per_run]
            req = {k: v for k, v in base.items() if k not in ("seed", "seeds")}
            if len(chunk) == 1:
                req["seed"] = chunk[0]
            else:
                req["seeds"] = chunk
            out.append(req)
    return out


def relative_folder(request: Mapping[str, Any], seed: int | None = None) -> str:
    """A run folder relative to AUTOBENCH_HOME (the ``<mode>`` folder when ``seed`` is None)."""
    return results.relative_run_folder(request["experiment_id"], request["config_hash"], request["mode"], seed)


# ----------------------------------------------------------------------------- results


def result_from_record(request: Mapping[str, Any], record: Mapping[str, Any],
                       fallback_error: str | None = None) -> dict[str, Any]:
    """The result of a request from a *record*: what each seed's folder held after the run.

    A seed with neither metrics nor a recorded failure gets ``fallback_error`` (or the exit status).
    """
    req = check_request(request)
    seeds_record = record.get("seeds") or {}
    code = record.get("exit_code")
    per_seed: dict[str, dict[str, Any]] = {}
    for seed in seeds_of(req):
        entry = seeds_record.get(str(seed)) or {}
        metrics, failure = entry.get("metrics"), entry.get("failure")
        error = None
        if not isinstance(metrics, dict) or not metrics:
            metrics = None
            if isinstance(failure, dict) and failure.get("attempts"):
                attempts = failure["attempts"]
                error = f"failed {len(attempts)} times: {attempts[-1]}"
            else:
                error = fallback_error or f"the run left no result (exit status {code})"
        per_seed[str(seed)] = {"experiment_id": req["experiment_id"], "seed": seed, "mode": req["mode"],
                               "config_hash": req["config_hash"], "metrics": metrics, "error": error,
                               "folder": relative_folder(req, seed)}
    if not is_batch(req):
        return per_seed[str(req["seed"])]
    failed = [r for r in per_seed.values() if r["error"]]
    error = None
    if failed:
        error = (f"{len(failed)} of {len(per_seed)} seeds failed; "
                 f"seed {failed[0]['seed']}: {failed[0]['error']}")
    return {"experiment_id": req["experiment_id"], "seeds": seeds_of(req), "mode": req["mode"],
            "config_hash": req["config_hash"], "metrics": None, "error": error,
            "folder": relative_folder(req), "results": per_seed}


def read_record(home: Path, request: Mapping[str, Any], exit_code: int | None) -> dict[str, Any]:
    """The record of a request from the run folders under ``home`` (as the shell writes it)."""
    req = check_request(request)
    seeds = {str(seed): results.seed_record(home, req["experiment_id"], req["config_hash"], req["mode"], seed)
             for seed in seeds_of(req)}
    return {"exit_code": exit_code, "seeds": seeds}


def split_result(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One-seed results, whether ``result`` is for one seed or a batch."""
    if "results" in result:
        return [dict(r) for r in result["results"].values()]
    return [dict(result)]


def stale_failures(home: Path, request: Mapping[str, Any]) -> Sequence[Path]:
    """The ``failure.json`` files a new run of the request replaces (removed before it runs)."""
    req = check_request(request)
    return results.stale_failures(home, req["experiment_id"], req["config_hash"], req["mode"], seeds_of(req))
