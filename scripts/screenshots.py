"""Screenshots of autobench in the Airflow UI, taken by headless Chromium (Selenium).

``scripts/screenshots.sh`` (``make screenshots``) runs this. Against a running Airflow
(``--url``, e.g. the one ``make run`` started) it only reads: it logs in through the UI's login
page, opens the autobench page and a DAG's grid, and saves PNGs. Without ``--url`` it starts a
fresh ``airflow standalone`` on a free port with a throw-away ``AIRFLOW_HOME`` and a demo state
folder (the ``recall`` example after one real monitor cycle and two decisions), takes the
screenshots, and stops it.

The demo decisions are made by autobench's own ``decide`` over per-seed metrics written by this
script (the numbers are made up, shaped like real runs of the recall workload: a real sweep
takes minutes). Pass ``--home`` to show a real state folder instead.

Browsers: Debian's ``chromium`` and ``chromium-driver`` (``/usr/bin/chromium``,
``/usr/bin/chromedriver``; ``AUTOBENCH_CHROMIUM`` / ``AUTOBENCH_CHROMEDRIVER`` override them).
Selenium Manager is never used: it would try to download a browser.

``tests/reporting/test_ui.py`` imports the helpers here (``login``, ``capture``, ``Standalone``, …).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("AUTOBENCH_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("AUTOBENCH_CHROMEDRIVER", "/usr/bin/chromedriver")
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
    "--disable-dev-shm-usage", "--hide-scrollbars",
)
AUTOBENCH_DAGS = ("experiment_sweep", "leaderboard_monitor", "research_ingest", "state_check")
PASSWORD_FILE = "simple_auth_manager_passwords.json.generated"
MONITOR_NOW = "2026-01-05T06:00:00Z"


def _which(path: str) -> str | None:
    return path if Path(path).is_file() and os.access(path, os.X_OK) else shutil.which(Path(path).name)


def missing_browser() -> str | None:
    """Why the browser cannot run here, or ``None`` when it can."""
    missing = [name for name, path in (("chromium", CHROMIUM), ("chromedriver", CHROMEDRIVER)) if not _which(path)]
    if missing:
        return (f"{' and '.join(missing)} not found: install Debian's chromium and chromium-driver "
                "(apt-get install chromium chromium-driver)")
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -r requirements-dev.txt)"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _bin(name: str) -> str:
    here = Path(sys.executable).with_name(name)
    return str(here) if here.exists() else name


# --------------------------------------------------------------------------- state


def demo_home(home: Path, decisions: bool = True) -> Path:
    """The ``recall`` example, one real monitor cycle, and (optionally) two decisions.

    H-001 is rejected and H-002 promoted by ``autobench.experiments.decide`` over per-seed metrics written
    here (made-up numbers in the shape of the recall workload's ``metrics.json``).
    """
    subprocess.run([_bin("autobench"), "init", "--example", "recall", "--home", str(home)],
                   check=True, capture_output=True, text=True, timeout=120)
    subprocess.run([_bin("autobench"), "monitor", "--home", str(home), "--now", MONITOR_NOW],
                   check=True, capture_output=True, text=True, timeout=120)
    if decisions:
        _demo_decisions(home)
    return home


def _demo_decisions(home: Path) -> None:
    from autobench.clock import parse_now
    from autobench.experiments import results
    from autobench.experiments.config import spec_for
    from autobench.experiments.decide import decide
    from autobench.schemas import PRODUCTION_ID
    from autobench.store import StateStore

    store = StateStore(home)
    production = {1: 0.9905, 2: 0.9891, 3: 0.9921, 4: 0.9899, 5: 0.9912, 6: 0.9886, 7: 0.9925, 8: 0.9903}

    def write(experiment_id: str, chash: str, mode: str, seed: int, acc: float, latency: float = 2.0) -> None:
        folder = results.run_folder(home, experiment_id, chash, mode, seed)
        folder.mkdir(parents=True, exist_ok=True)
        metrics = {"accuracy": acc, "loss": 0.1, "latency_ms": latency, "memory_mb": 100.0}
        (folder / "metrics.json").write_text(json.dumps(metrics))

    def production_runs() -> None:
        spec = spec_for(store, PRODUCTION_ID)
        for s, acc in production.items():
            write(PRODUCTION_ID, spec.config_hash, "full", s, acc)
            write(PRODUCTION_ID, spec.config_hash, "fast", s, 0.55 + 0.004 * ((s * 7) % 5 - 2))

    def candidate(hid: str, gains: dict[int, float], fast_gain: float, latency: float = 2.0) -> None:
        spec = spec_for(store, hid)
        write(hid, spec.config_hash, "fast", 1, 0.55 + 0.004 * (7 % 5 - 2) + fast_gain)
        for s, g in gains.items():
            write(hid, spec.config_hash, "full", s, production[s] + g, latency)

    production_runs()
    candidate("H-001", {1: 0.0012, 2: -0.0007, 3: 0.0004}, fast_gain=0.006, latency=2.4)
    decide(store, "H-001", parse_now("2026-01-06T08:00:00Z"))
    candidate("H-002", {1: 0.0091, 2: 0.0088, 3: 0.0095}, fast_gain=0.01)
    decide(store, "H-002", parse_now("2026-01-07T08:00:00Z"))


# --------------------------------------------------------------------------- Airflow standalone


class Standalone:
    """``airflow standalone`` in its own process group, set up as ``scripts/run.sh`` does it."""

    def __init__(self, airflow_home: Path, autobench_home: Path, port: int | None = None, base_path: str = ""):
        """``base_path`` (e.g. ``/airflow``): serve Airflow under that path, as behind a proxy."""
        self.airflow_home = Path(airflow_home)
        self.autobench_home = Path(autobench_home)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}{base_path.rstrip('/')}"
        self.proc: subprocess.Popen | None = None
        self.log = self.airflow_home / "standalone.log"

    def env(self) -> dict[str, str]:
        keep = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AUTOBENCH_HOME"))}
        venv_bin = str(Path(sys.executable).parent)
        return {
            **keep,
            "PATH": venv_bin + os.pathsep + keep.get("PATH", ""),
            "AIRFLOW_HOME": str(self.airflow_home),
            "AUTOBENCH_HOME": str(self.autobench_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__BASE_URL": self.url,
            # Tasks reach the API server here; it must match the port, or every task fails.
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
        }

    def start(self) -> Standalone:
        self.airflow_home.mkdir(parents=True, exist_ok=True)
        env = self.env()
        subprocess.run([_bin("airflow"), "db", "migrate"], env=env, check=True, capture_output=True, timeout=600)
        subprocess.run([_bin("airflow"), "pools", "import", str(REPO / "config" / "pools.json")], env=env,
                       check=True, capture_output=True, timeout=300)
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen([_bin("airflow"), "standalone"], env=env, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def health(self) -> dict[str, Any] | None:
        try:
            with urllib.request.urlopen(f"{self.url}/api/v2/monitor/health", timeout=3) as r:
                return json.load(r)
        except Exception:  # noqa: BLE001 — not up yet
            return None

    def wait_healthy(self, timeout: float = 300) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            h = self.health()
            if h and all(h.get(k, {}).get("status") == "healthy" for k in ("metadatabase", "scheduler")):
                return h
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"airflow standalone exited ({self.proc.returncode}):\n{self.log_tail()}")
            time.sleep(1)
        raise RuntimeError(f"airflow standalone not healthy after {timeout:.0f}s:\n{self.log_tail()}")

    def password(self, timeout: float = 60) -> str:
        return read_password(self.airflow_home, timeout)

    def stop(self, timeout: float = 60) -> None:
        """SIGTERM to the process group (it ignores SIGINT in the background), then SIGKILL."""
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
        try:  # whatever is left of the group
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


def read_password(airflow_home: Path, timeout: float = 60, user: str = "admin") -> str:
    """The simple auth manager's generated password for ``user``."""
    path = Path(airflow_home) / PASSWORD_FILE
    deadline = time.monotonic() + timeout
    while True:
        try:
            return json.loads(path.read_text())[user]
        except (OSError, ValueError, KeyError):
            if time.monotonic() > deadline:
                raise RuntimeError(f"no password for {user!r} in {path}") from None
            time.sleep(1)


# --------------------------------------------------------------------------- REST API


def api_token(url: str, password: str, user: str = "admin") -> str:
    body = json.dumps({"username": user, "password": password}).encode()
    req = urllib.request.Request(f"{url}/auth/token", data=body, headers={"Content-Type": "application/json"},
                                 method="POST")
    with urllib.request.urlopen(req, timeout=20) as r:
        return json.load(r)["access_token"]


def api(url: str, token: str | None, path: str, method: str = "GET", body: Any = None) -> tuple[int, Any]:
    """(status, parsed JSON or text); HTTP errors are returned, not raised."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"{url}{path}", data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            raw, status = r.read(), r.status
    except urllib.error.HTTPError as exc:
        raw, status = exc.read(), exc.code
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


def wait_for_dags(url: str, token: str, dag_ids: tuple[str, ...] = AUTOBENCH_DAGS, timeout: float = 180) -> set[str]:
    """Until the dag-processor has parsed every DAG in ``dag_ids``; returns every DAG id listed."""
    deadline = time.monotonic() + timeout
    found: set[str] = set()
    while time.monotonic() < deadline:
        status, data = api(url, token, "/api/v2/dags?limit=100")
        if status == 200:
            found = {d["dag_id"] for d in data["dags"]}
            if set(dag_ids) <= found:
                return found
        time.sleep(2)
    raise RuntimeError(f"DAGs not parsed after {timeout:.0f}s: have {sorted(found)}, want {sorted(dag_ids)}")


def run_dag(url: str, token: str, dag_id: str, timeout: float = 240) -> str:
    """Unpause, trigger and wait for one run of ``dag_id``; pauses it again. Returns its state."""
    api(url, token, f"/api/v2/dags/{dag_id}", "PATCH", {"is_paused": False})
    try:
        status, data = api(url, token, f"/api/v2/dags/{dag_id}/dagRuns", "POST", {"logical_date": None})
        if status not in (200, 201):
            raise RuntimeError(f"could not trigger {dag_id}: {status} {data}")
        dag_run_id = data["dag_run_id"]
        deadline = time.monotonic() + timeout
        state = data.get("state")
        while time.monotonic() < deadline:
            _, run = api(url, token, f"/api/v2/dags/{dag_id}/dagRuns/{urllib.request.quote(dag_run_id, safe='')}")
            state = run.get("state") if isinstance(run, dict) else None
            if state in ("success", "failed"):
                return state
            time.sleep(2)
        return str(state)
    finally:
        api(url, token, f"/api/v2/dags/{dag_id}", "PATCH", {"is_paused": True})


# --------------------------------------------------------------------------- the browser


def browser(width: int = 1400, height: int = 1000):
    """Headless Debian Chromium through its chromedriver (never Selenium Manager)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = _which(CHROMIUM) or CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--window-size={width},{height}")
    options.add_argument(f"--user-data-dir={tempfile.mkdtemp(prefix='autobench-chromium-')}")
    driver = webdriver.Chrome(service=Service(_which(CHROMEDRIVER) or CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    return driver


def _wait(driver, condition, timeout: float, what: str):
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.5).until(condition)
    except TimeoutException:
        raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} at {driver.current_url}; "
                             f"page text: {body_text(driver)[:1500]!r}") from None


