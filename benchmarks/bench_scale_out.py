"""Scale-out: the experiment engine and the scheduler's overhead on the real Celery deployment.

Each scenario starts the deployment of ``scripts/celery_cluster.py`` (PostgreSQL, Redis,
api-server, scheduler, dag-processor, triggerer, Celery workers; the settings of
``config/distributed.env``) on a fresh ``AUTOBENCH_HOME`` made from the ``week`` example, whose
queue is the six hypotheses Monday's research ingest leaves (the example's three and three from
its feeds, arXiv served on loopback by the demo site), with one mapped task per seed
(``experiments.local.seeds_per_task: 1``). Through the REST API it runs a monitor cycle, then
unpauses ``experiment_sweep`` (its latest cron run starts) and triggers more sweeps if the
scenario asks, and waits until every sweep has ended. Then it reads every task instance back.

Scenarios (``--scenarios``, comma-separated):

- ``one_per_sweep``: two workers, ``gpu`` pool 2, one decision per sweep (the default settings):
  seven sweeps one after another (the DAG's ``max_active_runs`` is 1), the last finding nothing;
- ``two_slots``: two workers, pool 2, ``max_parallel_hypotheses: 2``, ``max_hypotheses_per_sweep:
  10``: one sweep decides the queue;
- ``one_worker``: as ``two_slots`` with one worker and pool 1 (what a second GPU host adds);
- ``recall``: the ``recall`` example as shipped (production config, 800 steps a run), two
  workers, one monitor cycle and one sweep: the orchestration share at real run lengths;
- ``standalone_one_per_sweep``, ``standalone_two_slots`` and ``standalone_recall``: the same on ``airflow
  standalone`` as ``make run`` starts it (SQLite, LocalExecutor, one machine; ``gpu`` pool 2),
  beside the Celery figures.

Figures per scenario: the sweeps' wall time (first sweep task queued → last sweep task ended),
the decisions (each hypothesis's status), runs and seeds trained and runs per hour, the
orchestration share of the monitor + sweep cycle (the wall time of the DAG runs minus the time
during which at least one experiment process was training; run folders' ``wall_seconds``), and
per task instance the queued→running latency, each task's time outside its child process
(``run_k``), the light tasks' durations, and the scheduling delay between an upstream's end and
its downstream's queueing. One JSON (``--out``) and a Markdown summary on stdout.

    .venv/bin/python benchmarks/bench_scale_out.py --out /tmp/scale_out.json     # all four, ~30 min
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "scripts"), str(ROOT), str(ROOT / "include")]

from celery_cluster import Cluster, q  # noqa: E402
from screenshots import Standalone, api, api_token  # noqa: E402

MONITOR, SWEEP = "leaderboard_monitor", "experiment_sweep"
REGISTRY_URL = "http://127.0.0.1:8765/"
TERMINAL = ("success", "failed")
SCENARIOS = {
    "one_per_sweep": {"example": "week", "workers": 2, "pool": 2, "parallel": 1, "limit": 1, "sweeps": 7},
    "two_slots": {"example": "week", "workers": 2, "pool": 2, "parallel": 2, "limit": 10, "sweeps": 1},
    "one_worker": {"example": "week", "workers": 1, "pool": 1, "parallel": 2, "limit": 10, "sweeps": 1},
    # the orchestration share at the recall example's production config (800 steps a run): one
    # monitor cycle and one sweep of its top hypothesis, as the 12.6% was measured
    "recall": {"example": "recall", "workers": 2, "pool": 2, "parallel": 1, "limit": 1, "sweeps": 1},
    # the same on `airflow standalone` (`make run`'s deployment): one LocalExecutor, "one worker"
    "standalone_one_per_sweep": {"deployment": "standalone", "example": "week", "workers": 1, "pool": 2,
                                 "parallel": 1, "limit": 1, "sweeps": 7},
    "standalone_two_slots": {"deployment": "standalone", "example": "week", "workers": 1, "pool": 2, "parallel": 2,
                             "limit": 10, "sweeps": 1},
    "standalone_recall": {"deployment": "standalone", "example": "recall", "workers": 1, "pool": 2, "parallel": 1,
                          "limit": 1, "sweeps": 1},
}


class StandaloneDeployment:
    """``airflow standalone`` (SQLite, LocalExecutor, SimpleAuthManager) as ``make run`` starts it,
    with the methods of :class:`celery_cluster.Cluster` the scenarios use."""

    def __init__(self, workdir: Path, home: Path, pools: dict[str, int]):
        self.server = Standalone(workdir / "airflow_home", home)
        self.pools = pools
        self.token: str | None = None

    def backends_reachable(self) -> str | None:
        return None  # SQLite in its own AIRFLOW_HOME

    def prepare(self) -> None:
        os.environ.setdefault("OMP_NUM_THREADS", "1")  # what the Celery deployment gives each run
        os.environ.setdefault("MKL_NUM_THREADS", "1")
        # this checkout's package first (the Celery deployment's PYTHONPATH too): a benchmark run
        # from a clone measures the clone, whatever the venv's editable install points at
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "include"),
                                                                 os.environ.get("PYTHONPATH", "")]))

    def start(self) -> None:
        self.server.start()

    def wait_healthy(self, timeout: float) -> None:
        self.server.wait_healthy(timeout=timeout)
        self.token = api_token(self.server.url, self.server.password())
        for name, slots in self.pools.items():
            self.ok(f"/api/v2/pools/{name}?update_mask=slots", "PATCH",
                    {"pool": name, "slots": slots, "include_deferred": False})

    def wait_workers(self, timeout: float) -> list[str]:
        return []  # the LocalExecutor runs tasks in the scheduler's own worker processes

    def ok(self, path: str, method: str = "GET", body=None):
        for _ in range(10):
            status, data = api(self.server.url, self.token, path, method, body)
            if status == 401:
                self.token = api_token(self.server.url, self.server.password())
            elif status >= 500 or (isinstance(data, str) and "database is locked" in data):
                time.sleep(1)  # SQLite's one writer
            else:
                break
        if status not in (200, 201):
            raise RuntimeError(f"{method} {path}: {status} {str(data)[:500]}")
        return data

    def check_alive(self) -> None:
        if self.server.proc is not None and self.server.proc.poll() is not None:
            raise RuntimeError(f"airflow standalone exited:\n{self.server.log_tail()}")

    def stop(self) -> None:
        self.server.stop()


def log(line: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {line}", file=sys.stderr, flush=True)


def prepare_home(home: Path, site_url: str, parallel: int, limit: int, example: str = "week") -> list[str]:
    """The week example, Monday's ingest run against the demo site's arXiv, the scenario's settings
    (the recall example as shipped: its own queue and pages)."""
    autobench = [sys.executable, "-m", "autobench", "--home", str(home)]
    from autobench.schemas import QUEUE
    from autobench.store import StateStore

    subprocess.run([*autobench, "init", "--example", example], check=True, capture_output=True)
    if example != "week":
        return [h.id for h in StateStore(home).load(QUEUE).hypotheses]
    registry = home / "competitive_registry.yaml"
    text = registry.read_text().replace(REGISTRY_URL, site_url + "/")
    registry.write_text(text.rstrip("\n") + "\n  local:\n    seeds_per_task: 1\n"
                        f"  max_parallel_hypotheses: {parallel}\n  max_hypotheses_per_sweep: {limit}\n")
    env = {**os.environ, "AUTOBENCH_ARXIV_URL": f"{site_url}/api/query", "AUTOBENCH_ARXIV_DELAY": "0",
           "PYTHONPATH": str(ROOT / "include")}
    subprocess.run([*autobench, "--now", "2026-01-05T07:00:00Z", "ingest"], check=True, capture_output=True, env=env)
    return [h.id for h in StateStore(home).load(QUEUE).hypotheses]


def when(text: str | None) -> float | None:
    return dt.datetime.fromisoformat(text).timestamp() if text else None


def union(intervals: list[tuple[float, float]]) -> float:
    total, end = 0.0, None
    for a, b in sorted(intervals):
        if end is None or a > end:
            total += b - a
            end = b
        elif b > end:
            total += b - end
            end = b
    return total


def runs_of(cluster: Cluster, dag_id: str) -> list[dict]:
    return cluster.ok(f"/api/v2/dags/{dag_id}/dagRuns?limit=100&order_by=run_after")["dag_runs"]


def tis_of(cluster: Cluster, dag_id: str, run_id: str) -> list[dict]:
    return cluster.ok(f"/api/v2/dags/{dag_id}/dagRuns/{q(run_id)}/taskInstances?limit=1000")["task_instances"]


def wait_runs(cluster: Cluster, dag_id: str, count: int, deadline: float) -> list[dict]:
    while time.monotonic() < deadline:
        runs = runs_of(cluster, dag_id)
        if len(runs) >= count and all(r["state"] in TERMINAL for r in runs):
            return runs
        cluster.check_alive()
        time.sleep(2)
    raise TimeoutError(f"{dag_id}: runs not done: {[(r['dag_run_id'], r['state']) for r in runs_of(cluster, dag_id)]}")


def run_walls(home: Path) -> list[tuple[float, float]]:
    """(end − wall_seconds, end) of every run folder: the experiment processes' own time."""
    import yaml

    out = []
    for metrics in (home / "experiments" / "results").rglob("metrics.json"):
        config = yaml.safe_load(metrics.with_name("config.yaml").read_text())
        end = metrics.stat().st_mtime
        out.append((end - float(config.get("wall_seconds") or 0), end))
    return out


