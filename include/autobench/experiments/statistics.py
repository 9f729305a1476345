"""Statistics of per-seed scores: summaries, the t-tests, and two-config comparisons.

The one owner of the t-tests: :func:`paired_t` (the promotion criteria's significance and
``compare``'s paired test) and :func:`welch_t` (``compare``'s unpaired test and the defence's
one-sided check of production against its own history).

- :func:`summarize`: n, mean, std, min, max, a 95% t interval, and two flags: high variance
  (std > 1% of the mean) and reproducible (std < 0.5% of the mean), the thresholds the
  promotion criteria and the fixed seed policy use too.
- :func:`t_quantile`: Student's t quantile (the projection's interval, the adaptive policy's bounds).
- :func:`compare`: paired by seed when both sides are ``{seed: score}`` over the same seeds
  (paired t-test, Wilcoxon signed-rank, Cohen's d_z), else unpaired (Welch's t-test,
  Mann–Whitney U, Cohen's d with the pooled sd); a 95% t interval and a 10,000-resample
  percentile bootstrap interval of the mean difference (candidate − control), vectorised and
  seeded. Every method is named in the output. Honest at small n: the percentile bootstrap
  interval is shown only from :data:`BOOTSTRAP_MIN_N` seeds a side (below, it undercovers: about
  0.75 / 0.85 / 0.90 at n = 3 / 5 / 10 for normal scores, nominal 0.95; the t interval is the one
  to read), and the rank test's smallest attainable p-value is given beside its p-value (two-sided
  signed-rank: 2^(1−n), 0.25 at n = 3: it cannot reject at 0.05 below 6 seeds).
- :func:`holm`: Holm's step-down correction when one sweep compares several candidates with
  one baseline.
- :func:`variance_vs_n`, :func:`seeds_for_power`, :func:`power_from_pilot`: how many seeds.

No spread at all is not "no evidence": equal means are no difference (t = 0, p = 1), distinct
ones a certain one (t = ±inf, p = 0), in both tests. scipy is imported inside the functions, so
importing this module stays cheap.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal, NamedTuple

from autobench.errors import AutobenchError

HIGH_VARIANCE_SHARE = 0.01  # std > 1% of the mean
REPRODUCIBLE_SHARE = 0.005  # std < 0.5% of the mean
BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_MIN_N = 25  # the percentile interval's coverage reaches ~0.93 (normal scores) from here

Scores = Sequence[float] | Mapping[Any, float]
Alternative = Literal["two-sided", "less", "greater"]


class StatisticsError(AutobenchError):
    pass


def _values(scores: Scores, name: str) -> list[float]:
    values = list(scores.values()) if isinstance(scores, Mapping) else list(scores)
    if not values:
        raise StatisticsError(f"{name}: no scores")
    out = []
    for i, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise StatisticsError(f"{name}: score {i + 1} is {v!r}, not a number")
        if not math.isfinite(v):
            raise StatisticsError(f"{name}: score {i + 1} is {v} (NaN or infinite)")
        out.append(float(v))
    return out


class TTest(NamedTuple):
    """A t-test's statistic, degrees of freedom and p-value."""

    t: float
    df: float
    p: float


def _flat(mean_diff: float, df: float, alternative: Alternative) -> TTest:
    """The test when there is no spread: equal means no difference, distinct ones certain."""
    if mean_diff == 0:
        return TTest(0.0, df, 1.0)
    t = math.copysign(math.inf, mean_diff)
    if alternative == "two-sided":
        return TTest(t, df, 0.0)
    return TTest(t, df, 0.0 if (mean_diff < 0) == (alternative == "less") else 1.0)


def paired_t(diffs: Sequence[float]) -> TTest:
    """Two-sided paired t-test: a one-sample t-test of the paired differences (candidate −
    control, by seed) against 0. Fewer than two differences: t and p are NaN, df 0."""
    from scipy import special

    n = len(diffs)
    if n < 2:
        return TTest(math.nan, 0.0, math.nan)
    mean = sum(diffs) / n
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - 1))
    if sd == 0:
        return _flat(mean, n - 1.0, "two-sided")
    t = mean / (sd / math.sqrt(n))
    return TTest(t, n - 1.0, float(2 * special.stdtr(n - 1.0, -abs(t))))


