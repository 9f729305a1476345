#!/usr/bin/env bash
# `make run`: autobench on one machine — Airflow standalone (SQLite, LocalExecutor) with this
# repository's dags/ and plugins/, state in ./autobench_home. Ctrl-C or SIGTERM stops every
# process it started. A second run reuses the venv, the Airflow database and the state.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
VENV="${VENV:-$ROOT/.venv}"
export PATH="$VENV/bin:$PATH"

HOST="${AUTOBENCH_HOST:-127.0.0.1}"
PORT="${AUTOBENCH_PORT:-8080}"
export AIRFLOW_HOME="${AIRFLOW_HOME:-$ROOT/airflow_home}"
export AUTOBENCH_HOME="${AUTOBENCH_HOME:-$ROOT/autobench_home}"
export AIRFLOW__CORE__DAGS_FOLDER="$ROOT/dags"
export AIRFLOW__CORE__PLUGINS_FOLDER="$ROOT/plugins"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__API__HOST="$HOST"
export AIRFLOW__API__PORT="$PORT"
export AIRFLOW__API__BASE_URL="http://$HOST:$PORT"
# Tasks reach the API server here; it must match the port, or every task fails.
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="http://$HOST:$PORT/execution/"
mkdir -p "$AIRFLOW_HOME"

if [[ ! -f "$AUTOBENCH_HOME/competitive_registry.yaml" ]]; then
  echo "autobench: creating $AUTOBENCH_HOME from the 'recall' example"
  autobench init --example recall --home "$AUTOBENCH_HOME"
fi
autobench validate --home "$AUTOBENCH_HOME" >/dev/null || {
  echo "autobench: $AUTOBENCH_HOME has problems (above); Airflow starts anyway and the state_check DAG will flag them" >&2; }

if python - "$HOST" "$PORT" <<'PY'
import socket, sys
s = socket.socket(); s.settimeout(1)
sys.exit(0 if s.connect_ex((sys.argv[1], int(sys.argv[2]))) == 0 else 1)
PY
then
  echo "autobench: $HOST:$PORT is already in use (another 'make run'?). Stop it, or pick another port: make run PORT=8081" >&2
  exit 1
fi

echo "autobench: preparing the Airflow database in $AIRFLOW_HOME"
airflow db migrate >"$AIRFLOW_HOME/db-migrate.log" 2>&1 || { cat "$AIRFLOW_HOME/db-migrate.log" >&2; exit 1; }
airflow pools import "$ROOT/config/pools.json" >/dev/null

pid=""
stop() {
  trap - INT TERM EXIT
  if [[ -n "$pid" ]] && kill -0 -- "-$pid" 2>/dev/null; then
    echo
    echo "autobench: stopping Airflow"
    kill -TERM -- "-$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 -- "-$pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL -- "-$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    echo "autobench: stopped"
  fi
}
trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM
trap stop EXIT

# Its own process group, so that one signal reaches every component it starts.
setsid airflow standalone &
pid=$!

python - "$HOST" "$PORT" "$AIRFLOW_HOME" "$AUTOBENCH_HOME" <<'PY' &
import json, pathlib, sys, time, urllib.request
host, port, airflow_home, autobench_home = sys.argv[1:]
url = f"http://{host}:{port}"
deadline = time.monotonic() + 300
while time.monotonic() < deadline:
    try:
        with urllib.request.urlopen(f"{url}/api/v2/monitor/health", timeout=2) as r:
            health = json.load(r)
        if all(health.get(k, {}).get("status") == "healthy" for k in ("metadatabase", "scheduler")):
            break
    except Exception:
        pass
    time.sleep(1)
else:
    print("autobench: Airflow did not become healthy within 5 minutes", file=sys.stderr)
    sys.exit(1)
pw_file = pathlib.Path(airflow_home) / "simple_auth_manager_passwords.json.generated"
try:
    login = ", ".join(f"user {u!r} password {p!r}" for u, p in json.loads(pw_file.read_text()).items())
except (OSError, ValueError):
    login = f"see {pw_file}"
bar = "=" * 72
print(f"\n{bar}\n autobench is running: {url}\n log in with {login}\n"
      f" state: {autobench_home}\n DAGs start paused: unpause them in the UI to let the loop run on schedule.\n"
      f" Ctrl-C stops everything.\n{bar}\n", flush=True)
PY
wait "$pid"