def scenario(name: str, spec: dict, workdir: Path, timeout: float) -> dict:
    from demo.site import DemoSite

    home = workdir / "home"
    home.mkdir(parents=True)
    site = DemoSite(home)  # the week example's pages and arXiv (unused by the recall example)
    site.day = "2026-01-05"
    queue = prepare_home(home, site.url, spec["parallel"], spec["limit"], spec["example"])
    workers = tuple(f"worker-{c}" for c in "ab"[:spec["workers"]])
    if spec.get("deployment") == "standalone":
        workers = ("LocalExecutor",)
        cluster = StandaloneDeployment(workdir, home, pools={"gpu": spec["pool"]})
    else:
        cluster = Cluster(workdir / "celery", home, workers=workers, concurrency=1, pools={"gpu": spec["pool"]})
    if (why := cluster.backends_reachable()) is not None:
        raise SystemExit(f"needs PostgreSQL and Redis: {why}")
    try:
        cluster.prepare()
        cluster.start()
        cluster.wait_healthy(timeout=240)
        cluster.wait_workers(timeout=120)
        deadline = time.monotonic() + timeout
        while {MONITOR, SWEEP} - {d["dag_id"] for d in cluster.ok("/api/v2/dags?limit=100")["dags"]}:
            time.sleep(1)
        log(f"{name}: deployment up ({', '.join(workers)}, gpu pool {spec['pool']}); queue {queue}")
        cluster.ok(f"/api/v2/dags/{MONITOR}/dagRuns", "POST",
                   {"dag_run_id": "bench_monitor", "logical_date": "2026-01-05T06:00:00Z"})
        cluster.ok(f"/api/v2/dags/{MONITOR}", "PATCH", {"is_paused": False})
        time.sleep(5)  # unpausing also starts the latest cron run: let the scheduler create it, then wait for both
        wait_runs(cluster, MONITOR, 1, deadline)
        cluster.ok(f"/api/v2/dags/{MONITOR}", "PATCH", {"is_paused": True})
        log(f"{name}: monitor done; unpausing the sweep")
        cluster.ok(f"/api/v2/dags/{SWEEP}", "PATCH", {"is_paused": False})
        for i in range(1, spec["sweeps"]):
            cluster.ok(f"/api/v2/dags/{SWEEP}/dagRuns", "POST",
                       {"dag_run_id": f"bench_sweep_{i}", "logical_date": None})
        sweeps = wait_runs(cluster, SWEEP, spec["sweeps"], deadline)
        log(f"{name}: {len(sweeps)} sweeps done: {[r['state'] for r in sweeps]}")
        monitor = [r for r in runs_of(cluster, MONITOR) if r["dag_run_id"] == "bench_monitor"]  # the cycle's own
        tis = {(dag_id, r["dag_run_id"]): tis_of(cluster, dag_id, r["dag_run_id"])
               for dag_id, runs in ((MONITOR, monitor), (SWEEP, sweeps)) for r in runs}
    finally:
        cluster.stop()
        site.close()
    return summarise(name, spec, home, monitor, sweeps, tis)


