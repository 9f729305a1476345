"""An experiment's config, worked out from the state files (the scheduler side).

A hypothesis runs production's config with its ``implementation.config_patch`` applied as a
JSON merge patch (RFC 7396: nested mappings merge, ``null`` removes a key). ``production`` runs
production's config as it is. The result is a :class:`~autobench.experiments.runner.RunSpec`, which
is what ``autobench run --config`` and a backend's runs receive ready-made.
"""

from __future__ import annotations

import copy

from autobench.errors import AutobenchError
from autobench.experiments.runner import RunSpec
from autobench.hypothesis_queue import merge_patch, patch_applied  # noqa: F401  (a patch's meaning is the queue's)
from autobench.schemas import PRODUCTION_ID, QUEUE, REGISTRY, Registry
from autobench.store import StateStore


def primary_metric(registry: Registry, leaderboards: list[str]) -> str | None:
    """Our metric for the first target leaderboard that has one in ``metric_map``."""
    for name in leaderboards:
        if name in registry.our_solution.metric_map:
            return registry.our_solution.metric_map[name]
    return None


def spec_for(store: StateStore, experiment_id: str) -> RunSpec:
    """The spec of ``experiment_id`` (a hypothesis id, or ``production``) as the state files say today."""
    registry: Registry = store.load(REGISTRY)
    production = registry.our_solution.config
    subset = registry.experiments.fast_subset
    if experiment_id == PRODUCTION_ID:
        boards = [lb.name for lb in registry.target_leaderboards]
        return RunSpec(experiment_id, registry.our_solution.solution, copy.deepcopy(production), subset,
                       primary_metric(registry, boards))
    queue = store.load(QUEUE)
    for h in queue.hypotheses:
        if h.id == experiment_id:
            config = merge_patch(production, h.implementation.config_patch)
            return RunSpec(experiment_id, registry.our_solution.solution, config, subset,
                           primary_metric(registry, h.target_leaderboards))
    known = ", ".join(h.id for h in queue.hypotheses[-5:])
    raise AutobenchError(f"run: no hypothesis {experiment_id!r} in {QUEUE} (ids like {known}; or `production`)")
