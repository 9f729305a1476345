"""The shape every seed policy shares: one decisive method, :meth:`SeedPolicy.next_step`.

A seed policy decides how much evidence to gather before a hypothesis is judged; it never
judges by itself. It sees an :class:`Evidence` (the fast run's paired difference, the full
paired differences so far, the noise level known from production's repeated runs, and the
promotion criteria as they stand) and answers with a :class:`Step`:

- ``fast``: run the fast validation (one seed on a subset of the data);
- ``full``: run ``runs`` more full seeds, paired with production's seeds;
- ``decide``: enough evidence; the five promotion criteria decide (promote only if all pass);
- ``stop``: stop early (futility or harm); the hypothesis is rejected, with the criteria as
  they stand reported beside the reason.

The same policy object drives ``autobench decide`` (one hypothesis, runs on disk) and the
simulator (a stream of hypotheses with known true effects), so what the benchmark measures is
what production runs. Differences are oriented so that positive is better for the metric.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Action = Literal["fast", "full", "decide", "stop"]


@dataclass(frozen=True)
class Noise:
    """What production's repeated runs say about the noise of a paired difference.

    ``sd_diff``: per-seed sd of a full paired difference (candidate − production);
    ``df``: the degrees of freedom behind that estimate (0: nothing known, ``inf``: exact);
    ``fast_ratio``: sd of a fast paired difference over ``sd_diff`` (``inf``: unknown, so the
    fast run only screens for broken configs).
    """

    sd_diff: float
    df: float
    fast_ratio: float = math.inf  # inf: the fast run carries no weight (not yet known how it tracks)
    source: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"sd_diff": self.sd_diff, "df": None if math.isinf(self.df) else self.df,
                "fast_ratio": None if math.isinf(self.fast_ratio) else self.fast_ratio, "source": self.source}


@dataclass(frozen=True)
class Criterion:
    """One promotion criterion (:mod:`autobench.experiments.promotion`): its name, value, requirement, pass/fail."""

    name: str
    passed: bool
    value: Any
    requirement: str
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "value": self.value, "requirement": self.requirement,
                "detail": self.detail}


@dataclass
class Evidence:
    threshold: float
    fast_diff: float | None = None  # None: the fast validation has not run
    diffs: Sequence[float] = ()  # full paired differences (positive = better), by seed
    noise: Noise | None = None
    criteria: Callable[[], list[Criterion]] | None = None  # the five criteria on this evidence
    rule: str = "estimate"  # the improvement rule (promotion.IMPROVEMENT_RULES): margin tests gain − threshold
    _cached: list[Criterion] | None = field(default=None, repr=False)

    @property
    def n_full(self) -> int:
        return len(self.diffs)

    def evaluate(self) -> list[Criterion]:
        if self._cached is None:
            if self.criteria is None:
                raise ValueError("this evidence carries no criteria")
            self._cached = self.criteria()
        return self._cached

    def all_pass(self) -> bool:
        return all(c.passed for c in self.evaluate())


@dataclass(frozen=True)
class Step:
    action: Action
    runs: int = 0
    reason: str = ""


class SeedPolicy(ABC):
    """A small base class, one module per implementation (as Optuna's ``pruners/``)."""

    name: str = "base"

    @abstractmethod
    def next_step(self, evidence: Evidence) -> Step:
        """What to do next for one hypothesis, given everything seen so far."""

    def knobs(self) -> dict[str, Any]:
        """The policy's settings, as written into every decision."""
        return {}

    def sequential_p(self, evidence: Evidence) -> float | None:
        """The one-sided p-value of "no gain beyond the rule's margin" that stays valid for the way
        this policy decided when to stop (what the stream-wide control is fed); None when the policy
        has none, so the fixed-n p-value is used (exact for a policy that takes its seeds regardless
        of what they show; the fixed protocol's one extension for a high-variance result makes it
        approximate there)."""
        return None
