"""Seed policies, the simulator and the variance/power tools."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from conftest import run_cli

from autobench.experiments import seed_policies
from autobench.experiments.promotion import evaluate
from autobench.experiments.seed_policies import Evidence, Noise
from autobench.experiments.simulator import simulate, wilson
from autobench.experiments.statistics import (
    StatisticsError,
    plot_variance,
    power_from_pilot,
    power_of_paired_t,
    seeds_for_power,
    variance_vs_n,
)

NOISE = Noise(0.003, math.inf, 2.0, "known")


def crit(control, candidate, threshold=0.005):
    return lambda: evaluate(threshold=threshold, control=control, candidate=candidate)[0]


# ----------------------------------------------------------------------------- policies


def test_get_names_unknown_policies_and_knobs():
    assert seed_policies.get("fixed").name == "fixed"
    with pytest.raises(ValueError, match="unknown seed policy 'bandit'"):
        seed_policies.get("bandit")
    with pytest.raises(ValueError, match=r"unknown option 'stage' for the adaptive seed policy \(options: stages"):
        seed_policies.get("adaptive", stage=[1, 2])
    with pytest.raises(ValueError, match="increasing"):
        seed_policies.get("adaptive", stages=[3, 2])


def test_registry_refuses_bad_policy_knobs(store):
    from autobench.schemas import REGISTRY, StateError

    with pytest.raises(StateError, match="seed_policy_options: unknown option 'stagez'"):
        with store.edit(REGISTRY) as doc:
            doc["experiments"]["seed_policy_options"] = {"stagez": [1]}


def test_fixed_policy_steps():
    p = seed_policies.get("fixed")
    assert p.next_step(Evidence(0.005)).action == "fast"
    step = p.next_step(Evidence(0.005, fast_diff=0.0, diffs=[0.01]))
    assert (step.action, step.runs) == ("full", 2)
    ctrl, cand = [0.82, 0.823, 0.826], [0.83, 0.832, 0.836]
    ev = Evidence(0.005, 0.0, [b - a for a, b in zip(ctrl, cand, strict=False)], criteria=crit(ctrl, cand))
    assert p.next_step(ev).action == "decide"


def test_adaptive_stops_harmful_and_futile_early_and_never_promotes_before_three_seeds():
    p = seed_policies.get("adaptive")
    assert p.next_step(Evidence(0.005, noise=NOISE)).action == "fast"
    harm = p.next_step(Evidence(0.005, fast_diff=-0.03, noise=NOISE))
    assert harm.action == "stop" and harm.reason.startswith("harm")
    futile = p.next_step(Evidence(0.005, fast_diff=-0.001, diffs=[-0.001], noise=NOISE))
    assert futile.action == "stop" and futile.reason.startswith("futility")
    # a huge gain after one seed still needs the stages up to three full seeds
    step = p.next_step(Evidence(0.005, fast_diff=0.03, diffs=[0.03], noise=NOISE, criteria=crit([0.8], [0.83])))
    assert (step.action, step.runs) == ("full", 2)
    ctrl, cand = [0.820, 0.823, 0.826], [0.850, 0.852, 0.857]
    ev = Evidence(0.005, 0.03, [b - a for a, b in zip(ctrl, cand, strict=False)], NOISE, criteria=crit(ctrl, cand))
    assert p.next_step(ev).action == "decide"


def test_adaptive_boundaries_spend_alpha_over_the_looks():
    p = seed_policies.get("adaptive")
    bounds = [p.boundary(n, True, 2.0) for n in (3, 5, 8)]
    assert bounds[0] > bounds[1] > 0 and all(b > 1.96 for b in bounds)  # O'Brien–Fleming shape, conservative


# ----------------------------------------------------------------------------- the simulator


def test_the_simulator_reproduces_the_fixed_protocol():
    r = simulate(3000, seed_policies.get("fixed"), "default", seed=1)
    # 1 fast + 3 full; broken configs stop after the fast run; a rare extension of an inconclusive, noisy result adds 3
    base = 4 * r["hypotheses"] - 3 * r["broken"]
    extra = r["seed_runs"] - base
    assert extra % 3 == 0 and 0 <= extra <= 0.01 * r["hypotheses"]
    assert r["seed_runs_per_hypothesis"] == pytest.approx(3.70, abs=0.06)
    assert 0.64 <= r["power"] <= 0.80 and r["false_promotion_rate"] <= 0.02
    assert r["broken_caught"] == r["broken"] > 0
    again = simulate(3000, seed_policies.get("fixed"), "default", seed=1)
    assert again == r  # seeded


def test_adaptive_beats_fixed_on_the_default_scenario():
    fixed = simulate(4000, seed_policies.get("fixed"), seed=2)
    adaptive = simulate(4000, seed_policies.get("adaptive"), seed=2)
    assert adaptive["false_promotion_rate"] <= 0.05
    assert adaptive["power"] >= fixed["power"] + 0.15
    assert adaptive["seed_runs"] <= 0.62 * fixed["seed_runs"]  # the 20k benchmark holds it to 0.6


def test_simulate_cli_json_and_errors():
    proc = run_cli("simulate", "--hypotheses", "300", "--policy", "adaptive", "--seed", "3", "--json", check=True)
    out = json.loads(proc.stdout)
    for key in ("false_promotion_rate", "power", "seed_runs", "seed_runs_per_hypothesis", "promotions",
                "broken_caught", "false_promotion_rate_ci95", "power_ci95", "seed_runs_per_hypothesis_ci95",
                "broken_caught_rate_ci95"):
        assert key in out
    proc = run_cli("simulate", "--hypotheses", "10", "--policy", "fixed", "--scenario", "nope")
    assert proc.returncode == 1 and "unknown scenario 'nope'" in proc.stderr
    proc = run_cli("simulate", "--hypotheses", "10", "--policy", "adaptive", "--knob", "futility=0.5")
    assert proc.returncode == 1 and "unknown option 'futility'" in proc.stderr
    proc = run_cli("simulate", "--hypotheses", "10", "--policy", "adaptive", "--knob", "stages=1,3,5,8")
    assert proc.returncode == 0 and "broken caught" in proc.stdout


def test_wilson_interval():
    lo, hi = wilson(5, 100)
    assert lo == pytest.approx(0.02154, abs=1e-4) and hi == pytest.approx(0.11175, abs=1e-4)  # published values
    assert wilson(0, 0) == [None, None]


# ----------------------------------------------------------------------------- variance vs N, power


def test_variance_vs_n_curve_minimum_n_and_plot(tmp_path):
    scores = [0.9905, 0.9891, 0.9921, 0.9899, 0.9912, 0.9886, 0.9925, 0.9903, 0.9894, 0.9917]
    r = variance_vs_n(scores, threshold=0.0006)
    sd, mean = np.std(scores, ddof=1), np.mean(scores)
    assert r["cv_of_mean"][0] == pytest.approx(sd / math.sqrt(2) / mean)
    assert r["min_n"] == math.ceil((sd / mean / 0.0006) ** 2)
    assert all(a > b for a, b in zip(r["cv_of_mean"], r["cv_of_mean"][1:], strict=False))
    assert r["cv_of_mean_resampled"][2] == pytest.approx(r["cv_of_mean"][2], rel=0.2)
    png = plot_variance(r, str(tmp_path / "v.png"))
    assert open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(StatisticsError, match="at least 3"):
        variance_vs_n([0.9, 0.91])
    with pytest.raises(StatisticsError, match="NaN"):
        variance_vs_n([0.9, float("nan"), 0.91])


def test_seeds_for_power_matches_published_tables():
    # one-sample / paired t-test, two-sided alpha 0.05, power 0.8 (Cohen 1988; G*Power): d = 0.5 -> 34, d = 0.8 -> 15
    assert seeds_for_power(0.5, 1.0)["n"] == 34
    assert seeds_for_power(0.8, 1.0)["n"] == 15
    r = seeds_for_power(0.005, 0.003)
    assert power_of_paired_t(r["n"], 0.005, 0.003) >= 0.8 > power_of_paired_t(r["n"] - 1, 0.005, 0.003)
    with pytest.raises(StatisticsError, match="positive"):
        seeds_for_power(0.0, 0.003)


def test_power_from_a_pilot_by_simulation():
    rng = np.random.default_rng(5)
    r = power_from_pilot([0.82, 0.823, 0.826, 0.821], 0.005)
    n, sd = r["n"], r["sd_diff"]
    diffs = 0.005 + sd * rng.standard_normal((20000, n))
    from scipy import stats

    p = stats.ttest_1samp(diffs, 0.0, axis=1).pvalue
    assert abs(float((p < 0.05).mean()) - r["achieved_power"]) < 0.015


def test_variance_and_power_cli(tmp_path, home):
    f = tmp_path / "s.json"
    f.write_text(json.dumps({"1": 0.9905, "2": 0.9891, "3": 0.9921, "4": 0.9899}))
    png = tmp_path / "plot.png"
    proc = run_cli("variance", str(f), "--threshold", "0.001", "--plot", str(png), "--json", check=True)
    assert json.loads(proc.stdout)["min_n"] >= 1 and png.stat().st_size > 1000
    proc = run_cli("power", str(f), "--json", home=home, check=True)
    out = json.loads(proc.stdout)
    assert out["effect"] == 0.005 and out["n"] >= 2
    proc = run_cli("variance", "H-002", home=home)
    assert proc.returncode == 1 and "no complete full runs" in proc.stderr


def test_the_adaptive_policys_stagewise_p_value_is_valid_under_its_stopping_rule():
    """Under "no gain", paths of z over the policy's looks (3, 5, 8 seeds; efficacy at the first
    two when z crosses the boundary): the stage-wise p-value at the stop is uniform, P(p ≤ a) ≈ a,
    where reading the stopped z as if the seed count had been fixed is not. A single look is the
    plain normal p-value."""
    from scipy import special

    policy = seed_policies.get("adaptive")
    rng = np.random.default_rng(11)
    looks = [3, 5, 8]
    bounds = [policy.boundary(n, False, math.inf) for n in looks[:-1]]
    m = 2000
    increments = rng.standard_normal((m, 8))
    p_stage, p_naive = [], []
    for row in increments:
        for i, n in enumerate(looks):
            z = row[:n].sum() / math.sqrt(n)
            if i == len(looks) - 1 or z >= bounds[i]:
                p_stage.append(policy.stagewise_p(z, n, False, math.inf))
                p_naive.append(float(special.ndtr(-z)))
                break
    p_stage, p_naive = np.asarray(p_stage), np.asarray(p_naive)
    for a in (0.01, 0.025, 0.05, 0.2, 0.5):
        assert abs((p_stage <= a).mean() - a) < 3 * math.sqrt(a * (1 - a) / m) + 0.002, a
    assert (p_naive <= 0.025).mean() >= (p_stage <= 0.025).mean()
    assert policy.stagewise_p(1.7, 3, False, math.inf) == pytest.approx(float(special.ndtr(-1.7)))
    # the density recursion against scipy's multivariate normal (corr √(t_i / t_j)), fast run included
    from scipy import stats

    ratio = 2.0
    for z, n in ((2.0, 5), (2.6, 8), (-0.5, 8)):
        earlier = [s for s in (3, 5) if s < n]
        info = [(s + 0.25) / 8.25 for s in [*earlier, n]]
        cov = [[math.sqrt(min(a, b) / max(a, b)) for b in info] for a in info]
        upper = [policy.boundary(s, True, ratio) for s in earlier] + [z]
        reference = 1 - stats.multivariate_normal.cdf(upper, mean=[0.0] * len(info), cov=cov, abseps=1e-8,
                                                      releps=1e-8, rng=np.random.default_rng(1))
        assert policy.stagewise_p(z, n, True, ratio) == pytest.approx(reference, abs=2e-6)
    # the same z is weaker evidence at a later look, after the earlier looks let it go on
    assert policy.stagewise_p(2.2, 8, False, math.inf) > float(special.ndtr(-2.2))


def test_the_adaptive_policy_reads_its_t_statistic_on_the_normal_scale():
    """The noise is estimated, so the efficacy statistic is a t: its boundary and p-value are
    taken at the normal z with the same tail (a t of 3.48 on 6 df is not a 0.00025 event)."""
    from scipy import special, stats

    from autobench.experiments.seed_policies.adaptive import normal_equivalent

    z = normal_equivalent(3.48, 6)
    assert special.ndtr(-z) == pytest.approx(stats.t.sf(3.48, 6), rel=1e-9) and z < 3.0
    assert normal_equivalent(2.0, math.inf) == 2.0 and math.isnan(normal_equivalent(float("nan"), 4))
