"""The fixed protocol: a fast run, then a fixed number of paired full seeds, then the criteria.

The fast run only screens out broken configs (the caller does that: a crash, NaN or a collapsed
score is `failed`); then ``seeds`` full paired seeds; then the five criteria decide. An
inconclusive result (mean gain below the threshold with high variance, std > 1% of the mean) is
extended once with as many seeds again.
"""

from __future__ import annotations

from typing import Any

from autobench.experiments.seed_policies.base import Evidence, SeedPolicy, Step
from autobench.experiments.statistics import HIGH_VARIANCE_SHARE

HIGH_VARIANCE_PCT = 100 * HIGH_VARIANCE_SHARE  # high variance: std > 1% of the mean (the criterion reports a %)


class FixedPolicy(SeedPolicy):
    name = "fixed"

    def __init__(self, seeds: int = 3, extensions: int = 1):
        if seeds < 3:
            raise ValueError("the fixed protocol needs at least 3 seeds (the reproducibility criterion)")
        self.seeds = seeds
        self.extensions = extensions

    def knobs(self) -> dict[str, Any]:
        return {"seeds": self.seeds, "extensions": self.extensions}

    def next_step(self, evidence: Evidence) -> Step:
        if evidence.fast_diff is None:
            return Step("fast", 1, "fast validation first: screen out broken configs")
        n = evidence.n_full
        planned = self.seeds
        if n < planned:
            return Step("full", planned - n, f"the protocol runs {planned} paired seeds")
        rounds = (n - 1) // self.seeds  # extensions already run
        if evidence.all_pass():
            return Step("decide", 0, f"{n} paired seeds run")
        improvement = next((c for c in evidence.evaluate() if c.name == "improvement"), None)
        reproducible = next((c for c in evidence.evaluate() if c.name == "reproducibility"), None)
        share = (reproducible.value or {}).get("std_pct_of_mean") if reproducible else None
        high_variance = share is not None and share > HIGH_VARIANCE_PCT
        if improvement is not None and not improvement.passed and high_variance and rounds < self.extensions:
            return Step("full", self.seeds, "inconclusive (gain below the threshold with high variance): "
                                            f"{self.seeds} more seeds, once")
        return Step("decide", 0, f"{n} paired seeds run")
