"""The margin rule, reproducibility relative to production's noise, and the simulator's mix files.

Each procedure is checked against scipy's own (the one-sided t-test against a margin and its
interval, the F quantile), and each setting end to end: the registry's
``experiments.improvement_rule`` / ``experiments.reproducibility`` through ``decide``, and
``autobench simulate --mix FILE --json``'s contract.
"""

from __future__ import annotations

import json
import math

import pytest
from conftest import run_cli
from test_decide import NOW, candidate_runs, production_runs

from autobench.errors import AutobenchError
from autobench.experiments.decide import decide
from autobench.experiments.promotion import MARGIN_LEVEL, evaluate, margin_test, reproducible
from autobench.experiments.seed_policies import Evidence, Noise, get
from autobench.schemas import StateError

DIFFS = [0.0071, 0.0052, 0.0094, 0.0063, 0.0080]
THRESHOLD = 0.005


def by_name(crits):
    return {c.name: c for c in crits}


# ----------------------------------------------------------------------------- the margin test


def test_margin_test_is_scipys_one_sided_t_test_against_the_threshold():
    from scipy import stats

    got = margin_test(DIFFS, THRESHOLD, rule="margin")
    ref = stats.ttest_1samp(DIFFS, THRESHOLD, alternative="greater")
    assert got.p_value == pytest.approx(float(ref.pvalue), rel=1e-9)
    assert got.confidence == pytest.approx(1 - float(ref.pvalue), rel=1e-9)
    low, _ = stats.ttest_1samp(DIFFS, 0.0).confidence_interval(0.95)  # the two-sided 95% interval
    assert MARGIN_LEVEL == 0.975 and got.lower_bound == pytest.approx(float(low), rel=1e-9)
    assert got.df == 4 and "alone" in got.noise


def test_margin_test_pools_production_s_known_noise():
    from scipy import stats

    noise = Noise(sd_diff=0.002, df=9.0)
    got = margin_test(DIFFS, THRESHOLD, noise, rule="margin")
    n, mean = len(DIFFS), sum(DIFFS) / len(DIFFS)
    ss = sum((d - mean) ** 2 for d in DIFFS)
    df = 9 + n - 1
    se = math.sqrt((9 * 0.002**2 + ss) / df / n)
    assert got.df == df and got.se == pytest.approx(se)
    assert got.p_value == pytest.approx(float(stats.t.sf((mean - THRESHOLD) / se, df)))
    assert got.lower_bound == pytest.approx(mean - float(stats.t.ppf(0.975, df)) * se)
    exact = margin_test(DIFFS, THRESHOLD, Noise(0.002, math.inf), rule="margin")  # known exactly: normal
    assert exact.df == math.inf
    assert exact.p_value == pytest.approx(float(stats.norm.sf((mean - THRESHOLD) / (0.002 / math.sqrt(n)))))


def test_the_rules_differ_where_the_estimate_clears_the_threshold_but_its_interval_does_not():
    near = [0.0061, 0.0032, 0.0089, 0.0048, 0.0075]  # mean 0.0061 ≥ 0.005, lower bound well below
    control = [0.9] * 5
    candidate = [0.9 + d for d in near]
    est = by_name(evaluate(threshold=THRESHOLD, control=control, candidate=candidate)[0])["improvement"]
    mar = by_name(evaluate(threshold=THRESHOLD, control=control, candidate=candidate, rule="margin")[0])["improvement"]
    assert est.passed is True and mar.passed is False
    assert est.value == mar.value == pytest.approx(0.0061)  # the estimate is reported either way
    assert "95% lower bound" in est.detail and "confidence that the gain ≥ 0.005" in mar.detail
    assert "improvement_rule: margin" in mar.requirement
    far = [d + 0.01 for d in near]
    assert by_name(evaluate(threshold=THRESHOLD, control=control, candidate=[0.9 + d for d in far],
                            rule="margin")[0])["improvement"].passed is True


def test_a_candidate_noisier_than_production_is_judged_on_its_own_spread():
    from scipy import stats

    wild = [0.02, 0.0001, 0.0205]  # pooled with a tight shared noise it would look certain
    got = margin_test(wild, THRESHOLD, Noise(0.002, 200.0), rule="margin")
    ref = stats.ttest_1samp(wild, THRESHOLD, alternative="greater")
    assert got.df == 2 and got.p_value == pytest.approx(float(ref.pvalue)) and got.passed is False
    assert "alone" in got.noise


