"""The experiment backend's contract: how a round of runs is submitted, run and collected.

The sweep (:mod:`autobench.experiments.sweep`) takes one path for every backend:

1. :meth:`ExperimentBackend.group` packs the round's run requests (one per seed,
   :mod:`~autobench.experiments.backends.run_request`) into the runs the backend starts: seeds of
   one config may share one;
2. :meth:`ExperimentBackend.submit` turns each into a *payload* for the executor the DAG maps
   over, named by :attr:`ExperimentBackend.executor`:

   - ``"task"``: a mapped Airflow task calls :meth:`ExperimentBackend.run` on each payload (and
     ``autobench sweep`` calls it on the command line);
   - ``"pod"``: a mapped ``KubernetesPodOperator`` takes each payload as its keyword arguments
     (the DAG holds that wiring; ``autobench sweep`` refuses such a backend);

3. :meth:`ExperimentBackend.collect` turns what the executor returned for each run (a result,
   an XCom record, or None when it returned nothing) into one-seed results, with each seed's
   outcome in its run folder in the results store (:mod:`autobench.experiments.results`), where
   ``decide`` reads it.

An experiment that crashes, returns NaN or is OOM-killed is *data*: the runner retries once
itself and records the failure; the result carries the error text. Backends raise
:class:`BackendError` only for infrastructure problems (no ``autobench`` executable, …).

A new backend is one module with a subclass and one line in the registry
(:data:`autobench.experiments.backends.REGISTRY`), or a ``REGISTRY.register`` call.

Standard library and the lean runner only: importable in the experiment image.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from itertools import zip_longest
from pathlib import Path
from typing import Any, ClassVar, Literal

from autobench.errors import AutobenchError
from autobench.experiments.backends.command import (  # noqa: F401  (re-exported: the backends' shared parts)
    command_for,
    shell_command_for,
    spec_text,
)
from autobench.experiments.backends.run_request import (  # noqa: F401
    check_request,
    describe,
    group_requests,
    is_batch,
    read_record,
    relative_folder,
    result_from_record,
    seeds_of,
    split_result,
    stale_failures,
)

Progress = Callable[[str], None]


class BackendError(AutobenchError):
    """An infrastructure problem: the experiment could not be run at all (not its own crash)."""


class ExperimentBackend(ABC):
    """Where experiments run. Subclasses set :attr:`name` and :attr:`executor` and implement
    :meth:`submit` and :meth:`collect` (and :meth:`run` when the executor is ``"task"``)."""

    name: ClassVar[str] = "base"
    #: what runs a payload: ``"task"`` (:meth:`run`, in a mapped task or on the command line) or
    #: ``"pod"`` (a mapped KubernetesPodOperator, with the payload as its keyword arguments)
    executor: ClassVar[Literal["task", "pod"]] = "task"
    #: the setting that packs seeds into one run, as a log line names it
    batching: ClassVar[str] = ""

    @classmethod
    def from_settings(cls, settings: Any = None, **options: Any) -> ExperimentBackend:
        """The backend as the registry's ``experiments`` settings configure it (an
        ``ExperimentsSettings``, or None for the defaults); ``options`` go to the constructor."""
        return cls(**options)

    def group(self, requests: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """The runs this backend starts for ``requests`` (one per seed by default)."""
        return group_requests(requests, 1)

    @abstractmethod
    def submit(self, requests: Sequence[Mapping[str, Any]]) -> list[Any]:
        """One JSON-able payload per (grouped) request, in order, for the executor to take."""

    def run(self, payload: Any, home: Path, *, progress: Progress | None = None) -> dict[str, Any]:
        """Run one payload on this machine; its result (one seed or a batch). Executor ``"task"`` only."""
        raise BackendError(f"the {self.name} backend's runs execute in {self.executor}s the experiment_sweep "
                           "DAG starts, not on this machine")

    @abstractmethod
    def collect(self, requests: Sequence[Mapping[str, Any]], outputs: Sequence[Any] | None,
                home: Path) -> list[dict[str, Any]]:
        """One-seed results of a round: ``outputs[i]`` is what the executor returned for
        ``requests[i]`` (missing or None when it returned nothing). Each result has
        ``experiment_id, seed, mode, config_hash, metrics, error, folder, cached, seconds``
        (``seconds``: the compute it spent, 0 when it came from the cache)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def pairs(requests: Sequence[Mapping[str, Any]], outputs: Sequence[Any] | None) -> list[tuple[dict[str, Any], Any]]:
    """(request, output) per request; a missing output is None (a mapped task that failed and
    pushed nothing). Outputs that name their run (a result, a pod's record) are matched by it, so
    one missing in the middle shifts nothing; others by position."""
    outs = list(outputs or [])
    named = {_run_key(o): o for o in outs if isinstance(o, Mapping) and _run_key(o) is not None}
    if named:
        return [(dict(r), named.get(_run_key(r))) for r in requests]
    return [(dict(r), o) for r, o in zip_longest(requests, outs[:len(requests)])]


def _run_key(obj: Mapping[str, Any]) -> tuple | None:
    """(experiment id, mode, config hash, seeds) of a request, a result or a record's ``run``."""
    if isinstance(obj.get("run"), Mapping):
        obj = obj["run"]
    if not all(k in obj for k in ("experiment_id", "mode", "config_hash")) or not ("seed" in obj or "seeds" in obj):
        return None
    return obj["experiment_id"], obj["mode"], obj["config_hash"], tuple(seeds_of(obj))


def one_seed(result: Mapping[str, Any], *, cached: bool = False, seconds: float = 0.0) -> dict[str, Any]:
    """A one-seed result with ``cached`` and ``seconds`` (given ones kept)."""
    return {**result, "cached": bool(result.get("cached", cached)), "seconds": float(result.get("seconds", seconds))}
