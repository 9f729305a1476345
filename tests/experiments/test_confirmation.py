"""A promotion confirmed on fresh seeds, or rolled back (experiments/confirmation.py): the record,
the registry, the CHANGELOG, the queue and calibration agree on the confirmed gain."""

from __future__ import annotations

import json

import pytest
from test_decide import NOW, PROD, candidate_runs, metrics, production_runs, status_of, write_run

from autobench.clock import parse_now
from autobench.errors import AutobenchError
from autobench.experiments import confirmation, results
from autobench.experiments.decide import decide
from autobench.schemas import QUEUE, REGISTRY

LATER = parse_now("2026-01-07T09:00:00Z")
SELECTION = {1: 0.0091, 2: 0.0088, 3: 0.0095}


def _confirm_on(store, k: int = 3) -> None:
    with store.edit(REGISTRY) as doc:
        doc["experiments"]["confirmation_seeds"] = k


def _promoted(store):
    """H-002 promoted with confirmation on: (winner hash, replaced hash, the record)."""
    _confirm_on(store)
    prod_hash = production_runs(store)
    chash = candidate_runs(store, "H-002", SELECTION, fast_gain=0.01)
    record = decide(store, "H-002", NOW)
    return chash, prod_hash, record


def _fresh(store, chash: str, prod_hash: str, gains: dict[int, float], base: float = 0.9900) -> None:
    for s, g in gains.items():
        control = base + 0.0004 * ((s * 5) % 3 - 1)
        write_run(store.home, "production", prod_hash, "full", s, metrics(control))
        write_run(store.home, "H-002", chash, "full", s, metrics(control + g))


def test_a_promotion_waits_for_its_fresh_seeds_with_production_moved_and_scores_kept(store):
    before = store.load(REGISTRY).our_solution
    chash, prod_hash, record = _promoted(store)

    assert record.decision == "promote" and record.status == "confirming"
    assert record.confirmation == {"seeds": [11, 12, 13], "outcome": "pending"}  # above every seed either ran
    assert status_of(store, "H-002") == "confirming"
    after = store.load(REGISTRY).our_solution
    assert after.config["width"] == 64  # production moved at once
    assert after.current_scores == before.current_scores  # the score waits for the confirmation
    changelog = (store.home / "CHANGELOG.md").read_text()
    assert "promoted H-002 (confirming)" in changelog and "selection estimate +0.0091" in changelog
    kept = confirmation.promoted_file(store.home, record)
    assert kept["replaces_config"] == before.config and kept["replaces"] == prod_hash

    # the runs it wants: both configs on the three fresh seeds; nothing concludes before they ran
    wanted = confirmation.wanted(store, "H-002")
    assert sorted((spec.experiment_id, spec.config_hash, s) for spec, s in wanted) == sorted(
        [("H-002", chash, s) for s in (11, 12, 13)] + [("production", prod_hash, s) for s in (11, 12, 13)])
    again = decide(store, "H-002", LATER)
    assert again.status == "confirming" and again.confirmation["outcome"] == "pending"
    from autobench.home import validate

    assert validate(store.home).errors == []


def test_a_confirmed_promotion_reports_the_fresh_seeds_gain_everywhere(store):
    from autobench.experiments import calibration

    chash, prod_hash, _ = _promoted(store)
    _fresh(store, chash, prod_hash, {11: 0.0081, 12: 0.0069, 13: 0.0075})
    record = decide(store, "H-002", LATER)

    conf = record.confirmation
    assert record.status == "promoted" and conf["outcome"] == "confirmed"
    assert conf["gain"] == pytest.approx(0.0075, abs=1e-9) and conf["n"] == 3
    assert conf["interval"][0] < 0.0075 < conf["interval"][1] and conf["selection_gain"] == pytest.approx(0.0091333,
                                                                                                            abs=1e-6)
    saved = results.read_decision(store.home, "H-002", chash)
    assert saved.confirmation == conf and saved.status == "promoted"
    # the registry's score is the winner's mean on the fresh seeds, not on the seeds it was selected on
    winner_mean = sum(0.9900 + 0.0004 * ((s * 5) % 3 - 1) + g for s, g in {11: 0.0081, 12: 0.0069, 13: 0.0075}.items())
    assert store.load(REGISTRY).our_solution.current_scores["MemoryBench"] == pytest.approx(winner_mean / 3, abs=1e-6)
    changelog = (store.home / "CHANGELOG.md").read_text()
    assert "confirmed H-002" in changelog and "+0.0075 over 3 fresh seeds" in changelog
    assert "(the selection estimated +0.0091)" in changelog
    assert status_of(store, "H-002") == "promoted"
    found = {o.hypothesis: o for o in calibration.outcomes(store.home, store.load(QUEUE).hypotheses)}
    assert found["H-002"].realised == pytest.approx(0.0075, abs=1e-9)  # calibration learns the confirmed gain
    assert confirmation.alert_line(record) is None

    snapshot = {p: p.read_bytes() for p in store.home.rglob("*") if p.is_file() and ".locks" not in p.parts}
    assert decide(store, "H-002", LATER).replayed  # closed: replayed, nothing written
    assert {p: p.read_bytes() for p in store.home.rglob("*") if p.is_file() and ".locks" not in p.parts} == snapshot


