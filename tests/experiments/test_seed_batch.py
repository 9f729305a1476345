"""Seed-batched recall (``recall_batched``) against separate runs of the reference solution.

Each seed of a batched run must give the metrics ``recall.train_and_evaluate`` gives for that seed
alone: same init, same data stream, per-seed AdamW, same evaluation. Small configs (a few dozen
steps, width 16), CPU, deterministic algorithms on as in the runner's child: seconds in all.
"""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from autobench.workloads import recall  # noqa: E402
from autobench.workloads.recall_batched import train_and_evaluate_batched  # noqa: E402

SMALL = {"steps": 30, "width": 16, "heads": 2, "n_pairs": 8, "min_pairs": 4, "n_queries": 4, "vocab": 32,
         "batch_size": 16, "val_size": 512, "log_every": 0, "device": "cpu"}


@pytest.fixture(autouse=True)
def deterministic():
    """As the runner's child: deterministic algorithms on; one torch thread (OpenMP's spinning
    threads make these tiny models many times slower on a busy 2-core machine). Restored after."""
    before, threads = torch.are_deterministic_algorithms_enabled(), torch.get_num_threads()
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(before)


def assert_same(batched: dict, single: dict, seed: int) -> None:
    assert set(batched) == set(single), f"seed {seed}: keys differ"
    assert abs(batched["accuracy"] - single["accuracy"]) <= 1e-6, (seed, batched["accuracy"], single["accuracy"])
    assert math.isclose(batched["loss"], single["loss"], rel_tol=1e-5), (seed, batched["loss"], single["loss"])
    assert batched["params"] == single["params"]
    for key in ("latency_ms", "memory_mb", "train_seconds"):
        assert batched[key] > 0


def test_each_seed_of_a_batch_equals_its_separate_run():
    seeds = [1, 2, 3]
    batched = train_and_evaluate_batched(SMALL, seeds)
    assert list(batched) == seeds
    for seed in seeds:
        single = recall.train_and_evaluate(SMALL, seed)
        assert_same(batched[seed], single, seed)
        # on the CPU (exact layer-norm backward, the default there) the runs are bit-identical
        assert (batched[seed]["accuracy"], batched[seed]["loss"]) == (single["accuracy"], single["loss"])
    # the seeds really differ (the batch is not one seed copied)
    assert len({round(m["loss"], 6) for m in batched.values()}) == 3


def test_fast_subset_and_chunking_keep_each_seeds_stream():
    cfg = {**SMALL, "steps": 40, "val_size": 2048}
    batched = train_and_evaluate_batched(cfg, [7, 3], subset=0.5, chunk_steps=3)
    for seed in (7, 3):
        assert_same(batched[seed], recall.train_and_evaluate(cfg, seed, 0.5), seed)


def test_dropout_rotary_weight_decay_and_a_schedule_stay_per_seed():
    """Dropout draws from each seed's own generator in the single run's order."""
    cfg = {**SMALL, "steps": 20, "dropout": 0.1, "positional_encoding": "rotary", "weight_decay": 0.1,
           "schedule": "cosine", "warmup": 5, "depth": 1}
    batched = train_and_evaluate_batched(cfg, [4, 5])
    for seed in (4, 5):
        assert_same(batched[seed], recall.train_and_evaluate(cfg, seed), seed)


def test_a_seeds_result_does_not_depend_on_its_batch():
    cfg = {**SMALL, "steps": 10}
    alone = train_and_evaluate_batched(cfg, [2])[2]
    among = train_and_evaluate_batched(cfg, [9, 2, 5])[2]
    assert abs(alone["accuracy"] - among["accuracy"]) <= 1e-6
    assert math.isclose(alone["loss"], among["loss"], rel_tol=1e-5)


def test_the_plain_batched_layer_norm_backward_agrees_to_float_tolerance():
    """``exact=False`` (CUDA's default) sums the layer norms' parameter gradients in another order."""
    cfg = {**SMALL, "steps": 20}
    plain = train_and_evaluate_batched(cfg, [1, 2], exact=False)
    for seed in (1, 2):
        assert_same(plain[seed], recall.train_and_evaluate(cfg, seed), seed)


@pytest.mark.parametrize("optimizer", ["foreach", "fused"])
def test_faster_optimizers_agree_to_float_tolerance(optimizer):
    cfg = {**SMALL, "steps": 10}
    fast = train_and_evaluate_batched(cfg, [1, 2], optimizer=optimizer)
    default = train_and_evaluate_batched(cfg, [1, 2])
    for seed in (1, 2):
        assert math.isclose(fast[seed]["loss"], default[seed]["loss"], rel_tol=1e-4)


@pytest.mark.parametrize(("seeds", "message"), [
    ([], "no seeds given"),
    ([1, 2, 1], "duplicate seeds [1]"),
    ([1, "2"], "seeds must be integers"),
    ([True], "seeds must be integers"),
    (3, "seeds must be a list of integers"),
])
def test_bad_seed_lists_are_one_line_errors(seeds, message):
    with pytest.raises(ValueError) as info:
        train_and_evaluate_batched(SMALL, seeds)
    assert message in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"optimizer": "sgd"}, "optimizer 'sgd'"),
    ({"compile": "fast"}, "compile 'fast'"),
    ({"chunk_steps": 0}, "chunk_steps must be a positive integer"),
])
def test_bad_options_are_one_line_errors(kwargs, message):
    with pytest.raises(ValueError, match="recall_batched: ") as info:
        train_and_evaluate_batched(SMALL, [1], **kwargs)
    assert message in str(info.value)


