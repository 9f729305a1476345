"""The Docker deployment: docker-compose.yaml, Dockerfile, Dockerfile.experiment, .dockerignore.

No Docker engine is needed (or used). ``docker-compose config`` (Debian's docker-compose 1.29)
validates and renders the compose file without one; the structural checks run on both the raw YAML
and compose's rendered view of it (merge keys and ``${VAR:-default}`` resolved); the init
service's script is run with bash against stand-ins for the image's entrypoint; and the
Dockerfiles are parsed instruction by instruction. Building and running the images is for users.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import textwrap
from fnmatch import fnmatch
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yaml"
AIRFLOW_DOCKERFILE = ROOT / "Dockerfile"
EXPERIMENT_DOCKERFILE = ROOT / "Dockerfile.experiment"
POOLS_FILE = ROOT / "config" / "pools.json"
SETTINGS_FILE = ROOT / "config" / "distributed.env"

AUTOBENCH_HOME = "/opt/autobench/home"
STATE_VOLUME = "autobench-home"
AIRFLOW_SERVICES = {
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-worker",
    "airflow-triggerer",
    "airflow-init",
}
# The long-running Airflow components: each starts only once airflow-init has succeeded.
WAIT_FOR_INIT = AIRFLOW_SERVICES - {"airflow-init"}
REQUIRED_SERVICES = AIRFLOW_SERVICES | {"postgres", "redis"}
NO_COMPOSE = "needs Debian package docker-compose (apt-get install docker-compose)"


# ----------------------------------------------------------------------------- helpers


def _requirement_pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[name.strip().lower()] = version.strip()
    return pins


def _compose_cmd(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.skip(NO_COMPOSE)
    # A clean clone: no .env (an empty env file instead of any local one) and none of the
    # variables the file reads taken from the caller's environment.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AIRFLOW", "_AIRFLOW", "_PIP", "COMPOSE_", "AUTOBENCH"))}
    with tempfile.TemporaryDirectory() as tmp:
        empty_env = Path(tmp) / "empty.env"
        empty_env.write_text("")
        return subprocess.run(
            [exe, "--env-file", str(empty_env), "-f", str(COMPOSE_FILE),
             "--project-directory", str(ROOT), *args],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
        )


def _env_files(svc: dict) -> list[str]:
    files = svc.get("env_file") or []
    return [files] if isinstance(files, str) else list(files)


def _read_env_file(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, sep, value = line.partition("=")
            assert sep, f"{path}: not KEY=VALUE: {line!r}"
            out[key.strip()] = value.strip()
    return out


def _env(svc: dict) -> dict[str, str]:
    """A service's environment as the container gets it: its env files, then `environment` over them
    (compose's rendered view has the files merged in already)."""
    merged: dict[str, str] = {}
    for name in _env_files(svc):
        merged.update(_read_env_file(ROOT / name))
    env = svc.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    merged.update({k: "" if v is None else str(v) for k, v in env.items()})
    return merged


def _is_named(source: str) -> bool:
    return not source.startswith((".", "/", "~", "$"))


def _norm_source(source: str) -> str:
    """A bind mount's host path relative to the repo root (raw `./dags` and rendered
    `/abs/repo/dags` both give `dags`); a named volume's name unchanged."""
    if _is_named(source):
        return source
    path = Path(source)
    if not path.is_absolute():
        path = ROOT / path
    return Path(os.path.normpath(path)).relative_to(ROOT).as_posix()


def _raw_mounts(svc: dict) -> list[tuple[str, str]]:
    """(source as written, target) for every volume of a service, short or long syntax."""
    out = []
    for vol in svc.get("volumes") or []:
        if isinstance(vol, dict):
            source, target = vol.get("source", ""), vol["target"]
        else:
            parts = vol.split(":")
            source, target = (parts[0], parts[1]) if len(parts) > 1 else ("", parts[0])
        out.append((source, target))
    return out


def _mounts(svc: dict) -> list[tuple[str, str]]:
    """(named volume, or bind source relative to the repo root; target) for every volume."""
    return [(_norm_source(source), target) for source, target in _raw_mounts(svc)]


def _depends_on(svc: dict) -> dict[str, str]:
    deps = svc.get("depends_on") or {}
    if isinstance(deps, list):
        return {name: "service_started" for name in deps}
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def _build(svc: dict) -> tuple[Path, str] | None:
    build = svc.get("build")
    if build is None:
        return None
    if isinstance(build, str):
        build = {"context": build}
    context = Path(build.get("context", "."))
    if not context.is_absolute():
        context = ROOT / context
    return Path(os.path.normpath(context)), build.get("dockerfile", "Dockerfile")


def _command(svc: dict) -> str:
    cmd = svc.get("command") or ""
    return cmd if isinstance(cmd, str) else " ".join(str(c) for c in cmd)


def _published_ports(svc: dict) -> set[tuple[int, int]]:
    ports = set()
    for port in svc.get("ports") or []:
        if isinstance(port, dict):
            ports.add((int(port["published"]), int(port["target"])))
        else:
            *host, container = str(port).split("/")[0].split(":")
            ports.add((int(host[-1]) if host else int(container), int(container)))
    return ports


_INTERP = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def _interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's variable substitution: `$$` is a literal `$`, `${VAR:-default}` etc."""
    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1) or m.group(4)
        if name in env and (env[name] or m.group(2) != ":-"):
            return env[name]
        return m.group(3) or ""
    return _INTERP.sub(sub, text)


