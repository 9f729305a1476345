"""`autobench run`: seeding and determinism, the cache, failures recorded, the lean import path."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import REPO, run_cli

from autobench.experiments.runner import config_hash

TESTS = str(REPO / "tests")


def spec_file(tmp_path: Path, solution: str, **config) -> Path:
    path = tmp_path / f"{solution}-{config_hash(solution, config)}.yaml"
    path.write_text(yaml.safe_dump({"solution": f"solutions:{solution}", "config": config, "fast_subset": 0.25}))
    return path


def run(home: Path, *args: str, **kw) -> subprocess.CompletedProcess:
    env = {"PYTHONPATH": TESTS + os.pathsep + os.environ.get("PYTHONPATH", ""), **kw.pop("env", {})}
    return run_cli("run", *args, "--json", home=home, env=env, **kw)


def runs_of(counter: Path) -> int:
    return len(counter.read_text().splitlines()) if counter.exists() else 0


def test_same_seed_same_metrics_and_the_folder_layout(tmp_path):
    home = tmp_path / "home"
    spec = spec_file(tmp_path, "seeded")
    first = run(home, "H-001", "--seed", "7", "--config", str(spec))
    assert first.returncode == 0, first.stderr
    again = run(home, "H-001", "--seed", "7", "--config", str(spec), "--force")
    other = run(home, "H-001", "--seed", "8", "--config", str(spec))
    m1, m2, m3 = (json.loads(p.stdout) for p in (first, again, other))
    assert m1["accuracy"] == m2["accuracy"]  # Python, NumPy and torch all seeded
    assert m1["accuracy"] != m3["accuracy"]
    chash = config_hash("solutions:seeded", {})
    folder = home / "experiments/results/H-001" / chash / "full/seed_7"
    assert sorted(p.name for p in folder.iterdir()) == ["config.yaml", "metrics.json", "train.log"]
    record = yaml.safe_load((folder / "config.yaml").read_text())
    assert record["config_hash"] == chash and record["seed"] == 7 and record["mode"] == "full"
    assert {"torch", "numpy", "python", "device", "autobench"} <= set(record["environment"])
    assert json.loads((folder / "metrics.json").read_text()) == m2
    assert "seed=7 mode=full" in (folder / "train.log").read_text()


def test_the_cache_runs_nothing_twice_and_fast_and_full_never_mix(tmp_path):
    home, counter = tmp_path / "home", tmp_path / "count"
    spec = spec_file(tmp_path, "seeded", counter=str(counter))
    assert run(home, "H-001", "--seeds", "1,2", "--config", str(spec)).returncode == 0
    assert runs_of(counter) == 2
    second = run(home, "H-001", "--seeds", "1,2", "--config", str(spec))
    assert runs_of(counter) == 2, "a complete run was run again"
    assert "(cached)" in second.stderr
    fast = run(home, "H-001", "--seed", "1", "--fast", "--config", str(spec))
    assert runs_of(counter) == 3 and json.loads(fast.stdout)["subset"] == 0.25
    assert json.loads(second.stdout)["1"]["subset"] == 1.0
    run(home, "H-001", "--seed", "1", "--force", "--config", str(spec))
    assert runs_of(counter) == 4
    changed = spec_file(tmp_path, "seeded", counter=str(counter), bonus=0.01)
    run(home, "H-001", "--seed", "1", "--config", str(changed))
    assert runs_of(counter) == 5
    # the same config under another id is reused (copied), not recomputed
    reused = run(home, "production", "--seed", "2", "--config", str(spec))
    assert runs_of(counter) == 5
    assert json.loads(reused.stdout) == json.loads(second.stdout)["2"]
    assert (home / "experiments/results/production" / config_hash("solutions:seeded", {"counter": str(counter)})
            / "full/seed_2/metrics.json").is_file()


@pytest.mark.parametrize("solution,message", [
    ("crash", "RuntimeError: shape mismatch in layer 3"),
    ("nan", "metric 'accuracy' is nan (NaN or infinite)"),
    ("oom_killed", "killed by SIGKILL (out of memory?"),
])
def test_failures_retry_once_then_are_recorded(tmp_path, solution, message):
    home, counter = tmp_path / "home", tmp_path / "count"
    spec = spec_file(tmp_path, solution, counter=str(counter))
    proc = run(home, "H-009", "--seed", "3", "--config", str(spec))
    assert proc.returncode == 1
    assert proc.stdout == ""
    line = proc.stderr.strip().splitlines()[-1]
    assert line.startswith("H-009 seed=3 full: failed 2 times: ") and message in line
    assert runs_of(counter) == 2  # one retry, no more
    folder = next((home / "experiments/results/H-009").glob("*/full/seed_3"))
    assert not (folder / "metrics.json").exists()  # never cached as a result
    log = (folder / "train.log").read_text()
    assert log.count("failed: ") == 2 and message.split(" (")[0] in log
    if solution == "crash":
        assert "Traceback" in log
    failure = json.loads((folder / "failure.json").read_text())
    assert len(failure["attempts"]) == 2


def test_a_transient_failure_is_retried_once_and_recovers(tmp_path):
    home = tmp_path / "home"
    spec = spec_file(tmp_path, "flaky", marker=str(tmp_path / "marker"))
    proc = run(home, "H-002", "--seed", "1", "--config", str(spec))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["accuracy"] == 0.75
    folder = next((home / "experiments/results/H-002").glob("*/full/seed_1"))
    assert "attempt 1 failed: OSError: transient: device busy" in (folder / "train.log").read_text()
    assert not (folder / "failure.json").exists()


def test_progress_lines_and_time_left(tmp_path):
    home = tmp_path / "home"
    proc = run(home, "H-042", "--seeds", "1,2,3", "--config", str(spec_file(tmp_path, "seeded")))
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("[")]
    assert [ln.split()[0] for ln in lines] == ["[1/3]", "[2/3]", "[3/3]"]
    assert lines[0].startswith("[1/3] H-042 seed=1 — accuracy=0.")
    assert "left" in lines[0] and "left" not in lines[2]
    assert set(json.loads(proc.stdout)) == {"1", "2", "3"}


def test_bad_config_input_is_one_clear_line(tmp_path):
    home = tmp_path / "home"
    bad = tmp_path / "bad.yaml"
    bad.write_text("config: {lr: 0.1}\nfast_subset: 3\n")
    proc = run(home, "H-001", "--seed", "1", "--config", str(bad))
    assert proc.returncode == 1 and proc.stderr.strip() == f"{bad}: fast_subset: must be a number in (0, 1] (got 3)"
    proc = run(home, "H-001", "--seed", "1", "--config", str(tmp_path / "missing.yaml"))
    assert proc.returncode == 1 and "cannot read" in proc.stderr
    proc = run(home, "H-001", "--seeds", "1,1", "--config", str(bad))
    assert proc.returncode == 2 and "distinct" in proc.stderr


def test_an_experiment_id_resolves_production_plus_patch_from_the_state_files(home):
    from autobench.experiments.config import merge_patch, spec_for
    from autobench.store import StateStore

    store = StateStore(home)
    prod, h2 = spec_for(store, "production"), spec_for(store, "H-002")
    assert h2.config == {**prod.config, "width": 64}
    assert h2.config_hash != prod.config_hash
    assert prod.primary_metric == "accuracy" and prod.fast_subset == 0.1
    assert merge_patch({"a": {"b": 1, "c": 2}, "d": 1}, {"a": {"b": 5}, "d": None}) == {"a": {"b": 5, "c": 2}}
    proc = run_cli("run", "H-404", "--seed", "1", home=home)
    assert proc.returncode == 1 and "no hypothesis 'H-404'" in proc.stderr


BLOCKER = """
import sys
class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {'airflow', 'pydantic', 'scipy', 'ruamel', 'filelock', 'matplotlib'}:
            raise ImportError(f'the lean runner path imported {name}')
        return None