def welch_t(control: Sequence[float], candidate: Sequence[float], alternative: Alternative = "two-sided") -> TTest:
    """Welch's unequal-variance t-test of mean(candidate) − mean(control); ``less``: the
    candidate's mean is below the control's (each side needs at least two values)."""
    from scipy import stats

    a, b = [float(x) for x in control], [float(x) for x in candidate]
    na, nb = len(a), len(b)
    if na < 2 or nb < 2:
        raise StatisticsError(f"Welch's t-test needs at least 2 values on each side (got {na} and {nb})")
    ma, mb = sum(a) / na, sum(b) / nb
    va = sum((x - ma) ** 2 for x in a) / (na - 1) / na
    vb = sum((x - mb) ** 2 for x in b) / (nb - 1) / nb
    if va + vb == 0:
        return _flat(mb - ma, float(na + nb - 2), alternative)
    df = (va + vb) ** 2 / (va**2 / (na - 1) + vb**2 / (nb - 1))
    res = stats.ttest_ind(b, a, equal_var=False, alternative=alternative)
    p = float(res.pvalue)
    return TTest(float(res.statistic), float(df), p if p == p else 1.0)


def t_quantile(p: float, df: float) -> float:
    """Student's t quantile: the value below which a share ``p`` of the distribution with ``df``
    degrees of freedom lies (the normal quantile for infinite or very large ``df``)."""
    from scipy import special

    if math.isinf(df) or df > 1e6:
        return float(special.ndtri(p))
    return float(special.stdtrit(df, p))


def summarize(scores: Scores, name: str = "scores") -> dict[str, Any]:
    import numpy as np
    from scipy import stats

    values = np.asarray(_values(scores, name))
    n = len(values)
    mean = float(values.mean())
    std = float(values.std(ddof=1)) if n > 1 else float("nan")
    if n > 1 and std > 0:
        half = float(stats.t.ppf(0.975, n - 1) * std / math.sqrt(n))
        ci = [mean - half, mean + half]
    elif n > 1:
        ci = [mean, mean]
    else:
        ci = [None, None]
    share = std / abs(mean) if n > 1 and mean else float("nan")
    return {
        "n": n, "mean": mean, "std": std if n > 1 else None, "min": float(values.min()), "max": float(values.max()),
        "ci95": ci, "ci_method": "t", "std_share_of_mean": share if n > 1 else None,
        "high_variance": bool(n > 1 and share > HIGH_VARIANCE_SHARE),
        "reproducible": bool(n > 1 and share < REPRODUCIBLE_SHARE),
    }


def align(control: Scores, candidate: Scores, paired: bool | None = None) -> tuple[list[float], list[float], bool]:
    """The two samples, and whether they pair by seed.

    ``paired=None``: paired when both are ``{seed: score}`` over the same seeds.
    ``paired=True``: differing seeds (or list lengths) are an error.
    """
    a, b = _values(control, "control"), _values(candidate, "candidate")
    if isinstance(control, Mapping) and isinstance(candidate, Mapping):
        same = set(map(str, control)) == set(map(str, candidate))
        if same:
            cand = {str(k): v for k, v in candidate.items()}
            keys = sorted(map(str, control), key=_seed_key)
            ctrl = {str(k): v for k, v in control.items()}
            if paired is not False:
                return [float(ctrl[k]) for k in keys], [float(cand[k]) for k in keys], True
        elif paired:
            only_a = sorted(set(map(str, control)) - set(map(str, candidate)), key=_seed_key)
            only_b = sorted(set(map(str, candidate)) - set(map(str, control)), key=_seed_key)
            raise StatisticsError(f"--paired: the seeds differ (control only: {only_a or 'none'}; "
                                  f"candidate only: {only_b or 'none'})")
    elif paired:
        if len(a) != len(b):
            raise StatisticsError(f"--paired: {len(a)} control scores but {len(b)} candidate scores")
        return a, b, True
    return a, b, False


