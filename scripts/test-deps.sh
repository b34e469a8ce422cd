#!/usr/bin/env bash
# What the tests need beyond Python packages: Debian's Chromium (browser tests; test tools cannot
# download browsers here) and a Redis server on 127.0.0.1:6379 (store tests use the real thing).
set -euo pipefail

if ! command -v chromium >/dev/null 2>&1; then
  echo "==> installing Debian's chromium for the browser tests"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  if command -v redis-server >/dev/null 2>&1; then
    echo "==> starting a local redis-server on 127.0.0.1:6379"
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
    for _ in $(seq 1 50); do redis-cli ping >/dev/null 2>&1 && break; sleep 0.1; done
  else
    echo "!! no Redis on 127.0.0.1:6379 and no redis-server to start (apt-get install redis-server)" >&2
    exit 1
  fi
fi
