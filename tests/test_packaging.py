"""The package as pip builds it: `autobench` from include/, the examples as package data."""

from __future__ import annotations

import subprocess
import sys
import zipfile

import pytest
from conftest import REPO


@pytest.mark.slow
def test_wheel_maps_include_and_ships_the_examples(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                           "-w", str(tmp_path), str(REPO)], capture_output=True, text=True, timeout=600)
    if proc.returncode != 0 and "setuptools" in proc.stderr:  # no setuptools in this venv: isolated build
        proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(REPO)],
                              capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    wheel = next(tmp_path.glob("autobench-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in ("autobench/__init__.py", "autobench/cli/__init__.py", "autobench/cli/experiments.py",
                     "autobench/schemas.py",
                     "autobench/examples/recall/competitive_registry.yaml",
                     "autobench/examples/recall/research_config.yaml",
                     "autobench/examples/recall/experiment_queue.yaml",
                     "autobench/examples/recall/pages/memorybench.html",
                     "autobench/examples/recall/pages/longcontexteval.json"):
        assert expected in names, expected
    assert not any(n.startswith(("include/", "tests/", "dags/")) for n in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "autobench = autobench.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