sys.meta_path.insert(0, Blocker())
"""


def test_run_with_config_imports_only_the_lean_set(tmp_path):
    """`run --config` (parent and child) must not import Airflow, pydantic, scipy, ...: the pod path."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCKER)
    home = tmp_path / "home"
    spec = spec_file(tmp_path, "seeded")
    env = {"PYTHONPATH": os.pathsep.join([str(site), TESTS])}
    proc = run(home, "H-001", "--seeds", "1,2", "--config", str(spec), env=env)
    assert proc.returncode == 0, proc.stderr
    # and the blocker really bites: a path that needs pydantic fails under it
    proc = run_cli("validate", home=home, env=env)
    assert proc.returncode != 0 and "imported pydantic" in proc.stderr


def test_recall_is_deterministic_on_the_cpu(tmp_path):
    home = tmp_path / "home"
    cfg = {"steps": 40, "val_size": 256, "width": 32, "log_every": 20}
    path = tmp_path / "recall.yaml"
    path.write_text(yaml.safe_dump({"config": cfg}))
    a = run(home, "H-001", "--seed", "5", "--config", str(path))
    b = run(home, "H-001", "--seed", "5", "--config", str(path), "--force")
    assert a.returncode == 0, a.stderr
    ma, mb = json.loads(a.stdout), json.loads(b.stdout)
    assert ma["accuracy"] == mb["accuracy"] and ma["loss"] == mb["loss"]
    assert {"accuracy", "latency_ms", "memory_mb", "params"} <= set(ma)


@pytest.mark.slow
def test_a_full_production_seed_learns_far_above_chance(home):
    """The `recall` example's production config, one full seed, the real runner (~30 s here)."""
    proc = run_cli("run", "production", "--seed", "1", "--json", home=home, timeout=600)
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads(proc.stdout)
    chance = 1 / 256
    assert metrics["accuracy"] > 0.95 > 100 * chance  # learns well ...
    assert metrics["accuracy"] < 0.9999  # ... but not perfectly: techniques have room to help
    assert metrics["params"] > 10_000 and metrics["latency_ms"] > 0 and metrics["memory_mb"] > 0
    assert "[1/1] production seed=1 — accuracy=0.9" in proc.stderr