def test_margin_test_edge_cases():
    assert margin_test([], THRESHOLD, rule="margin").passed is False
    one = margin_test([0.01], THRESHOLD, rule="margin")
    assert one.passed is False and math.isnan(one.lower_bound)
    assert margin_test([0.01], THRESHOLD, Noise(0.002, 9.0), rule="margin").df == 9  # production's noise suffices
    flat = margin_test([0.0078125] * 3, THRESHOLD, rule="margin")  # exact in binary: no spread at all
    assert flat.se == 0 and flat.passed is True and flat.p_value == 0.0
    with pytest.raises(ValueError, match="improvement_rule"):
        margin_test(DIFFS, THRESHOLD, rule="eyeball")
    assert json.dumps(one.as_dict())  # NaN never reaches a record


def test_the_adaptive_policy_tests_the_gain_beyond_the_threshold_under_margin():
    policy = get("adaptive")
    noise = Noise(sd_diff=0.002, df=200.0)
    diffs = [0.0062, 0.0058, 0.0061]  # clearly above 0, barely above the threshold

    def ev(rule):
        return Evidence(THRESHOLD, 0.006, diffs, noise, criteria=lambda: [], rule=rule)

    assert policy.next_step(ev("estimate")).action == "decide"
    step = policy.next_step(ev("margin"))
    assert step.action == "full", step  # the margin is not yet shown: more seeds


# ----------------------------------------------------------------------------- reproducibility


def test_production_noise_reproducibility_does_not_depend_on_the_metric_s_scale_or_direction():
    from scipy import stats

    production = [0.9905, 0.9891, 0.9921, 0.9899, 0.9912, 0.9886, 0.9925, 0.9903, 0.9894, 0.9917]
    candidate = [0.9960, 0.9931, 0.9978]
    as_error = ([1 - x for x in candidate], [1 - x for x in production])
    # the seed's rule: passes as accuracy, fails as error rate (std as a share of a small mean)
    assert reproducible(candidate, production).passed is True
    assert reproducible(*as_error).passed is False
    acc = reproducible(candidate, production, "production_noise")
    err = reproducible(*as_error, "production_noise")
    assert acc.passed is err.passed is True
    assert acc.value["std_ratio"] == pytest.approx(err.value["std_ratio"])
    assert acc.value["limit"] == pytest.approx(math.sqrt(float(stats.f.ppf(0.99, 2, 9))), rel=1e-4)
    wild = reproducible([0.9960, 0.9831, 0.9998], production, "production_noise")
    assert wild.passed is False and wild.value["std_ratio"] > wild.value["limit"]
    assert reproducible(candidate[:2], production, "production_noise").detail == "only 2 seed(s)"
    assert reproducible(candidate, production[:1], "production_noise").passed is False
    with pytest.raises(ValueError, match="reproducibility"):
        reproducible(candidate, production, "vibes")


# ----------------------------------------------------------------------------- through decide


def set_experiments(store, **settings):
    """Add ``experiments`` settings to the registry (after its seed_policy line)."""
    path = store.home / "competitive_registry.yaml"
    lines = "".join(f"\n  {k}: {v}" for k, v in settings.items())
    path.write_text(path.read_text().replace("  seed_policy: fixed", "  seed_policy: fixed" + lines, 1))


def test_decide_records_the_margin_and_promotes_by_the_registry_s_rule(store):
    production_runs(store)
    candidate_runs(store, "H-002", {1: 0.0061, 2: 0.0058, 3: 0.0063}, fast_gain=0.006)
    record = decide(store, "H-002", NOW, write=False)
    assert record.decision == "promote"  # estimate (the default): 0.0061 ≥ 0.005
    assert record.margin["rule"] == "estimate" and record.margin["passed"] is True
    assert record.margin["lower_bound"] < 0.005 < record.margin["gain"]
    assert 0.5 < record.margin["confidence"] < 0.975 and record.margin["df"] >= 9 + 2
    set_experiments(store, improvement_rule="margin", reproducibility="production_noise")
    record = decide(store, "H-002", NOW, write=False)
    assert record.decision == "reject" and record.margin["rule"] == "margin"
    assert [c.name for c in record.criteria if not c.passed] == ["improvement"]
    rep = record.criterion("reproducibility")
    assert rep.passed is True and rep.value["production_runs"] == 10
    assert json.loads(json.dumps(record.as_dict()))["margin"]["passed"] is False


def test_the_registry_refuses_unknown_rules(store):
    from autobench.schemas import REGISTRY

    path = store.home / "competitive_registry.yaml"
    text = path.read_text()
    path.write_text(text.replace("  seed_policy: fixed", "  seed_policy: fixed\n  improvement_rule: hopeful", 1))
    with pytest.raises(StateError, match="improvement_rule.*not an improvement rule"):
        store.load(REGISTRY)
    path.write_text(text.replace("  seed_policy: fixed", "  seed_policy: fixed\n  reproducibility: vibes", 1))
    with pytest.raises(StateError, match="reproducibility.*not a reproducibility rule"):
        store.load(REGISTRY)


