"""autobench's decisions beside AdaStop's, on the same scores.

For every mix in ``benchmarks/mixes/`` each hypothesis gets one pool of nine paired full seeds
(production's run and the candidate's on the same seed, correlated as the simulator draws them,
production's control fresh for each hypothesis so both procedures see the same data) and a fast
run. Three procedures read the same pool:

- **autobench**: the adaptive seed policy with ``improvement_rule: margin`` and ``reproducibility:
  production_noise`` (``autobench.experiments.simulator``'s path: the fast run, then stages of full
  seeds from the pool, the five criteria, the noise ledger);
- **autobench fixed**: the fixed protocol under today's rules (three seeds);
- **AdaStop** (Mathieu et al. 2023, the ``adastop`` package): ``MultipleAgentsComparator`` with
  n = 3 seeds per interim, K = 3 interims, B = 10,000 permutations, alpha = 0.05, run against the
  margin (the candidate's scores minus the threshold against production's); a promotion is its
  decision "larger".

Broken configs are left out (the fast screen's job, which AdaStop does not have). Reported per
procedure: the shares of promotions with true gain ≤ 0 and < the threshold, power (true gain ≥
the threshold) and at 1.5×, the promotion rate of configs whose true gain is 0.85–1× the threshold
(the issue's "0.9× / 0.99×"), and the candidate's runs per hypothesis (autobench's fast run
included; production's runs are not counted for autobench, which caches them, and are for AdaStop,
which needs them fresh).

AdaStop needs pandas, which autobench does not install; run this in a separate environment::

    python3 -m venv /tmp/adavenv && /tmp/adavenv/bin/pip install -r benchmarks/requirements-adastop.txt
    /tmp/adavenv/bin/python benchmarks/bench_adastop.py --hypotheses 2000 --out adastop.json
    /tmp/adavenv/bin/python benchmarks/bench_adastop.py --hypotheses 4000 \
        --mixes benchmarks/mixes/near/near_threshold.yaml --out adastop-near.json
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "include"))

MIXES = ROOT / "benchmarks" / "mixes"
POOL = 9  # paired seeds per hypothesis: AdaStop's n × K
NEAR = (0.85, 1.0)  # "near the threshold", in units of it


def adastop_decision(control: list[float], candidate: list[float], threshold: float, seed: int) -> tuple[bool, int]:
    """AdaStop on the candidate's scores minus the threshold against production's: (promoted, seeds used)."""
    import numpy as np
    from adastop import MultipleAgentsComparator

    comparator = MultipleAgentsComparator(n=3, K=3, B=10_000, alpha=0.05, beta=0, seed=seed)
    scores: dict[str, list[float]] = {"candidate": [], "production": []}
    for k in range(comparator.K):
        scores["candidate"] += [c - threshold for c in candidate[3 * k:3 * k + 3]]
        scores["production"] += control[3 * k:3 * k + 3]
        comparator.partial_compare({k: np.asarray(v) for k, v in scores.items()}, verbose=False)
        if comparator.is_finished:
            break
    decision = next(iter(comparator.decisions.values()))
    return decision == "larger", len(scores["candidate"])


def main() -> int:
    import numpy as np

    from autobench.experiments.promotion import NoiseLedger, Standing, noise_from_production
    from autobench.experiments.seed_policies import get
    from autobench.experiments.simulator import _effect, _full_runs, _z, load_mix, pair_draws

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hypotheses", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mixes", default=",".join(sorted(p.stem for p in MIXES.glob("*.yaml"))))
    parser.add_argument("--out", default="adastop.json")
    opts = parser.parse_args()

    procedures = {"autobench adaptive+margin": (get("adaptive"), "margin", "production_noise"),
                  "autobench fixed (today)": (get("fixed"), "estimate", "mean_share")}
    rows = []
    for mix in opts.mixes.split(","):
        path = Path(mix) if mix.endswith(".yaml") else MIXES / f"{mix}.yaml"
        mix = path.stem
        sc = load_mix(path)
        rng = np.random.default_rng(opts.seed)
        thr = sc.threshold
        prod_full = (sc.production + sc.sd * _z(rng, sc, sc.production_seeds)).tolist()
        prod_fast = (sc.production + sc.fast_noise * sc.sd * _z(rng, sc, sc.production_seeds)).tolist()
        prior = noise_from_production(prod_full, prod_fast)
        standing = Standing("Simulated", sc.production, {f"C{i + 1}": s for i, s in enumerate(sc.competitors)})
        sd_diff = sc.sd * math.sqrt(2 * (1 - sc.correlation))
        ledgers = {name: NoiseLedger() for name in procedures}
        outcomes: dict[str, list[tuple[float, bool, int]]] = {name: [] for name in [*procedures, "AdaStop"]}
        started = time.perf_counter()
        for i in range(opts.hypotheses):
            _, delta = _effect(rng, sc)
            control, candidate = pair_draws(rng, sc, delta)(0, POOL)
            fast_diff = float(delta + sc.fast_noise * sd_diff * _z(rng, sc, 1)[0])

            def from_pool(start: int, k: int, c=control, d=candidate):
                if start + k > POOL:
                    raise RuntimeError(f"the pool holds {POOL} seeds")
                return c[start:start + k], d[start:start + k]

            for name, (policy, rule, repro) in procedures.items():
                noise = ledgers[name].noise(prior)
                runs, diffs, promoted, _ = _full_runs(policy, sc, rng, standing, delta, fast_diff, noise, rule, repro,
                                                      prod_full, draw=from_pool)
                ledgers[name].add(fast_diff, diffs, reference=noise)
                outcomes[name].append((delta, promoted, runs))
            promoted, used = adastop_decision(control, candidate, thr, opts.seed * 1_000_003 + i)
            outcomes["AdaStop"].append((delta, promoted, 2 * used))
        seconds = round(time.perf_counter() - started, 1)
        for name, found in outcomes.items():
            promoted = [d for d, p, _ in found if p]
            eligible = [p for d, p, _ in found if d >= thr]
            strong = [p for d, p, _ in found if d >= 1.5 * thr]
            near = [p for d, p, _ in found if NEAR[0] * thr <= d < NEAR[1] * thr]
            rows.append({
                "mix": mix, "procedure": name, "hypotheses": opts.hypotheses, "promotions": len(promoted),
                "false_promotion_share": sum(d <= 0 for d in promoted) / len(promoted) if promoted else 0.0,
                "below_threshold_share": sum(d < thr for d in promoted) / len(promoted) if promoted else 0.0,
                "power": sum(eligible) / len(eligible) if eligible else None,
                "power_strong": sum(strong) / len(strong) if strong else None,
                "near_threshold_promoted": sum(near) / len(near) if near else None, "near_threshold_n": len(near),
                "runs_per_hypothesis": sum(r for _, _, r in found) / len(found), "seconds": seconds})
        print(f"{mix}: {seconds} s", file=sys.stderr, flush=True)
    Path(opts.out).write_text(json.dumps(rows, indent=2) + "\n")

    def num(x, digits=4):
        return "n/a" if x is None else f"{x:.{digits}f}"

    print("| mix | procedure | promotions | false_promotion_share | below_threshold_share | power | power ≥1.5× "
          "| promoted at 0.85–1× the threshold | runs / hypothesis |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r['mix']} | {r['procedure']} | {r['promotions']} | {num(r['false_promotion_share'])} "
              f"| {num(r['below_threshold_share'])} | {num(r['power'], 3)} | {num(r['power_strong'], 3)} "
              f"| {num(r['near_threshold_promoted'], 3)} (of {r['near_threshold_n']}) "
              f"| {num(r['runs_per_hypothesis'], 2)} |")
    print(f"\ncommand: `{' '.join([Path(sys.executable).name, *sys.argv])}`")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
