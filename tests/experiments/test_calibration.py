"""Calibration: estimated vs realised gains per source kind, the command, and priorities that use it."""

from __future__ import annotations

import json
import math

import pytest
from conftest import run_cli
from test_decide import NOW, candidate_runs, production_runs

from autobench.experiments import calibration
from autobench.experiments.calibration import Outcome, factor, ratio, table, technique
from autobench.experiments.decide import decide
from autobench.hypothesis_queue import source_kind


def test_source_kinds_and_techniques():
    assert source_kind("arXiv:2401.01234 + gap analysis (gap to #1 on MemoryBench = 0.024)") == "paper"
    assert source_kind("DOI:10.1000/XYZ") == source_kind("https://example.org/post") == "paper"
    assert source_kind("competitor post arXiv:2401.1") == "competitor"
    assert source_kind("gap analysis (gap to #1 on A = 0.010; component ablation)") == "gap strategy"
    assert source_kind("common practice (DEMO DATA)") == source_kind("") == "other"
    assert technique('Cosine schedule (from "A paper title")') == "Cosine schedule"
    assert technique("Wider model") == "Wider model"


def test_the_ratio_estimator_and_its_delta_method_interval():
    from scipy import stats

    group = [Outcome(f"H-{i}", "paper", "t", e, r) for i, (e, r) in
             enumerate([(0.01, 0.004), (0.02, 0.012), (0.015, 0.003), (0.01, 0.009)])]
    got = ratio(group)
    est, real = 0.055, 0.028
    r = real / est
    resid = [o.realised - r * o.estimated for o in group]
    se = math.sqrt(sum(x * x for x in resid) / (4 * 3)) / (est / 4)
    half = float(stats.t.ppf(0.975, 3)) * se
    assert got["n"] == 4 and got["ratio"] == pytest.approx(r, abs=1e-4)
    assert got["interval"] == pytest.approx([r - half, r + half], abs=1e-4)
    assert ratio(group[:1])["interval"] is None and ratio([])["ratio"] is None
    rows = table(group + [Outcome("H-9", "gap strategy", "u", 0.01, -0.002)])
    assert [row["source"] for row in rows["sources"]] == ["paper", "gap strategy"]
    assert [row["technique"] for row in rows["techniques"]] == ["t", "u"]


def test_the_priority_factor_waits_for_five_and_shrinks_toward_one():
    rows = table([Outcome(f"H-{i}", "paper", "t", 0.01, 0.005) for i in range(4)])["sources"]
    assert factor(rows, "paper") == 1.0 and factor(rows, "competitor") == 1.0
    rows = table([Outcome(f"H-{i}", "paper", "t", 0.01, 0.005) for i in range(5)])["sources"]
    assert factor(rows, "paper") == pytest.approx((5 * 0.5 + 5) / 10)
    rows = table([Outcome(f"H-{i}", "paper", "t", 0.01, -0.05) for i in range(40)])["sources"]
    assert factor(rows, "paper") == 0.1  # the floor: a source never drops out of the queue entirely


def test_calibration_command_on_empty_and_decided_state(store, home):
    out = json.loads(run_cli("calibration", "--json", home=home, check=True).stdout)
    assert out == {"sources": [], "techniques": []}
    assert "no closed hypothesis" in run_cli("calibration", home=home, check=True).stdout
    production_runs(store)
    candidate_runs(store, "H-001", {1: -0.0021, 2: -0.0012, 3: -0.0019}, fast_gain=0.0)
    decide(store, "H-001", NOW)
    candidate_runs(store, "H-002", {1: 0.0091, 2: 0.0088, 3: 0.0095}, fast_gain=0.01)
    decide(store, "H-002", NOW)
    out = json.loads(run_cli("calibration", "--json", home=home, check=True).stdout)
    by = {r["source"]: r for r in out["sources"]}
    assert set(by) == {"gap strategy", "other"}  # the recall example's two sources
    assert by["other"]["n"] == 1 and by["other"]["ratio"] == pytest.approx(0.0091333 / 0.008, abs=1e-3)
    assert by["gap strategy"]["ratio"] < 0 and by["gap strategy"]["interval"] is None
    assert {"source", "n", "ratio", "interval"} <= set(out["sources"][0])
    text = run_cli("calibration", home=home, check=True).stdout
    assert "other" in text and "n/a (n < 2)" in text


def test_priorities_use_the_calibrated_estimate(store, monkeypatch):
    from autobench import hypothesis_queue as hq
    from autobench.experiments.pick import rerank
    from autobench.schemas import QUEUE

    # five closed papers that delivered half of what they promised (as decisions measured)
    monkeypatch.setattr(calibration, "outcomes", lambda home, hyps: [
        Outcome(f"H-9{i}", "paper", "t", 0.01, 0.005) for i in range(5)])
    monkeypatch.setattr(calibration, "MIN_FOR_PRIORITY", 0)  # the queue has no closed hypothesis itself
    new = {"title": "From a paper", "source": "arXiv:2401.00001", "target_leaderboards": ["MemoryBench"],
           "implementation": {"change": "x", "effort": "Low", "estimated_gain": 0.01, "config_patch": {"lr": 0.01}}}
    by_hand = {**new, "title": "By hand", "source": "a hunch", "implementation": {**new["implementation"],
                                                                                 "config_patch": {"lr": 0.02}}}
    assert not [h for h in store.load(QUEUE).hypotheses if h.status in ("promoted", "rejected")]
    factors = calibration.factors(store.home, [])
    assert factors == {"paper": pytest.approx(0.75)}  # (5 × 0.5 + 5) / 10
    added = hq.add(store, "test", {"hypotheses": [new, by_hand]}, NOW, factors=factors)
    scores = {h.title: h.priority_score for h in added}
    assert scores["From a paper"] == pytest.approx(hq.priority_score(0.0075, "Low"))
    assert scores["By hand"] == pytest.approx(hq.priority_score(0.01, "Low"))
    rerank(store)
    after = {h.title: h.priority_score for h in store.load(QUEUE).hypotheses}
    assert after["From a paper"] == pytest.approx(hq.priority_score(0.0075, "Low"))