def _seed_key(seed: str) -> tuple[int, Any]:
    try:
        return (0, int(seed))
    except ValueError:
        return (1, seed)


def bootstrap_ci(control: Sequence[float], candidate: Sequence[float], paired: bool,
                 resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0, level: float = 0.95) -> list[float]:
    """Percentile bootstrap interval of mean(candidate) − mean(control), vectorised."""
    import numpy as np

    rng = np.random.default_rng(seed)
    a, b = np.asarray(control, dtype=float), np.asarray(candidate, dtype=float)
    if paired:
        diff = b - a
        idx = rng.integers(0, len(diff), size=(resamples, len(diff)))
        stats_ = diff[idx].mean(axis=1)
    else:
        ia = rng.integers(0, len(a), size=(resamples, len(a)))
        ib = rng.integers(0, len(b), size=(resamples, len(b)))
        stats_ = b[ib].mean(axis=1) - a[ia].mean(axis=1)
    lo, hi = np.quantile(stats_, [(1 - level) / 2, 1 - (1 - level) / 2])
    return [float(lo), float(hi)]


def compare(control: Scores, candidate: Scores, paired: bool | None = None, *, seed: int = 0) -> dict[str, Any]:
    """Everything `autobench compare` prints (see the module docstring)."""
    import numpy as np
    from scipy import stats

    a, b, is_paired = align(control, candidate, paired)
    if len(a) < 2 or len(b) < 2:
        raise StatisticsError(f"need at least 2 scores on each side to compare (control {len(a)}, candidate {len(b)})")
    sa, sb = summarize(a, "control"), summarize(b, "candidate")
    xa, xb = np.asarray(a), np.asarray(b)
    out: dict[str, Any] = {
        "n_control": len(a), "n_candidate": len(b),
        "mean_control": sa["mean"], "mean_candidate": sb["mean"],
        "std_control": sa["std"], "std_candidate": sb["std"],
        "mean_diff": float(xb.mean() - xa.mean()), "paired": is_paired,
        "high_variance_control": sa["high_variance"], "high_variance_candidate": sb["high_variance"],
    }
    if is_paired:
        diff = xb - xa
        sd = float(diff.std(ddof=1))
        df = len(diff) - 1
        test = paired_t(diff.tolist())
        t_stat, p_t = test.t, test.p
        half = float(stats.t.ppf(0.975, df) * sd / math.sqrt(len(diff))) if sd else 0.0
        out.update(test="paired t-test", t_statistic=t_stat, df=float(df), p_ttest=p_t,
                   ci95_diff=[float(diff.mean() - half), float(diff.mean() + half)],
                   cohens_d=float(diff.mean() / sd) if sd else (0.0 if diff.mean() == 0
                                                               else math.copysign(math.inf, diff.mean())),
                   cohens_d_kind="d_z (mean difference / sd of differences)")
        nonzero = diff[diff != 0]
        if len(nonzero) == 0:
            out.update(p_wilcoxon=1.0, wilcoxon_method="Wilcoxon signed-rank: all differences are zero",
                       wilcoxon_min_p=1.0)
        else:
            # scipy's method="auto", named the way scipy decides it
            ties = len(set(np.abs(diff).tolist())) < len(diff)
            if len(diff) > 50:
                method = "asymptotic"
            elif not ties and len(nonzero) == len(diff):
                method = "exact"
            elif len(diff) <= 13:
                method = "exact permutation (ties or zeros)"
            else:
                method = "asymptotic (ties or zeros)"
            w = stats.wilcoxon(xb, xa, zero_method="wilcox", method="auto")
            out.update(p_wilcoxon=float(w.pvalue), wilcoxon_method=f"Wilcoxon signed-rank, {method}",
                       wilcoxon_min_p=min(1.0, 2.0 ** (1 - len(nonzero))))
    else:
        se = math.sqrt(xa.var(ddof=1) / len(xa) + xb.var(ddof=1) / len(xb))
        test = welch_t(a, b)
        half = float(stats.t.ppf(0.975, test.df) * se)
        pooled = math.sqrt(((len(xa) - 1) * xa.var(ddof=1) + (len(xb) - 1) * xb.var(ddof=1)) / (len(xa) + len(xb) - 2))
        u = stats.mannwhitneyu(xb, xa, alternative="two-sided", method="auto")
        md = out["mean_diff"]
        out.update(test="Welch's t-test", t_statistic=test.t, df=test.df, p_ttest=test.p,
                   ci95_diff=[out["mean_diff"] - half, out["mean_diff"] + half],
                   cohens_d=float(out["mean_diff"] / pooled) if pooled
                   else (0.0 if md == 0 else math.copysign(math.inf, md)),
                   cohens_d_kind="d (pooled sd)", p_wilcoxon=float(u.pvalue),
                   wilcoxon_method="Mann-Whitney U (two-sided)",
                   # the exact floor holds without ties; with ties scipy's p is a normal approximation
                   wilcoxon_min_p=(min(1.0, 2.0 / math.comb(len(a) + len(b), len(a)))
                                   if len(set(a) | set(b)) == len(a) + len(b) else None))
    if out["wilcoxon_min_p"] is not None and out["wilcoxon_min_p"] >= 0.05:
        out["wilcoxon_method"] += (f"; with these seeds its p-value cannot go below {out['wilcoxon_min_p']:.3g}, "
                                   "so it cannot reject at 0.05")
    if min(len(a), len(b)) >= BOOTSTRAP_MIN_N:
        out["bootstrap_ci95_diff"] = bootstrap_ci(a, b, is_paired, seed=seed)
        out["bootstrap_method"] = (f"percentile, {BOOTSTRAP_RESAMPLES} resamples, seed {seed}"
                                   + (" (paired)" if is_paired else ""))
    else:
        out["bootstrap_ci95_diff"] = None
        out["bootstrap_method"] = (f"not shown below {BOOTSTRAP_MIN_N} seeds a side: a percentile bootstrap "
                                   "interval undercovers there (read the t interval)")
    return out


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values, in the input's order."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