def test_a_contradicted_promotion_is_rolled_back(store):
    from autobench import hypothesis_queue as hq
    from autobench.home import validate

    hq.add(store, "x.yaml", {"title": "wider again", "target_leaderboards": ["MemoryBench"],
                             "implementation": {"change": "width 64", "effort": "Low", "estimated_gain": 0.001,
                                                "config_patch": {"width": 64}}}, NOW)
    before = store.load(REGISTRY).our_solution
    chash, prod_hash, _ = _promoted(store)
    assert status_of(store, "H-003") == "superseded"
    _fresh(store, chash, prod_hash, {11: -0.0012, 12: 0.0004, 13: -0.0008})
    record = decide(store, "H-002", LATER)

    conf = record.confirmation
    assert record.status == "rolled_back" and conf["outcome"] == "rolled_back" and conf["restored"] is True
    assert conf["interval"][1] < 0.005 and "wholly below the threshold" in conf["why"]
    after = store.load(REGISTRY).our_solution
    assert after.config == before.config and after.current_scores == before.current_scores
    assert status_of(store, "H-002") == "rolled_back"
    assert status_of(store, "H-003") in ("queued", "backlog")  # production no longer has its patch
    changelog = (store.home / "CHANGELOG.md").read_text()
    assert "rolled back H-002" in changelog and f"config {chash} → {prod_hash} restored" in changelog
    note = store.home / record.files_written[-1]
    assert note.parent.name == "archived" and "rolled_back" in note.read_text()
    line = confirmation.alert_line(record)
    assert line.startswith("[ALERT] Promotion of H-002 rolled back") and prod_hash in line
    assert validate(store.home).errors == []

    # a retry of the same conclusion writes nothing twice
    changelog_before = changelog
    from autobench.schemas import Hypothesis  # noqa: F401

    hyp = next(h for h in store.load(QUEUE).hypotheses if h.id == "H-002")
    confirmation._apply(store, hyp, results.read_decision(store.home, "H-002", chash), LATER)
    assert (store.home / "CHANGELOG.md").read_text() == changelog_before
    assert store.load(REGISTRY).our_solution.config == before.config


def test_a_winner_that_crashes_on_a_fresh_seed_is_rolled_back(store):
    chash, prod_hash, _ = _promoted(store)
    _fresh(store, chash, prod_hash, {11: 0.008, 12: 0.008})
    write_run(store.home, "production", prod_hash, "full", 13, metrics(0.99))
    write_run(store.home, "H-002", chash, "full", 13, None, error="CUDA error: an illegal memory access")
    assert confirmation.wanted(store, "H-002") == []  # a run that failed twice is not run again
    record = decide(store, "H-002", LATER)
    assert record.status == "rolled_back" and "failed on fresh seed 13" in record.confirmation["why"]


