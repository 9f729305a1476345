"""The distributed deployment as plain processes on one machine: what docker-compose.yaml runs, minus Docker.

Airflow with the CeleryExecutor on a PostgreSQL database and a Redis database of this machine:
``airflow db migrate``, the FAB admin user, the pools, then api-server, scheduler, dag-processor,
triggerer and N Celery workers (``--celery-hostname``), every one with the settings of
``config/distributed.env`` (the file compose loads) and one shared ``AUTOBENCH_HOME``. Only the
connection URLs are replaced (compose's name its services), plus whatever ``overrides`` says (the
test shortens the heartbeat timeout). Used by tests/dags/test_distributed.py; by hand:

    .venv/bin/python scripts/celery_cluster.py --home /tmp/ab --workers 2   # Ctrl-C stops and drops it all

Each component runs in its own process group with its log in ``<workdir>/logs/<name>.log``.
:meth:`Cluster.stop` ends every process it started (task processes included), drops the database
and empties the Redis database. Workers on one machine need distinct log-server ports and task
hostnames; :meth:`Cluster.worker_env` gives them (``AUTOBENCH_WORKER_HOSTNAME``, read by
``autobench_airflow.deployment.hostname``).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
SETTINGS_FILE = ROOT / "config" / "distributed.env"
POOLS_FILE = ROOT / "config" / "pools.json"
# What docker-compose.yaml configures; tests/project/test_compose.py checks that they agree.
AUTH_MANAGER = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
URL_KEYS = ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__CELERY__RESULT_BACKEND", "AIRFLOW__CELERY__BROKER_URL")
CLAIM_KEY = "autobench:celery-cluster:claim"


def read_env_file(path: Path = SETTINGS_FILE) -> dict[str, str]:
    """KEY=VALUE lines (compose's env-file format without quotes): comments and blanks skipped."""
    out: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{path}:{number}: not KEY=VALUE: {line!r}")
        out[key.strip()] = value.strip()
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def reachable(host: str, port: int, timeout: float = 2.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _tree(pid: int) -> list[int]:
    """pid and every descendant (task processes move to their own process groups)."""
    import psutil

    try:
        root = psutil.Process(pid)
        return [pid] + [p.pid for p in root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _signal_all(pids: list[int], sig: int) -> None:
    for pid in pids:
        try:
            os.killpg(pid, sig) if _is_group_leader(pid) else os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def _is_group_leader(pid: int) -> bool:
    try:
        return os.getpgid(pid) == pid
    except ProcessLookupError:
        return False


class Cluster:
    def __init__(self, workdir: Path, autobench_home: Path, *, database: str | None = None, redis_db: int | None = None,
                 pg: tuple[str, int, str] = ("127.0.0.1", 5432, "postgres"),
                 redis: tuple[str, int] = ("127.0.0.1", 6379),
                 workers: tuple[str, ...] = ("worker-a", "worker-b"), concurrency: int = 1,
                 queues: str = "default,gpu", overrides: dict[str, str] | None = None,
                 user: tuple[str, str] = ("admin", "admin"), redis_dbs: range = range(7, 16),
                 pools: dict[str, int] | None = None):
        self.workdir = Path(workdir)
        self.home = Path(autobench_home)
        self.database = database or f"autobench_test_celery_{os.getpid()}"
        self.pg_host, self.pg_port, self.pg_user = pg
        self.redis_host, self.redis_port = redis
        self.redis_db = redis_db
        self.redis_dbs = redis_dbs
        self.worker_names = tuple(workers)
        self.concurrency = concurrency
        self.queues = queues
        self.overrides = dict(overrides or {})
        self.user = user
        self.pools = dict(pools or {})
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.procs: dict[str, subprocess.Popen] = {}
        self.killed: dict[str, float] = {}
        self.logs = self.workdir / "logs"
        self._token: str | None = None
        self._worker_ports = {name: free_port() for name in self.worker_names}
        self._created_db = False
        self._env: dict[str, str] = {}

    # ------------------------------------------------------------------ settings

    def backends_reachable(self) -> str | None:
        """None, or why the cluster cannot start here."""
        if not reachable(self.pg_host, self.pg_port):
            return f"PostgreSQL is not reachable at {self.pg_host}:{self.pg_port}"
        if not reachable(self.redis_host, self.redis_port):
            return f"Redis is not reachable at {self.redis_host}:{self.redis_port}"
        return None

    def connection_urls(self) -> dict[str, str]:
        pg = f"{self.pg_user}@{self.pg_host}:{self.pg_port}/{self.database}"
        return {
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg2://{pg}",
            "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql+psycopg2://{pg}",
            "AIRFLOW__CELERY__BROKER_URL": f"redis://{self.redis_host}:{self.redis_port}/{self.redis_db}",
        }

    def env(self) -> dict[str, str]:
        """The environment every component gets: config/distributed.env, the local URLs, paths, overrides."""
        base = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AUTOBENCH_"))}
        settings = read_env_file()
        missing = [k for k in URL_KEYS if k not in settings]
        assert not missing, f"{SETTINGS_FILE} lacks {missing}"
        env = {
            **base,
            **settings,
            **self.connection_urls(),
            "AIRFLOW_HOME": str(self.workdir / "airflow_home"),
            "AIRFLOW__CORE__AUTH_MANAGER": AUTH_MANAGER,
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.logs / "tasks"),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__BASE_URL": self.url,
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
            # One secret for every component (compose: AIRFLOW__API_AUTH__JWT_SECRET), or tasks fail.
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(16),
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            "AUTOBENCH_HOME": str(self.home),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "include"), base.get("PYTHONPATH", "")])),
            "OMP_NUM_THREADS": base.get("OMP_NUM_THREADS", "1"),
            "MKL_NUM_THREADS": base.get("MKL_NUM_THREADS", "1"),
            **self.overrides,
        }
        return env

    def worker_env(self, name: str) -> dict[str, str]:
        return {**self._env, "AUTOBENCH_WORKER_HOSTNAME": name,
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(self._worker_ports[name])}

    # ------------------------------------------------------------------ backends

    def _sql(self, *statements: str) -> None:
        import psycopg2

        conn = psycopg2.connect(host=self.pg_host, port=self.pg_port, user=self.pg_user, dbname="postgres",
                                connect_timeout=10)
        try:
            conn.autocommit = True  # DROP/CREATE DATABASE cannot run in a transaction
            with conn.cursor() as cur:
                for statement in statements:
                    cur.execute(statement)
        finally:
            conn.close()

    def _redis(self, db: int):
        import redis

        return redis.Redis(host=self.redis_host, port=self.redis_port, db=db)

    def reset_backends(self) -> None:
        """A fresh database (dropped if it exists) and an empty Redis database this cluster claims."""
        self._sql(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)', f'CREATE DATABASE "{self.database}"')
        self._created_db = True
        if self.redis_db is None:
            for db in self.redis_dbs:  # the first empty one (a concurrent run holds its claim key)
                r = self._redis(db)
                if r.dbsize() == 0 and r.set(CLAIM_KEY, str(os.getpid()), nx=True, ex=3600) and r.dbsize() == 1:
                    self.redis_db = db
                    break
            else:
                raise RuntimeError(f"no empty Redis database among {list(self.redis_dbs)}")
        else:
            self._redis(self.redis_db).flushdb()

    def drop_backends(self) -> None:
        if self.redis_db is not None:
            try:
                self._redis(self.redis_db).flushdb()
            except Exception as exc:  # noqa: BLE001 - cleanup goes on
                print(f"celery_cluster: could not empty Redis db {self.redis_db}: {exc}", file=sys.stderr)
        if self._created_db:
            try:
                self._sql(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
            except Exception as exc:  # noqa: BLE001
                print(f"celery_cluster: could not drop {self.database}: {exc}", file=sys.stderr)

    # ------------------------------------------------------------------ processes

    def airflow(self, *args: str, timeout: float = 300, env: dict[str, str] | None = None) -> str:
        exe = str(Path(sys.executable).with_name("airflow"))
        proc = subprocess.run([exe, *args], env=env or self._env, capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"airflow {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n"
                               f"{proc.stderr[-3000:]}")
        return proc.stdout

    def prepare(self) -> None:
        """Backends, `airflow db migrate`, the pools, the FAB admin user."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(parents=True, exist_ok=True)
        self.reset_backends()
        self._env = self.env()
        Path(self._env["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
        self.airflow("db", "migrate", timeout=600)
        self.airflow("pools", "import", str(POOLS_FILE))
        for name, slots in self.pools.items():
            self.airflow("pools", "set", name, str(slots), f"{name}: {slots} slots (scripts/celery_cluster.py)")
        username, password = self.user
        self.airflow("users", "create", "--username", username, "--password", password, "--role", "Admin",
                     "--firstname", "Auto", "--lastname", "Bench", "--email", f"{username}@example.invalid")

    def _spawn(self, name: str, args: list[str], env: dict[str, str]) -> None:
        exe = str(Path(sys.executable).with_name("airflow"))
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - kept open by the child
        self.procs[name] = subprocess.Popen([exe, *args], env=env, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True, cwd=self.workdir)
        log.close()

    def start(self) -> None:
        self._spawn("api-server", ["api-server", "--host", "127.0.0.1", "--port", str(self.port)], self._env)
        for name in ("scheduler", "dag-processor", "triggerer"):
            self._spawn(name, [name], self._env)
        for name in self.worker_names:
            self.start_worker(name)

    def start_worker(self, name: str) -> None:
        self._spawn(name, ["celery", "worker", "--celery-hostname", f"{name}@%h", "--concurrency",
                           str(self.concurrency), "--queues", self.queues], self.worker_env(name))

    def restart_worker(self, name: str) -> None:
        """A worker killed with :meth:`kill_worker` started again under the same name."""
        self.killed.pop(name, None)
        self.start_worker(name)

    def wait_healthy(self, timeout: float = 240) -> dict:
        deadline = time.monotonic() + timeout
        health: dict = {}
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                with urllib.request.urlopen(f"{self.url}/api/v2/monitor/health", timeout=3) as r:
                    health = json.load(r)
                if all((health.get(k) or {}).get("status") == "healthy"
                       for k in ("metadatabase", "scheduler", "triggerer", "dag_processor")):
                    return health
            except (OSError, ValueError):
                pass
            time.sleep(1)
        raise TimeoutError(f"not healthy within {timeout:.0f} s: {health}\n{self.log_tails()}")

    def wait_workers(self, timeout: float = 120) -> list[str]:
        """Until every worker answers Celery's ping (it consumes its queues)."""
        deadline = time.monotonic() + timeout
        want = set(self.worker_names)
        seen: set[str] = set()
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                out = self._ping()
            except Exception:  # noqa: BLE001
                out = []
            seen = {n.split("@", 1)[0] for n in out}
            if want <= seen:
                return sorted(out)
            time.sleep(1)
        raise TimeoutError(f"workers {sorted(want - seen)} did not answer within {timeout:.0f} s\n{self.log_tails()}")

    def _ping(self) -> list[str]:
        from celery import Celery

        app = Celery(broker=self._env["AIRFLOW__CELERY__BROKER_URL"])
        try:
            replies = app.control.ping(timeout=2.0) or []
        finally:
            app.close()
        return [name for reply in replies for name in reply]

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if name not in self.killed and proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n{self.log_tail(name)}")

    def kill_worker(self, name: str) -> list[int]:
        """A lost host: SIGKILL to the worker and everything it started (its task processes too)."""
        proc = self.procs[name]
        pids = _tree(proc.pid)
        _signal_all(pids, signal.SIGKILL)
        self.killed[name] = time.monotonic()
        proc.wait(timeout=30)
        return pids

    def stop(self, timeout: float = 30) -> None:
        """Every process started (SIGTERM, then SIGKILL to what is left), then the backends."""
        try:
            trees = {name: _tree(p.pid) for name, p in self.procs.items() if p.poll() is None}
            for pids in trees.values():
                _signal_all(pids[:1], signal.SIGTERM)
            deadline = time.monotonic() + timeout
            for proc in self.procs.values():
                try:
                    proc.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    pass
            for name, pids in trees.items():
                _signal_all(pids + _tree(self.procs[name].pid), signal.SIGKILL)
            for proc in self.procs.values():
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pass
        finally:
            self.drop_backends()

    def alive_pids(self) -> list[int]:
        import psutil

        return [pid for p in self.procs.values() for pid in _tree(p.pid) if psutil.pid_exists(pid)]

    def log_tail(self, name: str, chars: int = 3000) -> str:
        try:
            return (self.logs / f"{name}.log").read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    def log_tails(self, chars: int = 1500) -> str:
        return "\n".join(f"--- {name}.log:\n{self.log_tail(name, chars)}" for name in self.procs)

    # ------------------------------------------------------------------ REST API

    def token(self) -> str:
        """POST /auth/token with the FAB user's name and password: a JWT for the REST API."""
        username, password = self.user
        req = urllib.request.Request(f"{self.url}/auth/token", method="POST",
                                     data=json.dumps({"username": username, "password": password}).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            self._token = json.load(r)["access_token"]
        return self._token

    def api(self, path: str, method: str = "GET", body=None) -> tuple[int, object]:
        for _ in range(5):
            token = self._token or self.token()
            req = urllib.request.Request(f"{self.url}{path}", method=method,
                                         data=None if body is None else json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json",
                                                  "Authorization": f"Bearer {token}"})
            try:
                with urllib.request.urlopen(req, timeout=60) as r:
                    text = r.read().decode()
                    status = r.status
            except urllib.error.HTTPError as exc:
                status, text = exc.code, exc.read().decode(errors="replace")
            except OSError as exc:
                status, text = 599, str(exc)
            if status == 401:
                self._token = None
                continue
            if status >= 500:
                time.sleep(1)
                continue
            try:
                return status, json.loads(text)
            except ValueError:
                return status, text
        return status, text

    def ok(self, path: str, method: str = "GET", body=None):
        status, data = self.api(path, method, body)
        assert status in (200, 201), f"{method} {path}: {status} {data}"
        return data


def q(text: str) -> str:
    return quote(text, safe="")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, required=True, help="AUTOBENCH_HOME (created from --example if empty)")
    parser.add_argument("--example", default="week")
    parser.add_argument("--workdir", type=Path, default=None, help="default: <home>/../airflow-celery")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    if not (args.home / "competitive_registry.yaml").exists():
        subprocess.run([str(Path(sys.executable).with_name("autobench")), "init", "--example", args.example,
                        "--home", str(args.home)], check=True)
    cluster = Cluster(args.workdir or args.home.parent / "airflow-celery", args.home,
                      workers=tuple(f"worker-{i}" for i in range(1, args.workers + 1)))
    if (why := cluster.backends_reachable()) is not None:
        print(why, file=sys.stderr)
        return 1
    try:
        cluster.prepare()
        cluster.start()
        cluster.wait_healthy()
        cluster.wait_workers()
        print(f"Airflow (CeleryExecutor, {args.workers} workers) at {cluster.url}: user {cluster.user[0]!r}, "
              f"password {cluster.user[1]!r}; logs in {cluster.logs}. Ctrl-C stops everything.", flush=True)
        while True:
            cluster.check_alive()
            time.sleep(2)
    except KeyboardInterrupt:
        return 0
    finally:
        cluster.stop()


if __name__ == "__main__":
    sys.exit(main())