def _container_to_host(svc: dict, container_path: str) -> Path | None:
    """The host file a container path of a service reads, through its bind mounts."""
    best = None
    for source, target in _raw_mounts(svc):
        if _is_named(source):
            continue
        source = _norm_source(source)
        if container_path == target or container_path.startswith(target.rstrip("/") + "/"):
            if best is None or len(target) > len(best[1]):
                best = (source, target)
    if best is None:
        return None
    return ROOT / best[0] / os.path.relpath(container_path, best[1])


@pytest.fixture(scope="module")
def raw() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def rendered() -> dict:
    result = _compose_cmd("config")
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


@pytest.fixture(params=["raw", "rendered"])
def doc(request) -> dict:
    """The compose file as written, and as docker-compose resolves it."""
    return request.getfixturevalue(request.param)


def _airflow_services(doc: dict) -> dict[str, dict]:
    """The services built from ./Dockerfile: every service sharing the x-airflow-common anchor."""
    airflow_build = (ROOT, "Dockerfile")
    return {name: svc for name, svc in doc["services"].items() if _build(svc) == airflow_build}


class Dockerfile:
    """A Dockerfile as (INSTRUCTION, arguments) pairs: continuations joined, comments dropped."""

    def __init__(self, path: Path):
        self.text = path.read_text()
        self.instructions: list[tuple[str, str]] = []
        current = ""
        for line in self.text.splitlines():
            if line.strip().startswith("#") or not line.strip():
                continue
            if line.rstrip().endswith("\\"):
                current += line.rstrip()[:-1] + " "
                continue
            current += line
            keyword, _, args = current.strip().partition(" ")
            self.instructions.append((keyword.upper(), args.strip()))
            current = ""

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]

    def args(self) -> dict[str, str]:
        out = {}
        for arg in self.all("ARG"):
            name, _, default = arg.partition("=")
            out[name] = default.strip('"')
        return out

    def env(self) -> dict[str, str]:
        out = {}
        for env in self.all("ENV"):
            for item in shlex.split(env):
                name, _, value = item.partition("=")
                out[name] = value
        return out

    def pip_installs(self) -> list[tuple[str, str]]:
        """(user the RUN runs as, the pip install command) for every pip install."""
        user, out = "root", []
        for kw, args in self.instructions:
            if kw == "USER":
                user = args.split(":")[0]
            elif kw == "RUN":
                for part in re.split(r"&&|;|\|\|", args):
                    if re.search(r"\bpip3? install\b", part):
                        out.append((user, part.strip()))
        return out

    def copy_sources(self) -> list[str]:
        sources = []
        for args in self.all("COPY"):
            words = [w for w in shlex.split(args) if not w.startswith("--")]
            sources += words[:-1]
        return sources


def _pip_targets(command: str) -> list[str]:
    """The requirement specifiers / paths a pip install command names (options dropped)."""
    words = shlex.split(command.split("pip install", 1)[1].replace('"$(', "$(").replace(')"', ")"))
    takes_value = {"-r", "--requirement", "-c", "--constraint", "-i", "--index-url",
                   "--extra-index-url", "-f", "--find-links"}
    targets, skip = [], False
    for word in words:
        if skip:
            skip = False
            continue
        if word in takes_value:
            skip = True
            continue
        if word.startswith("-"):
            continue
        targets.append(word)
    return targets


def _name(spec: str) -> str:
    return re.split(r"[=<>!~\[ ]", spec, maxsplit=1)[0].lower()


