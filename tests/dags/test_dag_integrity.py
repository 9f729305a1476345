"""DAG integrity: every DAG file imports, and every DAG follows the house rules."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from conftest import REPO

# Each issue adds the DAG ids it builds.
REQUIRED_DAGS = {"state_check", "leaderboard_monitor", "research_ingest", "experiment_sweep", "weekly_digest"}
MAX_TEST_RETRY_DELAY = dt.timedelta(seconds=5)


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(str(REPO / "dags"))


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}, "\n".join(f"{k}: {v}" for k, v in dagbag.import_errors.items())


def test_required_dags_exist(dagbag):
    assert REQUIRED_DAGS <= set(dagbag.dags), f"missing: {sorted(REQUIRED_DAGS - set(dagbag.dags))}"


def test_every_dag_follows_the_house_rules(dagbag):
    pools = set(json.loads((REPO / "config" / "pools.json").read_text())) | {"default_pool"}
    problems = []
    for dag_id, dag in dagbag.dags.items():
        if not dag.tags or "autobench" not in dag.tags:
            problems.append(f"{dag_id}: needs tags including 'autobench'")
        if not dag.doc_md or len(dag.doc_md.strip()) < 40:
            problems.append(f"{dag_id}: needs a doc_md (the module docstring)")
        if dag.catchup:
            problems.append(f"{dag_id}: catchup must be False")
        for t in dag.tasks:
            if t.owner in (None, "", "airflow"):
                problems.append(f"{dag_id}.{t.task_id}: owner is {t.owner!r}")
            if (t.retries or 0) < 1:
                problems.append(f"{dag_id}.{t.task_id}: retries must be >= 1 (got {t.retries})")
            if t.retry_delay > MAX_TEST_RETRY_DELAY:
                problems.append(f"{dag_id}.{t.task_id}: retry_delay {t.retry_delay} is long under test")
            if t.pool not in pools:
                problems.append(f"{dag_id}.{t.task_id}: pool {t.pool!r} is not created (config/pools.json)")
    assert problems == []


def test_dag_files_are_thin_and_named_like_their_dag(dagbag):
    for dag_id, dag in dagbag.dags.items():
        path = Path(dag.fileloc)
        assert path.stem == dag_id, f"{path.name} defines {dag_id}"
        text = path.read_text()
        for heavy in ("import torch", "import scipy", "import matplotlib", "Variable.get("):
            assert heavy not in text, f"{path.name}: {heavy} in a DAG file"


def test_retry_delay_defaults_to_five_minutes(monkeypatch):
    from autobench import orchestration

    monkeypatch.delenv(orchestration.RETRY_DELAY_ENV)
    assert orchestration.retry_delay() == dt.timedelta(minutes=5)
    monkeypatch.setenv(orchestration.RETRY_DELAY_ENV, "-1")
    with pytest.raises(ValueError):
        orchestration.retry_delay()


@pytest.mark.parametrize(("backend", "pods"), [("local", False), ("kubernetes", True)])
def test_the_sweep_is_wired_for_the_registrys_backend_and_sized_by_its_settings(tmp_path, backend, pods):
    """Parsed with the registry's settings: as many turns as dag_turns gives (max_parallel 2, at
    most 4 decisions: 2 waves of 4 rounds), the runs on the gpu queue and pool, and the pod
    operators only where the registry's backend runs pods (the backend Param offering what is wired)."""
    import os
    import subprocess
    import sys

    from autobench.home import init

    home = tmp_path / "home"
    init(home, "recall")
    registry = home / "competitive_registry.yaml"
    text = registry.read_text().replace("  backend: local", f"  backend: {backend}")
    registry.write_text(text.rstrip("\n") + "\n  max_parallel_hypotheses: 2\n  max_hypotheses_per_sweep: 4\n")
    code = ("import json, sys; sys.path[:0] = ['dags']; import experiment_sweep as m; d = m.experiment_sweep(); "
            "print(json.dumps({'tasks': sorted(t.task_id for t in d.tasks), "
            "'backends': d.params.get_param('backend').schema['enum'], "
            "'run': [d.get_task('run_0').queue, d.get_task('run_0').pool], "
            "'finalize': [d.get_task('finalize').queue, d.get_task('finalize').pool], "
            "'k8s_imported': 'airflow.providers.cncf.kubernetes.operators.pod' in sys.modules}))")
    env = {**os.environ, "AUTOBENCH_HOME": str(home)}
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    turns = [f"turn_{k}" for k in range(8)] + [f"run_{k}" for k in range(8)]
    pod_tasks = [f"pod_{k}" for k in range(8)] + [f"pods_{k}" for k in range(8)] if pods else []
    assert got["tasks"] == sorted(["defend", "finalize", *turns, *pod_tasks])
    assert got["backends"] == ([None, "local", "kubernetes"] if pods else [None, "local"])
    assert got["run"] == got["finalize"] == ["gpu", "gpu"]
    # each task parses the file at start: the local backend's must not import the Kubernetes clients
    assert got["k8s_imported"] is pods
