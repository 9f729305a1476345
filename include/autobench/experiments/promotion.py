"""The promotion criteria: when a candidate config may replace production.

Five criteria, each with its value, requirement and pass/fail:

==================  ==========================================================================
``improvement``      the gain over production reaches ``promotion_threshold``, by the registry's
                     ``experiments.improvement_rule``: ``estimate`` (the mean paired gain ≥ the
                     threshold, the seed's wording) or ``margin`` (the lower end of the gain's 95%
                     interval ≥ the threshold: :func:`margin_test`)
``significance``     two-sided paired t-test against production on the same seeds, p < 0.05
                     (and the gain positive); the test is :func:`autobench.experiments.statistics.paired_t`
``regression``       latency within +10% and memory within +15% of production (the median of the
                     per-seed ratios, robust to one reading taken under load; their spread shown)
``reproducibility``  ≥ 3 seeds and, by the registry's ``experiments.reproducibility``: the
                     candidate's std < 0.5% of its mean (``mean_share``, the seed's wording), or
                     not larger than production's own std beyond chance (``production_noise``:
                     a one-sided F-test at 1%, whatever the metric's scale and direction)
``projection``       projected leaderboard rank no worse than today's; P(#1) reported beside it
==================  ==========================================================================

How many seeds to run first is the seed policy's job (:mod:`autobench.experiments.seed_policies`); the
outcome is ``promote`` (every criterion met, the policy has stopped), ``reject`` (the policy
stopped and a criterion failed, or it stopped early for futility or harm) or ``extend`` (the
policy wants more seeds). Only the validation metrics are read here; the test split is
evaluated once after a promotion, by the sweep.

This module holds the pure parts (criteria, projection, the fast-run screen, the noise model);
:mod:`autobench.experiments.decide` applies them to the runs in the results store, and
:mod:`autobench.experiments.explain` puts them in words.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from autobench.experiments.seed_policies.base import Criterion, Noise
from autobench.experiments.statistics import REPRODUCIBLE_SHARE, paired_t, t_quantile

ALPHA = 0.05
LATENCY_LIMIT = 0.10  # +10%
MEMORY_LIMIT = 0.15  # +15%
MIN_SEEDS = 3
REPRODUCIBLE_PCT = 100 * REPRODUCIBLE_SHARE  # std < 0.5% of the mean (the requirement shows the percentage)
COLLAPSE_SDS = 6.0  # the fast screen: a drop beyond 6 sd of production's fast runs ...
COLLAPSE_THRESHOLDS = 10.0  # ... and beyond 10 × the promotion threshold is a broken config
IMPROVEMENT_RULES = ("estimate", "margin")
REPRODUCIBILITY_RULES = ("mean_share", "production_noise")
REPRODUCIBILITY_LEVEL = 0.99  # production_noise: the F-test's level (a healthy config fails 1% of the time)
ImprovementRule = Literal["estimate", "margin"]
MARGIN_LEVEL = 0.975  # the margin test's one-sided level: the lower end of a two-sided 95% interval


@dataclass(frozen=True)
class MarginTest:
    """The gain tested against the promotion threshold (the margin), whichever rule promotes.

    ``lower_bound``: the one-sided 97.5% lower bound of the gain (the lower end of its 95%
    interval); ``p_value``: the one-sided p-value of "the gain is at most the threshold";
    ``confidence`` = 1 − ``p_value``, the confidence that the gain reaches the threshold;
    ``noise``: where the standard error comes from (production's known noise pooled with the
    hypothesis's own differences, or its differences alone).
    """

    rule: str
    threshold: float
    n: int
    gain: float
    se: float
    df: float
    lower_bound: float
    p_value: float
    noise: str

    @property
    def confidence(self) -> float:
        return 1.0 - self.p_value

    @property
    def passed(self) -> bool:
        """The improvement criterion: the estimate, or the lower bound, reaches the threshold."""
        if self.n == 0:
            return False
        if self.rule == "estimate":
            return self.gain >= self.threshold - 1e-12
        return math.isfinite(self.lower_bound) and self.lower_bound >= self.threshold - 1e-12

    def as_dict(self) -> dict[str, Any]:
        def num(x: float) -> float | None:
            return round(x, 8) if math.isfinite(x) else None

        return {"rule": self.rule, "threshold": self.threshold, "n": self.n, "gain": num(self.gain),
                "se": num(self.se), "df": None if math.isinf(self.df) else self.df,
                "lower_bound": num(self.lower_bound), "p_value": num(self.p_value),
                "confidence": num(self.confidence), "level": MARGIN_LEVEL, "noise": self.noise,
                "passed": self.passed}

    def text(self) -> str:
        if self.n == 0 or not math.isfinite(self.lower_bound):
            return "no interval yet (needs 2 paired seeds, or production's noise)"
        return (f"95% lower bound {self.lower_bound:+.4g}; confidence that the gain ≥ {self.threshold:g}: "
                f"{self.confidence:.3f} (1 − one-sided p; {self.noise})")


def margin_test(diffs: Sequence[float], threshold: float, noise: Noise | None = None,
                rule: ImprovementRule = "estimate") -> MarginTest:
    """The paired gain against the threshold: a one-sided t-test of "gain ≤ threshold".

    With production's noise known (``noise``: a prior sd of a paired difference and its degrees
    of freedom, as the seed policies use it), the hypothesis's own differences are pooled into it
    and the test uses the pooled degrees of freedom, unless the differences' own variance is the
    larger (a config noisier than production is judged on its own spread); without it, the
    differences alone (n − 1). ``confidence`` is 1 − the one-sided p-value (a posterior
    probability only under a flat prior).
    """
    if rule not in IMPROVEMENT_RULES:
        raise ValueError(f"improvement_rule: {rule!r} is not one of {', '.join(IMPROVEMENT_RULES)}")
    n = len(diffs)
    if n == 0:
        return MarginTest(rule, threshold, 0, math.nan, math.nan, 0.0, math.nan, math.nan, "no paired seeds")
    gain = _mean(diffs)
    ss = sum((d - gain) ** 2 for d in diffs)
    own = ss / (n - 1) if n >= 2 else None
    if noise is not None and noise.df > 0 and math.isfinite(noise.sd_diff):
        if math.isinf(noise.df):
            var, df = noise.sd_diff**2, math.inf
        else:
            df = noise.df + n - 1
            var = (noise.df * noise.sd_diff**2 + ss) / df
        source = f"production's noise pooled with the {n} differences, df {df:g}"
        if own is not None and own > var:  # noisier than the shared noise: trust its own spread
            var, df = own, float(n - 1)
            source = f"the {n} paired differences alone (their spread exceeds production's noise), df {df:g}"
    elif n >= 2:
        var, df = ss / (n - 1), float(n - 1)
        source = f"the {n} paired differences alone, df {df:g}"
    else:
        return MarginTest(rule, threshold, n, gain, math.nan, 0.0, math.nan, math.nan,
                          "one paired seed and no known noise")
    se = math.sqrt(var / n)
    if se == 0:
        reached = gain >= threshold
        return MarginTest(rule, threshold, n, gain, 0.0, df, gain, 0.0 if reached else 1.0, source)
    from scipy import special

    lower = gain - t_quantile(MARGIN_LEVEL, df) * se
    z = (gain - threshold) / se
    p = float(special.ndtr(-z)) if math.isinf(df) else float(special.stdtr(df, -z))
    return MarginTest(rule, threshold, n, gain, se, df, lower, p, source)


@dataclass(frozen=True)
class Standing:
    """One leaderboard as it stands today: our score on it and the competitors'."""

    leaderboard: str
    ours: float | None
    competitors: Mapping[str, float] = field(default_factory=dict)
    higher_is_better: bool = True

    def rank_of(self, score: float) -> int:
        sign = 1.0 if self.higher_is_better else -1.0
        return 1 + sum(1 for s in self.competitors.values() if sign * s > sign * score)

    def best_competitor(self) -> tuple[str, float] | None:
        if not self.competitors:
            return None
        pick = max if self.higher_is_better else min
        name = pick(self.competitors, key=lambda k: self.competitors[k])
        return name, self.competitors[name]


