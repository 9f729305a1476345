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

A mix file (``autobench simulate --mix FILE``, :func:`load_mix`) replaces the default scenario's
effects and noise::

    effects:                 # shares sum to 1; effect in units of promotion_threshold
      - {share: 0.9, effect: 0}
      - {share: 0.05, effect: 0.9}
      - {share: 0.05, effect: [1, 4]}    # a range: uniform between the two
    noise: {sd: 0.005, tails: normal, collapse_rate: 0.0, correlation: 0.5}   # tails: normal | t3
    broken: 0.0              # optional: the share of broken configs (the fast screen's job)

``tails: t3`` draws every seed's noise from Student's t with 3 degrees of freedom, scaled to the
same sd; ``collapse_rate`` is the chance that one full run (production's included) collapses:
it scores 5 to 25 sd below its config's mean, as a run that diverged part-way.

Under ``improvement_rule: margin`` (``rule``) a config is promoted only when the lower end of its
gain's 95% interval reaches the threshold (:func:`~autobench.experiments.promotion.margin_test`).
The summary counts, beside the policy's runs: ``false_promotion_share`` (promotions whose true
gain is ≤ 0), ``below_threshold_share`` (true gain below the threshold), ``power`` (promotions
among configs whose true gain reaches the threshold; ``power_strong`` at 1.5 × the threshold) and
``coverage`` (how often the 95% t
interval of the paired differences, the one a decision reports, holds the promoted config's true
gain).

Production's controls (``controls``): ``shared`` (the default, as the results store's cache
shares them) draws production's full run on each seed once per production period, so every
hypothesis judged against the same production is paired with the same control runs, and a
promotion (production changes) starts a new period; ``fresh`` draws a control run for every
hypothesis (production re-run on each candidate's seeds).

``control_windows`` = W > 1 (``experiments.control_windows``) pairs hypothesis i on window i mod W,
each window its own seeds, so one unlucky production run sways a W-th of a period, not all of it.
``production_runs_per_hypothesis`` counts what production's runs cost (they do not count in
``runs_per_hypothesis``, as the cache shares them): the controls drawn, and a confirmation's.

Confirmation (``confirmation_seeds`` = k > 0, as ``experiments.confirmation_seeds``): every
promotion runs the winner and production on k fresh seeds (fresh control runs, outside the
period's shared ones, counted as 2k runs) and is rolled back when the fresh seeds' 95% interval
lies wholly below the threshold (:func:`autobench.experiments.confirmation.estimate`). Shares,
power and the mean gain then count the promotions that stand; ``coverage`` is that of the
confirmation's interval (the gain a confirmed promotion reports); ``rolled_back`` counts the
rollbacks and ``rolled_back_eligible`` those of configs whose true gain reached the threshold.

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
    IMPROVEMENT_RULES,
    NoiseLedger,
    Standing,
    evaluate,
    fast_screen,
    margin_test,
    noise_from_production,
)
from autobench.experiments.seed_policies import Evidence, Noise, SeedPolicy
from autobench.experiments.statistics import t_quantile

MAX_RUNS_PER_HYPOTHESIS = 64
TAILS = ("normal", "t3")
STRONG = 1.5  # power_strong: promotions among configs whose true gain is ≥ 1.5 × the threshold
COLLAPSE_SDS = (5.0, 25.0)  # a collapsed full run scores this many sd below its config's mean


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
    # a mix file's effects: (share, low, high) in units of the threshold (low == high: a point);
    # when given, they replace the four shares above
    effects: tuple[tuple[float, float, float], ...] = ()
    tails: str = "normal"  # or "t3": Student's t, 3 df, scaled to sd
    collapse_rate: float = 0.0  # the chance that one full run collapses


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


