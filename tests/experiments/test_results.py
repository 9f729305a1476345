"""The results store: the one module that knows the layout of experiments/results, promoted/ and archived/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from autobench.clock import parse_now
from autobench.errors import StateError
from autobench.experiments import results
from autobench.schemas import Decision


def run(home: Path, experiment_id: str, chash: str, mode: str, seed: int, metrics: dict | None = None,
        attempts: list[str] | None = None, environment: dict | None = None) -> Path:
    folder = results.run_folder(home, experiment_id, chash, mode, seed)
    folder.mkdir(parents=True, exist_ok=True)
    if metrics is not None:
        (folder / "metrics.json").write_text(json.dumps(metrics))
    if attempts is not None:
        (folder / "failure.json").write_text(json.dumps({"attempts": attempts}))
    if environment is not None:
        (folder / "config.yaml").write_text(f"environment: {json.dumps(environment)}\n")
    return folder


def decision(hid: str = "H-001", chash: str = "abc123def456", at: str = "2026-01-05T08:00:00Z", **over) -> Decision:
    return Decision.model_validate({
        "hypothesis": hid, "decision": "reject", "status": "rejected",
        "criteria": [{"name": "improvement", "passed": False, "value": 0.001, "requirement": "≥ 0.005"}],
        "projection": {}, "reason": "too small", "policy": {"name": "fixed", "why": "3 paired seeds run"},
        "evidence": {"metric": "accuracy", "seeds": [1, 2], "control": {"1": 0.9, "2": 0.91},
                     "candidate": {"1": 0.901, "2": 0.911}, "diffs": [0.001, 0.001], "fast_diff": None,
                     "noise": {"sd_diff": 0.002, "df": None, "fast_ratio": None, "source": "x"}},
        "config_hash": chash, "production_hash": "0123456789ab", "decided_at": at, **over})


def test_the_layout_of_a_configs_runs(tmp_path):
    home = tmp_path
    assert results.run_folder(home, "H-001", "abc", "full", 3) == home / "experiments/results/H-001/abc/full/seed_3"
    assert results.relative_run_folder("production", "abc", "fast") == "experiments/results/production/abc/fast"
    assert results.report_path(home, "H-001", "abc").name == "BENCHMARK_REPORT.md"
    assert results.evaluation_path(home, "H-001", "abc").name == "eval_on_leaderboard.json"
    assert results.promoted_file("H-001", "20260105T080000Z") == "experiments/promoted/H-001-20260105T080000Z.yaml"
    assert results.archived_file("H-001", "20260105T080000Z") == "experiments/archived/H-001-20260105T080000Z.md"
    for bad in ("../etc", "H-1/../x", "", "/tmp"):  # one folder name, never a path
        with pytest.raises(ValueError, match="is not an experiment id"):
            results.run_folder(home, bad, "abc", "full", 1)
    with pytest.raises(ValueError, match="mode"):
        results.run_folder(home, "H-001", "abc", "medium", 1)


def test_complete_runs_failures_and_what_is_neither(tmp_path):
    home = tmp_path
    run(home, "H-001", "abc", "full", 2, {"accuracy": 0.9})
    run(home, "H-001", "abc", "full", 10, {"accuracy": 0.8})
    run(home, "H-001", "abc", "full", 3, attempts=["RuntimeError: x", "RuntimeError: y"])
    run(home, "H-001", "abc", "full", 4, {"accuracy": float("nan")})  # not a complete run, not a failure
    (results.run_folder(home, "H-001", "abc", "full", 5) / "failure.json").parent.mkdir(parents=True)
    (results.run_folder(home, "H-001", "abc", "full", 5) / "failure.json").write_text("{broken")
    (home / "experiments/results/H-001/abc/full/seed_x").mkdir()  # not a seed folder
    done, failed = results.runs(home, "H-001", "abc", "full")
    assert list(done) == [2, 10] and done[2] == {"accuracy": 0.9}  # by seed, in numeric order
    assert failed == {3: "RuntimeError: y", 5: "failed (failure.json unreadable)"}
    assert results.runs(home, "H-002", "abc", "full") == ({}, {})
    run(home, "H-001", "abc", "fast", 1, {"accuracy": 0.5})
    assert results.count_runs(home, "H-001", "abc") == 6  # the runs that ended, fast and full
    # the cache: a complete run of the same config under another id
    assert (results.find_complete(home, "production", "abc", "full", 2)
            == results.run_folder(home, "H-001", "abc", "full", 2))
    assert results.find_complete(home, "production", "abc", "full", 4) is None


def test_a_run_reported_elsewhere_is_recorded_once_and_its_time_counted_once(tmp_path):
    home = tmp_path
    folder = results.record_seed(home, "H-001", "abc", "full", 1, {"accuracy": 0.9}, None)
    results.record_seed(home, "H-001", "abc", "full", 1, {"accuracy": 0.1}, None)  # never overwritten
    assert results.runs(home, "H-001", "abc", "full")[0] == {1: {"accuracy": 0.9}}
    results.record_seed(home, "H-001", "abc", "full", 2, None, "the pod pushed no result")
    assert results.runs(home, "H-001", "abc", "full")[1] == {2: "the pod pushed no result"}
    assert results.count_once(folder, 12.5, "2026-01-05T08:00:00Z") is True
    assert results.count_once(folder, 12.5, "2026-01-05T09:00:00Z") is False
    assert results.count_once(results.run_folder(home, "H-001", "abc", "full", 9), 3.0, "x") is False  # no run there
    assert results.seed_record(home, "H-001", "abc", "full", 2)["failure"]["attempts"] == ["the pod pushed no result"]


def test_every_run_folder_and_whether_it_ran_under_its_own_id(tmp_path):
    home = tmp_path
    own = run(home, "production", "abc", "full", 2, {"accuracy": 0.9})
    (own / "config.yaml").write_text("run_id: production\nwall_seconds: 4.5\n")  # the kept key: run_id
    copied = results.run_folder(home, "H-001", "abc", "full", 2)
    results.adopt(own, copied)  # the same config for H-001: copied from production's cache
    run(home, "H-001", "abc", "fast", 1)  # started, nothing recorded yet
    (home / "experiments/results/H-001/abc/full/seed_x").mkdir()  # not a seed folder
    (home / "experiments/results/H-001/abc/notes").mkdir()  # not a mode
    found = list(results.all_runs(home))
    assert [(r.experiment_id, r.config_hash, r.mode, r.seed) for r in found] == [
        ("H-001", "abc", "fast", 1), ("H-001", "abc", "full", 2), ("production", "abc", "full", 2)]
    assert [r.path for r in found] == [results.run_folder(home, "H-001", "abc", "fast", 1), copied, own]
    fast, adopted, ran_here = found
    assert results.run_record(fast.path) is None
    assert results.run_record(ran_here.path) == {"run_id": "production", "wall_seconds": 4.5}
    assert results.adopted(adopted, results.run_record(adopted.path)) is True
    assert results.adopted(ran_here, results.run_record(ran_here.path)) is False
    results.record_seed(home, "H-002", "abc", "full", 3, None, "the pod pushed no result")
    assert results.seed_record(home, "H-002", "abc", "full", 3)["failure"][results.EXPERIMENT_ID_KEY] == "H-002"
    assert list(results.all_runs(tmp_path / "nowhere")) == []


def test_environments_of_the_runs(tmp_path):
    home = tmp_path
    run(home, "production", "abc", "fast", 1, {"a": 1}, environment={"device": "cpu"})
    assert results.environment(home, "production", "abc") == {"device": "cpu"}  # no full run: the fast one's
    run(home, "production", "abc", "full", 1, {"a": 1}, environment={"device": "H200", "torch": "2.5"})
    run(home, "production", "abc", "full", 2, {"a": 1})
    assert results.environment(home, "production", "abc") == {"device": "H200", "torch": "2.5"}
    assert results.environments(home, "production", "abc") == {1: {"device": "H200", "torch": "2.5"}, 2: {}}


def test_decisions_written_read_listed_and_an_invalid_one_named(tmp_path):
    home = tmp_path
    first = decision("H-001", at="2026-01-05T08:00:00Z")
    assert results.read_decision(home, "H-001", first.config_hash) is None
    rel = results.write_decision(home, first)
    assert rel == "experiments/results/H-001/abc123def456/decision.json"
    saved = json.loads((home / rel).read_text())
    assert saved["decided_at"] == "2026-01-05T08:00:00Z" and "replayed" not in saved
    assert results.read_decision(home, "H-001", first.config_hash) == first
    results.write_decision(home, decision("H-002", chash="fedcba987654", at="2026-01-06T08:00:00Z"))
    bad = home / "experiments/results/H-003/000000000000/decision.json"
    bad.parent.mkdir(parents=True)
    bad.write_text(json.dumps({"hypothesis": "H-003"}))
    found = results.decisions(home)
    assert [d.hypothesis for _, d in found.newest_first()] == ["H-002", "H-001"]
    assert len(found.invalid) == 1 and found.invalid[0].startswith(
        "experiments/results/H-003/000000000000/decision.json: decision: Field required")
    with pytest.raises(StateError, match="H-003/000000000000/decision.json"):
        found.raise_invalid()  # what decide's noise ledger does: an unreadable record is an error
    assert results.latest_decision(home, "H-001").decided_at == parse_now("2026-01-05T08:00:00Z")
    assert results.latest_decision(home, "H-009") is None
    with pytest.raises(StateError, match="unreadable decision record"):
        results.latest_decision(home, "H-003")


def test_the_store_is_standard_library_at_import():
    import subprocess
    import sys

    from conftest import REPO

    code = ("import sys, autobench.experiments.results; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('pydantic', 'yaml', 'scipy', 'numpy')]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60, env={"PYTHONPATH": str(REPO / "include")})
