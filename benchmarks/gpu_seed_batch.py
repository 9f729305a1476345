"""Seed batching on a GPU, everything the GPU issue asks for, in one process and one time budget.

Runs with nothing but torch, numpy and pyyaml (the device machine's Python): the package comes
from ``include/`` on PYTHONPATH, not installed. Phases, in order, each timed and each written to
``$OUT/gpu_seed_batch.json`` as soon as it ends (so a run stopped by its time limit keeps what
it measured); a phase that would start after ``--budget`` seconds is skipped and says so:

1. ``plain`` (the CUDA default optimiser, ``foreach``): N seeds batched vs the same seeds one
   after another in the same warm process (``train_and_evaluate_batched`` on one seed at a
   time: the same data path, optimiser and kernels), for every N in ``--seeds``. The singles of
   seeds 1..max(N) are run once and summed per N. Determinism: the batch of the first N twice,
   and seed 1 alone twice, must give bit-identical metrics.
2. ``fused``: as 1, with the fused AdamW.
3. ``profile``: kernels launched, GPU busy time and wall time per training step, batched (first
   N) vs one seed, with torch.profiler (a 30-step run minus a 10-step run, so evaluation
   cancels); peak memory per batch size.
4. ``drift``: batched vs single after 1 and 50 steps, and after all steps: how far per-seed
   results move apart (batched GEMMs round differently; training amplifies it).
5. ``reference``: ``recall.train_and_evaluate`` (the reference solution, what the runner's
   child runs for one seed) on seeds 1..N, its time and its largest difference from the batch.
6. ``runner``: ``autobench run production --seeds 1..N --config - --force`` batched (child
   processes included) vs the same with ``--no-batched`` (N single runs, one child each).
7. ``compiled``: as 1 for the first N only, fused AdamW plus
   ``torch.compile(mode="reduce-overhead")`` (CUDA graphs).

    PYTHONPATH=include python3 benchmarks/gpu_seed_batch.py                    # 8 and 16 seeds, cuda
    PYTHONPATH=include python3 benchmarks/gpu_seed_batch.py --device cpu --seeds 2,3 --steps 4   # a smoke run

``bash benchmarks/gpu_seed_batch.sh`` runs it with the environment the device machine needs.
The figures go in docs/benchmarks.md ("Seed-batched training").
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # as the runner's child sets it, before torch loads

import torch  # noqa: E402
import yaml  # noqa: E402

import autobench  # noqa: E402
from autobench.workloads import recall  # noqa: E402
from autobench.workloads.recall_batched import train_and_evaluate_batched  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
REGISTRY = Path(autobench.__file__).resolve().parent / "examples" / "recall" / "competitive_registry.yaml"
METRICS = ("accuracy", "loss")


def production() -> dict:
    solution = yaml.safe_load(REGISTRY.read_text())["our_solution"]
    return {"solution": solution["solution"], "config": dict(solution["config"])}


def quiet(fn, *args, **kwargs):
    """fn(*args, **kwargs) with its progress lines swallowed; (result, wall seconds), synchronised."""
    with contextlib.redirect_stdout(io.StringIO()):
        t0 = time.perf_counter()
        result = fn(*args, **kwargs)
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        return result, time.perf_counter() - t0


def max_diff(a: dict, b: dict, seeds) -> dict:
    """Largest per-seed absolute difference of each metric between two {seed: metrics}."""
    return {m: max(abs(a[s][m] - b[s][m]) for s in seeds) for m in METRICS}


def identical(a: dict, b: dict, seeds) -> bool:
    return all(a[s][m] == b[s][m] for s in seeds for m in METRICS)


class Bench:
    def __init__(self, opts):
        self.opts = opts
        self.t0 = time.perf_counter()
        self.out = Path(opts.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.report: dict = {"command": " ".join(shlex.quote(a) for a in [Path(sys.executable).name, *sys.argv]),
                             "phases": {}, "skipped": [], "errors": {}}
        self.cfg = {**production()["config"], "log_every": 0, "device": opts.device}
        self.overrides = {k: v for k, v in (("steps", opts.steps), ("val_size", opts.val_size)) if v}
        self.cfg.update(self.overrides)
        self.sizes = sorted(opts.seeds)
        self.n = self.sizes[0]

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def save(self) -> None:
        self.report["elapsed_seconds"] = round(self.elapsed(), 1)
        (self.out / "gpu_seed_batch.json").write_text(json.dumps(self.report, indent=2, default=str) + "\n")

    def phase(self, name, fn) -> None:
        if self.elapsed() > self.opts.budget:
            print(f"== {name}: skipped ({self.elapsed():.0f} s > budget {self.opts.budget:.0f} s)", flush=True)
            self.report["skipped"].append(name)
            self.save()
            return
        print(f"== {name} (at {self.elapsed():.0f} s)", flush=True)
        start = time.perf_counter()
        try:
            result = fn()
            result["phase_seconds"] = round(time.perf_counter() - start, 2)
            self.report["phases"][name] = result
            print(json.dumps(result, indent=1, default=str), flush=True)
        except Exception as exc:  # one phase's failure must not cost the others their figures
            self.report["errors"][name] = "".join(traceback.format_exception(exc))[-4000:]
            print(f"== {name} FAILED: {exc!r}\n{self.report['errors'][name]}", flush=True)
        self.save()

    # ------------------------------------------------------------------ phases

    def environment(self) -> dict:
        env = {"torch": torch.__version__, "python": platform.python_version(), "device": self.opts.device,
               "cublas_workspace_config": os.environ.get("CUBLAS_WORKSPACE_CONFIG"),
               "deterministic_algorithms": torch.are_deterministic_algorithms_enabled()}
        if self.opts.device == "cuda":
            props = torch.cuda.get_device_properties(0)
            env.update(gpu=torch.cuda.get_device_name(0), cuda=torch.version.cuda,
                       multiprocessors=props.multi_processor_count, memory_gib=round(props.total_memory / 2**30, 1))
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                env["nvidia_smi"] = subprocess.run(
                    ["nvidia-smi", "--query-gpu=name,driver_version,clocks.max.sm", "--format=csv,noheader"],
                    capture_output=True, text=True, timeout=30).stdout.strip()
        else:
            env["cpu"] = f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
        env["config"] = self.cfg
        return env

    def batched_vs_sequential(self, optimizer: str, compile_mode: str | None, determinism: bool,
                              sizes: list[int] | None = None) -> dict:
        kw = {"optimizer": optimizer, "compile": compile_mode}
        sizes = sizes or self.sizes
        top = sizes[-1]
        warm = {**self.cfg, "steps": 3, "val_size": 256}
        warm_s = 0.0
        for size in [*sizes, 1]:  # kernels, allocator, compilation for every shape measured
            warm_s += quiet(train_and_evaluate_batched, warm, list(range(1, size + 1)), **kw)[1]
        singles, single_s, single_train = {}, {}, {}
        for seed in range(1, top + 1):
            one, seconds = quiet(train_and_evaluate_batched, self.cfg, [seed], **kw)
            singles[seed], single_s[seed], single_train[seed] = one[seed], seconds, one[seed]["train_seconds"]
        rows = []
        batches = {}
        for size in sizes:
            seeds = list(range(1, size + 1))
            batch, seconds = quiet(train_and_evaluate_batched, self.cfg, seeds, **kw)
            batches[size] = batch
            seq = sum(single_s[s] for s in seeds)
            seq_train = sum(single_train[s] for s in seeds)
            train = batch[1]["train_seconds"]
            rows.append({"seeds": size, "batched_s": round(seconds, 3), "sequential_s": round(seq, 3),
                         "speedup": round(seq / seconds, 2), "batched_train_s": round(train, 3),
                         "sequential_train_s": round(seq_train, 3), "train_speedup": round(seq_train / train, 2),
                         "ms_per_step_batched": round(1000 * train / self.cfg["steps"], 3),
                         "ms_per_step_single": round(1000 * seq_train / size / self.cfg["steps"], 3),
                         "max_diff_vs_single": max_diff(batch, singles, seeds),
                         "peak_memory_mb": round(batch[1]["memory_mb"], 1)})
        result = {"optimizer": optimizer, "compile": compile_mode, "warmup_s": round(warm_s, 2), "rows": rows,
                  "accuracy_batched": {size: {s: round(m["accuracy"], 5) for s, m in b.items()}
                                       for size, b in batches.items()}}
        if determinism:
            seeds = list(range(1, self.n + 1))
            again = quiet(train_and_evaluate_batched, self.cfg, seeds, **kw)[0]
            single_again = quiet(train_and_evaluate_batched, self.cfg, [1], **kw)[0]
            result["determinism"] = {
                f"batch of {self.n} twice, bit-identical": identical(batches[self.n], again, seeds),
                f"batch of {self.n} twice, max diff": max_diff(batches[self.n], again, seeds),
                "seed 1 alone twice, bit-identical": identical(singles, single_again, [1]),
                f"seed 1 in the batch of {self.n} vs the batch of {top}": max_diff(batches[self.n], batches[top], [1]),
            }
        self.singles = singles
        self.batches = batches
        return result

    def drift(self) -> dict:
        seeds = list(range(1, self.n + 1))
        out = {}
        for steps in (1, 50):
            cfg = {**self.cfg, "steps": steps}
            batch = quiet(train_and_evaluate_batched, cfg, seeds)[0]
            single = {s: quiet(train_and_evaluate_batched, cfg, [s])[0][s] for s in seeds}
            out[f"after {steps} steps"] = max_diff(batch, single, seeds)
        if hasattr(self, "batches"):  # the plain phase ran: its full-length runs
            out[f"after {self.cfg['steps']} steps"] = max_diff(self.batches[self.n], self.singles, seeds)
        return out

    def reference(self) -> dict:
        seeds = list(range(1, self.n + 1))
        quiet(recall.train_and_evaluate, {**self.cfg, "steps": 3, "val_size": 256}, 1)  # warm-up
        ref, total = {}, 0.0
        for seed in seeds:
            ref[seed], seconds = quiet(recall.train_and_evaluate, self.cfg, seed)
            total += seconds
        if not hasattr(self, "batches"):  # the plain phase did not run in this process
            self.batches, self.singles = {}, {}
            self.batches[self.n], self.batch_s = quiet(train_and_evaluate_batched, self.cfg, seeds)
            for seed in seeds:
                self.singles[seed] = quiet(train_and_evaluate_batched, self.cfg, [seed])[0][seed]
        else:
            self.batch_s = next(r["batched_s"] for r in self.report["phases"]["plain"]["rows"] if r["seeds"] == self.n)
        batch_s = self.batch_s
        again = quiet(recall.train_and_evaluate, self.cfg, 1)[0]
        return {"seeds": self.n, "reference_sequential_s": round(total, 3),
                "reference_ms_per_step": round(1000 * sum(r["train_seconds"] for r in ref.values())
                                               / self.n / self.cfg["steps"], 3),
                "speedup_of_batch_over_reference": round(total / batch_s, 2),
                "max_diff_batched_vs_reference": max_diff(self.batches[self.n], ref, seeds),
                "max_diff_batched_single_vs_reference": max_diff(self.singles, ref, seeds),
                "reference seed 1 twice, bit-identical": identical(ref, {1: again}, [1]),
                "accuracy_reference": {s: round(m["accuracy"], 5) for s, m in ref.items()}}

    def runner(self) -> dict:
        seeds = ",".join(str(s) for s in range(1, self.n + 1))
        spec = yaml.safe_dump({**production(), "config": {**production()["config"], **self.overrides}})
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "include"), os.environ.get("PYTHONPATH", "")])}
        out = {}
        with tempfile.TemporaryDirectory() as home:
            for name, flag in (("batched", "--batched"), ("one by one", "--no-batched")):
                argv = [sys.executable, "-m", "autobench", "--home", home, "run", "production", "--seeds", seeds,
                        "--config", "-", "--force", "--json", flag]
                t0 = time.perf_counter()
                proc = subprocess.run(argv, input=spec, capture_output=True, text=True, env=env, timeout=900)
                seconds = time.perf_counter() - t0
                if proc.returncode != 0:
                    raise RuntimeError(f"{shlex.join(argv[1:])} exited {proc.returncode}: {proc.stderr[-2000:]}")
                metrics = {int(s): m for s, m in json.loads(proc.stdout).items()}
                out[name] = {"command": "python3 " + shlex.join(argv[1:]).replace(home, "HOME"),
                             "wall_s": round(seconds, 2), "metrics": metrics, "stderr_tail": proc.stderr[-600:]}
        b, o = out["batched"], out["one by one"]
        keys = list(b["metrics"])
        return {"seeds": self.n, "batched_s": b["wall_s"], "one_by_one_s": o["wall_s"],
                "speedup": round(o["wall_s"] / b["wall_s"], 2),
                "max_diff": max_diff(b["metrics"], o["metrics"], keys), "runs": out}

    def profile(self) -> dict:
        """Per training step, from the difference of a 30-step and a 10-step run (evaluation cancels)."""
        from torch.profiler import ProfilerActivity, profile

        activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if self.opts.device == "cuda" else [])
        launch_names = ("cudaLaunchKernel", "cuLaunchKernel", "cudaLaunchKernelExC", "cuLaunchKernelEx",
                        "cudaGraphLaunch")
        out = {}
        for label, seeds in ((f"batch of {self.n}", list(range(1, self.n + 1))), ("one seed", [1])):
            counts = {}
            for steps in (10, 30):
                cfg = {**self.cfg, "steps": steps, "val_size": 256}
                quiet(train_and_evaluate_batched, cfg, seeds)
                with profile(activities=activities) as prof:
                    metrics = quiet(train_and_evaluate_batched, cfg, seeds)[0]
                events = prof.key_averages()
                launches = sum(e.count for e in events if e.key in launch_names)
                device_us = sum(getattr(e, "self_device_time_total", 0) for e in events
                                if str(getattr(e, "device_type", "")).endswith("CUDA"))
                counts[steps] = (launches, device_us, metrics[seeds[0]]["train_seconds"])
            (l10, g10, t10), (l30, g30, t30) = counts[10], counts[30]
            out[label] = {"kernel_launches_per_step": (l30 - l10) / 20,
                          "gpu_busy_ms_per_step": round((g30 - g10) / 20 / 1000, 4),
                          "wall_ms_per_step_under_profiler": round(1000 * (t30 - t10) / 20, 3)}
        if "plain" in self.report["phases"]:
            out["peak_memory_mb"] = {r["seeds"]: r["peak_memory_mb"] for r in self.report["phases"]["plain"]["rows"]}
        return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=lambda t: [int(x) for x in t.split(",")], default=[8, 16],
                        help="batch sizes to measure, comma-separated (default 8,16)")
    parser.add_argument("--steps", type=int, help="override the production config's steps (smoke runs)")
    parser.add_argument("--val-size", type=int, help="override the validation set's size (smoke runs)")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--budget", type=float, default=400.0, help="start no phase after this many seconds")
    parser.add_argument("--phases", default="plain,fused,profile,drift,reference,runner,compiled")
    parser.add_argument("--out", default=os.environ.get("OUT", "gpu_seed_batch"))
    opts = parser.parse_args()
    torch.use_deterministic_algorithms(True)
    bench = Bench(opts)
    bench.report["environment"] = bench.environment()
    bench.save()
    print(json.dumps(bench.report["environment"], indent=1), flush=True)
    phases = {
        "plain": lambda: bench.batched_vs_sequential("default", None, determinism=True),
        "drift": bench.drift,
        "reference": bench.reference,
        "runner": bench.runner,
        "fused": lambda: bench.batched_vs_sequential("fused", None, determinism=False),
        "profile": bench.profile,
        # compilation costs a minute or more per shape: the first size only
        "compiled": lambda: bench.batched_vs_sequential("fused", "reduce-overhead", determinism=True,
                                                        sizes=bench.sizes[:1]),
    }
    for name in opts.phases.split(","):
        bench.phase(name, phases[name])
    print(f"== done in {bench.elapsed():.0f} s; {bench.out / 'gpu_seed_batch.json'}", flush=True)
    return 1 if bench.report["errors"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
