#!/usr/bin/env bash
# System packages some tests need: Debian's docker-compose (checks docker-compose.yaml),
# chromium and chromium-driver (UI tests). Installed when running as root with apt available;
# elsewhere the tests that need them skip with a message naming the package.
set -uo pipefail
missing=()
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
[[ ${#missing[@]} -eq 0 ]] && exit 0
if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
  echo "installing system packages for the tests: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >/tmp/autobench-apt.log 2>&1 \
    || { echo "warning: apt-get install ${missing[*]} failed (see /tmp/autobench-apt.log); those tests will skip" >&2; }
else
  echo "note: not root or no apt-get: tests needing ${missing[*]} will skip (install those Debian packages to run them)"
fi
exit 0
