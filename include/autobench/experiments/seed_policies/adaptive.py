"""A group-sequential seed policy: fewer runs than the fixed protocol, more real gains found.

It gathers evidence in stages and stops as soon as the answer is clear:

- **The fast run counts, once it is known to.** Its paired difference is an observation of the
  same effect with more noise (``fast_ratio`` × the full sd), weighted by inverse variance. How
  well fast runs track full ones is learned from earlier experiments that ran both
  (:class:`~autobench.experiments.promotion.NoiseLedger`); until then the fast run only screens.
- **The noise is known.** Production's repeated runs give a prior sd for a paired difference
  with its degrees of freedom; the hypothesis's own differences are pooled into it, and every
  bound uses Student's t with the pooled degrees of freedom.
- **Futility and harm stop early.** After the fast run: stop when the ``futility_fast`` upper
  bound of the gain is below the threshold; after full seeds, when the ``futility_full`` upper
  bound is. Harm: when the 97.5% upper bound is below zero (a result below production is
  archived at once).
- **Efficacy needs everything.** Never before ``min_full`` (3) full seeds; then only when the
  five promotion criteria all pass *and* the combined estimate clears a group-sequential
  boundary: Lan–DeMets O'Brien–Fleming-type alpha spending over the planned stages, with each
  look's boundary taken from the alpha it spends (Bonferroni over the increments, which is
  conservative), so the chance of promoting a config with no gain stays under ``alpha``/2 per
  hypothesis however many looks it gets, and the false promotions of the stream with it. Under
  ``improvement_rule: margin`` the boundary is for the gain beyond the threshold, so the same
  holds for a config whose gain falls short of it.
- **Stages** of full seeds (``stages``, cumulative); at the last one the criteria decide.
- **Its p-value stays valid after an early stop** (:meth:`AdaptivePolicy.sequential_p`): the
  stage-wise ordering p-value, the chance under "no gain" of stopping for efficacy at an earlier
  look or reaching this one with a z at least as large, from the looks' joint normal distribution
  (Jennison & Turnbull, *Group Sequential Methods*, §8.4). The fixed-n p-value of the seeds the
  policy stopped on understates it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from autobench.experiments.seed_policies.base import Evidence, SeedPolicy, Step
from autobench.experiments.statistics import t_quantile


def normal_equivalent(t: float, df: float) -> float:
    """The standard normal z with the same one-sided tail as Student's ``t`` on ``df`` degrees of
    freedom (the boundaries and the stage-wise p-value are drawn for normal z; the noise is
    estimated, so the statistic is a t)."""
    if math.isinf(df) or not math.isfinite(t):
        return t
    from scipy import special

    return float(-special.ndtri(special.stdtr(df, -t)))


GRID = 1001  # points of the stage-wise p-value's density recursion (error ~1e-6, a few ms)


class AdaptivePolicy(SeedPolicy):
    name = "adaptive"

    def __init__(self, stages: Sequence[int] = (1, 3, 5, 8), min_full: int = 3, futility_fast: float = 0.9,
                 futility_full: float = 0.7, harm: float = 0.975, alpha: float = 0.05):
        stages = tuple(int(s) for s in stages)
        if not stages or any(b <= a for a, b in zip(stages, stages[1:], strict=False)) or stages[0] < 1:
            raise ValueError(f"stages must be increasing counts of full seeds, from 1 (got {stages})")
        if stages[-1] < min_full or min_full < 3:
            raise ValueError("min_full must be at least 3 (the reproducibility criterion) and within the stages")
        for name, level in (("futility_fast", futility_fast), ("futility_full", futility_full), ("harm", harm)):
            if not 0.5 <= level < 1:
                raise ValueError(f"{name} is a confidence level in [0.5, 1) (got {level})")
        self.stages, self.min_full = stages, min_full
        self.futility_fast, self.futility_full, self.harm, self.alpha = futility_fast, futility_full, harm, alpha

    def knobs(self) -> dict[str, Any]:
        return {"stages": list(self.stages), "min_full": self.min_full, "futility_fast": self.futility_fast,
                "futility_full": self.futility_full, "harm": self.harm, "alpha": self.alpha}

    # ------------------------------------------------------------------ the estimate

    def estimate(self, ev: Evidence) -> tuple[float, float, float]:
        """(gain, its standard error, degrees of freedom) from the fast run and the full seeds."""
        noise = ev.noise
        diffs = [float(d) for d in ev.diffs]
        n = len(diffs)
        df0 = noise.df if noise else 0.0
        sd0 = noise.sd_diff if noise else 0.0
        ratio = noise.fast_ratio if noise else math.inf
        ss = 0.0
        if n > 1:
            mean = sum(diffs) / n
            ss = sum((d - mean) ** 2 for d in diffs)
        if math.isinf(df0):
            var, df = sd0**2, math.inf
        else:
            df = df0 + max(n - 1, 0)
            if df <= 0:  # nothing known about the noise yet: no bound can be drawn
                return (sum(diffs) / n if n else ev.fast_diff or 0.0), math.inf, 1.0
            var = (df0 * sd0**2 + ss) / df
        if n >= 2 and ss / (n - 1) > var:  # noisier than the shared noise: its own spread (as margin_test)
            var, df = ss / (n - 1), float(n - 1)
        var = max(var, 1e-18)
        w_fast = 1.0 / ratio**2 if ev.fast_diff is not None and math.isfinite(ratio) else 0.0
        if n + w_fast == 0:
            return 0.0, math.inf, 1.0
        weight = n + w_fast
        total = sum(diffs) + (w_fast * ev.fast_diff if ev.fast_diff is not None else 0.0)
        return total / weight, math.sqrt(var / weight), df

    def boundary(self, n_full: int, fast: bool, ratio: float) -> float:
        """The z an efficacy stop needs at a look with ``n_full`` full seeds (one-sided)."""
        from scipy import special

        w_fast = 1.0 / ratio**2 if fast and math.isfinite(ratio) else 0.0
        info_max = self.stages[-1] + w_fast
        looks = [s for s in self.stages if s >= self.min_full]

        def spent(t: float) -> float:  # Lan–DeMets O'Brien–Fleming type, one-sided alpha/2
            t = min(max(t, 1e-9), 1.0)
            return float(2 * (1 - special.ndtr(special.ndtri(1 - self.alpha / 4) / math.sqrt(t))))

        previous = 0.0
        for s in looks:
            now = spent((s + w_fast) / info_max)
            if s >= n_full:
                return float(special.ndtri(1 - max(now - previous, 1e-12)))
            previous = now
        return float(special.ndtri(1 - self.alpha / 2))

    def stagewise_p(self, z: float, n_full: int, fast: bool, ratio: float) -> float:
        """1 − P(Z₁ < b₁, …, Z_{k−1} < b_{k−1}, Z_k < z) under "no gain": the stage-wise ordering
        p-value of ``z`` seen at the look with ``n_full`` full seeds, the earlier efficacy looks'
        boundaries ``b`` as :meth:`boundary` draws them, corr(Z_i, Z_j) = √(t_i / t_j) for their
        information fractions (futility stops are not binding, so leaving them out is conservative)."""
        import numpy as np
        from scipy import special

        w_fast = 1.0 / ratio**2 if fast and math.isfinite(ratio) else 0.0
        info_max = self.stages[-1] + w_fast
        # (past the last stage the policy stops whatever it sees: this look is the final one)
        earlier = [s for s in self.stages if self.min_full <= s < min(n_full, self.stages[-1])]
        if not earlier:
            return float(special.ndtr(-z))
        t = [(s + w_fast) / info_max for s in [*earlier, n_full]]
        bounds = [self.boundary(s, fast, ratio) for s in earlier]
        # the score S = Z·√t has independent increments: carry the density of S over the looks
        # that did not stop (the recursion of Armitage, McPherson and Rowe), on a grid
        grid = np.linspace(-8.0, bounds[0], GRID) * math.sqrt(t[0])
        dens = np.exp(-0.5 * grid**2 / t[0]) / math.sqrt(2 * math.pi * t[0])
        for j in range(1, len(t)):
            step = math.sqrt(t[j] - t[j - 1])
            weights = dens * np.full(len(grid), grid[1] - grid[0])  # the trapezoid rule's mass per point
            weights[[0, -1]] /= 2
            if j == len(t) - 1:
                below = float((weights * special.ndtr((z * math.sqrt(t[j]) - grid) / step)).sum())
                return float(min(1.0, max(0.0, 1.0 - below)))
            nxt = np.linspace(-8.0, bounds[j], GRID) * math.sqrt(t[j])
            kernel = np.exp(-0.5 * ((nxt[:, None] - grid[None, :]) / step) ** 2) / (math.sqrt(2 * math.pi) * step)
            dens, grid = kernel @ weights, nxt
        raise AssertionError("unreachable: the last look returns")

    def sequential_p(self, ev: Evidence) -> float | None:
        if ev.n_full == 0:
            return None
        gain, se, df = self.estimate(ev)
        if not math.isfinite(se) or se <= 0:
            return None
        margin = ev.threshold if ev.rule == "margin" else 0.0
        z = normal_equivalent((gain - margin) / se, df)
        if not math.isfinite(z):
            return None
        ratio = ev.noise.fast_ratio if ev.noise else math.inf
        return self.stagewise_p(z, ev.n_full, ev.fast_diff is not None, ratio)

    # ------------------------------------------------------------------ the decisive method

    def next_step(self, ev: Evidence) -> Step:
        if ev.fast_diff is None:
            return Step("fast", 1, "fast validation: a noisy paired observation, and a screen for broken configs")
        n = ev.n_full
        gain, se, df = self.estimate(ev)
        ratio = ev.noise.fast_ratio if ev.noise else math.inf
        upper_harm = gain + t_quantile(self.harm, df) * se
        if upper_harm < 0:
            return Step("stop", 0, f"harm: the {self.harm:.1%} upper bound of the gain is {upper_harm:+.4g} < 0")
        level = self.futility_fast if n == 0 else self.futility_full
        upper = gain + t_quantile(level, df) * se
        if upper < ev.threshold:
            return Step("stop", 0, f"futility: the {level:.0%} upper bound of the gain is {upper:+.4g}, "
                                   f"below the threshold {ev.threshold:g}")
        if n >= self.min_full and n in self.stages:
            margin = ev.threshold if ev.rule == "margin" else 0.0  # margin: the gain beyond the threshold
            z = normal_equivalent((gain - margin) / se, df)
            bound = self.boundary(n, ev.fast_diff is not None, ratio)
            if z >= bound and ev.all_pass():
                against = " (gain − threshold)" if margin else ""
                return Step("decide", 0, f"efficacy: z{against} = {z:.2f} ≥ boundary {bound:.2f} "
                                         "and every criterion met")
        if n >= self.stages[-1]:
            return Step("decide", 0, f"last stage ({n} full seeds): the criteria decide")
        target = next(s for s in self.stages if s > n)
        return Step("full", target - n, f"stage {self.stages.index(target) + 1}/{len(self.stages)}: "
                                        f"gain {gain:+.4g} ± {se:.2g} (se) is not yet clear")