def body_text(driver) -> str:
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By

    try:
        return driver.find_element(By.TAG_NAME, "body").text
    except WebDriverException:
        return ""


def login(driver, url: str, password: str, user: str = "admin", timeout: float = 60) -> None:
    """Through the simple auth manager's login page, as a person would."""
    from selenium.webdriver.common.by import By

    driver.get(f"{url}/")
    _wait(driver, lambda d: d.find_elements(By.NAME, "username"), timeout, "the login form")
    driver.find_element(By.NAME, "username").send_keys(user)
    driver.find_element(By.NAME, "password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    _wait(driver, lambda d: "/auth/login" not in d.current_url and d.get_cookie("_token"), timeout,
          "the login to finish")


def screenshot(driver, path: Path, full_page: bool = False, width: int = 1400) -> Path:
    """A PNG of the window; ``full_page`` first grows the window to the document's height."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if full_page:
        for _ in range(3):  # the window's chrome takes some height: grow until the page fits
            height, inner, outer = driver.execute_script(
                "return [Math.max(document.body.scrollHeight, document.documentElement.scrollHeight),"
                " window.innerHeight, window.outerHeight]")
            if inner >= height:
                break
            driver.set_window_size(width, min(int(height) + (int(outer) - int(inner)) + 8, 8000))
            time.sleep(0.5)
    driver.save_screenshot(str(path))
    if full_page:
        driver.set_window_size(width, 1000)
    return path


@dataclass
class Captured:
    texts: dict[str, str] = field(default_factory=dict)  # view name -> visible text
    pngs: dict[str, Path] = field(default_factory=dict)  # view name -> screenshot
    iframe_src: str | None = None


def page_in_airflow(driver, url: str, timeout: float = 90) -> tuple[str, str]:
    """The autobench page as Airflow's UI shows it (the nav entry's iframe): (the iframe's
    resolved src, the page's text once it shows the gap matrix)."""
    from selenium.webdriver.common.by import By

    driver.get(f"{url}/plugin/autobench")
    frame = _wait(driver, lambda d: d.find_elements(By.TAG_NAME, "iframe"), timeout, "the plugin's iframe")[0]
    src = frame.get_attribute("src")
    driver.switch_to.frame(frame)
    try:
        _wait(driver, lambda d: "Gap matrix" in body_text(d), timeout, f"the autobench page in the iframe ({src})")
        return src, body_text(driver)
    finally:
        driver.switch_to.default_content()


def capture(driver, url: str, out: Path, dag_id: str = "leaderboard_monitor",
            dag_ids: tuple[str, ...] = AUTOBENCH_DAGS, timeout: float = 90) -> Captured:
    """Logged in already: the autobench page (alone and inside the UI), the DAG list, a DAG's grid."""

    got = Captured()

    # 1. the page itself, full height (served by the plugin's FastAPI app under /autobench/)
    driver.get(f"{url}/autobench/")
    _wait(driver, lambda d: "Gap matrix" in body_text(d), timeout, "the autobench page")
    _wait(driver, lambda d: d.execute_script(
        "return Array.from(document.images).every(i => i.complete)"), 60, "the plots to load")
    got.texts["autobench_page"] = body_text(driver)
    got.pngs["autobench_page"] = screenshot(driver, out / "autobench_page.png", full_page=True)

    # 2. the same page inside Airflow's UI: the external view's nav entry opens it in an iframe
    got.iframe_src, got.texts["autobench_in_airflow"] = page_in_airflow(driver, url, timeout)
    got.pngs["autobench_in_airflow"] = screenshot(driver, out / "autobench_in_airflow.png")

    # 3. the DAG list (reloaded now and then, until the dag-processor has serialised every DAG)
    deadline = time.monotonic() + timeout
    while True:
        driver.get(f"{url}/dags")
        try:
            _wait(driver, lambda d: all(dag in body_text(d) for dag in dag_ids), 15, "the DAG list")
            break
        except AssertionError:
            if time.monotonic() > deadline:
                raise AssertionError(f"the DAG list never showed all of {sorted(dag_ids)}: "
                                     f"{body_text(driver)[:1500]!r}") from None
    time.sleep(1)
    got.texts["dags"] = body_text(driver)
    got.pngs["dags"] = screenshot(driver, out / "dags.png")

    # 4. one DAG's grid
    driver.get(f"{url}/dags/{dag_id}")
    _wait(driver, lambda d: dag_id in body_text(d) and "Overview" in body_text(d), timeout, f"the {dag_id} page")
    time.sleep(2)  # the grid renders after the page's header
    got.texts["dag_grid"] = body_text(driver)
    got.pngs["dag_grid"] = screenshot(driver, out / "dag_grid.png")
    return got


# --------------------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(REPO / "docs" / "screenshots"), help="folder for the PNGs")
    parser.add_argument("--url", help="a running Airflow (e.g. http://127.0.0.1:8080); default: start a fresh one")
    parser.add_argument("--airflow-home", default=None,
                        help=f"where {PASSWORD_FILE} is, for --url (default: $AIRFLOW_HOME, else ./airflow_home)")
    parser.add_argument("--password", default=os.environ.get("AIRFLOW_PASSWORD"),
                        help="admin's password, for --url (default: read from the password file)")
    parser.add_argument("--home", help="fresh instance: show this state folder (default: a demo one)")
    parser.add_argument("--dag", default="leaderboard_monitor", help="the DAG whose grid is shot")
    parser.add_argument("--no-run", action="store_true",
                        help="fresh instance: do not run the DAG once before its grid is shot")
    parser.add_argument("--all", action="store_true", help="also keep autobench_in_airflow.png and dags.png")
    args = parser.parse_args(argv)

    why = missing_browser()
    if why:
        print(f"screenshots: {why}", file=sys.stderr)
        return 2
    out = Path(args.out).resolve()
    shots = Path(tempfile.mkdtemp(prefix="autobench-shots-"))
    keep = None if args.all else ("autobench_page", "dag_grid")
    server: Standalone | None = None
    work: Path | None = None
    try:
        if args.url:
            url = args.url.rstrip("/")
            password = args.password or read_password(
                Path(args.airflow_home or os.environ.get("AIRFLOW_HOME") or REPO / "airflow_home"), timeout=0)
        else:
            work = Path(tempfile.mkdtemp(prefix="autobench-screenshots-"))
            home = Path(args.home).resolve() if args.home else demo_home(work / "autobench_home")
            server = Standalone(work / "airflow_home", home).start()
            print(f"screenshots: starting airflow standalone on {server.url} (log: {server.log})", flush=True)
            server.wait_healthy()
            url, password = server.url, server.password()
            token = api_token(url, password)
            wait_for_dags(url, token)
            if not args.no_run:
                state = run_dag(url, token, args.dag)
                print(f"screenshots: one run of {args.dag}: {state}", flush=True)
        driver = browser()
        try:
            login(driver, url, password)
            got = capture(driver, url, shots, dag_id=args.dag)
        finally:
            driver.quit()
        out.mkdir(parents=True, exist_ok=True)
        for name, path in got.pngs.items():
            if keep is None or name in keep:
                target = out / path.name
                shutil.copyfile(path, target)
                print(f"screenshots: wrote {target}")
        return 0
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(shots, ignore_errors=True)
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