def summarise(name: str, spec: dict, home: Path, monitor: list, sweeps: list, tis: dict) -> dict:
    from autobench.schemas import QUEUE
    from autobench.store import StateStore

    sweep_tis = [ti for (dag_id, _), group in tis.items() if dag_id == SWEEP for ti in group]
    done = [ti for ti in sweep_tis if ti["start_date"] and ti["end_date"]]
    first = min(when(ti["queued_when"]) or when(ti["start_date"]) for ti in done)
    last = max(when(ti["end_date"]) for ti in done)
    runs = [ti for ti in done if ti["task_id"].startswith("run_") and ti["state"] == "success"]
    walls = run_walls(home)
    all_tis = [ti for group in tis.values() for ti in group if ti["start_date"] and ti["end_date"]]
    cycle_wall = sum(max(when(t["end_date"]) for t in group if t["end_date"])
                     - min(when(t["queued_when"]) or when(t["start_date"]) for t in group if t["start_date"])
                     for group in tis.values() if any(t["start_date"] for t in group))
    busy = union(walls)
    queued_to_running = [when(t["start_date"]) - when(t["queued_when"]) for t in all_tis if t["queued_when"]]
    light = [t["duration"] for t in all_tis if not t["task_id"].startswith(("run_", "pod_", "defend", "finalize"))]
    delays = scheduling_delays(tis)
    statuses = {h.id: h.status for h in StateStore(home).load(QUEUE).hypotheses}
    seeds = len(walls)
    hours = (last - first) / 3600
    return {
        "scenario": name, **spec,
        "sweeps": [(r["dag_run_id"], r["state"]) for r in sweeps],
        "sweep_wall_s": round(last - first, 1),
        "statuses": statuses,
        "run_tasks": len(runs), "seeds_trained": seeds, "runs_per_hour": round(len(runs) / hours, 1),
        "cycle_wall_s": round(cycle_wall, 1), "experiment_busy_s": round(busy, 1),
        "orchestration_share": round(1 - busy / cycle_wall, 4),
        "task_instances": len(all_tis),
        "queued_to_running_s": quantiles(queued_to_running),
        "light_task_duration_s": quantiles(light),
        "upstream_end_to_queued_s": quantiles(delays),
    }


