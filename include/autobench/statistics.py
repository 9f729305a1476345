"""Statistics of per-seed scores: summaries and two-config comparisons (seeds 000, 004).

- :func:`summarize`: n, mean, std, min, max, a 95% t interval, and the two flags the seeds use:
  high variance (std > 1% of the mean, seed 000) and reproducible (std < 0.5% of the mean,
  seed 002).
- :func:`compare`: paired by seed when both sides are ``{seed: score}`` over the same seeds
  (paired t-test, Wilcoxon signed-rank, Cohen's d_z), else unpaired (Welch's t-test,
  Mann–Whitney U, Cohen's d with the pooled sd); a 95% t interval and a 10,000-resample
  percentile bootstrap interval of the mean difference (candidate − control), vectorised and
  seeded. Every method is named in the output.
- :func:`holm`: Holm's step-down correction when one sweep compares several candidates with
  one baseline.

scipy is imported inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from autobench.errors import AutobenchError

HIGH_VARIANCE_SHARE = 0.01  # seed 000: std > 1% of the mean
REPRODUCIBLE_SHARE = 0.005  # seed 002: std < 0.5% of the mean
BOOTSTRAP_RESAMPLES = 10_000

Scores = Sequence[float] | Mapping[Any, float]


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
        if sd == 0:
            t_stat, p_t = (0.0, 1.0) if diff.mean() == 0 else (math.copysign(math.inf, diff.mean()), 0.0)
            half = 0.0
        else:
            res = stats.ttest_rel(xb, xa)
            t_stat, p_t = float(res.statistic), float(res.pvalue)
            half = float(stats.t.ppf(0.975, df) * sd / math.sqrt(len(diff)))
        out.update(test="paired t-test", t_statistic=t_stat, df=float(df), p_ttest=p_t,
                   ci95_diff=[float(diff.mean() - half), float(diff.mean() + half)],
                   cohens_d=float(diff.mean() / sd) if sd else (0.0 if diff.mean() == 0 else math.copysign(math.inf, diff.mean())),
                   cohens_d_kind="d_z (mean difference / sd of differences)")
        nonzero = diff[diff != 0]
        if len(nonzero) == 0:
            out.update(p_wilcoxon=1.0, wilcoxon_method="Wilcoxon signed-rank: all differences are zero")
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
            out.update(p_wilcoxon=float(w.pvalue), wilcoxon_method=f"Wilcoxon signed-rank, {method}")
    else:
        res = stats.ttest_ind(xb, xa, equal_var=False)
        va, vb = xa.var(ddof=1) / len(xa), xb.var(ddof=1) / len(xb)
        se = math.sqrt(va + vb)
        df = (va + vb) ** 2 / (va**2 / (len(xa) - 1) + vb**2 / (len(xb) - 1)) if se else float(len(xa) + len(xb) - 2)
        half = float(stats.t.ppf(0.975, df) * se)
        pooled = math.sqrt(((len(xa) - 1) * xa.var(ddof=1) + (len(xb) - 1) * xb.var(ddof=1)) / (len(xa) + len(xb) - 2))
        u = stats.mannwhitneyu(xb, xa, alternative="two-sided", method="auto")
        out.update(test="Welch's t-test", t_statistic=float(res.statistic) if se else 0.0, df=float(df),
                   p_ttest=float(res.pvalue) if se else 1.0,
                   ci95_diff=[out["mean_diff"] - half, out["mean_diff"] + half],
                   cohens_d=float(out["mean_diff"] / pooled) if pooled else 0.0,
                   cohens_d_kind="d (pooled sd)", p_wilcoxon=float(u.pvalue),
                   wilcoxon_method="Mann-Whitney U (two-sided)")
    out["bootstrap_ci95_diff"] = bootstrap_ci(a, b, is_paired, seed=seed)
    out["bootstrap_method"] = f"percentile, {BOOTSTRAP_RESAMPLES} resamples, seed {seed}" + (" (paired)" if is_paired else "")
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
