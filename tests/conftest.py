"""Shared fixtures. Airflow is pointed at a throw-away AIRFLOW_HOME before anything imports it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"

# Tests in one phase's folder reuse another's builders (the reporting tests build decisions with
# tests/experiments/test_decide.py's runs): every test folder is importable, whatever pytest
# collected first.
for _folder in sorted((REPO / "tests").iterdir()):
    if _folder.is_dir() and any(_folder.glob("test_*.py")) and str(_folder) not in sys.path:
        sys.path.append(str(_folder))

# Before any test imports Airflow: a private AIRFLOW_HOME, no example DAGs, short retries.
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="autobench-test-airflow-"))
os.environ["AIRFLOW_HOME"] = str(_AIRFLOW_HOME)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(REPO / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(REPO / "plugins")
os.environ["AUTOBENCH_RETRY_DELAY_SECONDS"] = "1"
os.environ.pop("AUTOBENCH_HOME", None)


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_AIRFLOW_HOME, ignore_errors=True)


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:  # a client that hung up (size cap, timeout)
        pass


@contextmanager
def loopback(handler) -> Iterator[ThreadingHTTPServer]:
    """A real HTTP server on 127.0.0.1 (a free port) serving ``handler`` in a thread;
    ``server.base`` is its ``http://127.0.0.1:<port>`` address."""
    httpd = QuietServer(("127.0.0.1", 0), handler)
    httpd.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()


def autobench_cmd() -> list[str]:
    """The installed console script when there is one (what users run), else python -m."""
    script = Path(sys.executable).with_name("autobench")
    return [str(script)] if script.exists() else [sys.executable, "-m", "autobench"]


def run_cli(*args: str, home: Path | None = None, input: str | None = None, check: bool = False,
            env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    cmd = autobench_cmd() + list(args)
    if home is not None:
        cmd += ["--home", str(home)]
    proc = subprocess.run(cmd, input=input, capture_output=True, text=True, env=full_env, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{cmd} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A state folder created from the `recall` example."""
    from autobench.home import init

    target = tmp_path / "home"
    init(target, "recall")
    return target


@pytest.fixture
def store(home: Path):
    from autobench.store import StateStore

    return StateStore(home)


@pytest.fixture(scope="session")
def airflow_env() -> dict[str, str]:
    """An environment whose AIRFLOW_HOME holds a migrated SQLite metadata DB (for `dags test`)."""
    airflow_home = Path(tempfile.mkdtemp(prefix="autobench-test-airflowdb-"))
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AUTOBENCH_RETRY_DELAY_SECONDS": "1",
    }
    airflow = str(Path(sys.executable).with_name("airflow"))
    subprocess.run([airflow, "db", "migrate"], env=env, check=True, capture_output=True, timeout=600)
    subprocess.run([airflow, "pools", "import", str(REPO / "config" / "pools.json")], env=env, check=True,
                   capture_output=True, timeout=300)
    yield env
    shutil.rmtree(airflow_home, ignore_errors=True)
