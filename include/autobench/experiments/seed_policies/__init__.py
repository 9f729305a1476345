"""Seed policies: how many seeds a hypothesis gets before the promotion criteria judge it.

Swappable parts sharing one shape (:class:`~autobench.experiments.seed_policies.base.SeedPolicy`, one
decisive method), one module per implementation:

- ``fixed`` (:mod:`.fixed`): seed 002's protocol, pinned;
- ``adaptive`` (:mod:`.adaptive`): group-sequential stages, the fast run as evidence, early
  stops for futility and harm, alpha spending.
"""

from __future__ import annotations

from typing import Any

from autobench.experiments.seed_policies.base import Criterion, Evidence, Noise, SeedPolicy, Step

POLICIES = ("fixed", "adaptive")

__all__ = ["POLICIES", "Criterion", "Evidence", "Noise", "SeedPolicy", "Step", "get"]


def get(name: str, **knobs: Any) -> SeedPolicy:
    """The policy called ``name`` with its knobs (unknown names and knobs are errors)."""
    import inspect

    if name == "fixed":
        from autobench.experiments.seed_policies.fixed import FixedPolicy as cls
    elif name == "adaptive":
        from autobench.experiments.seed_policies.adaptive import AdaptivePolicy as cls
    else:
        raise ValueError(f"unknown seed policy {name!r} (choose from {', '.join(POLICIES)})")
    allowed = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    unknown = sorted(set(knobs) - set(allowed))
    if unknown:
        raise ValueError(f"unknown knob {unknown[0]!r} for the {name} seed policy (knobs: {', '.join(allowed)})")
    return cls(**knobs)
