"""The promotion criteria: each criterion's value and verdict, the fast screen, the noise model,
and the words every place that shows a decision uses (:mod:`autobench.experiments.explain`)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from autobench.experiments import explain
from autobench.experiments.promotion import (
    NoiseLedger,
    Standing,
    evaluate,
    fast_screen,
    noise_from_production,
)
from autobench.schemas import CRITERIA

CONTROL = [0.9905, 0.9891, 0.9921, 0.9899]
GAIN = [0.0091, 0.0088, 0.0095, 0.0090]


def by_name(crits):
    return {c.name: c for c in crits}


def test_five_criteria_in_order_all_met_by_a_real_gain():
    candidate = [c + g for c, g in zip(CONTROL, GAIN, strict=True)]
    crits, proj = evaluate(threshold=0.005, control=CONTROL, candidate=candidate,
                           latency=([2.0] * 4, [2.1] * 4), memory=([100.0] * 4, [110.0] * 4),
                           standings=[Standing("MemoryBench", 0.99, {"A": 0.995, "B": 0.98})])
    assert [c.name for c in crits] == list(CRITERIA)
    assert all(c.passed for c in crits), [c for c in crits if not c.passed]
    c = by_name(crits)
    assert c["improvement"].value == pytest.approx(sum(GAIN) / 4, abs=1e-6)
    assert c["regression"].value == {"latency_change_pct": 5.0, "memory_change_pct": 10.0,
                                     "latency_noise_pct": 0.0, "memory_noise_pct": 0.0}
    assert c["reproducibility"].value["seeds"] == 4
    assert proj["current_rank"] == 2 and proj["projected_rank"] == 1


def test_significance_is_the_paired_t_test_of_the_statistics_module():
    """One paired t-test: the criterion's p is scipy's ttest_rel on the same seeds, and so is compare's."""
    from autobench.experiments.statistics import compare, paired_t

    candidate = [c + g for c, g in zip(CONTROL, [0.004, -0.001, 0.006, 0.002], strict=True)]
    crits, _ = evaluate(threshold=0.001, control=CONTROL, candidate=candidate)
    ref = stats.ttest_rel(candidate, CONTROL)
    sig = by_name(crits)["significance"]
    assert sig.value == pytest.approx(ref.pvalue, abs=1e-6) and sig.passed is bool(ref.pvalue < 0.05)
    assert f"t = {ref.statistic:.3g}, df = 3" in sig.detail
    assert paired_t([b - a for a, b in zip(CONTROL, candidate, strict=True)]).p == pytest.approx(ref.pvalue)
    assert compare(dict(enumerate(CONTROL)), dict(enumerate(candidate)))["p_ttest"] == pytest.approx(ref.pvalue)


def test_a_significant_loss_fails_significance_and_one_seed_is_not_computable():
    worse = [c - 0.01 + 0.0001 * i for i, c in enumerate(CONTROL)]
    sig = by_name(evaluate(threshold=0.005, control=CONTROL, candidate=worse)[0])["significance"]
    assert sig.passed is False and sig.value < 0.05 and "significant, but a loss" in sig.detail
    one = by_name(evaluate(threshold=0.005, control=CONTROL[:1], candidate=[0.999])[0])
    assert one["significance"].value is None and one["significance"].passed is False
    assert one["reproducibility"].passed is False and one["reproducibility"].detail == "only 1 seed(s)"


def test_regression_limits_latency_ten_and_memory_fifteen_percent():
    candidate = [c + g for c, g in zip(CONTROL, GAIN, strict=True)]

    def regression(latency, memory):
        return by_name(evaluate(threshold=0.005, control=CONTROL, candidate=candidate,
                                latency=([2.0] * 4, [latency] * 4),
                                memory=([100.0] * 4, [memory] * 4))[0])["regression"]

    assert regression(2.2, 115.0).passed is True  # exactly at both limits
    assert regression(2.21, 100.0).passed is False
    assert regression(2.0, 115.5).passed is False
    missing = by_name(evaluate(threshold=0.005, control=CONTROL, candidate=candidate)[0])["regression"]
    assert missing.passed is True and "latency_ms, memory_mb" in missing.detail


def test_one_latency_reading_taken_under_load_does_not_decide_the_regression():
    """Seen in the UI: a run sharing two cores with other training read +1258% on one seed. The
    criterion reads the median of the per-seed ratios, and shows their spread."""
    candidate = [c + g for c, g in zip(CONTROL, GAIN, strict=True)]

    def regression(latency):
        return by_name(evaluate(threshold=0.005, control=CONTROL, candidate=candidate,
                                latency=([2.0, 2.1, 1.9, 2.0], latency))[0])["regression"]

    loaded = regression([2.05, 2.12, 1.95, 27.2])  # one reading 13x: a mean would say +290%
    assert loaded.passed is True and loaded.value["latency_change_pct"] == pytest.approx(2.5, abs=0.1)
    assert loaded.value["latency_noise_pct"] > 0 and "median of per-seed ratios" in loaded.detail
    assert "latency seed-to-seed spread ±" in loaded.detail
    slower = regression([2.3, 2.4, 2.2, 2.3])  # every seed slower: a real regression
    assert slower.passed is False and slower.value["latency_change_pct"] > 10


def test_reproducibility_needs_three_seeds_and_a_small_spread():
    noisy = [0.99, 1.0, 0.98]
    rep = by_name(evaluate(threshold=0.0, control=[0.9] * 3, candidate=noisy)[0])["reproducibility"]
    assert rep.passed is False and rep.value["std_pct_of_mean"] == pytest.approx(
        100 * np.std(noisy, ddof=1) / np.mean(noisy), abs=1e-3)


