"""Whole DAG runs with `airflow dags test` against a real metadata DB and a real state folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from autobench.clock import parse_now
from autobench.schemas import QUEUE
from autobench.store import StateStore


def dags_test(env, dag_id: str, date: str, home: Path) -> subprocess.CompletedProcess:
    airflow = str(Path(sys.executable).with_name("airflow"))
    return subprocess.run([airflow, "dags", "test", dag_id, date], env={**env, "AUTOBENCH_HOME": str(home)},
                          capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_state_check_passes_on_a_valid_home(airflow_env, home):
    proc = dags_test(airflow_env, "state_check", "2026-01-05T05:30:00+00:00", home)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "every state file is valid" in out
    assert "dag_id=state_check" in out and "state=success" in out


@pytest.mark.slow
def test_state_check_fails_with_the_field_named(airflow_env, home):
    path = home / "experiment_queue.yaml"
    path.write_text(path.read_text().replace("effort: Low", "effort: Lowest", 1))
    before = path.read_bytes()
    proc = dags_test(airflow_env, "state_check", "2026-01-06T05:30:00+00:00", home)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out[-3000:]
    assert "state=failed" in out
    message = ("experiment_queue.yaml: hypotheses[0].implementation.effort: "
               "Input should be 'Low', 'Medium' or 'High' (got 'Lowest')")
    assert out.count(message) == 2  # the try and its one retry (retry_delay is 1 s under test)
    assert path.read_bytes() == before  # it reports; it never rewrites


def asset_events(airflow_env, uri: str) -> list[dict]:
    """Asset events recorded in the metadata DB (SQLite) for one URI."""
    import json
    import sqlite3

    db = Path(airflow_env["AIRFLOW_HOME"]) / "airflow.db"
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id "
            "WHERE rtrim(a.uri, '/') = ? ORDER BY e.id",
            (uri.rstrip("/"),)).fetchall()
    return [json.loads(extra) if extra else {} for (extra,) in rows]


@pytest.mark.slow
def test_leaderboard_monitor_two_days_a_competitor_overtakes_us(airflow_env, home, tmp_path):
    """Day 1 from the example's pages; day 2 a new entrant pushes us from #3 to #4."""
    page = home / "pages" / "memorybench.html"
    proc = dags_test(airflow_env, "leaderboard_monitor", "2026-01-05T06:00:00+00:00", home)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert "[STATUS] Our rank: #3 | Gap to #1: -0.024 on MemoryBench" in out
    before_urgent = len(asset_events(airflow_env, "autobench://urgent"))

    text = page.read_text()
    row = "<tr><td>1</td><td>StartupX</td><td>Startup</td><td>0.851</td><td>2026-01-06</td></tr>"
    page.write_text(text.replace("<tbody>", "<tbody>\n    " + row, 1))
    proc = dags_test(airflow_env, "leaderboard_monitor", "2026-01-06T06:00:00+00:00", home)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert "[ALERT] New entrant: StartupX at 0.851 — now ranked #1, ahead of us on MemoryBench" in out
    assert "[ALERT] Our rank dropped on MemoryBench: #3 → #4" in out
    events = asset_events(airflow_env, "autobench://urgent")
    assert len(events) == before_urgent + 1
    assert events[-1]["leaderboard"] == "MemoryBench" and events[-1]["reason"] == "rank_dropped"
    assert len(list((home / "snapshots" / "MemoryBench").glob("*.json"))) == 2


@pytest.mark.slow
def test_research_ingest_ends_with_new_hypotheses_in_the_queue(airflow_env, home):
    """arXiv unreachable (a closed loopback port): that source fails, the demo feed goes on."""
    env = {**airflow_env, "AUTOBENCH_ARXIV_URL": "http://127.0.0.1:9/api/query", "AUTOBENCH_ARXIV_DELAY": "0"}
    config = home / "research_config.yaml"
    config.write_text(config.read_text().replace("retries: 3", "retries: 0"))
    before = (home / "experiment_queue.yaml").read_text().count("- id: H-")
    proc = dags_test(env, "research_ingest", "2026-01-05T07:00:00+00:00", home)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert "[ERROR] arxiv: memory augmented neural networks: connection failed" in out
    queue = (home / "experiment_queue.yaml").read_text()
    assert queue.count("- id: H-") > before and "steps: 1400" in queue
    assert "Train Longer, Recall More" in (home / "research_log.md").read_text()
    assert asset_events(airflow_env, "autobench://queue")


