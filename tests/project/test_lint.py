"""ruff over the code, and its Airflow 3 rules (AIR) over the DAG files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import REPO


def ruff(*args: str) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("ruff")
    return subprocess.run([str(exe), *args], cwd=REPO, capture_output=True, text=True, timeout=120)


def test_ruff_clean():
    proc = ruff("check", "include", "dags", "plugins", "tests", "benchmarks", "demo")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_no_airflow3_antipatterns_in_dags():
    proc = ruff("check", "--preview", "--select", "AIR", "dags")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_package_never_imports_airflow():
    offenders = [str(p.relative_to(REPO)) for p in (REPO / "include" / "autobench").rglob("*.py")
                 if any(line.strip().startswith(("import airflow", "from airflow"))
                        for line in p.read_text().splitlines())]
    assert offenders == []
