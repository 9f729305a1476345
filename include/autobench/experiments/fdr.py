"""False promotions controlled across the whole stream of decisions: online FDR by LORD++.

One promotion test at a time cannot say how many of a year's promotions are noise: at 5% each,
a hundred decisions a month promote a few nulls a year. LORD++ (Javanmard & Montanari 2018,
Ramdas et al. 2017) gives the t-th final decision its own level α_t from a budget α
(``experiments.false_promotion_budget``) so that the expected share of false discoveries among
all discoveries, at any time, stays ≤ α (for valid, independent p-values; the engine's are
neither exactly: a p-value after the adaptive policy's early stop is optimistic, and decisions
share production's control runs and the noise ledger, so read α as a target, not a guarantee):

    α_t = γ_t·W0 + (α − W0)·γ_{t−τ1} + α·Σ_{j ≥ 2, τ_j < t} γ_{t−τ_j}

with W0 = α/10 the initial wealth, τ_j the time of the j-th discovery and the default
γ_j = 0.07720838·log(max(j, 2)) / (j·e^√(log j)) (non-increasing; its sum tends to 1, slowly:
about 0.5 after a million tests), as in the ``onlineFDR`` R
package, whose worked example the tests reproduce. Each test spends its level from the wealth;
each discovery earns α (the first α − W0). Wealth here is that running balance:

    W_t = W0 − Σ_{i ≤ t} α_i + Σ_{discoveries} (α, or α − W0 for the first)

A test is a final decision (promote or reject) on a config that ran; a failed config and an
extension are not tests. Its p-value is the margin test's (:func:`autobench.experiments.promotion.margin_test`:
"the gain is at most the threshold" under ``improvement_rule: margin``, "there is no gain" under
``estimate``); a config that fails another criterion is not a discovery whatever its p-value (its
p-value counts as 1, which keeps the procedure valid). The sequence is rebuilt from the decision
records (each records its test number, level, p-value and whether it was a discovery), so the
state folder is the ledger.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

PROCEDURE = "LORD++"
# held from reading the stream of tests to writing the record that extends it (decide), and by a
# confirmation's rollback (which checks production and restores it)
STREAM_LOCK = "experiments/fdr_stream"
GAMMA_CONSTANT = 0.07720838  # γ_j's normalising constant (Javanmard & Montanari 2018, eq. 31)
W0_SHARE = 0.1  # the initial wealth is a tenth of the budget (onlineFDR's default)


def gamma(j: int) -> float:
    """γ_j, the share of wealth the j-th test after a discovery (or the start) may spend."""
    if j < 1:
        return 0.0
    return GAMMA_CONSTANT * math.log(max(j, 2)) / (j * math.exp(math.sqrt(math.log(j))))


@dataclass(frozen=True)
class Test:
    """One test of the stream: its number, the level it had, its p-value, whether it was a discovery."""

    t: int
    level: float
    p_value: float
    discovery: bool
    wealth_before: float
    wealth_after: float
    hypothesis: str = ""

    def as_dict(self, budget: float, enforced: bool) -> dict[str, Any]:
        return {"procedure": PROCEDURE, "budget": budget, "test": self.t, "level": self.level,
                "p_value": self.p_value, "discovery": self.discovery, "wealth_before": self.wealth_before,
                "wealth_after": self.wealth_after, "enforced": enforced}


@dataclass
class LordPlusPlus:
    """The stream's state: the budget, the initial wealth, the tests so far and their discoveries."""

    alpha: float = 0.05
    w0: float | None = None
    tests: list[Test] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1:
            raise ValueError(f"false_promotion_budget: {self.alpha} is not a level in (0, 1)")
        if self.w0 is None:
            self.w0 = W0_SHARE * self.alpha
        if not 0 <= self.w0 <= self.alpha:
            raise ValueError(f"the initial wealth {self.w0} must lie in [0, {self.alpha}]")

    @property
    def discoveries(self) -> list[int]:
        return [x.t for x in self.tests if x.discovery]

    def level(self) -> float:
        """α_t for the next test."""
        t = len(self.tests) + 1
        times = self.discoveries
        out = gamma(t) * self.w0
        if times:
            out += (self.alpha - self.w0) * gamma(t - times[0])
            out += self.alpha * sum(gamma(t - tau) for tau in times[1:])
        return out

    def wealth(self) -> float:
        """What is left to spend: W0 − the levels spent + the discoveries' earnings."""
        if not self.tests:
            return float(self.w0)
        return self.tests[-1].wealth_after

    def test(self, p_value: float, hypothesis: str = "", eligible: bool = True) -> Test:
        """Test the next p-value at its level; ``eligible=False`` (another criterion failed):
        tested as p = 1, never a discovery."""
        if not (isinstance(p_value, (int, float)) and 0 <= p_value <= 1) or math.isnan(p_value):
            raise ValueError(f"a p-value in [0, 1] is needed (got {p_value!r})")
        level = self.level()
        before = self.wealth()
        discovery = bool(eligible and p_value <= level)
        earned = 0.0
        if discovery:
            earned = self.alpha - (self.w0 if not self.discoveries else 0.0)
        test = Test(len(self.tests) + 1, level, float(p_value), discovery, before, before - level + earned, hypothesis)
        self.tests.append(test)
        return test

    def record(self, t: int, discovery: bool, hypothesis: str = "") -> Test:
        """Replay a recorded test (its number must be the next one): its level and wealth are
        recomputed, its outcome taken as recorded."""
        if t != len(self.tests) + 1:
            raise ValueError(f"test {t} replayed out of order (expected {len(self.tests) + 1})")
        level = self.level()
        before = self.wealth()
        earned = (self.alpha - (self.w0 if not self.discoveries else 0.0)) if discovery else 0.0
        test = Test(t, level, math.nan, bool(discovery), before, before - level + earned, hypothesis)
        self.tests.append(test)
        return test


def replay(records: Iterable[tuple[int, bool, str]], alpha: float) -> LordPlusPlus:
    """The stream rebuilt from (test number, discovery, hypothesis) records, in test order."""
    stream = LordPlusPlus(alpha)
    for t, discovery, hypothesis in sorted(records):
        stream.record(t, discovery, hypothesis)
    return stream
