"""Start-up and parse-time benchmark (issue: foundation).

Targets: `autobench --help` and `autobench validate` start in under 0.5 s, with no torch,
scipy or matplotlib imported on that path; each DAG file parses in under 1 s once Airflow is
imported. Run: `make bench` (or `.venv/bin/python benchmarks/bench_startup.py [--runs N]`).
Prints a Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
HEAVY = ("torch", "scipy", "matplotlib", "airflow", "pandas")

IMPORT_PROBE = f"""
import runpy, sys
sys.argv = ['autobench'] + sys.argv[1:]
try:
    runpy.run_module('autobench', run_name='__main__')
except SystemExit:
    pass
heavy = sorted({{m.split('.')[0] for m in sys.modules if m.split('.')[0] in {HEAVY!r}}})
print('HEAVY=' + ','.join(heavy), file=sys.stderr)
"""

PARSE_PROBE = """
import sys, time
t0 = time.perf_counter()
import airflow.sdk  # the dag-processor has this imported already
from airflow.dag_processing.dagbag import DagBag
t1 = time.perf_counter()
bag = DagBag(sys.argv[1])
t2 = time.perf_counter()
assert not bag.import_errors, bag.import_errors
stat = bag.dagbag_stats[0]
print(f"{t1 - t0:.4f} {t2 - t1:.4f} {stat.duration.total_seconds():.4f} {len(bag.dags)}")
"""


def timed(cmd: list[str], runs: int, env: dict[str, str]) -> list[float]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, env=env)
        times.append(time.perf_counter() - t0)
        if proc.returncode != 0:
            raise SystemExit(f"{cmd} failed: {proc.stderr.decode()[-500:]}")
    return times


def heavy_imports(args: list[str], env: dict[str, str]) -> str:
    proc = subprocess.run([sys.executable, "-c", IMPORT_PROBE, *args], capture_output=True, text=True, env=env)
    line = next(ln for ln in proc.stderr.splitlines() if ln.startswith("HEAVY="))
    return line.removeprefix("HEAVY=") or "none"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    opts = parser.parse_args()

    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOBENCH")}
    airflow_home = tempfile.mkdtemp(prefix="bench-airflow-")
    env.update(AIRFLOW_HOME=airflow_home, AIRFLOW__CORE__LOAD_EXAMPLES="False")
    home = Path(tempfile.mkdtemp(prefix="bench-home-")) / "home"
    autobench = str(VENV_BIN / "autobench")
    subprocess.run([autobench, "init", "--home", str(home)], check=True, capture_output=True, env=env)

    rows = []
    for label, args in (("autobench --help", ["--help"]),
                        ("autobench validate (recall example)", ["validate", "--home", str(home)]),
                        ("autobench queue list (recall example)", ["queue", "list", "--home", str(home)])):
        times = timed([autobench, *args], opts.runs, env)
        rows.append((label, statistics.median(times), max(times), heavy_imports(args, env)))
    baseline = timed([sys.executable, "-c", "pass"], opts.runs, env)

    print(f"machine: {platform.node()} — {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}; {opts.runs} runs each")
    print()
    print("| command | median (s) | max (s) | heavy modules imported |")
    print("| --- | ---: | ---: | --- |")
    print(f"| `python -c pass` (interpreter floor) | {statistics.median(baseline):.3f} | {max(baseline):.3f} | none |")
    for label, med, worst, heavy in rows:
        print(f"| `{label}` | {med:.3f} | {worst:.3f} | {heavy} |")
    print()
    print("| DAG file | import airflow.sdk (s) | DagBag parse (s) | Airflow's own parse duration (s) | DAGs |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for path in sorted((REPO / "dags").glob("*.py")):
        out = subprocess.run([sys.executable, "-c", PARSE_PROBE, str(path)], capture_output=True, text=True,
                             env=env, check=True).stdout.strip().splitlines()[-1].split()
        print(f"| `dags/{path.name}` | {float(out[0]):.3f} | {float(out[1]):.3f} | {float(out[2]):.3f} | {out[3]} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
