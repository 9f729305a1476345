"""The noise of the reference solution: production on many seeds, fast and full.

Runs `autobench run production --seeds 1..N [--fast]` on a fresh copy of the `recall` example
(the real runner: child processes, seeding, deterministic algorithms) and reports mean, std and
std as a share of the mean of the primary metric, plus the time per run. The statistics issue's
simulator takes its default noise from these figures; the reproducibility criterion wants
std < 0.5% of the mean.

    .venv/bin/python benchmarks/bench_noise.py --seeds 10 [--home DIR] [--skip-full]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

AUTOBENCH = str(Path(sys.executable).with_name("autobench"))


def run(home: Path, seeds: list[int], fast: bool) -> tuple[dict[str, dict], float]:
    cmd = [AUTOBENCH, "run", "production", "--seeds", ",".join(map(str, seeds)), "--json", "--home", str(home)]
    if fast:
        cmd.append("--fast")
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed")
    return json.loads(proc.stdout), time.perf_counter() - t0


def summary(label: str, results: dict[str, dict], seconds: float, metric: str) -> str:
    values = [m[metric] for m in results.values()]
    mean, std = statistics.fmean(values), statistics.stdev(values)
    per_run = statistics.fmean(m.get("train_seconds", 0.0) for m in results.values())
    return (f"| {label} | {len(values)} | {mean:.4f} | {std:.4f} | {100 * std / mean:.2f}% | "
            f"{min(values):.4f} | {max(values):.4f} | {per_run:.1f} | {seconds / len(values):.1f} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--home", help="a state folder to use (default: a fresh copy of the recall example)")
    parser.add_argument("--metric", default="accuracy")
    parser.add_argument("--skip-full", action="store_true")
    opts = parser.parse_args()

    home = Path(opts.home) if opts.home else Path(tempfile.mkdtemp(prefix="bench-noise-")) / "home"
    if not (home / "competitive_registry.yaml").exists():
        subprocess.run([AUTOBENCH, "init", "--home", str(home)], check=True, capture_output=True)
    seeds = list(range(1, opts.seeds + 1))
    print(f"machine: {platform.node()} — {os.cpu_count()} CPUs, Python {platform.python_version()}; "
          f"state folder {home}", file=sys.stderr)
    rows = []
    for fast in (True, False):
        if not fast and opts.skip_full:
            continue
        results, seconds = run(home, seeds, fast)
        rows.append(summary("fast" if fast else "full", results, seconds, opts.metric))
    print(f"| mode | seeds | mean {opts.metric} | std | std / mean | min | max | training s/run | wall s/run |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
