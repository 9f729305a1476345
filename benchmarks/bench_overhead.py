"""How much of a cycle's wall time is orchestration rather than experiments (it should be ≤ 5%).

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

It also times `airflow dags test` of a one-task DAG: the harness's own start-up, paid once per DAG
run by `dags test` (and by the demo) but not by a scheduler, whose costs are per task instead.
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
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from demo.week import Week, airflow_bin


def cycle(workdir: Path) -> tuple[dict, Week]:
    day = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
    schedule = [(day.replace(hour=6), "leaderboard_monitor"), (day.replace(hour=8), "experiment_sweep")]
    week = Week(workdir, example="recall", schedule=schedule)
    return week.run(), week


def harness_start(week: Week, repeats: int = 3) -> float:
    """`airflow dags test` of the one-task `state_check` DAG (its task validates the state folder in
    about 0.1 s): the median wall time is what the harness itself costs per DAG run (the process,
    Airflow's imports, the DAG bag's sync to the DB, the in-process execution API)."""
    times = []
    for i in range(repeats):
        t0 = time.perf_counter()
        subprocess.run([airflow_bin(), "dags", "test", "state_check", f"2026-01-0{i + 2}T05:30:00+00:00"],
                       env=week.env, capture_output=True, check=True, timeout=300)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def row(name: str, split: dict, wall: float) -> str:
    share_train = (split["dag_run_seconds"] - split["training_seconds"]) / split["dag_run_seconds"]
    return (f"| {name} | {split['dag_run_seconds']:.0f} s | {split['experiment_runs']} | "
            f"{split['training_seconds']:.0f} s | {split['experiment_seconds']:.0f} s | "
            f"{split['orchestration_seconds']:.0f} s | **{split['orchestration_share']:.1%}** | {share_train:.1%} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", help="keep the cycle's files here (default: a temporary folder)")
    parser.add_argument("--week", type=Path, help="a `make demo` report.json to split the same way")
    args = parser.parse_args()
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="autobench-bench-overhead-")) / "cycle"
    report, week = cycle(workdir)
    start = harness_start(week)
    print()
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.python_version()}, "
          f"load average {os.getloadavg()[0]:.1f}")
    print("| what | DAG runs' wall | experiment runs | training | experiment processes | orchestration | "
          "orchestration share | all but training |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    print(row("one cycle, recall production config", report["time"], report["seconds"]))
    split = report["time"]
    own = split["orchestration_seconds"] - start * len(report["runs"])
    print(f"`airflow dags test` start-up per DAG run (median of 3 runs of state_check): {start:.1f} s; "
          f"the cycle's orchestration without it ({len(report['runs'])} runs): {own:.1f} s = "
          f"{own / split['dag_run_seconds']:.1%} of the cycle")
    if args.week:
        past = json.loads(args.week.read_text())
        print(row("the demo week", past["time"], past["seconds"]))
        own = past["time"]["orchestration_seconds"] - start * len(past["runs"])
        print(f"the week's orchestration without the start-up ({len(past['runs'])} runs): {own:.1f} s = "
              f"{own / past['time']['dag_run_seconds']:.1%}")
    print(json.dumps({"cycle": split, "dags_test_start_s": round(start, 2),
                      "runs": [(r["dag_id"], r["seconds"]) for r in report["runs"]]}))


if __name__ == "__main__":
    main()