@pytest.mark.slow
def test_experiment_sweep_promotes_fails_archives_and_rejects(airflow_env, store):
    """Four sweeps on the CPU with a synthetic solution whose effects are known."""
    import json
    import os

    from conftest import REPO
    from test_sweep import synthetic_home

    home = synthetic_home(store).home
    env = {**airflow_env, "PYTHONPATH": os.pathsep.join([str(REPO / "tests" / "fake_torch"), str(REPO / "tests"),
                                                          airflow_env.get("PYTHONPATH", "")])}
    airflow = str(Path(sys.executable).with_name("airflow"))

    def sweep(date: str, hypothesis: str) -> str:
        proc = subprocess.run([airflow, "dags", "test", "experiment_sweep", date,
                               "-c", json.dumps({"hypothesis": hypothesis})],
                              env={**env, "AUTOBENCH_HOME": str(home)}, capture_output=True, text=True, timeout=900)
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0, out[-5000:]
        return out

    out = sweep("2026-01-05T08:00:00+00:00", "H-001")
    assert "H-001: promote → promoted" in out and "PASS improvement" in out and "PASS projection" in out
    out = sweep("2026-01-06T08:00:00+00:00", "H-002")
    assert ("H-002: reject → failed (1 run)" in out
            and out.count("RuntimeError: synthetic: the patched layer does not exist") >= 2)
    out = sweep("2026-01-07T08:00:00+00:00", "H-003")
    assert "H-003: reject" in out and "NaN" in out
    # the last one with experiments.local.seeds_per_task: a mapped task per config, its seeds together
    with StateStore(home).edit("competitive_registry.yaml") as doc:
        doc["experiments"]["local"] = {"seeds_per_task": 3}
    out = sweep("2026-01-08T08:00:00+00:00", "H-004")
    assert "H-004: reject" in out and "FAIL improvement" in out
    assert ("6 seeds in 2 tasks (experiments.local.seeds_per_task): H-004 full seeds 1,2,3; "
            "production full seeds 1,2,3") in out  # production's come from H-001's runs (its config now)
    assert "[batch] 3 seeds in" in out and "H-004 full seed 3: " in out
    import sqlite3

    with sqlite3.connect(Path(airflow_env["AIRFLOW_HOME"]) / "airflow.db") as conn:
        shown = {row[0] for row in conn.execute(
            "SELECT rendered_map_index FROM task_instance WHERE dag_id = 'experiment_sweep' AND task_id LIKE 'run_%'")}
    assert "H-004 full seeds 1,2,3" in shown and "H-001 full seed 1" in shown, shown
    statuses = {h.id: h.status for h in StateStore(home).load(QUEUE).hypotheses}
    assert statuses == {"H-001": "promoted", "H-002": "failed", "H-003": "failed", "H-004": "rejected"}
    archived = sorted(p.name.split("-2026")[0] for p in (home / "experiments/archived").glob("*.md"))
    assert archived == ["H-002", "H-003", "H-004"]
    trained = sorted((home / "experiments/results").rglob("metrics.json"))
    # a second sweep: the queue is empty, nothing runs twice
    proc = subprocess.run([airflow, "dags", "test", "experiment_sweep", "2026-01-09T08:00:00+00:00"],
                          env={**env, "AUTOBENCH_HOME": str(home)}, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0 and "nothing to sweep" in proc.stdout + proc.stderr
    assert sorted(p for p in (home / "experiments/results").rglob("metrics.json") if "production" not in p.parts) == \
        [p for p in trained if "production" not in p.parts]


@pytest.mark.slow
def test_experiment_sweep_confirms_one_winner_and_rolls_back_another(airflow_env, store):
    """experiments.confirmation_seeds 3, two decisions in one `dags test`: each promotion runs
    both configs on fresh seeds in the next turn; the winner whose gain held only on its selection
    seeds is rolled back. The decision record, the CHANGELOG, the registry and the digest agree on
    the confirmed gain."""
    import os

    from conftest import REPO
    from test_sweep import synthetic_home

    from autobench.experiments import results
    from autobench.reporting.digest import cycle as digest_cycle
    from autobench.schemas import REGISTRY

    home = synthetic_home(store, [("H-001", "A real gain", {"gain": 0.02}, 0.02),
                                  ("H-002", "Lucky seeds", {"width": 2, "gain": 0.04, "gain_seeds": [1, 2, 3]},
                                   0.015)]).home
    with StateStore(home).edit(REGISTRY) as doc:
        doc["experiments"]["confirmation_seeds"] = 3
        doc["experiments"]["max_hypotheses_per_sweep"] = 2
    env = {**airflow_env, "PYTHONPATH": os.pathsep.join([str(REPO / "tests" / "fake_torch"), str(REPO / "tests"),
                                                          airflow_env.get("PYTHONPATH", "")])}
    airflow = str(Path(sys.executable).with_name("airflow"))
    proc = subprocess.run([airflow, "dags", "test", "experiment_sweep", "2026-01-05T08:00:00+00:00"],
                          env={**env, "AUTOBENCH_HOME": str(home)}, capture_output=True, text=True, timeout=900)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-5000:]
    assert "H-001: promote → confirming" in out and "H-001: promote → promoted" in out
    assert "H-002: promote → confirming" in out and "H-002: promote → rolled_back" in out
    assert "plan: production full seed 4" in out  # the replaced config runs on the fresh seeds too
    assert "[ALERT] Promotion of H-002 rolled back" in out

    s = StateStore(home)
    statuses = {h.id: h.status for h in s.load(QUEUE).hypotheses}
    assert statuses == {"H-001": "promoted", "H-002": "rolled_back"}
    record = results.latest_decision(home, "H-001")
    gain = record.confirmation["gain"]
    assert record.confirmation["outcome"] == "confirmed" and record.confirmation["seeds"] == [4, 5, 6]
    registry = s.load(REGISTRY)
    assert registry.our_solution.config["gain"] == 0.02 and "gain_seeds" not in registry.our_solution.config
    assert registry.our_solution.current_scores["MemoryBench"] == pytest.approx(
        record.confirmation["winner_means"]["accuracy"], abs=1e-6)
    changelog = (home / "CHANGELOG.md").read_text()
    assert "confirmed H-001: A real gain" in changelog and f"{gain:+.4f} over 3 fresh seeds" in changelog
    assert "rolled back H-002: Lucky seeds" in changelog
    digest = digest_cycle(s, parse_now("2026-01-06T09:00:00Z"))["markdown"]
    assert f"confirmed on fresh seeds 4, 5, 6: gain {gain:+.4f}" in digest and "rolled back" in digest