def load_mix(path, base: str = "default") -> Scenario:
    """The scenario a mix file describes (the module's docstring shows one), on ``base``'s production,
    threshold and leaderboard; a bad file is an error naming the field."""
    from pathlib import Path

    from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
    from ruamel.yaml import YAML, YAMLError

    class Effect(BaseModel):
        model_config = ConfigDict(extra="forbid")
        share: float = Field(ge=0, le=1)
        effect: float | tuple[float, float]

        @field_validator("effect")
        @classmethod
        def _range(cls, v):
            if isinstance(v, tuple) and v[1] < v[0]:
                raise ValueError(f"a range goes low to high (got {list(v)})")
            return v

    class MixNoise(BaseModel):
        model_config = ConfigDict(extra="forbid")
        sd: float = Field(gt=0)
        tails: str = "normal"
        collapse_rate: float = Field(0.0, ge=0, lt=1)
        correlation: float = Field(0.5, gt=-1, lt=1)

        @field_validator("tails")
        @classmethod
        def _tails(cls, v):
            if v not in TAILS:
                raise ValueError(f"{v!r} is not one of {', '.join(TAILS)}")
            return v

    class Mix(BaseModel):
        model_config = ConfigDict(extra="forbid")
        effects: list[Effect] = Field(min_length=1)
        noise: MixNoise
        broken: float = Field(0.0, ge=0, lt=1)

        @model_validator(mode="after")
        def _shares(self):
            total = sum(e.share for e in self.effects)
            if abs(total - 1) > 1e-6:
                raise ValueError(f"effects: the shares sum to {total:g}, not 1")
            return self

    path = Path(path)
    try:
        raw = YAML(typ="safe").load(path.read_text())
    except OSError as exc:
        raise AutobenchError(f"simulate --mix: cannot read {path}: {exc.strerror or exc}") from None
    except YAMLError as exc:
        raise AutobenchError(f"simulate --mix: {path} is not YAML: {exc}") from None
    try:
        mix = Mix.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "the file"
        raise AutobenchError(f"simulate --mix: {path}: {where}: {first['msg']}") from None
    effects = tuple((e.share, *(e.effect if isinstance(e.effect, tuple) else (e.effect, e.effect)))
                    for e in mix.effects)
    return replace(SCENARIOS[base], name=f"mix:{path.stem}", sd=mix.noise.sd, correlation=mix.noise.correlation,
                   tails=mix.noise.tails, collapse_rate=mix.noise.collapse_rate, broken=mix.broken, effects=effects)


def _z(rng, sc: Scenario, k: int):
    """``k`` standardised noise draws: normal, or Student's t with 3 df scaled to unit sd."""
    if sc.tails == "t3":
        return rng.standard_t(3, k) / math.sqrt(3.0)
    return rng.standard_normal(k)


def _collapse(rng, sc: Scenario, k: int):
    """How far each of ``k`` full runs falls below its config's mean (0 unless it collapsed)."""
    if not sc.collapse_rate:
        return 0.0
    hit = rng.random(k) < sc.collapse_rate
    return hit * rng.uniform(*COLLAPSE_SDS, k) * sc.sd


CONTROLS = ("shared", "fresh")


class _Controls:
    """Production's full runs by seed: drawn once per production period and shared by every
    hypothesis judged against it (``shared``; with ``windows`` > 1, hypothesis i is paired on
    window i mod ``windows``, each window its own seeds, as ``experiments.control_windows``), or
    drawn anew for each hypothesis (``fresh``). ``drawn`` counts production's runs."""

    def __init__(self, mode: str, windows: int = 1) -> None:
        self.shared = mode == "shared"
        self.windows = max(1, windows)
        self.window = 0
        self.z: dict[int, list[float]] = {}
        self.drop: dict[int, list[float]] = {}
        self.drawn = 0

    def use(self, i: int) -> None:
        """Hypothesis ``i``'s window."""
        self.window = i % self.windows

    def take(self, rng, sc: Scenario, start: int, k: int):
        """(standardised noise, collapse drop) of production's runs on seeds ``start`` … ``start + k − 1``."""
        import numpy as np

        if not self.shared:
            self.drawn += k
            return _z(rng, sc, k), np.asarray(_collapse(rng, sc, k)) * np.ones(k)
        z, drop = self.z.setdefault(self.window, []), self.drop.setdefault(self.window, [])
        while len(z) < start + k:
            self.drawn += 1
            z.append(float(_z(rng, sc, 1)[0]))
            drop.append(float(np.asarray(_collapse(rng, sc, 1)).reshape(-1)[0]) if sc.collapse_rate else 0.0)
        return np.asarray(z[start:start + k]), np.asarray(drop[start:start + k])

    def new_period(self) -> None:
        """Production changed (a promotion): its runs are drawn again."""
        self.z, self.drop = {}, {}