def project(standing: Standing | None, gain: float, se: float, df: float) -> dict[str, Any]:
    """Projected rank and P(#1) if the gain (oriented: positive = better) carried to the board."""
    if standing is None or standing.ours is None:
        return {"leaderboard": standing.leaderboard if standing else None, "current_rank": None,
                "projected_rank": None, "p_first": None, "current_score": None, "projected_score": None,
                "projected_ci95": [None, None], "best_competitor": None}
    sign = 1.0 if standing.higher_is_better else -1.0
    projected = standing.ours + sign * gain
    half = t_quantile(0.975, df) * se if df > 0 and math.isfinite(se) else math.nan
    best = standing.best_competitor()
    if best is None:
        p_first = 1.0
    else:
        margin = sign * (projected - best[1])  # > 0: ahead of the best competitor
        if df > 0 and math.isfinite(se) and se > 0:
            from scipy import special

            p_first = float(special.stdtr(df, margin / se))
        else:
            p_first = 1.0 if margin > 0 else 0.0
    return {
        "leaderboard": standing.leaderboard,
        "current_rank": standing.rank_of(standing.ours),
        "projected_rank": standing.rank_of(projected),
        "p_first": round(p_first, 4),
        "current_score": standing.ours,
        "projected_score": round(projected, 6),
        "projected_ci95": ([round(projected - half, 6), round(projected + half, 6)] if math.isfinite(half)
                           else [None, None]),
        "best_competitor": {"name": best[0], "score": best[1]} if best else None,
    }


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def _change(candidate: Sequence[float] | None, control: Sequence[float] | None) -> float | None:
    """The candidate's change against the control (a secondary metric: latency, memory): the
    median over seeds of the per-seed ratio, minus 1. A reading taken while something else loaded
    the machine moves a mean of three by any amount; it moves their median only if it is the middle
    one."""
    ratios = _ratios(candidate, control)
    if not ratios:
        return None
    import statistics

    return statistics.median(ratios) - 1