SHRINK_MIN = 10  # z-scores in the stream before a gain is corrected for its selection
SHRINK_MIN_BANDWIDTH = 0.5  # the kernel's bandwidth in z units at least (a short stream's density is rough)


def shrink(estimate: float, se: float, stream_z: Sequence[float]) -> dict[str, Any] | None:
    """A selected estimate corrected for its selection: Tweedie's formula (Efron 2011, "Tweedie's
    formula and selection bias", JASA 106:1602).

    On the z-scale (``z = estimate / se``, each ~ N(μ, 1)) the posterior mean of μ is
    z + d/dz log f(z), where f is the density of the z-scores the estimate was selected from
    (``stream_z``: every final decision's, this one included), estimated here by a Gaussian kernel
    (Silverman's bandwidth from min(sd, IQR / 1.349), so a few far-off z-scores do not flatten it;
    at least :data:`SHRINK_MIN_BANDWIDTH`). A posterior mean needs no correction for which
    estimate was chosen, and it assumes no shape for the effects (a stream of mostly null
    hypotheses shrinks near-null winners hard and leaves clear ones nearly alone, where a normal
    prior would pull every winner toward 0). It is an approximation where sampling stopped on what
    it saw (the z-scores pile up near the policy's boundaries, not as a fixed sample size spreads
    them); docs/benchmarks.md measures how close it comes. The result is kept between the stream's
    median and the estimate. None below :data:`SHRINK_MIN` z-scores.
    """
    import numpy as np

    z = np.asarray(stream_z, dtype=float)
    k = len(z)
    if k < SHRINK_MIN or not (math.isfinite(estimate) and math.isfinite(se)) or se <= 0:
        return None
    zz = estimate / se
    q75, q25 = np.percentile(z, [75, 25])
    spread = min(float(z.std(ddof=1)), float(q75 - q25) / 1.349) or float(z.std(ddof=1))
    h = max(SHRINK_MIN_BANDWIDTH, 1.06 * spread * k ** -0.2)
    u = (zz - z) / h
    e = -0.5 * u * u
    w = np.exp(e - e.max())  # (scaled: the score f'/f does not depend on the scale)
    posterior = zz + float((-(u / h) * w).sum() / w.sum())
    centre = float(np.median(z))
    posterior = min(max(posterior, min(centre, zz)), max(centre, zz))
    return {"estimate": estimate, "shrunk": posterior * se, "z": zz, "posterior_z": posterior, "k": k,
            "bandwidth": h}