def _effect(rng, sc: Scenario) -> tuple[str, float]:
    u = rng.random()
    t = sc.threshold
    if sc.effects:
        low, high = sc.effects[-1][1:]  # (rounding: u past the last share lands on the last)
        for share, lo, hi in sc.effects:
            if u < share:
                low, high = lo, hi
                break
            u -= share
        label = f"{low:g}" if low == high else f"{low:g}..{high:g}"
        return f"effect {label}", (low if low == high else rng.uniform(low, high)) * t
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
    stream_z: list[float] = field(default_factory=list)  # every final decision's z-score (gain / se)
    reported: dict[str, float] = field(default_factory=lambda: dict.fromkeys(
        ("true", "selection", "shrunk", "confirmation"), 0.0))  # Σ over the promotions that stand
    promoted_true: list[float] = field(default_factory=list)  # the true gain of each promoted config
    covered: int = 0  # promotions whose reported 95% interval holds the true gain
    by_kind: dict[str, list[int]] = field(default_factory=dict)  # seed runs by kind of effect
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ("broken", "broken_caught", "false_broken", "eligible", "eligible_promoted", "promotions",
         "false_promotions", "below_threshold", "strong", "strong_promoted", "stopped_early", "selected",
         "rolled_back", "rolled_back_eligible", "confirmation_runs"), 0))


def simulate(hypotheses: int, policy: SeedPolicy, scenario: str | Scenario = "default", seed: int = 0,
             progress=None, learn_noise: bool = True, rule: str = "estimate",
             reproducibility: str = "mean_share", fdr_budget: float | None = None, confirmation_seeds: int = 0,
             controls: str = "shared", control_windows: int = 1) -> dict[str, Any]:
    import numpy as np

    if hypotheses < 1:
        raise AutobenchError("simulate: --hypotheses must be at least 1")
    if rule not in IMPROVEMENT_RULES:
        raise AutobenchError(f"simulate: unknown improvement rule {rule!r} "
                             f"(choose from {', '.join(IMPROVEMENT_RULES)})")
    if controls not in CONTROLS:
        raise AutobenchError(f"simulate: unknown controls {controls!r} (choose from {', '.join(CONTROLS)})")
    if not 0 <= confirmation_seeds <= 20:
        raise AutobenchError(f"simulate: --confirmation-seeds must be 0 to 20 (got {confirmation_seeds})")
    if isinstance(scenario, str):
        if scenario not in SCENARIOS:
            raise AutobenchError(f"simulate: unknown scenario {scenario!r} (choose from {', '.join(SCENARIOS)})")
        scenario = SCENARIOS[scenario]
    sc = scenario
    rng = np.random.default_rng(seed)
    prod_full = sc.production + sc.sd * _z(rng, sc, sc.production_seeds) - _collapse(rng, sc, sc.production_seeds)
    prod_fast = sc.production + sc.fast_noise * sc.sd * _z(rng, sc, sc.production_seeds)
    production = prod_full.tolist()
    prior = noise_from_production(production, prod_fast.tolist())
    ledger = NoiseLedger()
    standing = Standing("Simulated", sc.production, {f"C{i + 1}": s for i, s in enumerate(sc.competitors)})
    sd_diff = sc.sd * math.sqrt(2 * (1 - sc.correlation))

    tally = _Tally()
    counts = tally.counts
    stream = None
    if fdr_budget is not None:
        from autobench.experiments.fdr import LordPlusPlus

        try:
            stream = LordPlusPlus(fdr_budget)
        except ValueError as exc:
            raise AutobenchError(f"simulate: {exc}") from None
    if control_windows < 1:
        raise AutobenchError(f"simulate: --control-windows must be at least 1 (got {control_windows})")
    period = _Controls(controls, control_windows)
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
            fast_score = float(prod_fast.mean() + delta + sc.fast_noise * sd_diff * _z(rng, sc, 1)[0])
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
        period.use(i)
        runs, diffs, promoted, stopped_early = _full_runs(policy, sc, rng, standing, delta, fast_diff, noise, rule,
                                                          reproducibility, production, period)
        counts["stopped_early"] += int(stopped_early)
        if stream is not None and diffs:  # a final decision on full runs is a test (as in decide)
            p = margin_test(diffs, sc.threshold if rule == "margin" else 0.0, noise, rule).p_value
            p = 1.0 if p != p else p
            sequential = policy.sequential_p(Evidence(sc.threshold, fast_diff, diffs, noise, rule=rule))
            p = p if sequential is None else max(p, sequential)  # (as decide feeds the stream)
            promoted = stream.test(p, eligible=promoted).discovery
        reported = diffs
        selected = promoted
        if selected:
            counts["selected"] += 1
        if selected and confirmation_seeds:
            from autobench.experiments.confirmation import estimate

            reported = _confirm(rng, sc, delta, confirmation_seeds)
            runs += 2 * confirmation_seeds
            counts["confirmation_runs"] += 2 * confirmation_seeds
            if estimate(reported, sc.threshold, noise)["contradicts"]:
                promoted = False
                counts["rolled_back"] += 1
                counts["rolled_back_eligible"] += int(delta >= sc.threshold)
        if promoted:  # production changed: its runs are drawn again, a new period starts (a rollback
            period.new_period()  # restores the production whose runs are cached)
        shrunk = None
        if diffs:  # a final decision: the stream a winner's gain is corrected against (as decide does)
            test = margin_test(diffs, 0.0, noise, rule)
            if math.isfinite(test.se) and test.se > 0:
                tally.stream_z.append(test.gain / test.se)
                if promoted:
                    from autobench.experiments.statistics import shrink

                    shrunk = shrink(test.gain, test.se, tally.stream_z)
        if promoted:
            gain = sum(diffs) / len(diffs)
            tally.reported["true"] += delta
            tally.reported["selection"] += gain
            tally.reported["shrunk"] += shrunk["shrunk"] if shrunk else gain
            tally.reported["confirmation"] += sum(reported) / len(reported) if confirmation_seeds else gain
        tally.runs_per.append(runs)
        ledger.add(fast_diff, diffs, reference=noise)
        tally.by_kind.setdefault(kind, []).append(runs)
        if delta >= sc.threshold:
            counts["eligible"] += 1
            counts["eligible_promoted"] += int(promoted)
        if delta >= STRONG * sc.threshold:
            counts["strong"] += 1
            counts["strong_promoted"] += int(promoted)
        if promoted:
            counts["promotions"] += 1
            counts["false_promotions"] += int(delta <= 0)
            counts["below_threshold"] += int(delta < sc.threshold)
            tally.promoted_true.append(delta)
            tally.covered += int(_covers(reported, delta, noise if confirmation_seeds else None, sc.threshold))

    if progress:
        progress(f"simulate {policy.name}: {hypotheses}/{hypotheses} hypotheses")
    return {**_summary(policy, sc, seed, hypotheses, tally, prior, ledger if learn_noise else None),
            "improvement_rule": rule, "reproducibility": reproducibility, "controls": controls,
            "control_windows": control_windows, "confirmation_seeds": confirmation_seeds,
            "production_runs_per_hypothesis": (period.drawn + tally.counts["confirmation_runs"] / 2) / hypotheses,
            "fdr": None if stream is None else {
                "procedure": "LORD++", "budget": fdr_budget, "tests": len(stream.tests),
                "discoveries": len(stream.discoveries), "final_wealth": stream.wealth(),
                "final_level": stream.level()}}