def _ratios(candidate: Sequence[float] | None, control: Sequence[float] | None) -> list[float]:
    if not candidate or not control:
        return []
    return [c / b for c, b in zip(candidate, control, strict=False) if b > 0]


def _spread(candidate: Sequence[float] | None, control: Sequence[float] | None) -> float | None:
    """The per-seed ratios' robust spread (1.4826 × their median absolute deviation): the noise
    the change is read against; None below 3 seeds."""
    ratios = _ratios(candidate, control)
    if len(ratios) < 3:
        return None
    import statistics

    mid = statistics.median(ratios)
    return 1.4826 * statistics.median(abs(r - mid) for r in ratios)


def evaluate(*, threshold: float, control: Sequence[float], candidate: Sequence[float],
             higher_is_better: bool = True, latency: tuple[Sequence[float], Sequence[float]] | None = None,
             memory: tuple[Sequence[float], Sequence[float]] | None = None,
             standings: Sequence[Standing] = (), rule: ImprovementRule = "estimate",
             noise: Noise | None = None, reproducibility: str = "mean_share",
             production: Sequence[float] | None = None) -> tuple[list[Criterion], dict[str, Any]]:
    """The five criteria on paired full-run scores (same seeds, same order), and the projection.

    ``latency`` and ``memory`` are (control, candidate) per-seed values; ``standings`` the
    hypothesis's target leaderboards, the first being the one the projection reports; ``rule``
    the improvement rule and ``noise`` production's known noise (:func:`margin_test`);
    ``reproducibility`` its rule and ``production`` all of production's full-run scores (its own
    std; default: ``control``).
    """
    if len(control) != len(candidate):
        raise ValueError(f"paired scores needed: {len(control)} control vs {len(candidate)} candidate")
    sign = 1.0 if higher_is_better else -1.0
    diffs = [sign * (b - a) for a, b in zip(control, candidate, strict=True)]
    n = len(diffs)
    gain = _mean(diffs) if n else math.nan
    t, df, p = paired_t(diffs)
    out: list[Criterion] = []

    margin = margin_test(diffs, threshold, noise, rule)
    requirement = (f"mean paired gain ≥ {threshold:g} (promotion_threshold)" if rule == "estimate" else
                   f"95% lower bound of the gain ≥ {threshold:g} (promotion_threshold; improvement_rule: margin)")
    out.append(Criterion("improvement", margin.passed, None if not n else round(gain, 6), requirement,
                         f"{n} paired seed(s); {margin.text()}" if n else "no full runs"))
    if n < 2:
        out.append(Criterion("significance", False, None, f"two-sided paired t-test p < {ALPHA:g}",
                             "needs at least 2 paired seeds"))
    else:
        ok = p < ALPHA and gain > 0
        detail = f"t = {t:.3g}, df = {df:g}" + ("" if gain > 0 or p >= ALPHA else "; significant, but a loss")
        out.append(Criterion("significance", bool(ok), round(p, 6), f"two-sided paired t-test p < {ALPHA:g}", detail))

    lat_pair = tuple(reversed(latency)) if latency else (None, None)  # (candidate, control)
    mem_pair = tuple(reversed(memory)) if memory else (None, None)
    lat, mem = _change(*lat_pair), _change(*mem_pair)  # median per-seed candidate / control − 1
    ok = (lat is None or lat <= LATENCY_LIMIT + 1e-12) and (mem is None or mem <= MEMORY_LIMIT + 1e-12)
    missing = [name for name, v in (("latency_ms", lat), ("memory_mb", mem)) if v is None]
    noise = {name: _spread(*pair) for name, pair in (("latency", lat_pair), ("memory", mem_pair))}
    spread = "; ".join(f"{name} seed-to-seed spread ±{100 * v:.1f}%" for name, v in noise.items() if v is not None)
    detail = "; ".join(filter(None, [f"not reported by the solution: {', '.join(missing)}" if missing else "",
                                     "median of per-seed ratios" + (f" ({spread})" if spread else "")
                                     if len(missing) < 2 else ""]))
    out.append(Criterion("regression", bool(ok),
                         {"latency_change_pct": None if lat is None else round(100 * lat, 2),
                          "memory_change_pct": None if mem is None else round(100 * mem, 2),
                          "latency_noise_pct": None if noise["latency"] is None else round(100 * noise["latency"], 2),
                          "memory_noise_pct": None if noise["memory"] is None else round(100 * noise["memory"], 2)},
                         f"latency within +{LATENCY_LIMIT:.0%}, memory within +{MEMORY_LIMIT:.0%}", detail))

    out.append(reproducible(candidate, production if production else control, reproducibility))

    se = math.sqrt(sum((d - gain) ** 2 for d in diffs) / (n - 1)) / math.sqrt(n) if n > 1 else math.nan
    projections = [project(s, gain if n else 0.0, se, df) for s in standings] or [project(None, 0.0, se, df)]
    first = projections[0]
    known = [pr for pr in projections if pr["current_rank"] is not None]
    ok = bool(n) and all(pr["projected_rank"] <= pr["current_rank"] for pr in known)
    value = {k: first[k] for k in ("current_rank", "projected_rank", "p_first")}
    detail = (f"{first['leaderboard']}: #{first['current_rank']} → #{first['projected_rank']}" if first["current_rank"]
              else "we are not on the leaderboard yet: nothing to lose")
    out.append(Criterion("projection", ok, value, "projected rank no worse than today's (P(#1) reported)", detail))
    projection = {**value, "leaderboard": first["leaderboard"], "leaderboards": projections}
    return out, projection


