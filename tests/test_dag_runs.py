"""Whole DAG runs with `airflow dags test` against a real metadata DB and a real state folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


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
    message = "experiment_queue.yaml: hypotheses[0].implementation.effort: Input should be 'Low', 'Medium' or 'High' (got 'Lowest')"
    assert out.count(message) == 2  # the try and its one retry (retry_delay is 1 s under test)
    assert path.read_bytes() == before  # it reports; it never rewrites