def _confirm(rng, sc: Scenario, delta: float, k: int) -> list[float]:
    """A promotion's confirmation: the winner and production on ``k`` fresh seeds (fresh control
    runs, correlated with the winner's on the same seed); their paired differences."""
    rho = sc.correlation
    z1, z2 = _z(rng, sc, k), _z(rng, sc, k)
    control = sc.production + sc.sd * z1 - _collapse(rng, sc, k)
    candidate = sc.production + delta + sc.sd * (rho * z1 + math.sqrt(1 - rho**2) * z2) - _collapse(rng, sc, k)
    return (candidate - control).tolist()


def _covers(diffs: list[float], delta: float, noise: Noise | None = None, threshold: float = 0.0) -> bool:
    """Does the reported 95% interval hold ``delta``: the t interval of the selection's paired
    differences, or (``noise`` given) the confirmation's interval, production's noise pooled in."""
    if noise is not None:
        from autobench.experiments.confirmation import estimate

        interval = estimate(diffs, threshold, noise)["interval"]
        return interval is not None and interval[0] <= delta <= interval[1]
    n = len(diffs)
    if n < 2:
        return False
    mean = sum(diffs) / n
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - 1))
    half = t_quantile(0.975, n - 1) * sd / math.sqrt(n)
    return mean - half <= delta <= mean + half