# ----------------------------------------------------------------------------- (a) docker-compose


def test_docker_compose_config_accepts_the_file_from_a_clean_clone():
    result = _compose_cmd("config", "-q")
    assert result.returncode == 0, result.stderr
    # Every variable the file reads has a default: no "The X variable is not set" warnings.
    assert "not set" not in result.stderr and "WARNING" not in result.stderr, result.stderr


# ----------------------------------------------------------------------------- (b) the compose file


def test_required_services_exist(doc):
    services = doc["services"]
    assert REQUIRED_SERVICES <= set(services), sorted(REQUIRED_SERVICES - set(services))
    # The optional ones stay opt-in: `up` alone must not start them.
    for name in {"airflow-cli", "flower", "autobench-experiment"} & set(services):
        assert services[name].get("profiles"), name


def test_airflow_services_share_the_common_build(doc, raw):
    assert raw["x-airflow-common"]["build"] == "."
    airflow = _airflow_services(doc)
    assert AIRFLOW_SERVICES <= set(airflow), sorted(AIRFLOW_SERVICES - set(airflow))
    # The experiment image is a different build, without Airflow.
    if "autobench-experiment" in doc["services"]:
        assert _build(doc["services"]["autobench-experiment"]) == (ROOT, "Dockerfile.experiment")


def test_every_airflow_service_has_the_same_jwt_secret_and_execution_api(doc):
    airflow = _airflow_services(doc)
    secrets = {name: _env(svc).get("AIRFLOW__API_AUTH__JWT_SECRET") for name, svc in airflow.items()}
    assert None not in secrets.values(), secrets
    assert len(set(secrets.values())) == 1, secrets
    secret = next(iter(secrets.values()))
    assert secret.strip()
    if "x-airflow-common" in doc:  # as written: set from AIRFLOW_JWT_SECRET, with a default
        assert re.fullmatch(r"\$\{AIRFLOW_JWT_SECRET:-[^}]+\}", secret), secret
    urls = {_env(svc).get("AIRFLOW__CORE__EXECUTION_API_SERVER_URL") for svc in airflow.values()}
    assert urls == {"http://airflow-apiserver:8080/execution/"}
    # ... and that URL is the api-server's own service name and container port.
    api = urlsplit(next(iter(urls)))
    assert api.hostname in doc["services"]
    assert api.port in {target for _, target in _published_ports(doc["services"][api.hostname])}


def test_every_airflow_service_mounts_the_one_state_volume(doc):
    assert STATE_VOLUME in (doc.get("volumes") or {})
    for name, svc in _airflow_services(doc).items():
        assert _env(svc).get("AUTOBENCH_HOME") == AUTOBENCH_HOME, name
        at_home = [source for source, target in _mounts(svc) if target == AUTOBENCH_HOME]
        assert at_home == [STATE_VOLUME], (name, at_home)
    # Nothing else in the file puts different data at that path.
    for name, svc in doc["services"].items():
        for source, target in _mounts(svc):
            if target == AUTOBENCH_HOME:
                assert source == STATE_VOLUME, name


