"""Seed policies: how many seeds a hypothesis gets before the promotion criteria judge it.

Swappable parts sharing one shape (:class:`~autobench.experiments.seed_policies.base.SeedPolicy`, one
decisive method), one module per implementation:

- ``fixed`` (:mod:`.fixed`): the fixed protocol (a fast run, three paired full seeds, one
  extension when the result is inconclusive and noisy);
- ``adaptive`` (:mod:`.adaptive`): group-sequential stages, the fast run as evidence, early
  stops for futility and harm, alpha spending.

A new policy is one module and one line in :data:`REGISTRY` (or a ``REGISTRY.register`` call);
the registry schema's ``experiments.seed_policy``, the DAG's ``seed_policy`` Param and the
command line's ``--policy`` take their allowed values from it.
"""

from __future__ import annotations

from typing import Any

from autobench.experiments.seed_policies.base import Criterion, Evidence, Noise, SeedPolicy, Step
from autobench.registry import Registry

REGISTRY = Registry("seed policy", {
    "fixed": "autobench.experiments.seed_policies.fixed:FixedPolicy",
    "adaptive": "autobench.experiments.seed_policies.adaptive:AdaptivePolicy",
})

__all__ = ["REGISTRY", "Criterion", "Evidence", "Noise", "SeedPolicy", "Step", "get", "names"]


def names() -> tuple[str, ...]:
    """Every registered policy's name."""
    return REGISTRY.names()


def get(name: str, **knobs: Any) -> SeedPolicy:
    """The policy called ``name`` with its knobs (unknown names and knobs are errors naming the known ones)."""
    return REGISTRY.create(name, **knobs)