def pair_draws(rng, sc: Scenario, delta: float, period: _Controls | None = None):
    """``draw(start, k)``: production's and the candidate's full runs on the next ``k`` seeds
    (correlated on the same seed; production's from ``period``)."""
    rho = sc.correlation
    period = period or _Controls("fresh")

    def draw(start: int, k: int) -> tuple[list[float], list[float]]:
        z1, drop = period.take(rng, sc, start, k)
        z2 = _z(rng, sc, k)
        control = (sc.production + sc.sd * z1 - drop).tolist()
        candidate = (sc.production + delta + sc.sd * (rho * z1 + math.sqrt(1 - rho**2) * z2)
                     - _collapse(rng, sc, k)).tolist()
        return control, candidate

    return draw


def _full_runs(policy: SeedPolicy, sc: Scenario, rng, standing: Standing, delta: float, fast_diff: float,
               noise: Noise | None, rule: str = "estimate", reproducibility: str = "mean_share",
               production: list[float] | None = None, period: _Controls | None = None,
               draw=None) -> tuple[int, list[float], bool, bool]:
    """One healthy hypothesis after its fast run: paired full seeds (``draw``, by default
    :func:`pair_draws`) as long as the policy asks for them. (seed runs with the fast one, the
    paired differences, promoted, stopped early)."""
    draw = draw or pair_draws(rng, sc, delta, period)
    control: list[float] = []
    candidate: list[float] = []
    runs = 1  # the fast validation
    while True:
        diffs = [b - a for a, b in zip(control, candidate, strict=True)]
        ev = Evidence(sc.threshold, fast_diff, diffs, noise, rule=rule,
                      criteria=lambda c=control, d=candidate: evaluate(
                          threshold=sc.threshold, control=c, candidate=d, standings=[standing], rule=rule,
                          noise=noise, reproducibility=reproducibility, production=production)[0])
        step = policy.next_step(ev)
        if step.action == "full":
            k = step.runs
            more_control, more_candidate = draw(len(control), k)
            control += more_control
            candidate += more_candidate
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
        "false_promotion_share": counts["false_promotions"] / promotions if promotions else 0.0,
        "below_threshold_share": counts["below_threshold"] / promotions if promotions else 0.0,
        "below_threshold_share_ci95": wilson(counts["below_threshold"], promotions),
        "runs_per_hypothesis": mean_runs,
        "coverage": tally.covered / promotions if promotions else None,
        "coverage_ci95": wilson(tally.covered, promotions),
        "false_promotion_rate": counts["false_promotions"] / promotions if promotions else 0.0,
        "false_promotion_rate_ci95": wilson(counts["false_promotions"], promotions),
        "power": counts["eligible_promoted"] / counts["eligible"] if counts["eligible"] else 0.0,
        "power_ci95": wilson(counts["eligible_promoted"], counts["eligible"]),
        "power_strong": counts["strong_promoted"] / counts["strong"] if counts["strong"] else None,
        "power_strong_ci95": wilson(counts["strong_promoted"], counts["strong"]),
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
        "selected": counts["selected"],
        "rolled_back": counts["rolled_back"],
        "rolled_back_eligible": counts["rolled_back_eligible"],
        "confirmation_runs_per_hypothesis": counts["confirmation_runs"] / hypotheses,
        # Σ reported gain / Σ true gain − 1 over the promotions that stand: the selection's estimate,
        # shrunk toward the stream, and the confirmation's (the selection's when there is none)
        "reported_total_overstated": {k: (tally.reported[k] / tally.reported["true"] - 1
                                          if tally.reported["true"] > 0 else None)
                                      for k in ("selection", "shrunk", "confirmation")},
        "mean_true_gain_promoted": float(np.mean(tally.promoted_true)) if tally.promoted_true else None,
        "seed_runs_per_hypothesis_by_effect": {k: round(float(np.mean(v)), 3)
                                               for k, v in sorted(tally.by_kind.items())},
        "noise_prior": prior.as_dict() if prior else None,
        "noise_learned": ledger.noise(prior).as_dict() if ledger is not None and ledger.noise(prior) else None,
    }


def scenario_with(name: str, **changes: Any) -> Scenario:
    return replace(SCENARIOS[name], name=f"{name}+" + ",".join(f"{k}={v}" for k, v in changes.items()), **changes)
