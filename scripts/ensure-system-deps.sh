#!/usr/bin/env bash
# Installs the Debian packages the tests use (prometheus and promtool, from `prometheus`;
# docker-compose, whose `config` validates docker-compose.yml without a Docker engine;
# chromium and chromium-driver, in which the tests open report.html headless; curl, with
# which the docs' shell examples talk to the shop).
# As root with apt-get (CI), it installs them; otherwise it says how, and the tests that
# need them skip locally (and fail under CI=true). It waits (at most GAMEDAY_DPKG_LOCK_TIMEOUT
# seconds, default 300) for another apt-get or dpkg that holds the lock, saying which.
set -euo pipefail
missing=()
command -v promtool >/dev/null || missing+=(prometheus)
command -v docker-compose >/dev/null || missing+=(docker-compose)
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
command -v curl >/dev/null || missing+=(curl)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Another apt-get or dpkg (unattended upgrades, a second terminal) may hold the lock.
    timeout=${GAMEDAY_DPKG_LOCK_TIMEOUT:-300}
    bash "$(dirname "$0")/wait-for-dpkg-lock.sh" "$timeout"
    # ... and may take it again between the wait and apt-get: apt then waits as well.
    apt-get -o DPkg::Lock::Timeout="$timeout" update -qq
    apt-get -o DPkg::Lock::Timeout="$timeout" install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
else
    echo "note: ${missing[*]} not installed; tests that need them will skip." >&2
    echo "      install with: sudo apt-get install ${missing[*]}" >&2
fi
