"""A 10,000-resample paired bootstrap CI for 30 seeds: autobench's vectorised one vs scipy's.

Target: under 50 ms. Reports the median of repeated timings of
``autobench.experiments.statistics.bootstrap_ci`` (percentile, vectorised numpy, seeded) and of
``scipy.stats.bootstrap`` on the same paired differences (percentile and BCa, vectorized),
and how far apart their intervals are.

    .venv/bin/python benchmarks/bench_bootstrap.py [--repeats 20]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np
from scipy import stats

from autobench.experiments.statistics import bootstrap_ci


def timed(fn, repeats: int) -> tuple[float, object]:
    out = fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=20)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    control = 0.823 + 0.003 * rng.standard_normal(30)
    candidate = control + 0.006 + 0.003 * rng.standard_normal(30)
    diff = candidate - control
    ours_t, ours = timed(lambda: bootstrap_ci(control, candidate, paired=True), args.repeats)
    pct_t, pct = timed(lambda: stats.bootstrap((diff,), np.mean, n_resamples=10_000, method="percentile",
                                               vectorized=True, random_state=0).confidence_interval, args.repeats)
    bca_t, bca = timed(lambda: stats.bootstrap((diff,), np.mean, n_resamples=10_000, method="BCa",
                                               vectorized=True, random_state=0).confidence_interval, args.repeats)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, numpy {np.__version__}")
    print("command: .venv/bin/python benchmarks/bench_bootstrap.py --repeats", args.repeats)
    print("\n| method | median time | 95% CI of the mean difference |\n| --- | --- | --- |")
    print(f"| autobench bootstrap_ci (percentile, paired) | {1000 * ours_t:.1f} ms | [{ours[0]:.5f}, {ours[1]:.5f}] |")
    print(f"| scipy.stats.bootstrap percentile | {1000 * pct_t:.1f} ms ({pct_t / ours_t:.1f}× ours) | "
          f"[{pct.low:.5f}, {pct.high:.5f}] |")
    print(f"| scipy.stats.bootstrap BCa | {1000 * bca_t:.1f} ms ({bca_t / ours_t:.1f}× ours) | "
          f"[{bca.low:.5f}, {bca.high:.5f}] |")
    print(f"\ntarget < 50 ms: {'met' if ours_t < 0.05 else 'NOT met'}")


if __name__ == "__main__":
    main()