def test_rollback_leaves_a_production_that_moved_on_and_says_so(store):
    from autobench import hypothesis_queue as hq

    hq.add(store, "x.yaml", {"title": "wider again", "target_leaderboards": ["MemoryBench"],
                             "implementation": {"change": "width 64", "effort": "Low", "estimated_gain": 0.001,
                                                "config_patch": {"width": 64}}}, NOW)
    chash, prod_hash, _ = _promoted(store)
    with store.edit(REGISTRY) as doc:  # another promotion built on the winner since
        doc["our_solution"]["config"]["width"] = 96
    _fresh(store, chash, prod_hash, {11: -0.002, 12: -0.001, 13: -0.0015})
    record = decide(store, "H-002", LATER)
    assert record.status == "rolled_back" and record.confirmation["restored"] is False
    assert store.load(REGISTRY).our_solution.config["width"] == 96
    assert "NOT restored" in confirmation.alert_line(record) and "restored" not in confirmation.alert_line(
        record).split("NOT restored")[0]
    assert "not restored, review it" in (store.home / "CHANGELOG.md").read_text()
    assert status_of(store, "H-003") == "superseded"  # production still holds the patch: it stays moot
    assert "Then rolled back on fresh seeds 11, 12, 13" in record.reason


def test_the_confirmation_interval_is_the_t_interval_without_known_noise():
    from scipy import stats

    diffs = [0.004, 0.009, 0.006, 0.002]
    found = confirmation.estimate(diffs, 0.005)
    low, high = stats.ttest_1samp(diffs, 0.0).confidence_interval(0.95)
    assert found["interval"] == pytest.approx([low, high], abs=1e-12)
    assert found["contradicts"] is False
    assert confirmation.estimate([-0.004, -0.003, -0.005], 0.005)["contradicts"] is True


def test_a_promoted_file_without_the_replaced_config_is_a_clear_error(store):
    chash, _, record = _promoted(store)
    path = store.home / record.files_written[1]
    path.write_text(path.read_text().replace("replaces_config:", "replaced_config:"))
    with pytest.raises(AutobenchError, match="replaces_config"):
        confirmation.wanted(store, "H-002")
    assert json.loads((store.home / record.files_written[0]).read_text())["confirmation"]["outcome"] == "pending"


def test_fresh_seeds_start_above_every_seed_used():
    assert confirmation.fresh_seeds({1, 2, 3, 10}, 3) == [11, 12, 13]
    assert confirmation.fresh_seeds(set(), 2) == [1, 2]
    assert PROD  # (the shared production runs of test_decide are seeds 1..10)


def test_control_windows_pair_consecutive_hypotheses_on_different_production_seeds(store):
    """experiments.control_windows 4: H-002 is paired on window 2 (production's seeds + 200000),
    and production's runs on those seeds are asked for; one window is today's pairing."""
    from autobench.experiments.decide import WINDOW_STRIDE, control_window

    with store.edit(REGISTRY) as doc:
        doc["experiments"]["control_windows"] = 4
    production_runs(store)
    candidate_runs(store, "H-002", {}, fast_gain=0.01)
    record = decide(store, "H-002", NOW, write=False)
    window = [2 * WINDOW_STRIDE + s for s in (1, 2, 3)]
    assert record.next_runs == {"mode": "full", "seeds": window, "production_missing": window}
    registry = store.load(REGISTRY)
    assert [control_window(registry, h) for h in ("H-001", "H-002", "H-003", "H-004", "H-005")] == [1, 2, 3, 0, 1]
    assert control_window(registry, "no-digits") in range(4)
    with store.edit(REGISTRY) as doc:
        doc["experiments"]["control_windows"] = 1
    assert decide(store, "H-002", NOW, write=False).next_runs["seeds"] == [1, 2, 3]


