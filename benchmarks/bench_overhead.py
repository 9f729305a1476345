"""How much of a cycle's wall time is orchestration rather than experiments (issue 9: ≤ 5%).

One full cycle at the `recall` example's production config, run the way the demo runs it
(`airflow dags test` per DAG run, a fresh SQLite metadata DB, real training on the CPU):
`leaderboard_monitor` at 06:00, then `experiment_sweep` at 08:00 on the top of the queue (its
fast validation, three paired seeds and production's three, `decide`, and the defence of
production). Where the time went:

- training: each run's ``train_seconds`` (the optimiser loop);
- experiment processes: each run's ``wall_seconds`` (the child's start, training, evaluation on
  the validation split, latency, a retry if any);
- orchestration: the rest of the DAG runs' wall time (Airflow's own start per run, task
  scheduling, the state's I/O, scraping, statistics, reports).

With ``--week REPORT`` it also prints the same split for a finished `make demo` week (its
``report.json``).

    .venv/bin/python benchmarks/bench_overhead.py [--week demo_week/report.json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import tempfile
from pathlib import Path

from autobench_airflow.demo import Week


def cycle(workdir: Path) -> dict:
    day = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
    schedule = [(day.replace(hour=6), "leaderboard_monitor"), (day.replace(hour=8), "experiment_sweep")]
    return Week(workdir, example="recall", schedule=schedule).run()


def row(name: str, split: dict, wall: float) -> str:
    share_train = (split["dag_run_seconds"] - split["training_seconds"]) / split["dag_run_seconds"]
    return (f"| {name} | {split['dag_run_seconds']:.0f} s | {split['experiment_runs']} | {split['training_seconds']:.0f} s | "
            f"{split['experiment_seconds']:.0f} s | {split['orchestration_seconds']:.0f} s | "
            f"**{split['orchestration_share']:.1%}** | {share_train:.1%} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", help="keep the cycle's files here (default: a temporary folder)")
    parser.add_argument("--week", type=Path, help="a `make demo` report.json to split the same way")
    args = parser.parse_args()
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="autobench-bench-overhead-")) / "cycle"
    report = cycle(workdir)
    print()
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.python_version()}, "
          f"load average {os.getloadavg()[0]:.1f}")
    print("| what | DAG runs' wall | experiment runs | training | experiment processes | orchestration | "
          "orchestration share | all but training |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    print(row("one cycle, recall production config", report["time"], report["seconds"]))
    if args.week:
        week = json.loads(args.week.read_text())
        print(row("the demo week", week["time"], week["seconds"]))
    print(json.dumps({"cycle": report["time"], "runs": [(r["dag_id"], r["seconds"]) for r in report["runs"]]}))


if __name__ == "__main__":
    main()