def test_projection_never_loses_rank_and_off_the_board_has_nothing_to_lose():
    candidate = [c - 0.02 for c in CONTROL]
    proj = by_name(evaluate(threshold=0.005, control=CONTROL, candidate=candidate,
                            standings=[Standing("B", 0.99, {"A": 0.975})])[0])["projection"]
    assert proj.passed is False and proj.value["current_rank"] == 1 and proj.value["projected_rank"] == 2
    off = by_name(evaluate(threshold=0.005, control=CONTROL, candidate=candidate, standings=[Standing("B", None)])[0])
    assert off["projection"].passed is True and "not on the leaderboard" in off["projection"].detail


def test_noise_ledger_learns_the_paired_sd_and_the_fast_ratio():
    rng = np.random.default_rng(0)
    book = NoiseLedger()
    for _ in range(400):
        delta = rng.normal(0, 0.01)
        diffs = (delta + 0.003 * rng.standard_normal(3)).tolist()
        book.add(delta + 0.006 * rng.standard_normal(), diffs)
    noise = book.noise(noise_from_production([0.82, 0.83, 0.81]))
    assert noise.sd_diff == pytest.approx(0.003, rel=0.1)
    assert noise.fast_ratio == pytest.approx(2.0, rel=0.15)


def test_fast_screen_catches_a_collapse_not_noise():
    prod = [0.823, 0.82, 0.826, 0.821]
    assert fast_screen(0.80, prod, 0.005)[0] is True
    ok, why = fast_screen(0.41, prod, 0.005)
    assert ok is False and "collapsed" in why
    assert fast_screen(float("nan"), prod, 0.005)[0] is False
    assert fast_screen(0.41, prod, 0.005, higher_is_better=False)[0] is True  # lower is better: an improvement


def test_improvement_fails_below_the_threshold_and_passes_at_or_above_it():
    control = [0.90, 0.91, 0.92, 0.93]
    for gain, passes in ((0.0049, False), (0.0, False), (-0.01, False), (0.005, True), (0.0051, True), (0.02, True)):
        crits, _ = evaluate(threshold=0.005, control=control, candidate=[c + gain for c in control])
        improvement = by_name(crits)["improvement"]
        assert improvement.passed is passes, (gain, improvement)
        assert improvement.value == pytest.approx(gain, abs=1e-9)
    # lower is better: the gain is the drop
    crits, _ = evaluate(threshold=0.005, control=control, candidate=[c - 0.0049 for c in control],
                        higher_is_better=False)
    assert by_name(crits)["improvement"].passed is False
    crits, _ = evaluate(threshold=0.005, control=control, candidate=[c - 0.005 for c in control],
                        higher_is_better=False)
    assert by_name(crits)["improvement"].passed is True


def test_criteria_follow_the_metric_direction_and_the_projection():
    board = Standing("Loss", 0.30, {"A": 0.28, "B": 0.35}, higher_is_better=False)
    ctrl, cand = [0.30, 0.31, 0.29], [0.25, 0.262, 0.238]
    crits, proj = evaluate(threshold=0.01, control=ctrl, candidate=cand, higher_is_better=False, standings=[board])
    by = {c.name: c for c in crits}
    assert by["improvement"].passed and by["improvement"].value == pytest.approx(0.05)
    assert proj["current_rank"] == 2 and proj["projected_rank"] == 1 and proj["p_first"] > 0.9


# ----------------------------------------------------------------------------- the words


def test_each_criterion_in_words_once_for_every_place_that_shows_it():
    candidate = [c + g for c, g in zip(CONTROL, GAIN, strict=True)]
    crits, _ = evaluate(threshold=0.005, control=CONTROL, candidate=candidate, latency=([2.0] * 4, [2.5] * 4),
                        standings=[Standing("MemoryBench", 0.99, {"A": 0.995})])
    words = {c.name: explain.value_text(c) for c in crits}
    assert words["improvement"] == f"{sum(GAIN) / 4:+.4f}"
    assert words["significance"].startswith("p = ") and ", t = " in words["significance"]
    assert words["regression"] == "latency +25.0%, memory not reported"
    assert words["reproducibility"].startswith("4 seed(s), std ") and words["reproducibility"].endswith("% of the mean")
    assert words["projection"] == "rank #2 → #1"
    # the same words from a decision read back as JSON (mappings), and odd values never raise
    assert [explain.value_text(c.as_dict()) for c in crits] == list(words.values())
    assert explain.value_text({"name": "improvement", "value": None}) == "no runs"
    assert explain.value_text({"name": "significance", "value": None}) == "not computable"
    assert explain.value_text({"name": "reproducibility", "value": "??"}) == "??"
    assert explain.value_text({"name": "projection", "value": {"current_rank": None}}) == "not ranked"
    lines = explain.lines(crits)
    assert lines[2].startswith(f"  FAIL {'regression':<16} latency +25.0%") and lines[2].endswith(
        "(needs latency within +10%, memory within +15%)")
    assert all(line.startswith("  PASS ") for i, line in enumerate(lines) if i != 2)


def test_the_markdown_table_escapes_every_cell():
    crits = [{"name": "improvement", "passed": False, "value": 0.001, "requirement": "gain | *bold* ≥ 0.005"},
             {"name": "significance", "passed": True, "value": 0.01, "requirement": "p < 0.05", "detail": "t = 9"}]
    table = explain.markdown_table(crits)
    assert table[:2] == ["| criterion | passed | value | requirement |", "| --- | --- | --- | --- |"]
    assert table[2] == "| improvement | **no** | +0.0010 | gain \\| \\*bold\\* ≥ 0.005 |"
    assert table[3] == "| significance | yes | p = 0.01, t = 9 | p \\< 0.05 |"
    assert explain.failed_names(crits) == ["improvement"]
