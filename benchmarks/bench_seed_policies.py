"""Seed policies on a simulated stream of hypotheses (statistics issue targets).

Runs the simulator (``autobench.experiments.simulator``, the same code as ``autobench simulate``) on
20,000 hypotheses of the default scenario for both policies and several simulation seeds, the
adaptive policy's knobs one at a time, and the other scenarios; prints Markdown tables for
docs/benchmarks.md. Targets: adaptive false_promotion_rate ≤ 0.05, power ≥ fixed + 0.15,
seed_runs ≤ 0.6 × fixed.

    .venv/bin/python benchmarks/bench_seed_policies.py [--hypotheses 20000] [--seeds 0,1,2]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

from autobench.experiments.seed_policies import get
from autobench.experiments.simulator import SCENARIOS, simulate


def row(label: str, r: dict, fixed_runs: float | None = None) -> str:
    ratio = f"{r['seed_runs'] / fixed_runs:.3f}" if fixed_runs else "1"
    fp = r["false_promotion_rate_ci95"]
    pw = r["power_ci95"]
    return (f"| {label} | {r['false_promotion_rate']:.4f} ({fp[0]:.4f}–{fp[1]:.4f}) | {r['power']:.3f} "
            f"({pw[0]:.3f}–{pw[1]:.3f}) | {r['seed_runs_per_hypothesis']:.3f} | {ratio} | {r['promotions']} | "
            f"{r['broken_caught']}/{r['broken']} |")


HEAD = ("| policy | false promotion rate (95% CI) | power (95% CI) | seed runs / hypothesis | × fixed | promotions "
        "| broken caught |\n| --- | --- | --- | --- | --- | --- | --- |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hypotheses", type=int, default=20_000)
    ap.add_argument("--seeds", default="0,1,2")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    n = args.hypotheses
    t0 = time.perf_counter()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}")
    print(f"command: .venv/bin/python benchmarks/bench_seed_policies.py --hypotheses {n} --seeds {args.seeds}\n")

    print(f"### Default scenario, {n} hypotheses\n\n{HEAD}")
    for seed in seeds:
        fixed = simulate(n, get("fixed"), "default", seed)
        adaptive = simulate(n, get("adaptive"), "default", seed)
        print(row(f"fixed, seed {seed}", fixed))
        print(row(f"adaptive, seed {seed}", adaptive, fixed["seed_runs"]))
        ok = (adaptive["false_promotion_rate"] <= 0.05 and adaptive["power"] >= fixed["power"] + 0.15
              and adaptive["seed_runs"] <= 0.6 * fixed["seed_runs"])
        print(f"| targets met (seed {seed}) | {'yes' if ok else 'NO'} | | | | | |")
    print(f"\nRuns per hypothesis by true effect (adaptive, seed {seeds[0]}): "
          f"{simulate(n, get('adaptive'), 'default', seeds[0])['seed_runs_per_hypothesis_by_effect']}")

    seed = seeds[0]
    fixed = simulate(n, get("fixed"), "default", seed)
    print(f"\n### The adaptive policy's knobs, one at a time (default scenario, seed {seed})\n\n{HEAD}")
    print(row("defaults", simulate(n, get("adaptive"), "default", seed), fixed["seed_runs"]))
    variants = [
        {"futility_fast": 0.95}, {"futility_fast": 0.8},
        {"futility_full": 0.6}, {"futility_full": 0.8},
        {"stages": (1, 3, 4, 6)}, {"stages": (1, 3, 6, 10)}, {"stages": (2, 3, 5, 8)},
        {"harm": 0.99}, {"alpha": 0.01},
    ]
    for knobs in variants:
        label = ", ".join(f"{k}={list(v) if isinstance(v, tuple) else v}" for k, v in knobs.items())
        print(row(label, simulate(n, get("adaptive", **knobs), "default", seed), fixed["seed_runs"]))
    r = simulate(n, get("adaptive"), "default", seed, learn_noise=False)
    print(row("without learning the noise from earlier experiments", r, fixed["seed_runs"]))

    print(f"\n### Other scenarios (seed {seed})\n\n{HEAD}")
    for name in SCENARIOS:
        if name == "default":
            continue
        f = simulate(n, get("fixed"), name, seed)
        a = simulate(n, get("adaptive"), name, seed)
        print(row(f"{name}: fixed", f))
        print(row(f"{name}: adaptive", a, f["seed_runs"]))
    print(f"\n(total {time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
