"""`autobench decide`: every outcome, the files each writes, idempotence, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_cli

from autobench.clock import parse_now
from autobench.errors import AutobenchError
from autobench.experiments import results
from autobench.experiments.config import spec_for
from autobench.experiments.decide import decide
from autobench.schemas import QUEUE, REGISTRY, StateError
from autobench.store import StateStore

NOW = parse_now("2026-01-07T08:00:00Z")
CRITERIA = ["improvement", "significance", "regression", "reproducibility", "projection"]
# production's validation accuracy on seeds 1..10 (the measured noise: sd ~0.0014)
PROD = {1: 0.9905, 2: 0.9891, 3: 0.9921, 4: 0.9899, 5: 0.9912, 6: 0.9886, 7: 0.9925, 8: 0.9903, 9: 0.9894, 10: 0.9917}


def write_run(home: Path, experiment_id: str, chash: str, mode: str, seed: int, metrics: dict | None,
              error: str = "") -> None:
    folder = results.run_folder(home, experiment_id, chash, mode, seed)
    folder.mkdir(parents=True, exist_ok=True)
    if metrics is None:
        (folder / "failure.json").write_text(json.dumps({"attempts": [error, error]}))
    else:
        (folder / "metrics.json").write_text(json.dumps(metrics))


def metrics(acc: float, latency: float = 2.0, memory: float = 100.0) -> dict:
    return {"accuracy": acc, "loss": 0.1, "latency_ms": latency, "memory_mb": memory}


def production_runs(store: StateStore, seeds=PROD, fast: float | None = 0.55) -> str:
    spec = spec_for(store, "production")
    for s, acc in seeds.items():
        write_run(store.home, "production", spec.config_hash, "full", s, metrics(acc))
        if fast is not None:
            write_run(store.home, "production", spec.config_hash, "fast", s, metrics(fast + 0.004 * ((s * 7) % 5 - 2)))
    return spec.config_hash


def candidate_runs(store: StateStore, hid: str, gains: dict[int, float], fast_gain: float | None = 0.0, **extra) -> str:
    spec = spec_for(store, hid)
    if fast_gain is not None:
        write_run(store.home, hid, spec.config_hash, "fast", 1, metrics(0.55 + 0.004 * (7 % 5 - 2) + fast_gain))
    for s, g in gains.items():
        write_run(store.home, hid, spec.config_hash, "full", s, metrics(PROD[s] + g, **extra))
    return spec.config_hash


def status_of(store: StateStore, hid: str) -> str:
    return next(h.status for h in store.load(QUEUE).hypotheses if h.id == hid)


def test_promote_writes_every_file_and_keeps_the_registry_comments(store):
    production_runs(store)
    chash = candidate_runs(store, "H-002", {1: 0.0091, 2: 0.0088, 3: 0.0095}, fast_gain=0.01)
    before = store.path(REGISTRY).read_text()
    record = decide(store, "H-002", NOW)

    assert record.decision == "promote" and record.status == "promoted"
    assert [c.name for c in record.criteria] == CRITERIA and all(c.passed for c in record.criteria)
    assert {"current_rank", "projected_rank", "p_first"} <= set(record.projection)
    assert record.projection["projected_rank"] <= record.projection["current_rank"]
    assert "H-002" in record.reason and "+0.009" in record.reason and "p = " in record.reason

    home = store.home
    saved = json.loads((home / "experiments/results/H-002" / chash / "decision.json").read_text())
    assert saved["decision"] == "promote" and saved["evidence"]["seeds"] == [1, 2, 3]
    promoted = list((home / "experiments/promoted").glob("H-002-*.yaml"))
    assert len(promoted) == 1 and "width: 64" in promoted[0].read_text()
    registry = store.load(REGISTRY)
    assert registry.our_solution.config["width"] == 64
    mean = sum(PROD[s] + g for s, g in {1: 0.0091, 2: 0.0088, 3: 0.0095}.items()) / 3
    assert registry.our_solution.current_scores["MemoryBench"] == pytest.approx(mean, abs=1e-6)
    after = store.path(REGISTRY).read_text()
    for line in before.splitlines():  # every comment people wrote survives
        if line.strip().startswith("#"):
            assert line in after
    assert "min_pairs: 8                 # training sequences hold 8..48 live pairs (a curriculum)" in after
    changelog = (home / "CHANGELOG.md").read_text()
    assert "promoted H-002" in changelog and "+0.0091" in changelog
    assert status_of(store, "H-002") == "promoted"
    note = next(h.notes for h in store.load(QUEUE).hypotheses if h.id == "H-002")[-1]
    assert note.startswith("2026-01-07T08:00:00Z promoted:")

    # deciding again replays the recorded decision and writes nothing
    snapshot = {p: p.read_bytes() for p in home.rglob("*") if p.is_file() and ".locks" not in p.parts}
    again = decide(store, "H-002", NOW)
    assert again.replayed is True and again.decision == "promote"
    assert {p: p.read_bytes() for p in home.rglob("*") if p.is_file() and ".locks" not in p.parts} == snapshot


def test_reject_names_each_failed_criterion_in_the_archive(store):
    production_runs(store)
    candidate_runs(store, "H-001", {1: -0.0021, 2: -0.0012, 3: -0.0019}, fast_gain=-0.001)
    record = decide(store, "H-001", NOW)
    assert record.decision == "reject" and record.status == "rejected"
    failed = {c.name for c in record.criteria if not c.passed}
    assert {"improvement", "significance"} <= failed
    note = next((store.home / "experiments/archived").glob("H-001-*.md")).read_text()
    for name in failed:
        assert f"| {name} | **no** |" in note
    assert "Failed criteria:" in note and "improvement" in note
    assert status_of(store, "H-001") == "rejected"
    assert not (store.home / "CHANGELOG.md").exists()
    assert store.load(REGISTRY).our_solution.config["width"] == 32


def test_a_latency_regression_blocks_a_real_gain(store):
    production_runs(store)
    candidate_runs(store, "H-002", {1: 0.0091, 2: 0.0088, 3: 0.0095}, fast_gain=0.01, latency=2.5)
    record = decide(store, "H-002", NOW)
    assert record.decision == "reject"
    reg = record.criterion("regression")
    assert reg.passed is False and reg.value["latency_change_pct"] == pytest.approx(25.0)
    assert [c.name for c in record.criteria if not c.passed] == ["regression"]
    assert "latency +25.0%" in record.reason


def test_extend_asks_for_the_runs_the_policy_wants(store):
    production_runs(store)
    # nothing run yet: the fast validation first
    record = decide(store, "H-002", NOW, write=False)
    assert record.decision == "extend" and record.next_runs["mode"] == "fast"
    # the fast run alone: the fixed protocol wants 3 full paired seeds
    candidate_runs(store, "H-002", {}, fast_gain=0.01)
    record = decide(store, "H-002", NOW)
    assert record.decision == "extend" and record.status == "extended"
    assert record.next_runs == {"mode": "full", "seeds": [1, 2, 3], "production_missing": []}
    assert status_of(store, "H-002") == "extended"
    assert "Next: full run(s) on seed(s) 1, 2, 3" in record.reason


def test_fixed_extends_an_inconclusive_high_variance_result_once(store):
    production_runs(store)
    candidate_runs(store, "H-002", {1: 0.012, 2: -0.020, 3: 0.011}, fast_gain=0.0)  # std > 1% of the mean
    record = decide(store, "H-002", NOW, write=False)
    assert record.decision == "extend" and record.next_runs["seeds"] == [4, 5, 6]
    assert record.policy["why"].startswith("inconclusive (gain below the threshold with high variance)")
    candidate_runs(store, "H-002", {4: 0.013, 5: -0.019, 6: 0.012}, fast_gain=None)
    record = decide(store, "H-002", NOW, write=False)
    assert record.decision == "reject"  # extended once already: the criteria decide


def test_the_adaptive_policy_stops_early_for_futility(store):
    production_runs(store)
    candidate_runs(store, "H-001", {1: -0.0005}, fast_gain=-0.012)
    record = decide(store, "H-001", NOW, policy="adaptive")
    assert record.decision == "reject" and record.policy["name"] == "adaptive"
    assert record.policy["step"] == "stop" and record.policy["why"].startswith(("futility", "harm"))
    assert record.evidence.noise["df"] >= 9  # production's repeated runs
    rep = record.criterion("reproducibility")
    assert rep.passed is False and rep.value["seeds"] == 1


def test_a_collapsed_fast_run_is_failed_and_gets_no_more_compute(store):
    production_runs(store)
    candidate_runs(store, "H-001", {}, fast_gain=-0.5)
    record = decide(store, "H-001", NOW)
    assert record.decision == "reject" and record.status == "failed"
    assert "collapsed" in record.reason and record.next_runs is None
    assert status_of(store, "H-001") == "failed"
    assert list((store.home / "experiments/archived").glob("H-001-*.md"))


def test_a_crashed_full_run_is_failed(store):
    production_runs(store)
    chash = candidate_runs(store, "H-001", {1: 0.001}, fast_gain=0.0)
    write_run(store.home, "H-001", chash, "full", 2, None, error="exit code -9 (killed: out of memory?)")
    record = decide(store, "H-001", NOW)
    assert record.status == "failed" and "seed 2 failed twice" in record.reason


def test_promotion_supersedes_a_waiting_hypothesis_with_the_same_patch(store):
    from autobench import hypothesis_queue as hq

    hq.add(store, "x.yaml", {"title": "wider again", "target_leaderboards": ["MemoryBench"],
                             "implementation": {"change": "width 64", "effort": "Low", "estimated_gain": 0.001,
                                                "config_patch": {"width": 64}}}, NOW)
    production_runs(store)
    candidate_runs(store, "H-002", {1: 0.0091, 2: 0.0088, 3: 0.0095}, fast_gain=0.01)
    decide(store, "H-002", NOW)
    assert status_of(store, "H-003") == "superseded"


def test_dry_run_writes_nothing(store):
    production_runs(store)
    candidate_runs(store, "H-002", {1: 0.0091, 2: 0.0088, 3: 0.0095}, fast_gain=0.01)
    before = {p: p.read_bytes() for p in store.home.rglob("*") if p.is_file()}
    proc = run_cli("decide", "H-002", "--dry-run", "--json", "--now", "2026-01-07T08:00:00Z", home=store.home,
                   check=True)
    out = json.loads(proc.stdout)
    assert out["decision"] == "promote" and set(out) >= {"decision", "criteria", "projection", "reason"}
    assert all(set(c) >= {"name", "passed", "value", "requirement"} for c in out["criteria"])
    assert {p: p.read_bytes() for p in store.home.rglob("*") if p.is_file() and ".locks" not in p.parts} == \
        {p: b for p, b in before.items() if ".locks" not in p.parts}


def test_bad_input_is_a_clear_error(store, home):
    with pytest.raises(AutobenchError, match="no hypothesis 'H-999'"):
        decide(store, "H-999", NOW)
    with pytest.raises(AutobenchError, match="production is what candidates are compared with"):
        decide(store, "production", NOW)
    production_runs(store)
    bad = home / "experiments/results/H-000/abc/decision.json"
    bad.parent.mkdir(parents=True)
    bad.write_text("{not json")
    with pytest.raises(StateError, match="decision.json"):
        decide(store, "H-002", NOW)
    proc = run_cli("decide", "H-999", home=home)
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1 and "H-999" in proc.stderr
    # a metric that is not a number in a run folder: named, nothing written
    bad.unlink()
    chash = candidate_runs(store, "H-002", {1: 0.01}, fast_gain=0.0)
    folder = home / "experiments/results/H-002" / chash / "full/seed_1"
    (folder / "metrics.json").write_text(json.dumps({"loss": 0.1, "latency_ms": 1.0}))
    before = store.path(QUEUE).read_text()
    with pytest.raises(AutobenchError, match="accuracy"):
        decide(store, "H-002", NOW)
    assert store.path(QUEUE).read_text() == before


# ----------------------------------------------------------------------------- web text, retries

HOSTILE_TITLE = "[click me](https://evil.example) # x *y*"


def _retitle(store: StateStore, hid: str, title: str) -> None:
    """Give ``hid`` a title as a paper (web text) could: written to the queue file on disk."""
    path = store.path(QUEUE)
    old = next(h.title for h in store.load(QUEUE).hypotheses if h.id == hid)
    path.write_text(path.read_text().replace(f'title: "{old}"', f'title: "{title}"'))
    assert next(h.title for h in store.load(QUEUE).hypotheses if h.id == hid) == title


def _no_live_markdown(text: str) -> None:
    import re

    assert re.search(r"(?<!\\)\]\(http", text) is None, "a live link"
    assert re.search(r"(?<!\\)\[click", text) is None, "an unescaped link text"
    assert "*y*" not in text.replace("\\*y\\*", ""), "live emphasis"
    assert not any(line.lstrip().startswith("# x") for line in text.splitlines()), "a heading"


def test_a_hostile_title_is_escaped_in_the_changelog(store):
    from autobench.escaping import md_text

    _retitle(store, "H-002", HOSTILE_TITLE)
    production_runs(store)
    candidate_runs(store, "H-002", {1: 0.0091, 2: 0.0088, 3: 0.0095}, fast_gain=0.01)
    assert decide(store, "H-002", NOW).decision == "promote"
    changelog = (store.home / "CHANGELOG.md").read_text()
    _no_live_markdown(changelog)
    assert f"— promoted H-002: {md_text(HOSTILE_TITLE)}\n" in changelog
    # our own formatting stays: the entry's heading and its list
    assert [line[:14] for line in changelog.splitlines() if line.startswith("#")] == ["# Changelog", "## 2026-01-07 "]
    assert "\n- change: width: 64 (config " in changelog


def test_a_hostile_title_is_escaped_in_the_archived_note(store):
    from autobench.escaping import md_text

    _retitle(store, "H-001", HOSTILE_TITLE)
    production_runs(store)
    candidate_runs(store, "H-001", {1: -0.0021, 2: -0.0012, 3: -0.0019}, fast_gain=-0.001)
    assert decide(store, "H-001", NOW).decision == "reject"
    note = next((store.home / "experiments/archived").glob("H-001-*.md")).read_text()
    _no_live_markdown(note)  # the title in the heading and in the reason paragraph
    assert note.startswith(f"# H-001: {md_text(HOSTILE_TITLE)} — rejected\n")
    assert f"H-001 ({md_text(HOSTILE_TITLE)}) is rejected." in note
    assert "| improvement | **no** |" in note  # our own table and bold stay


def test_a_promotion_interrupted_after_the_registry_edit_is_finished_by_the_retry(store, monkeypatch):
    import autobench.experiments.apply as apply_module

    production_runs(store)
    chash = candidate_runs(store, "H-002", {1: 0.0091, 2: 0.0088, 3: 0.0095}, fast_gain=0.01)
    real = apply_module.changelog
    calls = []

    def dies_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OSError("the worker was killed")
        return real(*args, **kwargs)

    monkeypatch.setattr(apply_module, "changelog", dies_once)
    with pytest.raises(OSError, match="killed"):
        decide(store, "H-002", NOW)
    # half applied: the registry has the new config, the queue and the CHANGELOG do not know yet
    assert store.load(REGISTRY).our_solution.config["width"] == 64
    assert status_of(store, "H-002") != "promoted" and not (store.home / "CHANGELOG.md").exists()
    first = json.loads((store.home / "experiments/results/H-002" / chash / "decision.json").read_text())

    again = decide(store, "H-002", NOW)  # the retried task
    assert again.decision == "promote" and again.status == "promoted"
    assert again.as_dict()["criteria"] == first["criteria"] and again.config_hash == chash
    assert status_of(store, "H-002") == "promoted"
    changelog = (store.home / "CHANGELOG.md").read_text()
    assert changelog.count("promoted H-002") == 1 and changelog.count(f"<!-- autobench: H-002 {chash} -->") == 1
    saved = json.loads((store.home / "experiments/results/H-002" / chash / "decision.json").read_text())
    assert saved == first and saved["decision"] == "promote"
    assert len(list((store.home / "experiments/promoted").glob("H-002-*.yaml"))) == 1
    notes = next(h.notes for h in store.load(QUEUE).hypotheses if h.id == "H-002")
    assert sum(n.startswith("2026-01-07T08:00:00Z promoted:") for n in notes) == 1

    # and once more: the hypothesis is closed, the record is replayed, nothing is written
    snapshot = {p: p.read_bytes() for p in store.home.rglob("*") if p.is_file() and ".locks" not in p.parts}
    assert decide(store, "H-002", NOW).decision == "promote"
    assert {p: p.read_bytes() for p in store.home.rglob("*") if p.is_file() and ".locks" not in p.parts} == snapshot