# ----------------------------------------------------------------------------- the simulator


MIX = """\
effects:
  - {share: 0.9, effect: 0}
  - {share: 0.05, effect: 0.9}
  - {share: 0.05, effect: [1.5, 4]}
noise: {sd: 0.005, tails: t3, collapse_rate: 0.01, correlation: 0.5}
"""


def test_simulate_mix_json_contract(tmp_path):
    mix = tmp_path / "mix.yaml"
    mix.write_text(MIX)
    proc = run_cli("simulate", "--hypotheses", "600", "--policy", "adaptive", "--mix", str(mix), "--seed", "3",
                   "--rule", "margin", "--reproducibility", "production_noise", "--json", home=tmp_path / "none")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    for key in ("false_promotion_share", "below_threshold_share", "power", "runs_per_hypothesis", "coverage"):
        assert key in out, key
    assert out["improvement_rule"] == "margin" and out["reproducibility"] == "production_noise"
    assert out["scenario"]["tails"] == "t3" and out["scenario"]["name"] == "mix:mix"
    assert 0 <= out["below_threshold_share"] <= 1 and 0 <= out["power"] <= 1
    assert out["runs_per_hypothesis"] >= 1 and out["hypotheses"] == 600
    assert set(out["seed_runs_per_hypothesis_by_effect"]) == {"effect 0", "effect 0.9", "effect 1.5..4"}


def test_on_a_mostly_null_stream_the_margin_rule_promotes_fewer_configs_below_the_threshold():
    from autobench.experiments.simulator import scenario_with, simulate

    sc = scenario_with("noisy", effects=((0.9, 0.0, 0.0), (0.05, 0.9, 0.9), (0.05, 2.0, 2.0)), broken=0.0)
    policy = get("fixed")
    estimate = simulate(3000, policy, sc, seed=1)
    margin = simulate(3000, policy, sc, seed=1, rule="margin", reproducibility="production_noise")
    assert estimate["promotions"] > 0 and margin["promotions"] > 0
    assert margin["below_threshold_share"] < estimate["below_threshold_share"]
    assert margin["false_promotion_share"] <= estimate["false_promotion_share"]
    with pytest.raises(AutobenchError, match="improvement rule"):
        simulate(10, policy, sc, rule="hopeful")
    with pytest.raises(AutobenchError, match="false_promotion_budget"):
        simulate(10, policy, sc, fdr_budget=1.5)
    lord = simulate(3000, policy, sc, seed=1, rule="margin", reproducibility="production_noise", fdr_budget=0.05)
    assert lord["promotions"] <= margin["promotions"] and lord["fdr"]["procedure"] == "LORD++"
    # as decide: a final decision on full runs is a test (a fast-run stop is not)
    assert 0 < lord["fdr"]["tests"] <= 3000 - lord["broken"] - lord["healthy_screened_out"]
    assert lord["fdr"]["discoveries"] == lord["promotions"]


@pytest.mark.parametrize(("text", "message"), [
    ("effects:\n  - {share: 0.5, effect: 0}\nnoise: {sd: 0.003}\n", "shares sum to 0.5"),
    ("effects:\n  - {share: 1, effect: 0}\nnoise: {sd: 0.003, tails: cauchy}\n", "noise.tails"),
    ("effects:\n  - {share: 1, effect: [2, 1]}\nnoise: {sd: 0.003}\n", "low to high"),
    ("effects: []\nnoise: {sd: 0.003}\n", "effects"),
    ("effects:\n  - {share: 1, effect: 0}\n", "noise: Field required"),
    ("effects:\n  - {share: 1, effect: 0}\nnoise: {sd: 0.003}\nbrokn: 0.1\n", "brokn"),
    ("effects: [unclosed\n", "not YAML"),
])
def test_a_bad_mix_file_is_a_clear_error(tmp_path, text, message):
    from autobench.experiments.simulator import load_mix

    mix = tmp_path / "mix.yaml"
    mix.write_text(text)
    with pytest.raises(AutobenchError, match="simulate --mix") as err:
        load_mix(mix)
    assert message in str(err.value)
    with pytest.raises(AutobenchError, match="cannot read"):
        load_mix(tmp_path / "missing.yaml")
    proc = run_cli("simulate", "--hypotheses", "10", "--policy", "fixed", "--mix", str(mix), home=tmp_path / "h")
    assert proc.returncode != 0 and "simulate --mix" in proc.stderr and "Traceback" not in proc.stderr


# ----------------------------------------------------------------------------- robust noise