def test_an_unconfirmed_promotion_reports_its_gain_shrunk_toward_the_stream(store):
    """Without a confirmation, the CHANGELOG and the digest report the selection's gain corrected
    for selection against the stream of final decisions (statistics.shrink), the record keeps both."""
    from autobench.experiments.statistics import shrink
    from autobench.reporting.digest import cycle as digest_cycle

    production_runs(store)
    candidate_runs(store, "H-001", {1: 0.0005, 2: -0.0004, 3: 0.0002}, fast_gain=0.0)
    base = decide(store, "H-001", NOW)  # a rejection: its record is the template of the stream
    assert base.decision == "reject" and base.margin["shrunk"] is None  # one decision: nothing to shrink toward
    gains = [0.0004 * ((i * 7) % 9 - 4) for i in range(12)]
    for i, g in enumerate(gains):
        fake = base.model_copy(update={"hypothesis": f"H-{100 + i}", "config_hash": f"{i:012x}",
                                       "margin": {**base.margin, "gain": g, "se": 0.0008}})
        results.write_decision(store.home, fake)
    chash = candidate_runs(store, "H-002", SELECTION, fast_gain=0.01)
    record = decide(store, "H-002", NOW)
    shrunk = record.margin["shrunk"]
    assert record.decision == "promote" and shrunk["k"] == 14
    stream_z = [base.margin["gain"] / base.margin["se"], *[g / 0.0008 for g in gains],
                record.margin["gain"] / record.margin["se"]]
    expected = shrink(record.margin["gain"], record.margin["se"], stream_z)
    assert shrunk["shrunk"] == pytest.approx(expected["shrunk"], abs=1e-7)
    assert 0 < shrunk["shrunk"] <= record.margin["gain"]
    changelog = (store.home / "CHANGELOG.md").read_text()
    assert f"Tweedie: {shrunk['shrunk']:+.4f})" in changelog
    assert results.read_decision(store.home, "H-002", chash).margin["shrunk"] == shrunk
    digest = digest_cycle(store, parse_now("2026-01-08T09:00:00Z"))["markdown"]
    assert f"{shrunk['shrunk']:+.3f} on MemoryBench, corrected for selection against 14 decisions" in digest


def test_a_half_done_promotion_is_decided_again_not_confirmed(store):
    """The record says confirming but the worker died before the queue did: the sweep's plan
    does not ask for confirmation runs (the promoted config may not exist yet); decide finishes
    the promotion."""
    from autobench.experiments import apply as apply_module
    from autobench.experiments.pick import Pick
    from autobench.experiments.sweep import plan

    _confirm_on(store)
    production_runs(store)
    candidate_runs(store, "H-002", SELECTION, fast_gain=0.01)
    real = apply_module.promote

    def dies(*args, **kwargs):
        raise OSError("the worker was killed")

    apply_module.promote = dies
    try:
        with pytest.raises(OSError):
            decide(store, "H-002", NOW)
    finally:
        apply_module.promote = real
    assert confirmation.pending(store.home, "H-002") is not None and status_of(store, "H-002") != "confirming"
    assert confirmation.wanted(store, "H-002") == []
    assert plan(store, NOW, Pick("H-002", "fixed", "local", "manual__x")) == []  # nothing to run: decide it
    assert decide(store, "H-002", NOW).status == "confirming" and status_of(store, "H-002") == "confirming"
    assert len(confirmation.wanted(store, "H-002")) == 6


def test_an_unconfirmed_promotion_keeps_a_score_from_its_own_runs(store):
    """The replaced config failed on every fresh seed: nothing pairs, the promotion stands
    unconfirmed with an alert, and current_scores gets the winner's fresh runs."""
    chash, prod_hash, _ = _promoted(store)
    for s in (11, 12, 13):
        write_run(store.home, "production", prod_hash, "full", s, None, error="OOM")
        write_run(store.home, "H-002", chash, "full", s, metrics(0.9950))
    record = decide(store, "H-002", LATER)
    assert record.status == "promoted" and record.confirmation["outcome"] == "unconfirmed"
    assert confirmation.alert_line(record).startswith("[ALERT] Promotion of H-002 could not be confirmed")
    assert store.load(REGISTRY).our_solution.current_scores["MemoryBench"] == pytest.approx(0.9950)


def test_a_promotion_another_live_sweep_confirms_is_not_swept_twice(store):
    from autobench.clock import iso
    from autobench.experiments.pick import pick_many, wall_clock
    from autobench.schemas import SWEEP

    _promoted(store)
    with store.edit(SWEEP) as doc:
        doc.setdefault("running", {})["H-002"] = {"run_id": "scheduled__other", "since": iso(NOW),
                                                  "lease": iso(wall_clock()), "policy": "fixed", "backend": "local"}
    with pytest.raises(AutobenchError, match="being confirmed by sweep scheduled__other"):
        pick_many(store, NOW, "manual__mine", 1, hypothesis="H-002")
    picks, _ = pick_many(store, NOW, "manual__mine", 1)  # the top of the queue skips it too
    assert [p.hypothesis for p in picks] != ["H-002"]
    assert status_of(store, "H-002") == "confirming"