def test_celery_executor_with_postgres_and_redis(doc):
    services = doc["services"]
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7.2")
    for backend in ("postgres", "redis"):
        assert services[backend].get("healthcheck", {}).get("test"), backend
    for name, svc in _airflow_services(doc).items():
        env = _env(svc)
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__CORE__LOAD_EXAMPLES"].lower() == "false", name
        db = urlsplit(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
        assert db.scheme.startswith("postgresql") and db.hostname == "postgres", name
        broker = urlsplit(env["AIRFLOW__CELERY__BROKER_URL"])
        assert broker.scheme == "redis" and broker.hostname == "redis", name
        assert urlsplit(env["AIRFLOW__CELERY__RESULT_BACKEND"]).hostname == "postgres", name
        deps = _depends_on(svc)
        assert deps.get("postgres") == deps.get("redis") == "service_healthy", name


def test_every_airflow_service_loads_the_one_settings_file_and_overrides_none_of_it(raw):
    settings = _read_env_file(SETTINGS_FILE)
    assert settings["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    for name, svc in _airflow_services(raw).items():
        assert _env_files(svc) == ["config/distributed.env"], name
        env = svc.get("environment") or {}
        assert not set(env) & set(settings), (name, sorted(set(env) & set(settings)))


def test_the_distributed_test_runs_composes_settings():
    """tests/dags/test_distributed.py starts its cluster (scripts/celery_cluster.py) from the same
    file, with the same auth manager and drivers; only hosts, database names and the timings it
    lists as TEST differ."""
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import celery_cluster
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    assert celery_cluster.SETTINGS_FILE == SETTINGS_FILE
    assert celery_cluster.read_env_file() == _read_env_file(SETTINGS_FILE)
    compose_env = _env(yaml.safe_load(COMPOSE_FILE.read_text())["services"]["airflow-scheduler"])
    assert celery_cluster.AUTH_MANAGER == compose_env["AIRFLOW__CORE__AUTH_MANAGER"]
    local = celery_cluster.Cluster(Path("/nonexistent"), Path("/nonexistent"), redis_db=7).connection_urls()
    assert set(local) == set(celery_cluster.URL_KEYS)
    for key, url in local.items():
        assert urlsplit(url).scheme == urlsplit(compose_env[key]).scheme, key
    # What the test overrides are timings the settings file has, each marked TEST there.
    source = (ROOT / "tests" / "dags" / "test_distributed.py").read_text()
    block = re.search(r"^OVERRIDES = \{(.*?)^\}", source, re.S | re.M)
    assert block, "OVERRIDES not found in tests/dags/test_distributed.py"
    overridden = re.findall(r'"([A-Z_]+)":', block.group(1))
    settings = _read_env_file(SETTINGS_FILE)
    lines = SETTINGS_FILE.read_text().splitlines()
    assert overridden
    for key in overridden:
        assert key in settings, key
        at = next(i for i, line in enumerate(lines) if line.startswith(f"{key}="))
        assert "TEST:" in " ".join(lines[max(0, at - 3):at]), key
    # The worker in compose consumes the GPU queue the settings name.
    worker = _command(yaml.safe_load(COMPOSE_FILE.read_text())["services"]["airflow-worker"])
    queues = re.search(r"--queues\s+(\S+)", worker)
    assert queues and settings["AUTOBENCH_GPU_QUEUE"] in queues.group(1).split(","), worker
    assert settings["AIRFLOW__OPERATORS__DEFAULT_QUEUE"] in queues.group(1).split(","), worker


def test_project_folders_are_mounted_and_importable(doc):
    for name, svc in _airflow_services(doc).items():
        mounts = set(_mounts(svc))
        for folder in ("dags", "plugins", "include", "config"):
            assert (folder, f"/opt/airflow/{folder}") in mounts, (name, folder)
            assert (ROOT / folder).is_dir(), folder
        # Airflow only adds dags/, plugins/ and config/ to sys.path: include/ must be on it too
        # (the package is also installed in the image).
        assert "/opt/airflow/include" in _env(svc).get("PYTHONPATH", "").split(":"), name


def test_apiserver_port_and_health_endpoint(doc):
    api = doc["services"]["airflow-apiserver"]
    assert (8080, 8080) in _published_ports(api)
    assert "/api/v2/monitor/health" in " ".join(api["healthcheck"]["test"])


def test_components_start_only_after_init_succeeds(doc):
    services = doc["services"]
    for name in WAIT_FOR_INIT | ({"flower"} & set(services)):
        assert _depends_on(services[name]).get("airflow-init") == "service_completed_successfully", name
    init = services["airflow-init"]
    assert "airflow-init" not in _depends_on(init)
    assert init.get("restart") in (None, "no"), "a one-shot service must not restart"


def test_airflow_uid_defaults_to_the_experiment_images_user(doc, raw):
    expected = "50000:0" if "x-airflow-common" not in doc else "${AIRFLOW_UID:-50000}:0"
    for name, svc in _airflow_services(doc).items():
        if name != "airflow-init":  # init runs as root to hand the volumes over
            assert str(svc["user"]) == expected, name
    experiment = Dockerfile(EXPERIMENT_DOCKERFILE)
    assert experiment.all("USER")[-1].split(":") == ["50000", "0"]
    assert re.search(r"useradd\b.*--uid 50000\b.*--gid 0\b", " ".join(experiment.all("RUN")))


def test_pool_file_is_valid_and_covers_the_pools_the_dags_use():
    pools = json.loads(POOLS_FILE.read_text())
    assert isinstance(pools, dict) and pools
    # What `airflow pools import` accepts (airflow.cli.commands.pool_command.pool_import_helper):
    # name -> {"slots": ..., "description": ...}; anything else is reported as failed.
    for name, pool in pools.items():
        assert isinstance(pool, dict) and {"slots", "description"} <= set(pool), name
        assert isinstance(pool["slots"], int) and (pool["slots"] >= 1 or pool["slots"] == -1), name
        assert isinstance(pool["description"], str), name
        assert isinstance(pool.get("include_deferred", False), bool), name
    used = {"gpu"}  # the experiment tasks' pool
    for dag_file in (ROOT / "dags").rglob("*.py"):
        used |= set(re.findall(r"""\bpool\s*=\s*["']([^"']+)["']""", dag_file.read_text()))
    assert used <= set(pools), sorted(used - set(pools))


def test_init_imports_the_repos_pool_file(doc):
    init = doc["services"]["airflow-init"]
    imports = re.findall(r"airflow pools import (\S+)", _command(init))
    assert len(imports) == 1, imports
    assert _container_to_host(init, imports[0]) == POOLS_FILE


def test_init_script_migrates_imports_pools_and_guards_autobench_init(raw, tmp_path):
    """Runs airflow-init's script with bash, the image's /entrypoint replaced by a stand-in that
    records its arguments (and runs `python ...` for real, as the entrypoint does)."""
    init = raw["services"]["airflow-init"]
    assert init["entrypoint"] in ("/bin/bash", ["/bin/bash"], "bash")
    flag, script = init["command"]
    assert flag == "-c"
    script = _interpolate(script, {})  # what compose hands to bash from a clean clone
    assert "competitive_registry.yaml" in script
    assert re.search(r"autobench init --example recall --home \"?\$\{?AUTOBENCH_HOME", script)

    home, logs, calls = tmp_path / "home", tmp_path / "logs", tmp_path / "calls.log"
    logs.mkdir()
    stub = tmp_path / "entrypoint"
    stub.write_text(textwrap.dedent("""\
        #!/usr/bin/env bash
        echo "$*" >> "$STUB_CALLS"
        if [[ -n "${STUB_FAIL:-}" && "$*" == *"$STUB_FAIL"* ]]; then exit 1; fi
        case "$1" in
          airflow) exit 0 ;;
          python) shift; exec "$STUB_PYTHON" "$@" ;;
          *) echo "unexpected entrypoint command: $*" >&2; exit 97 ;;
        esac
        """))
    stub.chmod(0o755)
    assert "/entrypoint " in script
    script = script.replace("/entrypoint ", f"{stub} ").replace("/opt/airflow/logs", str(logs))
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "AUTOBENCH_HOME": str(home),  # the compose value is the volume path; here a temp folder
        "PYTHONPATH": str(ROOT / "include"),
        "STUB_CALLS": str(calls),
        "STUB_PYTHON": sys.executable,
        "_AIRFLOW_DB_MIGRATE": "true",
        "_AIRFLOW_WWW_USER_CREATE": "true",
    }
    # chown to the Airflow uid needs root; the ownership hand-over is not what this checks.
    run = ["bash", "-c", "chown() { :; }\n" + script]

    first = subprocess.run(run, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert first.returncode == 0, first.stdout + first.stderr
    lines = calls.read_text().splitlines()
    assert lines[0] == "airflow version", lines  # the entrypoint migrates and creates the user here
    assert "airflow pools import /opt/airflow/config/pools.json" in lines
    inits = [line for line in lines if "autobench init" in line]
    assert inits == [f"python -m autobench init --example recall --home {home}"], lines
    registry = home / "competitive_registry.yaml"
    assert registry.is_file()

    # A second start (or a restart after the user edited the state) leaves the state alone.
    registry.write_text(registry.read_text() + "\n# edited by hand\n")
    before = registry.read_text()
    calls.unlink()
    second = subprocess.run(run, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert second.returncode == 0, second.stdout + second.stderr
    lines = calls.read_text().splitlines()
    assert not [line for line in lines if "autobench init" in line], lines
    assert "airflow pools import /opt/airflow/config/pools.json" in lines  # import is idempotent
    assert registry.read_text() == before

    # A failed step fails the init container, so no component starts without its pools.
    failing = subprocess.run(run, env={**env, "STUB_FAIL": "pools import"}, capture_output=True,
                             text=True, timeout=120, check=False)
    assert failing.returncode != 0, failing.stdout + failing.stderr


def test_experiment_service_uses_the_experiment_images_state_path(doc):
    svc = doc["services"].get("autobench-experiment")
    if svc is None:
        pytest.skip("no autobench-experiment service")
    assert _env(svc)["AUTOBENCH_HOME"] == Dockerfile(EXPERIMENT_DOCKERFILE).env()["AUTOBENCH_HOME"]
    assert (STATE_VOLUME, AUTOBENCH_HOME) in _mounts(svc)


# ----------------------------------------------------------------------------- (c) the Dockerfiles


def test_airflow_image_tag_matches_the_airflow_pin():
    pins = _requirement_pins()
    image = Dockerfile(AIRFLOW_DOCKERFILE).all("FROM")
    assert len(image) == 1, image
    m = re.fullmatch(r"apache/airflow:(?P<version>[\w.]+)-python(?P<python>\d+\.\d+)", image[0])
    assert m, image[0]
    assert m["version"] == pins["apache-airflow"]
    assert m["python"] == "3.11"
    # The experiment image runs the same Python minor version.
    experiment = Dockerfile(EXPERIMENT_DOCKERFILE).all("FROM")
    assert len(experiment) == 1 and re.fullmatch(rf"python:{m['python']}-slim\S*", experiment[0])


def test_airflow_image_never_lets_pip_change_airflow():
    dockerfile = Dockerfile(AIRFLOW_DOCKERFILE)
    installs = dockerfile.pip_installs()
    assert installs
    for user, command in installs:
        assert user == "airflow", command  # the official image's pip runs as the airflow user
        assert '"apache-airflow==${AIRFLOW_VERSION}"' in command, command
    commands = " ".join(command for _, command in installs)
    assert re.search(r"-r \S*requirements\.txt", commands)
    # The package: installed from the copied source, not editable.
    assert any("/tmp/autobench-build" in _pip_targets(c) for _, c in installs)
    assert not re.search(r"(^|\s)(-e|--editable)\s", commands)
    assert dockerfile.all("USER")[-1] == "airflow"
    assert dockerfile.env()["AUTOBENCH_HOME"] == AUTOBENCH_HOME


def test_experiment_image_has_torch_and_the_package_but_no_airflow_or_pydantic():
    dockerfile = Dockerfile(EXPERIMENT_DOCKERFILE)
    pins = _requirement_pins()
    args = dockerfile.args()
    installs = [command for _, command in dockerfile.pip_installs()]
    assert installs
    named = set()
    for command in installs:
        assert not re.search(r"-r\b|--requirement\b", command), command  # would drag in Airflow
        for target in _pip_targets(command):
            named.add(_interpolate(target, args))
    names = {_name(t) for t in named if not t.startswith("/")}
    assert names == {"torch", "numpy", "pyyaml"}, names
    assert not re.search(r"airflow|pydantic", " ".join(installs), re.I)
    # Pinned to requirements.txt.
    for spec in named - {t for t in named if t.startswith("/")}:
        assert spec == f"{_name(spec)}=={pins[_name(spec)]}", spec
    # torch from the configurable index, CUDA 12.8 by default; the CPU index is documented.
    torch_install = next(c for c in installs if "torch==" in c)
    assert '--index-url "${TORCH_INDEX_URL}"' in torch_install
    assert args["TORCH_INDEX_URL"] == "https://download.pytorch.org/whl/cu128"
    assert "https://download.pytorch.org/whl/cpu" in dockerfile.text
    # The package without its (control-plane) dependencies.
    package = [c for c in installs if any(t.startswith("/") for t in _pip_targets(c))]
    assert package and all("--no-deps" in c for c in package)
    env = dockerfile.env()
    assert env["AUTOBENCH_HOME"] == AUTOBENCH_HOME
    assert env["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    assert json.loads(dockerfile.all("ENTRYPOINT")[-1]) == ["autobench"]
    assert dockerfile.all("USER")[-1].split(":")[0] not in ("root", "0")


def test_build_context_holds_what_the_dockerfiles_copy():
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    for must in (".venv", ".git", "airflow_home", "autobench_home"):
        assert must in patterns, must

    def ignored(path: str) -> bool:
        parts = Path(path).parts
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        return any(fnmatch(p, pat.lstrip("/").rstrip("/")) for p in prefixes for pat in patterns)

    for dockerfile in (AIRFLOW_DOCKERFILE, EXPERIMENT_DOCKERFILE):
        sources = Dockerfile(dockerfile).copy_sources()
        assert sources, dockerfile.name
        for source in sources:
            assert (ROOT / source).exists(), f"{dockerfile.name} copies {source}, missing from the repo"
            assert not ignored(source.rstrip("/")), f"{source} is excluded by .dockerignore"