def test_one_collapsed_production_run_does_not_inflate_the_noise():
    from autobench.experiments.promotion import noise_from_production, set_aside_collapsed

    runs = [0.9905, 0.9891, 0.9921, 0.9899, 0.9912, 0.9886, 0.9925, 0.9903, 0.9894, 0.9917]
    clean = noise_from_production(runs)
    hit = noise_from_production(runs[:-1] + [0.62])  # one run diverged
    assert set_aside_collapsed(runs) == (runs, 0)
    assert set_aside_collapsed(runs[:-1] + [0.62])[1] == 1 and "1 collapsed run(s) set aside" in hit.source
    assert hit.sd_diff == pytest.approx(clean.sd_diff, rel=0.25) and hit.df == 8
    assert set_aside_collapsed([0.9, 0.1, 0.91])[1] == 0  # fewer than five runs: nothing to judge by
    # calibrated: sets of normal runs lose one about once in a thousand (Bonferroni at 1e-3)
    import numpy as np

    rng = np.random.default_rng(0)
    lost = sum(set_aside_collapsed(rng.standard_normal(5).tolist())[1] > 0 for _ in range(4000))
    assert lost <= 12  # 4 expected


def test_the_ledger_sets_aside_a_hypothesis_the_shared_noise_cannot_explain():
    from autobench.experiments.promotion import NoiseLedger

    prior = Noise(sd_diff=0.002, df=9.0)
    book = NoiseLedger()
    book.add(0.001, [0.0010, 0.0031, -0.0012, 0.0004], reference=book.noise(prior))  # ordinary
    book.add(0.001, [0.0010, 0.0031, -0.0712, 0.0004], reference=book.noise(prior))  # a collapsed seed
    assert book.df == 3 and book.set_aside == 1
    assert book.noise(prior).sd_diff < 0.003 and "1 set aside" in book.noise(prior).source
    unguarded = NoiseLedger()
    unguarded.add(0.001, [0.0010, 0.0031, -0.0712, 0.0004])  # no reference: pooled as before
    assert unguarded.noise(prior).sd_diff > 0.01


def test_the_simulator_models_shared_controls_windows_and_confirmations(tmp_path):
    """One window of shared control runs starves the fixed protocol on a stream with collapsed
    runs (one bad production run sits in every pair of its period); four windows or fresh controls
    do not. Confirmations run 2k seeds per promotion, their interval is what coverage reads, and
    the summed gains they report overstate the truth less than the selection's."""
    from autobench.experiments.simulator import scenario_with, simulate

    sc = scenario_with("default", collapse_rate=0.03)
    policy = get("fixed")
    shared = simulate(2000, policy, sc, seed=0)
    windows = simulate(2000, policy, sc, seed=0, control_windows=4)
    fresh = simulate(2000, policy, sc, seed=0, controls="fresh")
    assert shared["controls"] == "shared" and windows["control_windows"] == 4
    assert shared["power"] < 0.2 < windows["power"] and shared["power"] < fresh["power"]
    assert shared["production_runs_per_hypothesis"] < windows["production_runs_per_hypothesis"] \
        < fresh["production_runs_per_hypothesis"]

    confirmed = simulate(3000, get("adaptive"), "default", seed=1, confirmation_seeds=3)
    plain = simulate(3000, get("adaptive"), "default", seed=1)
    assert confirmed["confirmation_seeds"] == 3 and confirmed["selected"] >= confirmed["promotions"]
    assert confirmed["selected"] - confirmed["promotions"] == confirmed["rolled_back"]
    assert confirmed["confirmation_runs_per_hypothesis"] == pytest.approx(6 * confirmed["selected"] / 3000)
    assert confirmed["runs_per_hypothesis"] > plain["runs_per_hypothesis"]
    over = confirmed["reported_total_overstated"]
    assert abs(over["confirmation"]) < over["selection"]
    for bad, match in (({"controls": "borrowed"}, "unknown controls"), ({"control_windows": 0}, "control-windows"),
                       ({"confirmation_seeds": 21}, "confirmation-seeds")):
        with pytest.raises(AutobenchError, match=match):
            simulate(10, policy, sc, **bad)
    proc = run_cli("simulate", "--hypotheses", "300", "--policy", "adaptive", "--confirmation-seeds", "2",
                   "--controls", "fresh", "--control-windows", "2", "--json", home=tmp_path / "none")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert (out["confirmation_seeds"], out["controls"], out["control_windows"]) == (2, "fresh", 2)
    proc = run_cli("simulate", "--hypotheses", "10", "--policy", "fixed", "--controls", "borrowed",
                   home=tmp_path / "none")
    assert proc.returncode != 0 and "borrowed" in proc.stderr