def reproducible(candidate: Sequence[float], production: Sequence[float], rule: str = "mean_share") -> Criterion:
    """The reproducibility criterion: ≥ 3 seeds, and the candidate's spread by ``rule``.

    ``mean_share``: std < 0.5% of the mean (depends on the metric's scale and direction: the same
    runs pass as accuracy and fail as error rate). ``production_noise``: the candidate's std is
    not larger than production's beyond chance: s_c² / s_p² ≤ F(0.99; n − 1, m − 1), m being
    production's runs; a healthy config, as noisy as production, fails 1% of the time.
    """
    if rule not in REPRODUCIBILITY_RULES:
        raise ValueError(f"reproducibility: {rule!r} is not one of {', '.join(REPRODUCIBILITY_RULES)}")
    n = len(candidate)
    sd_c = _sd(candidate)
    mean_c = _mean(candidate) if n else math.nan
    pct = 100 * sd_c / abs(mean_c) if n > 1 and mean_c else None
    value: dict[str, Any] = {"seeds": n, "std_pct_of_mean": None if pct is None else round(pct, 4)}
    short = "" if n >= MIN_SEEDS else f"only {n} seed(s)"
    if rule == "mean_share":
        ok = n >= MIN_SEEDS and pct is not None and pct < REPRODUCIBLE_PCT
        return Criterion("reproducibility", bool(ok), value, f"≥ {MIN_SEEDS} seeds, std < {REPRODUCIBLE_PCT}% of mean",
                         short)
    m = len(production)
    sd_p = _sd(production)
    requirement = (f"≥ {MIN_SEEDS} seeds, std not above production's beyond chance "
                   f"(F-test, {1 - REPRODUCIBILITY_LEVEL:.0%})")
    if n < 2 or m < 2:
        value.update({"std": None, "production_std": None, "std_ratio": None, "limit": None})
        return Criterion("reproducibility", False, value, requirement,
                         short or "production's own std is unknown (fewer than 2 runs)")
    from scipy import special

    limit = math.sqrt(float(special.fdtri(n - 1, m - 1, REPRODUCIBILITY_LEVEL)))
    ratio = sd_c / sd_p if sd_p > 0 else (0.0 if sd_c == 0 else math.inf)
    value.update({"std": round(sd_c, 8), "production_std": round(sd_p, 8),
                  "std_ratio": round(ratio, 4) if math.isfinite(ratio) else None, "limit": round(limit, 4),
                  "production_runs": m})
    ok = n >= MIN_SEEDS and ratio <= limit
    return Criterion("reproducibility", bool(ok), value, requirement,
                     short or f"std {sd_c:.3g} vs production's {sd_p:.3g} ({m} runs): ratio {ratio:.2f} "
                              f"{'≤' if ratio <= limit else '>'} {limit:.2f}")


