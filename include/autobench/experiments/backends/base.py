"""The experiment backend's contract: one base class, one decisive method.

A *run request* is a JSON-able dict the scheduler side builds::

    {"run_id": "H-003", "seed": 2, "mode": "fast" | "full",
     "spec": {"solution": ..., "config": {...}, "fast_subset": 0.1, "primary_metric": "accuracy"},
     "config_hash": "abc123def456"}

(``spec`` is :meth:`autobench.experiments.runner.RunSpec.as_dict`). A *batch* has ``"seeds": [1, 2, 3]``
instead of ``"seed"``. :meth:`ExperimentBackend.run` returns a *result*, also JSON-able:

- one seed: ``{"run_id", "seed", "mode", "config_hash", "metrics": {...} | None,
  "error": str | None, "folder": str}``;
- a batch: ``{"run_id", "seeds", "mode", "config_hash", "metrics": None, "error": str | None,
  "folder": str, "results": {"<seed>": <one-seed result>}}`` (keys are strings, as JSON and
  XCom make them; ``error`` summarises the failed seeds, None when all succeeded).
  :func:`split_result` turns either shape into a list of one-seed results.

``folder`` is relative to ``AUTOBENCH_HOME`` (``experiments/results/<id>/<hash>/<mode>/seed_<n>``
for a seed, the ``<mode>`` folder for a batch), so it means the same in a pod and on the
scheduler, which mount the same volume at different places.

An experiment that crashes, returns NaN or is OOM-killed is *data*: the runner retries once
itself and records ``failure.json``; the result carries the error text. Backends raise
:class:`BackendError` only for infrastructure problems (no ``autobench`` executable, …).

The spec travels as text that ``autobench run --config`` reads with ``yaml.safe_load``. JSON is
not safe for that: PyYAML reads ``1e-05`` as the *string* ``"1e-05"`` (YAML 1.1 floats need a
dot) and ``\\ud83d\\ude00`` as two lone surrogates, which would change the config and its hash.
:func:`spec_text` writes a YAML flow document that PyYAML reads back exactly, with no ``{`` left
inside strings, so Jinja (Airflow renders ``KubernetesPodOperator.arguments``) leaves it alone.

Standard library and the lean runner only: importable in the experiment image.
"""

from __future__ import annotations

import json
import math
import re
import shlex
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from autobench.errors import AutobenchError
from autobench.experiments.runner import config_hash as compute_config_hash
from autobench.paths import MODES, RESULTS

XCOM_DIR_ENV = "AUTOBENCH_XCOM_DIR"
DEFAULT_XCOM_DIR = "/airflow/xcom"  # KubernetesPodOperator's XCom sidecar reads return.json here
RUN_ID_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")  # hypothesis ids (schemas.HYPOTHESIS_ID_RE) and `production`
CONFIG_HASH_RE = re.compile(r"^[0-9a-f]{12}$")


class BackendError(AutobenchError):
    """An infrastructure problem: the experiment could not be run at all (not its own crash)."""


class ExperimentBackend(ABC):
    """Where experiments run. Subclasses implement :meth:`run`, nothing else."""

    name: str = "base"

    @abstractmethod
    def run(self, request: dict[str, Any], home: Path) -> dict[str, Any]:
        """Run one request (one seed or a batch) against ``home``; return its result.

        A crash of the experiment is returned as ``error``; only infrastructure problems raise
        :class:`BackendError`.
        """

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


# ----------------------------------------------------------------------------- requests


def check_request(request: Mapping[str, Any]) -> dict[str, Any]:
    """A validated copy of a run request (``config_hash`` filled in when absent).

    Raises ValueError naming the field: a malformed request is the scheduler's bug.
    """
    if not isinstance(request, Mapping):
        raise ValueError(f"a run request must be a mapping, got {type(request).__name__}")
    unknown = set(request) - {"run_id", "seed", "seeds", "mode", "spec", "config_hash"}
    if unknown:
        raise ValueError(f"run request: unknown key {sorted(unknown)[0]!r}")
    run_id = request.get("run_id")
    if not isinstance(run_id, str) or not RUN_ID_RE.match(run_id):
        raise ValueError(f"run request: run_id must look like H-042 or production (got {run_id!r})")
    mode = request.get("mode", "full")
    if mode not in MODES:
        raise ValueError(f"run request: mode must be one of {MODES} (got {mode!r})")
    spec = request.get("spec")
    if not isinstance(spec, Mapping) or not isinstance(spec.get("config"), Mapping):
        raise ValueError("run request: spec must be {solution, config, fast_subset, primary_metric}")
    if not isinstance(spec.get("solution"), str) or not spec["solution"]:
        raise ValueError("run request: spec.solution must be `module:function`")
    expected = compute_config_hash(spec["solution"], dict(spec["config"]))
    chash = request.get("config_hash") or expected
    if chash != expected:
        raise ValueError(f"run request: config_hash {chash!r} does not match the spec (its hash is {expected})")
    out: dict[str, Any] = {"run_id": run_id, "mode": mode, "spec": dict(spec), "config_hash": chash}
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


