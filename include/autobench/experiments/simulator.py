"""A stream of hypotheses with known true effects, to measure seed policies.

Each hypothesis goes through the same loop as in production: a fast run (broken configs
collapse and the fast screen must catch them), then whatever the seed policy asks for, then the
five promotion criteria of :mod:`autobench.experiments.promotion`. Every run the policy asks for counts as
a seed run, the fast one included; production's runs are cached and do not count.

Scenarios (``default`` is pinned, so measurements stay comparable; others sit beside it):

``default``   production 0.823, threshold 0.005, per-seed sd 0.003, control and candidate on
              the same seed correlated 0.5; the fast run a paired difference with twice the
              noise; true effects: 50% exactly 0, 20% harmful (−U(0.5, 3) × threshold), 15% small
              (U(0, 1) × threshold), 15% real (U(1, 4) × threshold); 10% broken.
``measured``  the reference solution's measured noise (docs/benchmarks.md): production 0.9907,
              sd 0.0014, the same effect mix.
``noisy``     sd 0.005: noise near the threshold, where a fixed seed count fails.

Production's repeated runs (``production_seeds`` of them, full and fast) are drawn once per
simulation and give the policy its prior on the noise; as the stream goes on, the paired
differences of decided hypotheses refine it (:class:`~autobench.experiments.promotion.NoiseLedger`), as
``decide`` does from earlier decisions. ``learn_noise=False`` turns that off.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from autobench.errors import AutobenchError
from autobench.experiments.promotion import (
    NoiseLedger,
    Standing,
    evaluate,
    fast_screen,
    noise_from_production,
)
from autobench.experiments.seed_policies import Evidence, Noise, SeedPolicy

MAX_RUNS_PER_HYPOTHESIS = 64


@dataclass(frozen=True)
class Scenario:
    name: str
    production: float = 0.823
    threshold: float = 0.005
    sd: float = 0.003
    correlation: float = 0.5
    fast_noise: float = 2.0  # the fast run's paired difference has this many times the noise
    share_zero: float = 0.50
    share_harmful: float = 0.20
    share_small: float = 0.15
    share_real: float = 0.15
    harmful: tuple[float, float] = (0.5, 3.0)  # × threshold, negative
    small: tuple[float, float] = (0.0, 1.0)
    real: tuple[float, float] = (1.0, 4.0)
    broken: float = 0.10
    production_seeds: int = 10
    competitors: tuple[float, ...] = (0.835, 0.828, 0.815)  # the leaderboard today: we are #3


SCENARIOS: dict[str, Scenario] = {
    "default": Scenario("default"),
    "measured": Scenario("measured", production=0.9907, sd=0.0014, competitors=(0.9951, 0.9930, 0.9850)),
    "noisy": Scenario("noisy", sd=0.005),
}


def wilson(k: int, n: int, z: float = 1.959963984540054) -> list[float | None]:
    """Wilson score interval of a proportion k/n."""
    if n == 0:
        return [None, None]
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return [round(max(0.0, centre - half), 5), round(min(1.0, centre + half), 5)]


def _effect(rng, sc: Scenario) -> tuple[str, float]:
    u = rng.random()
    t = sc.threshold
    if u < sc.share_zero:
        return "zero", 0.0
    u -= sc.share_zero
    if u < sc.share_harmful:
        return "harmful", -rng.uniform(*sc.harmful) * t
    u -= sc.share_harmful
    if u < sc.share_small:
        return "small", rng.uniform(*sc.small) * t
    return "real", rng.uniform(*sc.real) * t


@dataclass
class _Tally:
    """What the stream of hypotheses did, counted as it goes."""

    runs_per: list[int] = field(default_factory=list)  # seed runs of each hypothesis, the fast run included
    promoted_true: list[float] = field(default_factory=list)  # the true gain of each promoted config
    by_kind: dict[str, list[int]] = field(default_factory=dict)  # seed runs by kind of effect
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ("broken", "broken_caught", "false_broken", "eligible", "eligible_promoted", "promotions",
         "false_promotions", "stopped_early"), 0))


def simulate(hypotheses: int, policy: SeedPolicy, scenario: str | Scenario = "default", seed: int = 0,
             progress=None, learn_noise: bool = True) -> dict[str, Any]:
    import numpy as np

    if hypotheses < 1:
        raise AutobenchError("simulate: --hypotheses must be at least 1")
    if isinstance(scenario, str):
        if scenario not in SCENARIOS:
            raise AutobenchError(f"simulate: unknown scenario {scenario!r} (choose from {', '.join(SCENARIOS)})")
        scenario = SCENARIOS[scenario]
    sc = scenario
    rng = np.random.default_rng(seed)
    prod_full = sc.production + sc.sd * rng.standard_normal(sc.production_seeds)
    prod_fast = sc.production + sc.fast_noise * sc.sd * rng.standard_normal(sc.production_seeds)
    prior = noise_from_production(prod_full.tolist(), prod_fast.tolist())
    ledger = NoiseLedger()
    standing = Standing("Simulated", sc.production, {f"C{i + 1}": s for i, s in enumerate(sc.competitors)})
    sd_diff = sc.sd * math.sqrt(2 * (1 - sc.correlation))

    tally = _Tally()
    counts = tally.counts
    step_every = max(1, hypotheses // 20)
    for i in range(hypotheses):
        if progress and i and i % step_every == 0:
            progress(f"simulate {policy.name}: {i}/{hypotheses} hypotheses")
        kind, delta = _effect(rng, sc)
        broken = rng.random() < sc.broken
        if broken:
            counts["broken"] += 1
            fast_score = sc.production * rng.uniform(0.0, 0.5)  # collapsed
        else:
            fast_score = float(prod_fast.mean() + delta + sc.fast_noise * sd_diff * rng.standard_normal())
        ok, _ = fast_screen(fast_score, prod_fast.tolist(), sc.threshold)
        if not ok:
            counts["broken_caught" if broken else "false_broken"] += 1
            tally.runs_per.append(1)  # the fast validation
            continue
        if broken:  # missed by the screen: its full runs collapse too; never promoted
            tally.runs_per.append(1)
            continue
        fast_diff = fast_score - float(prod_fast.mean())
        noise = ledger.noise(prior) if learn_noise else prior
        runs, diffs, promoted, stopped_early = _full_runs(policy, sc, rng, standing, delta, fast_diff, noise)
        counts["stopped_early"] += int(stopped_early)
        tally.runs_per.append(runs)
        ledger.add(fast_diff, diffs)
        tally.by_kind.setdefault(kind, []).append(runs)
        if delta >= sc.threshold:
            counts["eligible"] += 1
            counts["eligible_promoted"] += int(promoted)
        if promoted:
            counts["promotions"] += 1
            counts["false_promotions"] += int(delta <= 0)
            tally.promoted_true.append(delta)

    if progress:
        progress(f"simulate {policy.name}: {hypotheses}/{hypotheses} hypotheses")
    return _summary(policy, sc, seed, hypotheses, tally, prior, ledger if learn_noise else None)


def _full_runs(policy: SeedPolicy, sc: Scenario, rng, standing: Standing, delta: float, fast_diff: float,
               noise: Noise | None) -> tuple[int, list[float], bool, bool]:
    """One healthy hypothesis after its fast run: paired full seeds (correlated with production's
    on the same seed) as long as the policy asks for them. (seed runs with the fast one, the
    paired differences, promoted, stopped early)."""
    rho = sc.correlation
    control: list[float] = []
    candidate: list[float] = []
    runs = 1  # the fast validation
    while True:
        diffs = [b - a for a, b in zip(control, candidate, strict=True)]
        ev = Evidence(sc.threshold, fast_diff, diffs, noise,
                      criteria=lambda c=control, d=candidate: evaluate(
                          threshold=sc.threshold, control=c, candidate=d, standings=[standing])[0])
        step = policy.next_step(ev)
        if step.action == "full":
            k = step.runs
            z1 = rng.standard_normal(k)
            z2 = rng.standard_normal(k)
            control += (sc.production + sc.sd * z1).tolist()
            candidate += (sc.production + delta + sc.sd * (rho * z1 + math.sqrt(1 - rho**2) * z2)).tolist()
            runs += k
            if runs > MAX_RUNS_PER_HYPOTHESIS:
                raise AutobenchError(f"simulate: policy {policy.name} asked for more than "
                                     f"{MAX_RUNS_PER_HYPOTHESIS} runs for one hypothesis")
            continue
        if step.action == "fast":
            raise AutobenchError(f"simulate: policy {policy.name} asked for a second fast run")
        decided = step.action == "decide"
        return runs, [b - a for a, b in zip(control, candidate, strict=True)], decided and ev.all_pass(), not decided


def _summary(policy: SeedPolicy, sc: Scenario, seed: int, hypotheses: int, tally: _Tally, prior: Noise | None,
             ledger: NoiseLedger | None) -> dict[str, Any]:
    """The stream's outcome: false promotions and power with Wilson intervals, seed runs, the
    broken configs caught, and the noise (the prior, and what the ledger learned)."""
    import numpy as np

    counts = tally.counts
    runs_arr = np.asarray(tally.runs_per, dtype=float)
    total = int(runs_arr.sum())
    mean_runs = float(runs_arr.mean())
    half = 1.959963984540054 * float(runs_arr.std(ddof=1)) / math.sqrt(len(runs_arr)) if len(runs_arr) > 1 else 0.0
    promotions = counts["promotions"]
    return {
        "policy": policy.name, "knobs": policy.knobs(), "scenario": asdict(sc), "seed": seed,
        "hypotheses": hypotheses,
        "false_promotion_rate": counts["false_promotions"] / promotions if promotions else 0.0,
        "false_promotion_rate_ci95": wilson(counts["false_promotions"], promotions),
        "power": counts["eligible_promoted"] / counts["eligible"] if counts["eligible"] else 0.0,
        "power_ci95": wilson(counts["eligible_promoted"], counts["eligible"]),
        "seed_runs": total,
        "seed_runs_per_hypothesis": mean_runs,
        "seed_runs_per_hypothesis_ci95": [round(mean_runs - half, 5), round(mean_runs + half, 5)],
        "promotions": promotions,
        "false_promotions": counts["false_promotions"],
        "broken": counts["broken"],
        "broken_caught": counts["broken_caught"],
        "broken_caught_rate": counts["broken_caught"] / counts["broken"] if counts["broken"] else 1.0,
        "broken_caught_rate_ci95": wilson(counts["broken_caught"], counts["broken"]),
        "healthy_screened_out": counts["false_broken"],
        "stopped_early": counts["stopped_early"],
        "mean_true_gain_promoted": float(np.mean(tally.promoted_true)) if tally.promoted_true else None,
        "seed_runs_per_hypothesis_by_effect": {k: round(float(np.mean(v)), 3)
                                               for k, v in sorted(tally.by_kind.items())},
        "noise_prior": prior.as_dict() if prior else None,
        "noise_learned": ledger.noise(prior).as_dict() if ledger is not None and ledger.noise(prior) else None,
    }


def scenario_with(name: str, **changes: Any) -> Scenario:
    return replace(SCENARIOS[name], name=f"{name}+" + ",".join(f"{k}={v}" for k, v in changes.items()), **changes)
