"""The package as pip builds it: `autobench` from include/, the examples as package data."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile

import pytest
from conftest import REPO


@pytest.mark.slow
def test_wheel_maps_include_and_ships_the_examples(tmp_path):
    # built from a copy of the files git knows (tracked or not ignored): a build in the working tree
    # leaves build/lib, whose stale copies of moved modules a later wheel would ship
    source = tmp_path / "source"
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        src = REPO / rel
        if src.is_file():
            (source / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, source / rel)
    out = tmp_path / "wheel"
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                           "-w", str(out), str(source)], capture_output=True, text=True, timeout=600)
    if proc.returncode != 0 and "setuptools" in proc.stderr:  # no setuptools in this venv: isolated build
        proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(source)],
                              capture_output=True, text=True, timeout=600)
    tmp_path = out
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
    # the demo's stand-ins (fake Slack, the leaderboard site) are not part of the product
    assert not any(n.startswith("demo/") or "/demo/" in n or "fake_slack" in n for n in names), \
        sorted(n for n in names if "demo" in n and "examples/" not in n)
    for phase in ("monitor", "research", "experiments", "reporting"):
        assert f"autobench/{phase}/__init__.py" in names, phase
    assert "autobench/research/catalog/techniques.yaml" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "autobench = autobench.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
