#!/usr/bin/env bash
# The README's test command (`npm test`). The suites talk to real services, so first make sure
# they are installed: etcd and Redis (started per test on free loopback ports by the harness),
# Prometheus and promtool (alert rules, a real Prometheus against a small mesh), Chromium (page
# tests), docker-compose (validates the Compose files; no Docker engine is needed) and
# systemd-analyze (verifies the units). As root it installs what is missing with apt-get;
# otherwise it names what to install and fails. It never skips a suite instead.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
command -v python3 >/dev/null 2>&1 || missing+=(python3)

if ((${#missing[@]} > 0)); then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "npm test: installing ${missing[*]} with apt-get" >&2
    # Debian's maintainer scripts would start system-wide etcd, Redis and Prometheus daemons;
    # the tests start their own, so forbid service starts for the duration of the install.
    policy=/usr/sbin/policy-rc.d
    made_policy=0
    if [ ! -e "$policy" ]; then
      printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && made_policy=1
    fi
    trap '[ "$made_policy" = 1 ] && rm -f "$policy"' EXIT
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "npm test: missing ${missing[*]}." >&2
    echo "Install them first:  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

exec bun test --timeout 60000 "$@"