@pytest.mark.slow
def test_weekly_digest_writes_the_digest_and_skips_slack_without_a_connection(airflow_env, home):
    proc = dags_test(airflow_env, "leaderboard_monitor", "2026-01-05T06:00:00+00:00", home)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    proc = dags_test(airflow_env, "weekly_digest", "2026-01-12T09:00:00+00:00", home)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    digest = (home / "digests" / "2026-01-05.md").read_text()
    assert digest.startswith("# Benchmark Digest — Week of 2026-01-05")
    assert "- MemoryBench: #3 ⚠️ (our score: 0.823 | gap to #1: -0.024)" in digest
    assert "no autobench_slack connection" in out
    assert "## Week of 2026-01-05" in (home / "TECHNICAL_LOG.md").read_text()


@pytest.mark.slow
def test_failures_and_monitor_alerts_reach_slack_through_the_connection(airflow_env, home):
    """The autobench_slack connection (from the environment) points at a fake Slack on loopback."""
    import json

    from demo.fake_slack import FakeSlack

    fake = FakeSlack()
    try:
        conn = {"conn_type": "slack", "password": "xoxb-conn-secret",
                "extra": {"channel": "#autobench", "base_url": fake.url}}
        env = {**airflow_env, "AIRFLOW_CONN_AUTOBENCH_SLACK": json.dumps(conn)}
        # a competitor overtakes us: the monitor posts its [ALERT] lines
        dags_test(env, "leaderboard_monitor", "2026-01-05T06:00:00+00:00", home)
        page = home / "pages" / "memorybench.html"
        page.write_text(page.read_text().replace("<tbody>", "<tbody>\n<tr><td>1</td><td>&lt;!channel&gt; Bot</td>"
                                                            "<td>X</td><td>0.851</td><td>2026-01-06</td></tr>", 1))
        proc = dags_test(env, "leaderboard_monitor", "2026-01-06T06:00:00+00:00", home)
        assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
        posted = [r["body"] for r in fake.calls("chat.postMessage")]
        assert any("Our rank dropped on MemoryBench" in json.dumps(b) for b in posted)
        assert "<!channel>" not in json.dumps(posted) and "&lt;!channel&gt;" in json.dumps(posted)
        # a task failure: one message once its retry has failed too (on_failure_callback)
        queue = home / "experiment_queue.yaml"
        queue.write_text(queue.read_text().replace("effort: Low", "effort: Lowest", 1))
        before = len(fake.calls("chat.postMessage"))
        proc = dags_test(env, "state_check", "2026-01-06T05:30:00+00:00", home)
        assert proc.returncode == 1
        failures = [json.dumps(r["body"]) for r in fake.calls("chat.postMessage")[before:]]
        assert len(failures) == 1 and "state_check.validate_state" in failures[0] and "try 2" in failures[0]
        assert all(r["headers"]["Authorization"] == "Bearer xoxb-conn-secret" for r in fake.calls("chat.postMessage"))
        assert "xoxb-conn-secret" not in proc.stdout + proc.stderr
    finally:
        fake.close()