# --------------------------------------------------------------------------- variance vs N, power


def variance_vs_n(scores: Scores, threshold: float = 0.05, *, resamples: int = 2000, seed: int = 0,
                  name: str = "scores") -> dict[str, Any]:
    """Coefficient of variation of the mean against the number of seeds.

    For each N from 2 to the pilot's size: the CV of the mean expected from the pilot's sd,
    ``sd / (√N · |mean|)``, and measured, the sd of the means of ``resamples`` random N-subsets
    (without replacement, finite-population corrected) over ``|mean|``. ``min_n`` is the smallest
    N whose expected CV is under ``threshold``; beyond the pilot it is extrapolated.
    """
    import numpy as np

    values = np.asarray(_values(scores, name))
    n = len(values)
    if n < 3:
        raise StatisticsError(f"{name}: variance vs N needs at least 3 scores (got {n})")
    if not 0 < threshold < 1:
        raise StatisticsError(f"threshold is a fraction in (0, 1), e.g. 0.05 for 5% (got {threshold})")
    mean = float(values.mean())
    sd = float(values.std(ddof=1))
    if mean == 0:
        raise StatisticsError(f"{name}: the mean is 0, so a coefficient of variation is undefined")
    rng = np.random.default_rng(seed)
    sizes = list(range(2, n + 1))
    expected, measured = [], []
    for k in sizes:
        expected.append(sd / math.sqrt(k) / abs(mean))
        if k == n:
            measured.append(0.0)  # every subset is the pilot itself
            continue
        idx = np.argsort(rng.random((resamples, n)), axis=1)[:, :k]
        means = values[idx].mean(axis=1)
        # a subset of a finite pilot varies less than fresh seeds would: undo the correction
        fpc = math.sqrt((n - 1) / (n - k))
        measured.append(float(means.std(ddof=1)) * fpc / abs(mean))
    cv1 = sd / abs(mean)
    min_n = max(1, math.ceil((cv1 / threshold) ** 2)) if sd > 0 else 1
    return {
        "n_pilot": n, "mean": mean, "std": sd, "cv_per_seed": cv1, "threshold": threshold,
        "n": sizes, "cv_of_mean": expected, "cv_of_mean_resampled": measured,
        "min_n": min_n, "min_n_within_pilot": min_n <= n,
        "method": f"expected sd/(sqrt(N)*|mean|); resampled: {resamples} random N-subsets, seed {seed}",
    }


