"""The distributed deployment for real: CeleryExecutor, PostgreSQL, Redis, two workers, one killed.

What docker-compose.yaml runs, as plain processes (scripts/celery_cluster.py): the machine's
PostgreSQL (a database of this run's own, created at the start and dropped at the end) and Redis (an
empty database number this run claims), ``airflow db migrate``, the FAB admin user, the pools (the
``gpu`` pool at 2 slots), then api-server, scheduler, dag-processor, triggerer and two Celery
workers (``--celery-hostname worker-a@…`` / ``worker-b@…``, concurrency 1) on one
``AUTOBENCH_HOME`` made from the ``week`` example, its leaderboards served on loopback by the demo
site. Every component gets ``config/distributed.env`` (the settings compose loads) with the local
URLs and three shorter timings (heartbeat timeout 20 s, its check every 5 s, retry delay 2 s).

Through the REST API only (a JWT from ``POST /auth/token`` with the FAB user): unpause the
monitor and the sweep (their latest cron runs start: the monitor scrapes Tuesday 2026-01-06's pages;
the sweep, two hypotheses at a time (``max_parallel_hypotheses: 2``, ``max_hypotheses_per_sweep:
2``), maps the top two's fast runs together in ``run_0``, fails H-002 at fast validation and
decides the other), switch the site to Wednesday (CompetitorB overtakes us) and trigger the monitor.
Its ``autobench://urgent`` event starts an ``asset_triggered`` sweep, which re-ranks and runs the one
left: a fast round, then three paired seeds of it and production, one mapped ``run_k`` task
per seed (``experiments.local.seeds_per_task: 1``). Once run tasks have succeeded on
both workers, the worker holding a run in the middle of its training is SIGKILLed with everything it
started (a lost host); the scheduler notices the silent heartbeat, and the try is retried on the
other worker. The cycle is recorded once (module fixture) and the tests check it.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import REPO, run_cli

sys.path.insert(0, str(REPO / "scripts"))
import celery_cluster  # noqa: E402
from celery_cluster import Cluster, q  # noqa: E402

sys.path.remove(str(REPO / "scripts"))

pytestmark = [pytest.mark.slow, pytest.mark.distributed]

MONITOR, SWEEP = "leaderboard_monitor", "experiment_sweep"
WORKERS = ("worker-a", "worker-b")
TERMINAL = ("success", "failed")
REGISTRY_URL = "http://127.0.0.1:8765/"
# The test's timings; everything else is config/distributed.env as compose loads it.
OVERRIDES = {
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
    "AUTOBENCH_RETRY_DELAY_SECONDS": "2",
}
RECOVERY_LIMIT_S = 120  # issue 16: a killed worker's run restarts elsewhere within 2 minutes
DEADLINE_S = 600  # the whole cycle, start to finish (it takes about 5 minutes on 2 busy cores)


class Watch(threading.Thread):
    """Every metrics.json under experiments/results and each inode it had: an atomic rewrite (a seed
    trained twice) shows as a second inode."""

    def __init__(self, home: Path):
        super().__init__(daemon=True)
        self.results = home / "experiments" / "results"
        self.inodes: dict[str, set[int]] = {}
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            for path in self.results.glob("*/*/*/seed_*/metrics.json"):
                try:
                    inode = path.stat().st_ino
                except FileNotFoundError:
                    continue
                self.inodes.setdefault(str(path.relative_to(self.results)), set()).add(inode)
            self.stopping.wait(0.5)


def _tis(cluster: Cluster, run_id: str) -> list[dict]:
    return cluster.ok(f"/api/v2/dags/{SWEEP}/dagRuns/{q(run_id)}/taskInstances?limit=500")["task_instances"]


def _runs(cluster: Cluster, dag_id: str) -> list[dict]:
    return cluster.ok(f"/api/v2/dags/{dag_id}/dagRuns?limit=100&order_by=run_after")["dag_runs"]


def _tries(cluster: Cluster, run_id: str, ti: dict) -> list[dict]:
    return cluster.ok(f"/api/v2/dags/{SWEEP}/dagRuns/{q(run_id)}/taskInstances/{ti['task_id']}/"
                      f"{ti['map_index']}/tries")["task_instances"]


def _is_run(ti: dict) -> bool:
    return ti["task_id"].startswith("run_") and ti["map_index"] >= 0


def _report(cluster: Cluster, dag_id: str, run_id: str) -> str:
    status, data = cluster.api(f"/api/v2/dags/{dag_id}/dagRuns/{q(run_id)}/taskInstances?limit=500")
    if status != 200:
        return f"{dag_id} {run_id}: task instances unavailable ({status})"
    return "\n".join(f"{ti['task_id']}[{ti['map_index']}] {ti['state']} try {ti['try_number']} on {ti['hostname']}"
                     for ti in data["task_instances"])


def _wait_run(cluster: Cluster, dag_id: str, run_id: str, deadline: float) -> dict:
    run: dict = {}
    while time.monotonic() < deadline:
        cluster.check_alive()
        run = cluster.ok(f"/api/v2/dags/{dag_id}/dagRuns/{q(run_id)}")
        if run["state"] in TERMINAL:
            break
        time.sleep(2)
    assert run.get("state") == "success", f"{dag_id} {run_id}: {run.get('state')}\n{_report(cluster, dag_id, run_id)}"
    return run


def _prepare_home(home: Path, site_url: str) -> None:
    from autobench.home import init
    from autobench.schemas import ExperimentsSettings

    init(home, "week")
    registry = home / "competitive_registry.yaml"
    text = registry.read_text()
    assert text.count(REGISTRY_URL) == 2
    text = text.replace(REGISTRY_URL, site_url + "/")
    # One mapped task per seed, so one hypothesis's seeds spread over both workers; two
    # hypotheses in flight, two decisions per sweep.
    assert {"max_parallel_hypotheses", "max_hypotheses_per_sweep"} <= set(ExperimentsSettings.model_fields)
    block = "  local:\n    seeds_per_task: 1\n  max_parallel_hypotheses: 2\n  max_hypotheses_per_sweep: 2\n"
    registry.write_text(text.rstrip("\n") + "\n" + block)


def _kill_mid_run(cluster: Cluster, run_id: str, deadline: float, log) -> dict:
    """Once run tasks have succeeded on both workers, SIGKILL the worker of a run that started
    within the last 3 s (in the middle of its training) with everything it started."""
    while time.monotonic() < deadline:
        cluster.check_alive()
        tis = [ti for ti in _tis(cluster, run_id) if _is_run(ti)]
        done_on = {ti["hostname"] for ti in tis if ti["state"] == "success"}
        now = dt.datetime.now(dt.UTC)
        fresh = [ti for ti in tis if ti["state"] == "running" and ti["hostname"] in WORKERS and ti["start_date"]
                 and (now - dt.datetime.fromisoformat(ti["start_date"])).total_seconds() < 3]
        if fresh and set(WORKERS) <= done_on:
            victim = fresh[0]
            pids = cluster.kill_worker(victim["hostname"])
            log(f"killed {victim['hostname']} ({len(pids)} processes) during {victim['task_id']}"
                f"[{victim['map_index']}]; run tasks had succeeded on {sorted(done_on)}")
            return {**victim, "killed_at": time.monotonic()}
        if cluster.ok(f"/api/v2/dags/{SWEEP}/dagRuns/{q(run_id)}")["state"] in TERMINAL:
            break
        time.sleep(0.5)
    raise AssertionError(f"no run started on a worker after both had finished one:\n{_report(cluster, SWEEP, run_id)}")


@pytest.fixture(scope="module")
def cycle(tmp_path_factory):
    """The whole distributed cycle, recorded: the tests below check what it left."""
    cluster = Cluster(tmp_path_factory.mktemp("celery"), tmp_path_factory.mktemp("shared") / "home",
                      workers=WORKERS, concurrency=1, pools={"gpu": 2}, overrides=OVERRIDES)
    if (why := cluster.backends_reachable()) is not None:
        pytest.skip(f"the distributed test needs PostgreSQL and Redis: {why}")
    from demo.site import DemoSite

    started = time.monotonic()
    phases: list[str] = []

    def log(what: str) -> None:  # shown by pytest on failure, and with -s
        line = f"[{time.monotonic() - started:5.0f} s] {what}"
        phases.append(line)
        print(line, flush=True)

    home = cluster.home
    site = watch = None
    record: dict = {"cluster": cluster, "home": home, "phases": phases}
    try:
        # The demo site serves the home's own pages/<day>/: the home first (with a stand-in URL),
        # then the registry pointed at the site's port.
        _prepare_home(home, "http://127.0.0.1:0")
        site = DemoSite(home)
        site.day = "2026-01-06"
        registry = home / "competitive_registry.yaml"
        registry.write_text(registry.read_text().replace("http://127.0.0.1:0/", site.url + "/"))
        watch = Watch(home)
        watch.start()

        cluster.prepare()
        log(f"database {cluster.database} migrated, Redis db {cluster.redis_db}, FAB user and pools created")
        cluster.start()
        cluster.wait_healthy(timeout=240)
        record["workers"] = cluster.wait_workers(timeout=120)
        log(f"healthy at {cluster.url}; workers {record['workers']}")
        deadline = started + DEADLINE_S
        while time.monotonic() < deadline:
            dags = {d["dag_id"] for d in cluster.ok("/api/v2/dags?limit=100")["dags"]}
            if {MONITOR, SWEEP} <= dags:
                break
            time.sleep(1)
        for dag_id in (MONITOR, SWEEP):
            assert cluster.ok(f"/api/v2/dags/{dag_id}", "PATCH", {"is_paused": False})["is_paused"] is False
        log("DAGs parsed and unpaused; their latest cron runs start")

        # The monitor's cron run scrapes Tuesday's pages (we are #2, as before).
        while time.monotonic() < deadline and not _runs(cluster, MONITOR):
            time.sleep(1)
        for run in _runs(cluster, MONITOR):
            _wait_run(cluster, MONITOR, run["dag_run_id"], deadline)
        log(f"first monitor cycle done: {[(r['dag_run_id'], r['state']) for r in _runs(cluster, MONITOR)]}")

        # Wednesday: CompetitorB overtakes us. The triggered monitor raises autobench://urgent.
        site.day = "2026-01-07"
        time.sleep(1)
        logical = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
        second = cluster.ok(f"/api/v2/dags/{MONITOR}/dagRuns", "POST",
                            {"dag_run_id": "test__2026-01-07", "logical_date": logical})
        record["monitor"] = _wait_run(cluster, MONITOR, second["dag_run_id"], deadline)
        log("second monitor cycle done")
        urgent: list[dict] = []
        while time.monotonic() < deadline and not urgent:
            urgent = [r for r in _runs(cluster, SWEEP) if r["run_type"] == "asset_triggered"]
            time.sleep(1)
        assert urgent, f"no asset_triggered sweep: {[(r['dag_run_id'], r['state']) for r in _runs(cluster, SWEEP)]}"
        record["sweep_id"] = sweep_id = urgent[0]["dag_run_id"]
        log(f"asset-triggered sweep {sweep_id} is {urgent[0]['state']}")

        victim = _kill_mid_run(cluster, sweep_id, deadline, log)
        survivor = next(w for w in WORKERS if w != victim["hostname"])
        record.update(victim=victim, survivor=survivor)
        key = (victim["task_id"], victim["map_index"])
        while time.monotonic() < deadline:
            ti = next(t for t in _tis(cluster, sweep_id) if (t["task_id"], t["map_index"]) == key)
            if ti["try_number"] >= 2 and ti["state"] in ("running", "success") and ti["hostname"] == survivor:
                record["recovery_s"] = time.monotonic() - victim["killed_at"]
                break
            time.sleep(0.5)
        assert "recovery_s" in record, f"{key} not retried on {survivor}:\n{_report(cluster, SWEEP, sweep_id)}"
        log(f"{key} retried on {survivor} {record['recovery_s']:.0f} s after the kill")
        # The lost host comes back (compose restarts a dead worker: `restart: always`).
        cluster.restart_worker(victim["hostname"])
        log(f"{victim['hostname']} restarted")

        record["sweep"] = _wait_run(cluster, SWEEP, sweep_id, deadline)
        while time.monotonic() < deadline:  # every sweep and monitor run ended (the cron ones too)
            runs = _runs(cluster, SWEEP) + _runs(cluster, MONITOR)
            if all(r["state"] in TERMINAL for r in runs):
                break
            time.sleep(2)
        record["sweep_runs"] = _runs(cluster, SWEEP)
        daily = [r for r in record["sweep_runs"] if r["run_type"] == "scheduled"]
        record["daily_tis"] = _tis(cluster, daily[0]["dag_run_id"]) if daily else []
        record["tis"] = _tis(cluster, sweep_id)
        record["tries"] = {(ti["task_id"], ti["map_index"]): _tries(cluster, sweep_id, ti)
                           for ti in record["tis"] if _is_run(ti)}
        record["events"] = cluster.ok(f"/api/v2/assets/events?source_dag_id={MONITOR}&source_task_id=emit_urgent")
        record["upstream"] = cluster.ok(f"/api/v2/dags/{SWEEP}/dagRuns/{q(sweep_id)}/upstreamAssetEvents")
        log(f"sweep {sweep_id} succeeded; all runs ended")
        record["elapsed_s"] = time.monotonic() - started
    except BaseException:
        print("\n".join(phases))
        print(cluster.log_tails(2500))
        raise
    finally:
        if watch is not None:
            watch.stopping.set()
            watch.join(timeout=5)
            record["inodes"] = watch.inodes
        cluster.stop()
        if site is not None:
            site.close()
        record["left_over"] = cluster.alive_pids()
        log(f"cluster stopped and its database dropped; {len(record['left_over'])} processes left")
    yield record


# ----------------------------------------------------------------------------- the checks


def test_the_monitors_urgent_event_started_the_sweep(cycle):
    event, = cycle["events"]["asset_events"]
    assert event["uri"].rstrip("/") == "autobench://urgent"
    assert event["source_run_id"] == cycle["monitor"]["dag_run_id"]
    assert event["extra"]["leaderboard"] == "MemoryBench" and event["extra"]["reason"] == "rank_dropped"
    assert cycle["sweep_id"] in [r["run_id"] for r in event["created_dagruns"] if r["dag_id"] == SWEEP]
    assert [e["id"] for e in cycle["upstream"]["asset_events"]] == [event["id"]]
    assert cycle["sweep"]["triggered_by"] == "asset"


def test_the_daily_sweep_ran_two_hypotheses_at_once(cycle):
    """Its first turn mapped both hypotheses' fast runs together; it decided both, and the urgent
    sweep the one left."""
    first = {ti["rendered_map_index"] for ti in cycle["daily_tis"] if ti["task_id"] == "run_0"}
    together = {shown.split()[0] for shown in first} - {"production"}  # production's fast seed, once for both
    assert len(together) == 2 and "H-002" in together and all("fast seed 1" in x for x in first), first
    from autobench.experiments.sweep import load_progress
    from autobench.store import StateStore

    store = StateStore(cycle["home"])
    daily = next(r["dag_run_id"] for r in cycle["sweep_runs"] if r["run_type"] == "scheduled")
    assert {d["hypothesis"] for d in load_progress(store, daily).decisions} == together
    left = {"H-001", "H-002", "H-003"} - together
    assert {d["hypothesis"] for d in load_progress(store, cycle["sweep_id"]).decisions} == left


def test_mapped_runs_ran_on_both_workers(cycle):
    hosts = {t["hostname"] for tries in cycle["tries"].values() for t in tries if t["state"] == "success"}
    assert hosts == set(WORKERS), cycle["tries"]


def test_the_killed_workers_run_was_retried_on_the_other_within_two_minutes(cycle):
    victim = cycle["victim"]
    tries = cycle["tries"][(victim["task_id"], victim["map_index"])]
    by_try = {t["try_number"]: t for t in tries}
    assert by_try[1]["hostname"] == victim["hostname"] and by_try[1]["state"] == "failed", tries
    assert by_try[2]["hostname"] == cycle["survivor"] and by_try[2]["state"] == "success", tries
    assert cycle["recovery_s"] <= RECOVERY_LIMIT_S, cycle["recovery_s"]


def test_the_state_validates_and_no_seed_ran_twice(cycle):
    home = cycle["home"]
    proc = run_cli("validate", home=home)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # Airflow's view: each run (hypothesis, mode, seed) succeeded in exactly one task instance.
    done = [ti["rendered_map_index"] for ti in cycle["tis"] if _is_run(ti) and ti["state"] == "success"]
    assert done and len(done) == len(set(done)), done
    assert all(ti["state"] == "success" for ti in cycle["tis"] if _is_run(ti)), cycle["tis"]
    # The files' view: every seed folder written once (no second inode), one run in each train.log.
    assert cycle["inodes"], "no run folder appeared"
    twice = {path: inodes for path, inodes in cycle["inodes"].items() if len(inodes) > 1}
    assert not twice, twice
    results = home / "experiments" / "results"
    for path in cycle["inodes"]:
        log = (results / path).with_name("train.log").read_text()
        assert sum(line.startswith("autobench ") and ": run " in line for line in log.splitlines()) == 1, path
    # Nothing lost: the sweep's hypothesis has a decision, and the queue still holds all three.
    from autobench.schemas import QUEUE
    from autobench.store import StateStore

    status = {h.id: h.status for h in StateStore(home).load(QUEUE).hypotheses}
    assert {"H-001", "H-002", "H-003"} <= set(status), status
    assert "running" not in status.values(), status
    assert status["H-002"] == "failed" and status["H-003"] in ("rejected", "promoted", "extended"), status


def test_every_process_stopped_and_the_database_dropped(cycle):
    assert cycle["left_over"] == []
    cluster = cycle["cluster"]
    import psycopg2

    conn = psycopg2.connect(host=cluster.pg_host, port=cluster.pg_port, user=cluster.pg_user, dbname="postgres")
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (cluster.database,))
            assert cur.fetchone() is None
    finally:
        conn.close()
    assert cluster._redis(cluster.redis_db).dbsize() == 0
    assert os.environ.get("AIRFLOW__CORE__EXECUTOR") is None  # the harness never touched this process's env
    assert celery_cluster.SETTINGS_FILE.is_file()
