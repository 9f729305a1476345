"""Small solutions for the runner's tests (importable by the runner's child via PYTHONPATH).

Each follows the experiment contract: ``(config, seed, subset) -> dict of metrics``.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path


def _count(config) -> None:
    if config.get("counter"):
        with open(config["counter"], "a") as fh:
            fh.write("run\n")


def seeded(config, seed, subset):
    """Metrics that depend on every RNG the runner seeds (Python, NumPy, torch)."""
    import random

    import numpy as np
    import torch

    _count(config)
    x = torch.randn(64, 8)
    w = torch.nn.Linear(8, 1)
    score = float(w(x).mean()) + random.random() + float(np.random.rand())
    return {"accuracy": 0.5 + (score % 0.1) + config.get("bonus", 0.0), "latency_ms": 1.0, "memory_mb": 10.0,
            "subset": subset}


def crash(config, seed, subset):
    _count(config)
    raise RuntimeError("shape mismatch in layer 3")


def nan(config, seed, subset):
    _count(config)
    return {"accuracy": float("nan"), "latency_ms": 1.0}


def oom_killed(config, seed, subset):
    """What the kernel's OOM killer does: SIGKILL, no chance to report."""
    _count(config)
    os.kill(os.getpid(), signal.SIGKILL)


def flaky(config, seed, subset):
    """Fails on its first attempt only (a transient fault): the runner's one retry recovers."""
    _count(config)
    marker = Path(config["marker"])
    if not marker.exists():
        marker.write_text("failed once")
        raise OSError("transient: device busy")
    return {"accuracy": 0.75, "latency_ms": 1.0, "memory_mb": 1.0}


def no_primary(config, seed, subset):
    return {"latency_ms": 1.0}


def synthetic(config, seed, subset):
    """A solution with known effects for the sweep's tests: score = base + gain + seed noise.

    The noise has a part shared by every config on the same seed (so pairs correlate) and a part
    of its own; ``gain_seeds``: the gain shows only on those seeds; ``mode: raise`` crashes
    (``raise_full``: only the full runs), ``mode: nan`` returns NaN; the fast run (subset < 1)
    scores lower but tracks the same gain; ``eval_split: test`` reads a slightly harder split.
    ``AUTOBENCH_TEST_RUN_LOG``: a line per call appended to that file; ``AUTOBENCH_TEST_RUN_SLEEP``:
    seconds each call sleeps first.
    """
    import hashlib
    import random

    if os.environ.get("AUTOBENCH_TEST_RUN_LOG"):  # the cache's tests count the runs that really trained
        with open(os.environ["AUTOBENCH_TEST_RUN_LOG"], "a") as fh:
            fh.write(f"{os.getpid()} {seed} {subset}\n")
    if os.environ.get("AUTOBENCH_TEST_RUN_SLEEP"):  # long enough for a second caller to arrive meanwhile
        import time

        time.sleep(float(os.environ["AUTOBENCH_TEST_RUN_SLEEP"]))
    mode = config.get("mode")
    if mode == "raise" or (mode == "raise_full" and subset >= 1):
        raise RuntimeError("synthetic: the patched layer does not exist")
    if mode == "nan":
        return {"accuracy": float("nan"), "latency_ms": 1.0, "memory_mb": 1.0}
    own = int(hashlib.sha256(repr(sorted(config.items())).encode()).hexdigest()[:8], 16)
    shared = random.Random(seed).gauss(0, config.get("noise", 0.002))
    private = random.Random(seed * 1_000_003 + own).gauss(0, config.get("noise", 0.002) / 2)
    gain = config.get("gain", 0.0)
    if "gain_seeds" in config and seed not in config["gain_seeds"]:  # a gain that held only where it was selected
        gain = 0.0
    score = config.get("base", 0.8) + gain + shared + private
    if subset < 1:
        score -= 0.1
    if config.get("eval_split") == "test":
        score -= 0.01
    if os.environ.get("AUTOBENCH_TEST_DRIFT"):  # the defence test: the environment changed under production
        score -= 0.02
    return {"accuracy": round(score, 6), "latency_ms": 1.0, "memory_mb": 10.0, "train_seconds": 0.01}


def synthetic_batched(config, seeds, subset):
    """``synthetic``'s batched variant: several seeds in one process, each exactly as alone.

    With ``AUTOBENCH_TEST_BATCH_LOG`` set, each call appends its pid and seeds to that file, so a
    test can see which seeds shared a process.
    """
    if os.environ.get("AUTOBENCH_TEST_BATCH_LOG"):
        with open(os.environ["AUTOBENCH_TEST_BATCH_LOG"], "a") as fh:
            fh.write(f"{os.getpid()} {','.join(str(s) for s in seeds)}\n")
    return {seed: synthetic(config, seed, subset) for seed in seeds}
