"""The urgent trigger under the real scheduler: ``airflow standalone``, not ``dags test``.

A `week` state folder, its leaderboards served by the demo site on loopback, and a fresh
``airflow standalone`` (its own AIRFLOW_HOME and port). Through the REST API only: unpause the
monitor and the sweep, trigger a monitor run on 2026-01-06's pages (we are #2: no urgent event,
no asset-triggered sweep), switch the site to 2026-01-07 (CompetitorB overtakes us: #3) and
trigger another. Its ``emit_urgent`` task raises ``autobench://urgent``; the scheduler starts an
``asset_triggered`` run of ``experiment_sweep``, which trains for real on the CPU and finishes.

Unpausing a DAG makes the scheduler create its latest cron run at once (``catchup=False`` still
runs the most recent interval): the monitor's 06:00 and the sweep's 08:00 run come along. Both
are left to run: with ``max_active_runs=1`` the urgent sweep queues behind the 08:00 one, as it
would in production.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import sys
import time
import urllib.parse

import pytest
from conftest import REPO, run_cli

MONITOR = "leaderboard_monitor"
SWEEP = "experiment_sweep"
URGENT = "autobench://urgent"
TERMINAL = ("success", "failed")
OPEN = ("queued", "backlog", "running")
REGISTRY_URL = "http://127.0.0.1:8765/"


def _ui():
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import screenshots
    finally:
        sys.path.remove(str(REPO / "scripts"))
    return screenshots


def _q(text: str) -> str:
    return urllib.parse.quote(text, safe="")


class Api:
    """The REST API of one standalone, with a fresh token on a 401."""

    def __init__(self, ui, server):
        self.ui, self.server = ui, server
        self.token = ui.api_token(server.url, server.password())

    def __call__(self, path: str, method: str = "GET", body=None):
        for _ in range(5):
            status, data = self.ui.api(self.server.url, self.token, path, method, body)
            if status == 401:
                self.token = self.ui.api_token(self.server.url, self.server.password())
            elif status >= 500 or (isinstance(data, str) and "database is locked" in data):
                time.sleep(1)  # SQLite's one writer
            else:
                return status, data
        return status, data

    def ok(self, path: str, method: str = "GET", body=None):
        status, data = self(path, method, body)
        assert status in (200, 201), f"{method} {path}: {status} {data}"
        return data

    def runs(self, dag_id: str) -> list[dict]:
        return self.ok(f"/api/v2/dags/{dag_id}/dagRuns?limit=100&order_by=run_after")["dag_runs"]

    def run(self, dag_id: str, run_id: str) -> dict:
        return self.ok(f"/api/v2/dags/{dag_id}/dagRuns/{_q(run_id)}")

    def trigger(self, dag_id: str, run_id: str, logical_date: dt.datetime) -> dict:
        body = {"dag_run_id": run_id, "logical_date": logical_date.isoformat().replace("+00:00", "Z")}
        return self.ok(f"/api/v2/dags/{dag_id}/dagRuns", "POST", body)

    def report(self, dag_id: str, run_id: str, chars: int = 3000) -> str:
        """Task states of one run and the log tail of each failed task (for CI failures)."""
        lines = [f"--- {dag_id} {run_id}"]
        status, data = self(f"/api/v2/dags/{dag_id}/dagRuns/{_q(run_id)}/taskInstances?limit=200")
        if status != 200:
            return f"{lines[0]}: task instances unavailable ({status} {str(data)[:300]})"
        tis = data["task_instances"]
        for ti in tis:
            lines.append(f"{ti['task_id']}[{ti['map_index']}] {ti['state']} (try {ti['try_number']})")
        for ti in tis:
            if ti["state"] not in ("failed", "upstream_failed", "up_for_retry"):
                continue
            path = (f"/api/v2/dags/{dag_id}/dagRuns/{_q(run_id)}/taskInstances/{ti['task_id']}/logs/"
                    f"{max(1, ti['try_number'])}?map_index={ti['map_index']}")
            status, log = self(path)
            content = log.get("content") if isinstance(log, dict) else log
            if isinstance(content, list):
                content = "\n".join(str(e.get("event", e)) if isinstance(e, dict) else str(e) for e in content)
            lines.append(f"--- log of {ti['task_id']}[{ti['map_index']}] ({status}):\n{str(content)[-chars:]}")
        return "\n".join(lines)


def wait_run(api: Api, dag_id: str, run_id: str, deadline: float) -> dict:
    run: dict = {}
    while time.monotonic() < deadline:
        run = api.run(dag_id, run_id)
        if run["state"] in TERMINAL:
            break
        time.sleep(2)
    assert run.get("state") == "success", f"{dag_id} {run_id} ended {run.get('state')}:\n{api.report(dag_id, run_id)}"
    return run


def wait_all_done(api: Api, dag_id: str, deadline: float) -> list[dict]:
    """Until no run of ``dag_id`` is queued or running (the scheduler's own cron runs included)."""
    runs: list[dict] = []
    while time.monotonic() < deadline:
        runs = api.runs(dag_id)
        if all(r["state"] in TERMINAL for r in runs):
            return runs
        time.sleep(2)
    raise AssertionError(f"{dag_id} runs still open: {[(r['dag_run_id'], r['state']) for r in runs]}")


def loopback_free() -> bool:
    try:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
        return True
    except OSError:
        return False


@pytest.mark.slow
def test_a_rank_drop_under_standalone_starts_the_urgent_sweep_and_it_finishes(tmp_path, monkeypatch):
    if not loopback_free():
        pytest.skip("cannot bind a loopback port here")
    ui = _ui()
    from autobench.home import init
    from demo.site import DemoSite

    home = tmp_path / "home"
    init(home, "week")
    site = DemoSite(home)
    site.day = "2026-01-06"
    registry = home / "competitive_registry.yaml"
    text = registry.read_text()
    assert text.count(REGISTRY_URL) == 2
    registry.write_text(text.replace(REGISTRY_URL, site.url + "/"))

    # Standalone copies os.environ (less AIRFLOW* and AUTOBENCH_HOME) into Airflow's processes:
    # one thread per training (two on a busy 2-core box are 20x slower), short retries.
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.setenv(name, "1")
    monkeypatch.setenv("AUTOBENCH_RETRY_DELAY_SECONDS", "1")
    server = ui.Standalone(tmp_path / "airflow_home", home)
    started = time.monotonic()

    def phase(what: str) -> None:  # printed on failure (pytest shows captured output) and with -s
        print(f"[{time.monotonic() - started:5.0f} s] {what}")

    try:
        server.start()
        server.wait_healthy(timeout=300)
        phase(f"standalone healthy at {server.url}")
        api = Api(ui, server)
        ui.wait_for_dags(server.url, api.token, (MONITOR, SWEEP), timeout=240)
        for dag_id in (MONITOR, SWEEP):
            assert api.ok(f"/api/v2/dags/{dag_id}", "PATCH", {"is_paused": False})["is_paused"] is False

        phase("DAGs parsed and unpaused")
        # Tuesday 2026-01-06's pages: we are #2, as before. No urgency.
        first = api.trigger(MONITOR, "test__2026-01-06", dt.datetime.now(dt.UTC).replace(microsecond=0))
        assert first["run_type"] == "manual" and first["triggered_by"] == "rest_api"
        wait_run(api, MONITOR, first["dag_run_id"], time.monotonic() + 240)
        wait_all_done(api, MONITOR, time.monotonic() + 240)
        phase(f"monitor runs done: {[(r['dag_run_id'], r['run_type'], r['state']) for r in api.runs(MONITOR)]}")
        assert not [r for r in api.runs(SWEEP) if r["run_type"] == "asset_triggered"]
        status, events = api("/api/v2/assets/events?source_dag_id=leaderboard_monitor&source_task_id=emit_urgent")
        assert status == 200 and events["asset_events"] == [], events

        # Wednesday 2026-01-07: CompetitorB overtakes us (#2 -> #3).
        site.day = "2026-01-07"
        time.sleep(1)  # a later logical date than the first run's, to the second
        second = api.trigger(MONITOR, "test__2026-01-07", dt.datetime.now(dt.UTC).replace(microsecond=0))
        wait_run(api, MONITOR, second["dag_run_id"], time.monotonic() + 240)
        phase("second monitor run done")

        # The scheduler starts the sweep from the asset event (behind its own 08:00 run, if that
        # one is still going: max_active_runs=1) and the sweep finishes.
        deadline = time.monotonic() + 420
        urgent_runs: list[dict] = []
        while time.monotonic() < deadline and not urgent_runs:
            urgent_runs = [r for r in api.runs(SWEEP) if r["run_type"] == "asset_triggered"]
            time.sleep(2)
        assert urgent_runs, ("no asset_triggered sweep run: "
                             f"{[(r['dag_run_id'], r['run_type'], r['state']) for r in api.runs(SWEEP)]}")
        assert len(urgent_runs) == 1, urgent_runs
        phase(f"asset_triggered sweep run {urgent_runs[0]['dag_run_id']} is {urgent_runs[0]['state']}")
        sweep = wait_run(api, SWEEP, urgent_runs[0]["dag_run_id"], deadline)
        phase(f"sweep done; sweep runs: {[(r['dag_run_id'], r['run_type'], r['state']) for r in api.runs(SWEEP)]}")
        assert sweep["triggered_by"] == "asset" and sweep["logical_date"] is None

        # The event: raised by the second monitor run, with its extra, and it created this sweep run.
        events = api.ok("/api/v2/assets/events?source_dag_id=leaderboard_monitor&source_task_id=emit_urgent")
        assert len(events["asset_events"]) == 1, events
        event = events["asset_events"][0]
        assert event["uri"].rstrip("/") == URGENT and event["source_run_id"] == second["dag_run_id"]
        assert event["extra"]["leaderboard"] == "MemoryBench" and event["extra"]["reason"] == "rank_dropped"
        assert sweep["dag_run_id"] in [r["run_id"] for r in event["created_dagruns"] if r["dag_id"] == SWEEP]
        upstream = api.ok(f"/api/v2/dags/{SWEEP}/dagRuns/{_q(sweep['dag_run_id'])}/upstreamAssetEvents")
        assert [e["id"] for e in upstream["asset_events"]] == [event["id"]]
        assert upstream["asset_events"][0]["uri"].rstrip("/") == URGENT

        # What the sweep did to the state folder: the hypothesis it picked (finalize's decisions) has
        # left the queue.
        done = api.ok(f"/api/v2/dags/{SWEEP}/dagRuns/{_q(sweep['dag_run_id'])}/taskInstances/finalize/"
                      "xcomEntries/return_value?deserialize=true")["value"]
        if isinstance(done, str):
            done = json.loads(done)
        assert len(done["decisions"]) == 1 and done["stopped"] == "limit reached", done
        pick = done["decisions"][0]
        assert pick["hypothesis"].startswith("H-"), pick
        from autobench.schemas import QUEUE
        from autobench.store import StateStore

        queue = StateStore(home).load(QUEUE)
        status_of = {h.id: h.status for h in queue.hypotheses}
        assert status_of[pick["hypothesis"]] in ("failed", "rejected", "promoted", "extended"), status_of
        if status_of[pick["hypothesis"]] != "failed":  # a decision was made
            assert list((home / "experiments" / "results" / pick["hypothesis"]).glob("*/decision.json"))

        # The monitor recorded the urgency the sweep's re-rank applied.
        urgency = json.loads((home / "state" / "urgency.json").read_text())["leaderboards"]
        assert urgency["MemoryBench"]["reason"] == "rank_dropped"
        assert urgency["MemoryBench"]["run_id"] == second["dag_run_id"]

        wait_all_done(api, SWEEP, time.monotonic() + 120)
        proc = run_cli("validate", home=home)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        phase(f"validated; the urgent sweep picked {pick['hypothesis']} -> {status_of[pick['hypothesis']]}")
    except BaseException:
        print(f"standalone log tail:\n{server.log_tail(6000)}")
        raise
    finally:
        server.stop()
        site.close()
        assert server.proc is None or server.proc.poll() is not None