def _sd(values: Sequence[float]) -> float:
    n = len(values)
    if n < 2:
        return math.nan
    m = _mean(values)
    return math.sqrt(sum((v - m) ** 2 for v in values) / (n - 1))


def fast_screen(candidate: float, production: Sequence[float], threshold: float,
                higher_is_better: bool = True) -> tuple[bool, str]:
    """Is the fast run's score plausible, or has the config collapsed (broken)?"""
    if not math.isfinite(candidate):
        return False, f"the fast run's score is {candidate}"
    if not production:
        return True, "no production fast run to compare with"
    base = _mean(production)
    sd = math.sqrt(sum((p - base) ** 2 for p in production) / (len(production) - 1)) if len(production) > 1 else 0.0
    drop = (base - candidate) if higher_is_better else (candidate - base)
    limit = max(COLLAPSE_SDS * sd, COLLAPSE_THRESHOLDS * threshold)
    if drop > limit:
        return False, (f"collapsed: fast score {candidate:.4g} is {drop:.4g} worse than production's fast runs "
                       f"({base:.4g}); more than {limit:.4g} means broken")
    return True, f"fast score {candidate:.4g} vs production's {base:.4g}"


def noise_from_production(full: Sequence[float], fast: Sequence[float] = (),
                          assumed_correlation: float = 0.0) -> Noise | None:
    """The noise of a paired difference, from production's repeated runs.

    Production's per-seed sd σ (n − 1 degrees of freedom, runs that collapsed set aside by
    :func:`set_aside_collapsed`) gives the sd of a paired difference
    σ·√(2(1 − ρ)); ρ, the correlation of two configs on the same seed, is not observable from
    production alone, so it defaults to 0, which overstates the noise (conservative).
    """
    full, dropped = set_aside_collapsed(full)
    if len(full) < 2:
        return None
    m = _mean(full)
    sd = math.sqrt(sum((x - m) ** 2 for x in full) / (len(full) - 1))
    source = f"production: {len(full)} full runs" + (f" ({dropped} collapsed run(s) set aside)" if dropped else "")
    if len(fast) >= 2:
        mf = _mean(fast)
        sdf = math.sqrt(sum((x - mf) ** 2 for x in fast) / (len(fast) - 1))
        source += f" (and {len(fast)} fast runs, sd {sdf:.3g})"
    # How well a fast run tracks the full effect is not visible in production's own runs (a fast
    # run at chance level has a small sd and says nothing): until earlier experiments show it
    # (NoiseLedger), the fast run is a screen and carries no weight.
    ratio = math.inf
    return Noise(sd * math.sqrt(2 * (1 - assumed_correlation)), float(len(full) - 1), ratio, source)


COLLAPSE_ALPHA = 1e-3  # the chance that a set of normal runs loses one to set_aside_collapsed
LEDGER_LEVEL = 0.999  # a hypothesis whose spread the shared noise explains with p < 0.001 is not pooled