def plot_variance(result: dict[str, Any], path: str, title: str = "Variance vs number of seeds") -> str:
    """A PNG of :func:`variance_vs_n`'s curves with the threshold and the minimum N marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=120)
    ax.plot(result["n"], [100 * v for v in result["cv_of_mean"]], marker="o", label="expected (pilot sd / √N)")
    ax.plot(result["n"][:-1], [100 * v for v in result["cv_of_mean_resampled"][:-1]], marker="s",
            linestyle="--", label="resampled subsets")
    ax.axhline(100 * result["threshold"], color="tab:red", linewidth=1,
               label=f"threshold {100 * result['threshold']:g}%")
    if result["min_n_within_pilot"]:
        ax.axvline(result["min_n"], color="tab:green", linewidth=1, label=f"minimum N = {result['min_n']}")
    ax.set_xlabel("seeds (N)")
    ax.set_ylabel("coefficient of variation of the mean (%)")
    ax.set_title(f"{title}\n(pilot: {result['n_pilot']} seeds; minimum N = {result['min_n']})", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)
    return path


def power_of_paired_t(n: int, effect: float, sd_diff: float, alpha: float = 0.05) -> float:
    """Power of a two-sided paired t-test with ``n`` pairs (noncentral t)."""
    from scipy import stats

    if n < 2:
        return 0.0
    df = n - 1
    crit = stats.t.ppf(1 - alpha / 2, df)
    nc = effect / (sd_diff / math.sqrt(n))
    return float(stats.nct.sf(crit, df, nc) + stats.nct.cdf(-crit, df, nc))


def seeds_for_power(effect: float, sd_diff: float, *, alpha: float = 0.05, power: float = 0.8,
                    max_n: int = 10_000) -> dict[str, Any]:
    """Paired seeds needed to detect ``effect`` with a two-sided paired t-test at ``power``."""
    if not (effect > 0 and math.isfinite(effect)):
        raise StatisticsError(f"the effect to detect must be a positive number (got {effect})")
    if not (sd_diff >= 0 and math.isfinite(sd_diff)):
        raise StatisticsError(f"the sd of the paired differences must be a non-negative number (got {sd_diff})")
    if not 0 < power < 1 or not 0 < alpha < 1:
        raise StatisticsError("power and alpha are probabilities in (0, 1)")
    if sd_diff == 0:
        return {"n": 2, "achieved_power": 1.0, "effect": effect, "sd_diff": 0.0, "alpha": alpha, "power": power,
                "method": "no noise: 2 seeds (the t-test needs 2)"}
    lo, hi = 2, 2
    while power_of_paired_t(hi, effect, sd_diff, alpha) < power:
        lo, hi = hi, hi * 2
        if hi > max_n:
            raise StatisticsError(f"more than {max_n} seeds would be needed (effect {effect:g}, sd {sd_diff:g})")
    while lo < hi:  # smallest n with enough power
        mid = (lo + hi) // 2
        if power_of_paired_t(mid, effect, sd_diff, alpha) >= power:
            hi = mid
        else:
            lo = mid + 1
    return {"n": hi, "achieved_power": power_of_paired_t(hi, effect, sd_diff, alpha), "effect": effect,
            "sd_diff": sd_diff, "alpha": alpha, "power": power,
            "method": "two-sided paired t-test, noncentral t"}


def power_from_pilot(control: Scores, effect: float, candidate: Scores | None = None, *, alpha: float = 0.05,
                     power: float = 0.8, assumed_correlation: float = 0.0) -> dict[str, Any]:
    """Seeds needed, from pilot variance.

    With a paired pilot (control and candidate on the same seeds) the sd of the differences is
    measured; with production's runs alone it is ``sd·√(2(1 − ρ))``, ρ assumed (0 by default,
    which overstates the noise and so the seeds).
    """
    if candidate is not None:
        a, b, paired = align(control, candidate, paired=True)
        diffs = [y - x for x, y in zip(a, b, strict=True)]
        if len(diffs) < 2:
            raise StatisticsError("a paired pilot needs at least 2 seeds")
        m = sum(diffs) / len(diffs)
        sd_diff = math.sqrt(sum((d - m) ** 2 for d in diffs) / (len(diffs) - 1))
        source = f"paired pilot: sd of {len(diffs)} paired differences"
    else:
        values = _values(control, "pilot")
        if len(values) < 2:
            raise StatisticsError("a pilot needs at least 2 scores")
        m = sum(values) / len(values)
        sd = math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1))
        sd_diff = sd * math.sqrt(2 * (1 - assumed_correlation))
        source = f"pilot of {len(values)} runs: sd × √(2(1 − ρ)), ρ = {assumed_correlation:g}"
    out = seeds_for_power(effect, sd_diff, alpha=alpha, power=power)
    out["sd_source"] = source
    return out
