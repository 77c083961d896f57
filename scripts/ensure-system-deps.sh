#!/usr/bin/env bash
# Installs the Debian packages the tests use (prometheus and promtool, from `prometheus`;
# docker-compose, whose `config` validates docker-compose.yml without a Docker engine;
# chromium and chromium-driver, in which the tests open report.html headless; curl, with
# which the docs' shell examples talk to the shop).
# As root with apt-get (CI), it installs them; otherwise it says how, and the tests that
# need them skip locally (and fail under CI=true).
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
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
    echo "note: ${missing[*]} not installed; tests that need them will skip." >&2
    echo "      install with: sudo apt-get install ${missing[*]}" >&2
fi