def group_requests(requests: Iterable[Mapping[str, Any]], seeds_per_pod: int = 1) -> list[dict[str, Any]]:
    """Regroup requests into runs of at most ``seeds_per_pod`` seeds each.

    Batches are split into seeds first; seeds of the same (run_id, mode, config_hash) are then
    grouped in order of first appearance. ``seeds_per_pod=1`` gives one single-seed request per
    seed; a group of one seed is always a single-seed request (``"seed"``), never a batch of one.
    """
    if seeds_per_pod < 1:
        raise ValueError(f"seeds_per_pod must be >= 1 (got {seeds_per_pod})")
    groups: dict[tuple[str, str, str], dict[str, Any]] = {}
    for raw in requests:
        req = check_request(raw)
        key = (req["run_id"], req["mode"], req["config_hash"])
        group = groups.setdefault(key, {"base": req, "seeds": []})
        for seed in seeds_of(req):
            if seed not in group["seeds"]:
                group["seeds"].append(seed)
    out: list[dict[str, Any]] = []
    for group in groups.values():
        base, seeds = group["base"], group["seeds"]
        for i in range(0, len(seeds), seeds_per_pod):
            chunk = seeds[i:i + seeds_per_pod]
            req = {k: v for k, v in base.items() if k not in ("seed", "seeds")}
            if len(chunk) == 1:
                req["seed"] = chunk[0]
            else:
                req["seeds"] = chunk
            out.append(req)
    return out


def relative_folder(request: Mapping[str, Any], seed: int | None = None) -> str:
    """A run folder relative to AUTOBENCH_HOME (the ``<mode>`` folder when ``seed`` is None)."""
    folder = RESULTS / request["run_id"] / request["config_hash"] / request["mode"]
    return (folder / f"seed_{seed}" if seed is not None else folder).as_posix()


# ----------------------------------------------------------------------------- commands


def command_for(request: Mapping[str, Any]) -> list[str]:
    """The argv that runs the request, with :func:`spec_text` on stdin (``--config -``)."""
    req = check_request(request)
    argv = ["autobench", "run", req["run_id"]]
    if is_batch(req):
        # one process for the batch: vectorised over seeds when the solution has a batched
        # variant (the same per-seed results), one by one otherwise
        argv += ["--seeds", ",".join(str(s) for s in req["seeds"]), "--batched"]
    else:
        argv += ["--seed", str(req["seed"])]
    if req["mode"] == "fast":
        argv.append("--fast")
    return argv + ["--config", "-", "--json"]


def shell_command_for(request: Mapping[str, Any]) -> str:
    """One ``sh -c`` line for a container (no stdin there).

    It writes the spec to a temporary file, runs ``autobench run … --config FILE --json`` with
    ``AUTOBENCH_HOME`` from the environment, then writes a JSON *record* of each seed's
    ``metrics.json`` and ``failure.json`` (see :func:`result_from_record`) to
    ``$AUTOBENCH_XCOM_DIR/return.json`` (default ``/airflow/xcom``) when that folder exists.
    It exits 0 when every seed ended with metrics or a recorded failure (a crash is data), and
    non-zero otherwise (bad input, the runner itself killed: infrastructure, worth a retry).
    Each seed's stale ``failure.json`` is removed first, so the record is this run's.
    """
    req = check_request(request)
    argv = command_for(req)
    stdin_at = argv.index("--config") + 1  # `--config -` becomes `--config "$spec"`
    run_line = " ".join('"$spec"' if i == stdin_at else shlex.quote(a) for i, a in enumerate(argv))
    words = " ".join(str(s) for s in seeds_of(req))
    q = shlex.quote
    lines = [
        "set -u",
        'home="${AUTOBENCH_HOME:-autobench_home}"',
        f'xcom="${{{XCOM_DIR_ENV}:-{DEFAULT_XCOM_DIR}}}"',
        'spec="$(mktemp "${TMPDIR:-/tmp}/autobench-spec.XXXXXX")" || exit 70',
        'doc="$(mktemp "${TMPDIR:-/tmp}/autobench-result.XXXXXX")" || exit 70',
        "trap 'rm -f \"$spec\" \"$doc\"' EXIT",
        f"printf '%s\\n' {q(spec_text(req['spec']))} > \"$spec\" || exit 70",
        f'folder="$home"/{q(relative_folder(req))}',
        f'for s in {words}; do rm -f "$folder/seed_$s/failure.json"; done',
        f"{run_line}; rc=$?",
        "ok=1",
        "{",
        '  printf \'{"exit_code": %d, "seeds": {\' "$rc"; sep=""',
        f"  for s in {words}; do",
        '    d="$folder/seed_$s"; printf \'%s"%s": {"metrics": \' "$sep" "$s"; sep=", "',
        '    if [ -s "$d/metrics.json" ]; then cat "$d/metrics.json"; else printf null; fi',
        "    printf ', \"failure\": '",
        '    if [ -s "$d/failure.json" ]; then cat "$d/failure.json"; else printf null; fi',
        "    printf '}'",
        '    [ -s "$d/metrics.json" ] || [ -s "$d/failure.json" ] || ok=0',
        "  done",
        "  printf '}}\\n'",
        '} > "$doc"',
        'if [ -d "$xcom" ]; then cp "$doc" "$xcom/return.json" || exit 70; fi',
        'if [ "$ok" = 1 ]; then exit 0; fi',
        'echo "autobench: the run left no result (exit status $rc)" >&2',
        'if [ "$rc" = 0 ]; then exit 1; fi',
        'exit "$rc"',
    ]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- the spec as text


