#!/usr/bin/env bash
# `make screenshots`: docs/screenshots/autobench_page.png (the autobench page) and
# docs/screenshots/dag_grid.png (a DAG's grid), taken by headless Chromium after logging in
# through Airflow's login page.
#
#   scripts/screenshots.sh                             # a fresh `airflow standalone` on a free port,
#                                                      # demo state, one leaderboard_monitor run; stopped after
#   scripts/screenshots.sh --url http://127.0.0.1:8080 # the one `make run` started (read-only; the
#                                                      # password comes from ./airflow_home)
#   AUTOBENCH_SCREENSHOTS_URL=http://127.0.0.1:8080 scripts/screenshots.sh   # the same
#
# Needs Debian's chromium and chromium-driver (scripts/system-packages.sh) and selenium
# (requirements-dev.txt). Other options: scripts/screenshots.sh --help.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
export PATH="$VENV/bin:$PATH"
args=(--out "${SCREENSHOTS_DIR:-$ROOT/docs/screenshots}")
if [[ -n "${AUTOBENCH_SCREENSHOTS_URL:-}" ]]; then
  args+=(--url "$AUTOBENCH_SCREENSHOTS_URL")
fi
exec python "$ROOT/scripts/screenshots.py" "${args[@]}" "$@"
