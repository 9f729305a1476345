"""Seed batching: N seeds of the recall example's production config, batched vs one after another.

Both sides run in one warm process with the same optimisations: the batched side is
``train_and_evaluate_batched(config, seeds)``, the sequential side the same function on one seed
at a time (same data generation path, same optimiser implementation, same ``--compile``), so
the ratio is what batching itself buys. ``--reference`` also times the reference solution
(``recall.train_and_evaluate``) per seed and compares its accuracies. Deterministic algorithms
are on, as in the runner's child. Prints a Markdown table and the command that produced it.

    .venv/bin/python benchmarks/bench_seed_batch.py                       # 8 seeds, production, cuda if any
    .venv/bin/python benchmarks/bench_seed_batch.py --device cpu --seeds 4 --steps 50
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import platform
import shlex
import sys
import time
from pathlib import Path

os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # as the runner sets it, before torch loads

import torch  # noqa: E402
import yaml  # noqa: E402

import autobench  # noqa: E402
from autobench.workloads import recall  # noqa: E402
from autobench.workloads.recall_batched import OPTIMIZERS, train_and_evaluate_batched  # noqa: E402

REGISTRY = Path(autobench.__file__).resolve().parent / "examples" / "recall" / "competitive_registry.yaml"


def production_config() -> dict:
    return dict(yaml.safe_load(REGISTRY.read_text())["our_solution"]["config"])


def quiet(fn, *args, **kwargs):
    """Call fn with its progress lines swallowed; (result, wall seconds)."""
    with contextlib.redirect_stdout(io.StringIO()):
        t0 = time.perf_counter()
        result = fn(*args, **kwargs)
        return result, time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8, help="how many seeds (1..N; default 8)")
    parser.add_argument("--steps", type=int, help="override the production config's steps")
    parser.add_argument("--subset", type=float, default=1.0, help="the fast mode's share (default 1.0: full)")
    parser.add_argument("--device", choices=["cpu", "cuda"],
                        default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--optimizer", choices=OPTIMIZERS, default="default")
    parser.add_argument("--compile", choices=["default", "reduce-overhead", "max-autotune"],
                        help="torch.compile the loss function (both sides)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    parser.add_argument("--reference", action="store_true",
                        help="also time recall.train_and_evaluate per seed and compare accuracies")
    opts = parser.parse_args()
    if opts.seeds < 1:
        parser.error("--seeds must be at least 1")
    if opts.threads:
        torch.set_num_threads(opts.threads)
    torch.use_deterministic_algorithms(True)

    cfg = {**production_config(), "log_every": 0, "device": opts.device}
    if opts.steps:
        cfg["steps"] = opts.steps
    seeds = list(range(1, opts.seeds + 1))
    kwargs = {"optimizer": opts.optimizer, "compile": opts.compile}
    device_name = (torch.cuda.get_device_name(0) if opts.device == "cuda"
                   else f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)")

    # warm-up: kernels, allocator, compilation for both shapes
    warm = {**cfg, "steps": 3, "val_size": 256}
    quiet(train_and_evaluate_batched, warm, seeds, **kwargs)
    quiet(train_and_evaluate_batched, warm, seeds[:1], **kwargs)

    batched, batched_s = quiet(train_and_evaluate_batched, cfg, seeds, opts.subset, **kwargs)
    sequential, sequential_s = {}, 0.0
    for seed in seeds:
        one, seconds = quiet(train_and_evaluate_batched, cfg, [seed], opts.subset, **kwargs)
        sequential[seed] = one[seed]
        sequential_s += seconds
    diff = max(abs(batched[s]["accuracy"] - sequential[s]["accuracy"]) for s in seeds)
    train_b = batched[seeds[0]]["train_seconds"]
    train_s = sum(m["train_seconds"] for m in sequential.values())

    print("| device | torch | seeds | steps | batched s | sequential s | speed-up "
          "| training only: batched s / sequential s / speed-up | max per-seed accuracy difference |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |")
    steps = max(1, int(round(cfg["steps"] * opts.subset)))
    print(f"| {device_name} | {torch.__version__} | {len(seeds)} | {steps} | {batched_s:.2f} | {sequential_s:.2f} | "
          f"{sequential_s / batched_s:.2f}× | {train_b:.2f} / {train_s:.2f} / {train_s / train_b:.2f}× | {diff:.2g} |")
    if opts.reference:
        reference, reference_s = {}, 0.0
        for seed in seeds:
            reference[seed], seconds = quiet(recall.train_and_evaluate, cfg, seed, opts.subset)
            reference_s += seconds
        ref_diff = max(abs(batched[s]["accuracy"] - reference[s]["accuracy"]) for s in seeds)
        print(f"\nreference `recall.train_and_evaluate`, one seed after another: {reference_s:.2f} s "
              f"({reference_s / batched_s:.2f}× the batched run); max per-seed accuracy difference "
              f"batched vs reference: {ref_diff:.2g}")
    accuracies = ", ".join(f"{s}: {batched[s]['accuracy']:.4f}" for s in seeds)
    print(f"\nper-seed accuracy (batched): {accuracies}")
    print(f"\ncommand: `{' '.join(shlex.quote(a) for a in [Path(sys.executable).name, *sys.argv])}`")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
