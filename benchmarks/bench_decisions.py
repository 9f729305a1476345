"""Decisions across the stream: the improvement and reproducibility rules on the issue's five mixes.

For every mix file in ``benchmarks/mixes/`` (the default mix, 90% null, heavy tails, 3% collapsed
runs, noise 0.005), both seed policies under three rule sets: today's (``improvement_rule:
estimate``, ``reproducibility: mean_share``, the seed's wording), the margin rules
(``margin``, ``production_noise``), and the margin rules with the stream-wide control enforced
(LORD++ at a budget of 0.05, ``false_promotion_control: enforce``). Each cell simulates the same
stream of hypotheses (the same seed) through the code ``autobench decide`` runs
(``autobench.experiments.simulator``), and
reports what the issue's targets read: ``false_promotion_share``, ``below_threshold_share``,
``power`` (true gain ≥ the threshold) and ``power_strong`` (≥ 1.5 × the threshold),
``runs_per_hypothesis`` (and × the fixed protocol's under today's rules) and ``coverage`` of the
reported 95% interval over the promoted configs' true gains (the confirmation's where promotions
are confirmed on fresh seeds: ``+confirm2`` / ``+confirm3``, rolled back when the fresh seeds'
interval lies below the threshold). Production's controls are shared within a production
period (one window, or four: ``+windows4``, as ``experiments.control_windows: 4``) unless
``--controls fresh``; what production's runs cost is beside the candidates'. The last two
columns: by how much the promotions' summed gain overstates their summed true gain, as the
selection estimated it and as autobench reports it (the confirmation's estimate, or without one
the selection's corrected by Tweedie's formula against the stream). One JSON (``--out``), a Markdown
table on stdout.

    .venv/bin/python benchmarks/bench_decisions.py --hypotheses 20000 --out /tmp/decisions.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "include"))

MIXES = ROOT / "benchmarks" / "mixes"
# (improvement rule, reproducibility rule, LORD++ budget enforced, confirmation seeds, control windows)
RULES = {"today": ("estimate", "mean_share", None, 0, 1),
         "today+windows4": ("estimate", "mean_share", None, 0, 4),
         "today+confirm3": ("estimate", "mean_share", None, 3, 1),
         "margin": ("margin", "production_noise", None, 0, 1),
         "margin+windows4": ("margin", "production_noise", None, 0, 4),
         "margin+confirm2": ("margin", "production_noise", None, 2, 1),
         "margin+confirm3": ("margin", "production_noise", None, 3, 1),
         "margin+confirm3+windows4": ("margin", "production_noise", None, 3, 4),
         "margin+LORD++": ("margin", "production_noise", 0.05, 0, 1)}
POLICIES = ("fixed", "adaptive")


def main() -> int:
    from autobench.experiments.seed_policies import get
    from autobench.experiments.simulator import load_mix, simulate

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hypotheses", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mixes", default=",".join(sorted(p.stem for p in MIXES.glob("*.yaml"))))
    parser.add_argument("--out", default="decisions.json")
    parser.add_argument("--controls", default="shared", choices=("shared", "fresh"))
    opts = parser.parse_args()

    rows = []
    for mix in opts.mixes.split(","):
        scenario = load_mix(MIXES / f"{mix}.yaml")
        base = None
        for rules, (rule, reproducibility, fdr, confirm, windows) in RULES.items():
            for name in POLICIES:
                started = time.perf_counter()
                r = simulate(opts.hypotheses, get(name), scenario, opts.seed, rule=rule,
                             reproducibility=reproducibility, fdr_budget=fdr, confirmation_seeds=confirm,
                             controls=opts.controls, control_windows=windows)
                if rules == "today" and name == "fixed":
                    base = r["runs_per_hypothesis"]
                rows.append({"mix": mix, "rules": rules, "policy": name, **r,
                             "runs_vs_fixed_today": r["runs_per_hypothesis"] / base if base else None,
                             "seconds": round(time.perf_counter() - started, 1)})
                print(f"{mix} {rules} {name}: {rows[-1]['seconds']} s", file=sys.stderr, flush=True)
    Path(opts.out).write_text(json.dumps(rows, indent=2) + "\n")

    def pct(x):
        return "n/a" if x is None else f"{x:.4f}"

    print("| mix | rules | policy | promotions | false_promotion_share | below_threshold_share | power | power ≥1.5× "
          "| runs / hypothesis | × fixed (today) | production runs / hypothesis | coverage | rolled back "
          "| Σ gain overstated: selection | reported |")
    print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    def signed(x):
        return "n/a" if x is None else f"{x:+.3f}"

    for r in rows:
        over = r["reported_total_overstated"]
        reported = "confirmation" if r["confirmation_seeds"] else "shrunk"
        print(f"| {r['mix']} | {r['rules']} | {r['policy']} | {r['promotions']} | {pct(r['false_promotion_share'])} "
              f"| {pct(r['below_threshold_share'])} | {r['power']:.3f} | {pct(r['power_strong'])} "
              f"| {r['runs_per_hypothesis']:.3f} | {r['runs_vs_fixed_today']:.3f} "
              f"| {r['production_runs_per_hypothesis']:.3f} | {pct(r['coverage'])} "
              f"| {r['rolled_back']} of {r['selected']} ({r['rolled_back_eligible']} ≥ threshold) "
              f"| {signed(over['selection'])} | {signed(over[reported])} |")
    print(f"\ncommand: `{' '.join([Path(sys.executable).name, *sys.argv])}`")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
