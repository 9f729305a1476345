"""The README's two commands from a fresh clone in a temporary folder.

`make install` is `make test`'s install step (a new venv with every requirement and the
package); `make run` must bring Airflow standalone up healthy, with the state folder, the `gpu`
pool and our DAGs, print how to log in, and stop every process it started on SIGTERM (to make)
and on Ctrl-C (SIGINT to the terminal's process group). A second `make run` reuses everything.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import REPO

pytestmark = pytest.mark.slow


def fresh_clone(dest: Path) -> Path:
    """The working tree as a clone would have it: tracked and not-ignored files only."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=REPO, capture_output=True, check=True).stdout.split(b"\0")
    for raw in filter(None, listed):
        rel = raw.decode()
        src = REPO / rel
        if not src.is_file():  # deleted in the working tree
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(src.read_bytes())
        os.chmod(target, src.stat().st_mode)
    return dest


def as_at_a_terminal() -> None:
    """In the child before exec: SIGINT and SIGQUIT as a shell at a terminal leaves them (default).
    A test run started in the background (``cmd &`` without job control) inherits them ignored,
    and a shell cannot trap a signal ignored on entry: `make run`'s Ctrl-C would do nothing."""
    for sig in (signal.SIGINT, signal.SIGQUIT):
        signal.signal(sig, signal.SIG_DFL)


def clean_env() -> dict[str, str]:
    """The environment of a person at a shell: none of this test session's settings."""
    drop = ("AIRFLOW", "AUTOBENCH", "VIRTUAL_ENV", "MAKE", "MFLAGS", "PYTEST", "PYTHONPATH")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    venv_bin = str(REPO / ".venv" / "bin")
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != venv_bin)
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Output:
    def __init__(self, proc: subprocess.Popen):
        self.text = ""
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc):
        for line in iter(proc.stdout.readline, ""):
            self.text += line

    def wait_for(self, needle: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.text:
                return True
            time.sleep(0.5)
        return False


def health(port: int) -> dict | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=3) as r:
            return json.load(r)
    except Exception:
        return None


def wait_healthy(port: int, proc: subprocess.Popen, out: Output, timeout: float = 360) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        h = health(port)
        if h and all(h.get(k, {}).get("status") == "healthy" for k in ("metadatabase", "scheduler")):
            return h
        assert proc.poll() is None, f"make run exited early ({proc.returncode}):\n{out.text[-4000:]}"
        time.sleep(1)
    raise AssertionError(f"not healthy after {timeout}s:\n{out.text[-4000:]}")


def processes_under(folder: Path) -> list[str]:
    """Live processes whose command line or working directory is inside ``folder``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(entry / "cwd")
            state = next((ln for ln in (entry / "status").read_text().splitlines() if ln.startswith("State:")), "")
        except OSError:
            continue
        if "Z (zombie)" in state:
            continue
        if str(folder) in cmd or cwd.startswith(str(folder)):
            found.append(f"{entry.name}: {cmd[:200]}")
    return found


def wait_gone(folder: Path, timeout: float = 60) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = processes_under(folder)
        if not left:
            return []
        time.sleep(0.5)
    return processes_under(folder)


def api_token(port: int, password_text: str) -> str:
    users = json.loads(password_text)
    body = json.dumps({"username": "admin", "password": users["admin"]}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/auth/token", data=body,
                                 headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)["access_token"]


def api_get(port: int, token: str, path: str) -> dict:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)


def stop(run: subprocess.Popen, how: str) -> None:
    """``sigterm``: `kill <make>`; ``ctrl-c``: SIGINT to the whole foreground process group."""
    if how == "sigterm":
        os.kill(run.pid, signal.SIGTERM)
    else:
        os.killpg(run.pid, signal.SIGINT)
    try:
        run.wait(timeout=90)
    except subprocess.TimeoutExpired:
        os.killpg(run.pid, signal.SIGKILL)
        raise


def test_make_install_then_make_run_from_a_fresh_clone(tmp_path):
    clone = fresh_clone(tmp_path / "autobench")
    env = clean_env()

    # -- make test's install step: a fresh venv with everything
    proc = subprocess.run(["make", "install"], cwd=clone, env=env, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    py = clone / ".venv" / "bin" / "python"
    check = subprocess.run([str(py), "-c", "import airflow, torch, scipy, autobench; print(autobench.__file__)"],
                           cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300)
    assert check.returncode == 0, check.stderr
    assert check.stdout.strip().startswith(str(clone / "include" / "autobench"))
    assert subprocess.run([str(clone / ".venv/bin/autobench"), "--version"],
                          capture_output=True, env=env).returncode == 0

    # -- make run: healthy, state created, pool and DAG there, login printed; SIGTERM stops all
    port = free_port()
    run = subprocess.Popen(["make", "run", f"PORT={port}"], cwd=clone, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, start_new_session=True,
                           preexec_fn=as_at_a_terminal)
    out = Output(run)
    try:
        wait_healthy(port, run, out)
        assert out.wait_for(f"autobench is running: http://127.0.0.1:{port}", 60), out.text[-3000:]
        assert "log in with user 'admin' password '" in out.text
        assert "creating" in out.text and "from the 'recall' example" in out.text
        assert (clone / "autobench_home" / "competitive_registry.yaml").is_file()
        assert (clone / "airflow_home" / "airflow.db").is_file()
        token = api_token(port, (clone / "airflow_home" / "simple_auth_manager_passwords.json.generated").read_text())
        pool = api_get(port, token, "/api/v2/pools/gpu")
        assert pool["slots"] >= 1
        deadline = time.monotonic() + 120
        dag_ids: set[str] = set()
        while time.monotonic() < deadline and "state_check" not in dag_ids:
            dag_ids = {d["dag_id"] for d in api_get(port, token, "/api/v2/dags")["dags"]}
            time.sleep(2)
        assert "state_check" in dag_ids
        assert not any(d.startswith("example_") for d in dag_ids)
        # anonymous requests are refused
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/dags", timeout=10)
        assert refused.value.code in (401, 403)
    finally:
        stop(run, "sigterm")
    assert wait_gone(clone) == [], "processes left after SIGTERM"
    assert health(port) is None
    assert "autobench: stopped" in out.text

    # -- a second make run reuses the venv, the database and the state; Ctrl-C stops it
    (clone / "autobench_home" / "competitive_registry.yaml").write_text(
        (clone / "autobench_home" / "competitive_registry.yaml").read_text() + "# kept across runs\n")
    run = subprocess.Popen(["make", "run", f"PORT={port}"], cwd=clone, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, start_new_session=True,
                           preexec_fn=as_at_a_terminal)
    out = Output(run)
    try:
        wait_healthy(port, run, out, timeout=240)
        assert out.wait_for("autobench is running", 60)
        assert "creating .venv" not in out.text and "from the 'recall' example" not in out.text
        assert "pip install" not in out.text
        assert (clone / "autobench_home" / "competitive_registry.yaml").read_text().endswith("# kept across runs\n")
    finally:
        stop(run, "ctrl-c")
    assert wait_gone(clone) == [], "processes left after Ctrl-C"
    assert health(port) is None