def set_aside_collapsed(values: Sequence[float]) -> tuple[list[float], int]:
    """The runs left when those that collapsed are set aside, and how many were.

    With at least 5 runs, each is tested against the others: t = |x − mean of the rest| / (sd of
    the rest × √(1 + 1/(n − 1))) follows Student's t with n − 2 degrees of freedom for normal runs,
    and a run beyond its 1 − α/(2n) quantile (Bonferroni over the n runs, α =
    :data:`COLLAPSE_ALPHA`) is set aside; the most extreme first, then the rest again. A set of
    normal runs loses one about once in a thousand; a run that diverged (hundreds of sd out) is
    always caught, unless two collapsed together and hide each other. One collapsed run in ten
    otherwise triples the sd the noise model learns.
    """
    from scipy import special

    kept = [float(v) for v in values]
    dropped = 0
    while len(kept) >= 5:
        n = len(kept)
        limit = float(special.stdtrit(n - 2, 1 - COLLAPSE_ALPHA / (2 * n)))
        worst, worst_t = None, limit
        total = sum(kept)
        for i, x in enumerate(kept):
            rest_mean = (total - x) / (n - 1)
            rest_sd = math.sqrt(sum((y - rest_mean) ** 2 for j, y in enumerate(kept) if j != i) / (n - 2))
            if rest_sd == 0:
                continue
            t = abs(x - rest_mean) / (rest_sd * math.sqrt(1 + 1 / (n - 1)))
            if t > worst_t:
                worst, worst_t = i, t
        if worst is None:
            break
        kept.pop(worst)
        dropped += 1
    return kept, dropped


@dataclass
class NoiseLedger:
    """What earlier experiments taught about the noise of a paired difference.

    Every decided hypothesis with ≥ 2 full seeds adds its within-hypothesis sum of squares
    (its true effect is constant, so the residuals are pure noise; the sample variance is
    independent of the mean for normal data, so early stops do not bias it), and, with ≥ 3 full
    seeds, the fast run's squared residual from the full mean, which estimates the fast run's
    variance plus the full mean's. Pooled with production's prior by :meth:`noise`. A hypothesis
    whose spread is beyond the noise known before it is set aside (:meth:`add`).
    """

    ss: float = 0.0
    df: float = 0.0
    fast_excess: float = 0.0  # Σ (r² − s²/n): estimates Σ σ_fast²
    fast_count: int = 0
    set_aside: int = 0  # hypotheses whose spread the shared noise could not explain (a collapsed seed)

    def add(self, fast_diff: float | None, diffs: Sequence[float], reference: Noise | None = None) -> None:
        """Pool one decided hypothesis's paired differences; with ``reference`` (the noise known
        before it), not when its variance is beyond the shared noise's at :data:`LEDGER_LEVEL`
        (an F-test: a collapsed seed, or a config noisier than the rest, does not inflate the
        noise every later decision uses)."""
        n = len(diffs)
        if n < 2:
            return
        mean = _mean(diffs)
        ss = sum((d - mean) ** 2 for d in diffs)
        if reference is not None and reference.df >= 5 and reference.sd_diff > 0 and math.isfinite(reference.sd_diff):
            from scipy import special

            ref_df = 1e9 if math.isinf(reference.df) else reference.df
            limit = float(special.fdtri(n - 1, ref_df, LEDGER_LEVEL))
            if ss / (n - 1) / reference.sd_diff**2 > limit:
                self.set_aside += 1
                return
        self.ss += ss
        self.df += n - 1
        if fast_diff is not None and n >= MIN_SEEDS and math.isfinite(fast_diff):
            self.fast_excess += (fast_diff - mean) ** 2 - ss / (n - 1) / n
            self.fast_count += 1

    def noise(self, prior: Noise | None, min_fast: int = 10) -> Noise | None:
        if self.df == 0:
            return prior
        df0 = prior.df if prior else 0.0
        sd0 = prior.sd_diff if prior else 0.0
        df = df0 + self.df
        var = (df0 * sd0**2 + self.ss) / df
        ratio = prior.fast_ratio if prior else math.inf
        if self.fast_count >= min_fast and var > 0:
            ratio = math.sqrt(max(self.fast_excess / self.fast_count, var) / var)
        source = ((prior.source + "; " if prior else "")
                  + f"pooled paired differences of earlier experiments (df {self.df:g}"
                  + (f"; {self.set_aside} set aside as beyond the shared noise" if self.set_aside else "") + ")")
        return Noise(math.sqrt(var), df, ratio, source)