def spec_text(spec: Mapping[str, Any]) -> str:
    """The spec as one line of YAML that ``yaml.safe_load`` reads back exactly.

    JSON-like flow style; floats always carry a dot (``1.0e-05``), non-finite floats are
    ``.inf``/``.nan``, strings are double-quoted with ``{``, backslash, quotes and every
    non-printable character escaped, so the text holds no ``{{``, ``{%`` or ``{#`` for Jinja.
    """
    return _flow(spec)


def _flow(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_flow(k)}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    raise TypeError(f"cannot put a {type(value).__name__} in a run spec (plain data only)")


def _float(x: float) -> str:
    if math.isnan(x):
        return ".nan"
    if math.isinf(x):
        return ".inf" if x > 0 else "-.inf"
    text = repr(x)
    mantissa, e, exponent = text.partition("e")
    if "." not in mantissa:
        mantissa += ".0"
    return mantissa + (e + exponent if e else "")


def _string(s: str) -> str:
    out = ['"']
    for ch in s:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "{":
            out.append("\\x7b")
        elif ch.isprintable() or ch == " ":
            out.append(ch)
        elif ord(ch) <= 0xFF:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


# ----------------------------------------------------------------------------- results


def result_from_record(request: Mapping[str, Any], record: Mapping[str, Any],
                       fallback_error: str | None = None) -> dict[str, Any]:
    """The result of a request from a *record*: what each seed's folder held after the run.

    ``record = {"exit_code": int, "seeds": {"<seed>": {"metrics": dict | None,
    "failure": dict | None}}}`` (the shell command's ``return.json``; LocalBackend reads the
    same files). A seed with neither gets ``fallback_error`` (or the exit status).
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
        per_seed[str(seed)] = {"run_id": req["run_id"], "seed": seed, "mode": req["mode"],
                               "config_hash": req["config_hash"], "metrics": metrics, "error": error,
                               "folder": relative_folder(req, seed)}
    if not is_batch(req):
        return per_seed[str(req["seed"])]
    failed = [r for r in per_seed.values() if r["error"]]
    error = None
    if failed:
        error = (f"{len(failed)} of {len(per_seed)} seeds failed; "
                 f"seed {failed[0]['seed']}: {failed[0]['error']}")
    return {"run_id": req["run_id"], "seeds": seeds_of(req), "mode": req["mode"],
            "config_hash": req["config_hash"], "metrics": None, "error": error,
            "folder": relative_folder(req), "results": per_seed}


def read_record(home: Path, request: Mapping[str, Any], exit_code: int) -> dict[str, Any]:
    """The record of a request from the run folders under ``home`` (as the shell writes it)."""
    req = check_request(request)
    seeds: dict[str, dict[str, Any]] = {}
    for seed in seeds_of(req):
        folder = Path(home) / relative_folder(req, seed)
        seeds[str(seed)] = {"metrics": _read_json(folder / "metrics.json"),
                            "failure": _read_json(folder / "failure.json")}
    return {"exit_code": exit_code, "seeds": seeds}


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def split_result(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One-seed results, whether ``result`` is for one seed or a batch."""
    if "results" in result:
        return [dict(r) for r in result["results"].values()]
    return [dict(result)]


def stale_failures(home: Path, request: Mapping[str, Any]) -> Sequence[Path]:
    """The ``failure.json`` files a new run of the request replaces (removed before it runs)."""
    req = check_request(request)
    return [Path(home) / relative_folder(req, s) / "failure.json" for s in seeds_of(req)]
