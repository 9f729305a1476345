"""The stream-wide false-promotion control (LORD++): the procedure against the onlineFDR R package's
published example, its replay from the decision records, and ``decide`` recording / enforcing it."""

from __future__ import annotations

import json
import math

import pytest
from test_decide import NOW, candidate_runs, production_runs
from test_margin import set_experiments

from autobench.experiments.decide import decide
from autobench.experiments.fdr import LordPlusPlus, gamma, replay

# onlineFDR's LORD() example (sample.df, random=FALSE; LORD++, alpha 0.05, w0 = alpha/10): its
# p-values and the alphai the package prints (reference/LORD.md)
P = [2.90e-08, 0.06743, 0.01514, 0.08174, 0.00171, 3.60e-05, 0.79149, 0.27201, 0.28295, 7.59e-08,
     0.69274, 0.30443, 0.00136, 0.72342, 0.54757]
ALPHAI = [0.0002675839, 0.0024664457, 0.0005732818, 0.0004872805, 0.0004059066, 0.0003447286, 0.0029745013,
          0.0008450114, 0.0007305648, 0.0006243143, 0.0032185913, 0.0010617227, 0.0009256825, 0.0008019657,
          0.0007059610]
R = [1, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0]


def test_lord_plus_plus_reproduces_the_onlinefdr_example():
    stream = LordPlusPlus(0.05)
    tests = [stream.test(p) for p in P]
    assert [t.level for t in tests] == pytest.approx(ALPHAI, abs=5e-11)  # printed to 1e-10
    assert [int(t.discovery) for t in tests] == R
    # wealth: W0 − levels spent + α − W0 for the first discovery, α for the others
    expected = 0.005 - sum(ALPHAI) + (0.05 - 0.005) + 0.05 + 0.05
    assert stream.wealth() == pytest.approx(expected, rel=1e-6)
    assert tests[0].wealth_before == pytest.approx(0.005)


def test_the_gammas_sum_to_one_and_the_stream_replays_from_its_records():
    gammas = [gamma(j) for j in range(1, 100_001)]
    assert all(a >= b for a, b in zip(gammas, gammas[1:], strict=False)) and 0.4 < sum(gammas) < 1  # → 1, slowly
    again = replay([(i + 1, bool(r), f"H-{i}") for i, r in enumerate(R)], 0.05)
    assert [t.level for t in again.tests] == pytest.approx(ALPHAI, abs=5e-11)  # printed to 1e-10
    assert again.level() == pytest.approx(LordPlusPlus(0.05, tests=list(again.tests)).level())
    with pytest.raises(ValueError, match="out of order"):
        LordPlusPlus(0.05).record(2, True)


def test_a_config_failing_another_criterion_is_never_a_discovery_and_bad_input_is_refused():
    stream = LordPlusPlus(0.05)
    assert stream.test(1e-12, eligible=False).discovery is False
    assert stream.discoveries == []
    for bad in (-0.1, 1.5, math.nan, "0.01"):
        with pytest.raises(ValueError, match="p-value"):
            stream.test(bad)
    with pytest.raises(ValueError, match="false_promotion_budget"):
        LordPlusPlus(1.5)


def test_decide_records_each_final_decision_as_the_stream_s_next_test(store):
    production_runs(store)
    candidate_runs(store, "H-001", {1: -0.0021, 2: -0.0012, 3: -0.0019}, fast_gain=-0.001)
    first = decide(store, "H-001", NOW)
    assert first.decision == "reject"
    assert first.fdr["test"] == 1 and first.fdr["discovery"] is False and first.fdr["enforced"] is False
    assert first.fdr["level"] == pytest.approx(ALPHAI[0], abs=5e-11) and first.fdr["procedure"] == "LORD++"
    candidate_runs(store, "H-002", {1: 0.0091, 2: 0.0088, 3: 0.0095}, fast_gain=0.01)
    second = decide(store, "H-002", NOW, write=False)
    assert second.fdr["test"] == 2 and second.fdr["level"] == pytest.approx(gamma(2) * 0.005)
    assert second.fdr["wealth_before"] == pytest.approx(0.005 - ALPHAI[0])
    # the estimate rule's p-value is "no gain" (tiny here): a discovery, recorded
    assert second.fdr["discovery"] is True and second.decision == "promote"
    assert json.loads(json.dumps(second.as_dict()))["fdr"]["test"] == 2


def test_enforced_control_turns_a_promotion_outside_its_level_into_a_rejection(store):
    production_runs(store)
    candidate_runs(store, "H-002", {1: 0.0091, 2: 0.0088, 3: 0.0095}, fast_gain=0.01)
    set_experiments(store, improvement_rule="margin")
    recorded = decide(store, "H-002", NOW, write=False)
    assert recorded.decision == "promote" and all(c.passed for c in recorded.criteria)
    # the margin p-value (gain ≤ 0.005) is about 0.001: above test 1's level, 0.00027
    assert recorded.fdr["discovery"] is False and recorded.fdr["p_value"] > recorded.fdr["level"]
    set_experiments(store, false_promotion_control="enforce")
    enforced = decide(store, "H-002", NOW, write=False)
    assert enforced.decision == "reject" and enforced.status == "rejected" and enforced.fdr["enforced"] is True
    assert "stream-wide control (LORD++, budget 0.05)" in enforced.policy["why"]
    assert "stream-wide control" in enforced.reason

    from autobench.experiments.explain import statistics_lines

    lines = statistics_lines(enforced)
    assert lines[0].startswith("- against the threshold (margin rule): 95% lower bound +0.00")
    assert lines[1].startswith("- stream-wide test #1 (LORD++, budget 0.05): level 0.000268")
    assert "no discovery" in lines[1] and "recorded, not enforced" not in lines[1]


def test_a_decision_waits_for_the_stream_lock_so_two_deciders_cannot_share_a_test_number(store):
    """While another decider holds the stream's lock (between reading the stream and writing its
    record), `autobench decide` in another process waits, then takes the next test number."""
    import subprocess
    import time

    from conftest import autobench_cmd

    from autobench.experiments import results
    from autobench.experiments.decide import STREAM_LOCK

    production_runs(store)
    candidate_runs(store, "H-001", {1: -0.0021, 2: -0.0012, 3: -0.0019}, fast_gain=-0.001)
    chash = candidate_runs(store, "H-002", {1: 0.0091, 2: 0.0088, 3: 0.0095}, fast_gain=0.01)
    with store.lock(STREAM_LOCK):
        proc = subprocess.Popen([*autobench_cmd(), "decide", "H-002", "--now", "2026-01-07T08:00:00Z", "--json",
                                 "--home", str(store.home)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not (store.home / ".locks").exists():
            time.sleep(0.1)
        time.sleep(3.0)  # long enough for the child to reach the lock
        assert proc.poll() is None and results.read_decision(store.home, "H-002", chash) is None
        first = decide(store, "H-001", NOW)  # this process holds the lock: it decides first (re-entrant)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert first.fdr["test"] == 1 and json.loads(out)["fdr"]["test"] == 2