def scheduling_delays(tis: dict) -> list[float]:
    """Per sweep turn and finalize: its queueing minus the end of the last task of the turn before."""
    out = []
    for (dag_id, _), group in tis.items():
        if dag_id != SWEEP:
            continue
        by = {}
        for t in group:
            by.setdefault(t["task_id"], []).append(t)
        k = 0
        while f"turn_{k}" in by:
            nxt = by.get(f"turn_{k + 1}") or by.get("finalize")
            before = [t for tid in (f"turn_{k}", f"run_{k}", f"pods_{k}", f"pod_{k}") for t in by.get(tid, [])
                      if t["end_date"]]
            if nxt and nxt[0]["queued_when"] and before:
                out.append(when(nxt[0]["queued_when"]) - max(when(t["end_date"]) for t in before))
            k += 1
    return out


def quantiles(values: list[float]) -> dict:
    values = sorted(v for v in values if v is not None)
    if not values:
        return {}
    return {"n": len(values), "median": round(statistics.median(values), 3),
            "p90": round(values[int(0.9 * (len(values) - 1))], 3), "max": round(values[-1], 3),
            "sum": round(sum(values), 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", default="one_per_sweep,two_slots,one_worker,recall")
    parser.add_argument("--out", default="scale_out.json")
    parser.add_argument("--timeout", type=float, default=1800, help="per scenario, seconds")
    parser.add_argument("--keep", action="store_true", help="keep the work folders")
    opts = parser.parse_args()
    results = []
    for name in opts.scenarios.split(","):
        workdir = Path(tempfile.mkdtemp(prefix=f"scale_out_{name}_"))
        try:
            results.append(scenario(name, SCENARIOS[name], workdir, opts.timeout))
        finally:
            if not opts.keep:
                shutil.rmtree(workdir, ignore_errors=True)
        Path(opts.out).write_text(json.dumps(results, indent=2) + "\n")
        log(json.dumps(results[-1]))
    print("| scenario | workers / pool / parallel / limit | sweeps | sweep wall s | run tasks | runs/h "
          "| orchestration share | queued→running median s | light task median s | upstream end→queued median s |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        print(f"| {r['scenario']} | {r['workers']} / {r['pool']} / {r['parallel']} / {r['limit']} | {len(r['sweeps'])} "
              f"| {r['sweep_wall_s']} | {r['run_tasks']} | {r['runs_per_hour']} "
              f"| {100 * r['orchestration_share']:.1f}% "
              f"| {r['queued_to_running_s'].get('median')} | {r['light_task_duration_s'].get('median')} "
              f"| {r['upstream_end_to_queued_s'].get('median')} |")
    print(f"\ncommand: `{' '.join([Path(sys.executable).name, *sys.argv])}`")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