def test_a_bad_config_is_refused_as_the_single_run_refuses_it():
    with pytest.raises(ValueError, match="unknown config keys"):
        train_and_evaluate_batched({**SMALL, "widht": 8}, [1])


def test_a_diverging_seed_is_reported_with_its_step(monkeypatch):
    from autobench.workloads import recall_batched

    real = recall_batched.per_seed_loss

    def second_seed_diverges(*args, **kwargs):
        loss = real(*args, **kwargs)
        return loss * torch.tensor([1.0, float("nan")])

    monkeypatch.setattr(recall_batched, "per_seed_loss", second_seed_diverges)
    with pytest.raises(FloatingPointError, match=r"^seed 2: training loss is nan at step 0$"):
        train_and_evaluate_batched({**SMALL, "steps": 5}, [1, 2])


def test_run_batched_command_writes_each_seeds_folder_like_separate_runs(tmp_path):
    """`autobench run ... --seeds 1,2 --batched`: one child, per-seed folders, the same metrics."""
    import json as _json

    import yaml as _yaml
    from conftest import run_cli

    config = {"n_pairs": 8, "min_pairs": 8, "n_queries": 4, "vocab": 32, "width": 16, "depth": 1, "heads": 2,
              "steps": 6, "batch_size": 8, "val_size": 256}
    spec = tmp_path / "spec.yaml"
    spec.write_text(_yaml.safe_dump({"solution": "autobench.workloads.recall:train_and_evaluate", "config": config,
                                     "primary_metric": "accuracy"}))
    env = {"OMP_NUM_THREADS": "1"}
    batched = run_cli("run", "production", "--seeds", "1,2", "--batched", "--config", str(spec), "--json",
                      home=tmp_path / "a", env=env, check=True, timeout=600)
    separate = run_cli("run", "production", "--seeds", "1,2", "--no-batched", "--config", str(spec), "--json",
                       home=tmp_path / "b", env=env, check=True, timeout=600)
    got, want = _json.loads(batched.stdout), _json.loads(separate.stdout)
    for seed in ("1", "2"):
        assert got[seed]["accuracy"] == want[seed]["accuracy"]
        assert abs(got[seed]["loss"] - want[seed]["loss"]) <= 1e-5 * max(1.0, abs(want[seed]["loss"]))
    record = _yaml.safe_load(next((tmp_path / "a").rglob("seed_1/config.yaml")).read_text())
    assert record["batched"]["seeds"] == [1, 2]
    assert "[batch] 2 seeds in" in batched.stderr
    again = run_cli("run", "production", "--seeds", "1,2", "--batched", "--config", str(spec), "--json",
                    home=tmp_path / "a", env=env, check=True, timeout=600)
    assert "(cached)" in again.stderr or "[batch]" not in again.stderr  # nothing runs twice


def test_seeds_run_batched_by_default_only_where_a_gpu_is_visible(tmp_path, monkeypatch):
    """SPEC: `run ID --seeds 1,2,3` batches on a GPU. Seen without importing torch: a device node."""
    from autobench.experiments import runner

    dev = tmp_path / "dev"
    dev.mkdir()
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert runner.gpu_visible(dev) is False
    (dev / "nvidiactl").touch()
    assert runner.gpu_visible(dev) is True
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert runner.gpu_visible(dev) is False  # every GPU hidden
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    assert runner.gpu_visible(dev) is True

    monkeypatch.setattr(runner, "gpu_visible", lambda dev=None: True)
    spec = runner.RunSpec("production", "autobench.workloads.recall:train_and_evaluate", {"device": "auto"})
    assert runner.batch_by_default(spec, [1, 2, 3]) is True
    assert runner.batch_by_default(spec, [1]) is False  # one seed: nothing to batch
    pinned = runner.RunSpec("production", spec.solution, {"device": "cpu"})
    assert runner.batch_by_default(pinned, [1, 2]) is False
    plain = runner.RunSpec("production", "solutions:seeded", {})  # no `seeded_batched` variant
    assert runner.batch_by_default(plain, [1, 2]) is False
    monkeypatch.setattr(runner, "gpu_visible", lambda dev=None: False)
    assert runner.batch_by_default(spec, [1, 2, 3]) is False


def test_the_gpu_benchmark_runs_its_phases_on_the_cpu_and_keeps_their_figures(tmp_path):
    """benchmarks/gpu_seed_batch.py is run on a GPU only when a session is lent one: a smoke run
    on the CPU (2 seeds, 2 steps) keeps it working, with its JSON as the device run writes it."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root / "include"), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, str(root / "benchmarks" / "gpu_seed_batch.py"), "--device", "cpu",
                           "--seeds", "2", "--steps", "2", "--val-size", "256", "--phases", "plain,runner",
                           "--out", str(tmp_path)],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    report = json.loads((tmp_path / "gpu_seed_batch.json").read_text())
    assert report["errors"] == {} and report["skipped"] == []
    (row,) = report["phases"]["plain"]["rows"]
    assert row["seeds"] == 2 and row["max_diff_vs_single"] == {"accuracy": 0.0, "loss": 0.0}  # CPU: bit-identical
    assert all(report["phases"]["plain"]["determinism"][k] for k in report["phases"]["plain"]["determinism"]
               if k.endswith("bit-identical"))
    runner = report["phases"]["runner"]
    assert runner["max_diff"] == {"accuracy": 0.0, "loss": 0.0} and runner["batched_s"] > 0
    assert set(runner["runs"]["batched"]["metrics"]) == {"1", "2"}
