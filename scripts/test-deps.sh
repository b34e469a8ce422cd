#!/usr/bin/env bash
# What the tests need beyond Python packages: Debian's Chromium (browser tests; test tools cannot
# download browsers here), a Redis server on 127.0.0.1:6379, PostgreSQL on 127.0.0.1:5432 with a
# `test` database (store tests use the real things) and RabbitMQ's server (the analytics tests
# start nodes of their own on free ports, which they stop and restart; tests/rabbit_server.py).
set -euo pipefail

if ! command -v chromium >/dev/null 2>&1; then
  echo "==> installing Debian's chromium for the browser tests"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

if ! command -v rabbitmq-server >/dev/null 2>&1; then
  echo "==> installing Debian's rabbitmq-server for the analytics pipeline tests"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq rabbitmq-server >/dev/null
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

if ! pg_isready -q -h 127.0.0.1 -p 5432 >/dev/null 2>&1; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [[ -d /etc/postgresql ]]; then
    echo "==> starting the local PostgreSQL cluster on 127.0.0.1:5432"
    SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
    for version in $(ls /etc/postgresql); do
      $SUDO pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    done
    for _ in $(seq 1 50); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.1; done
  else
    echo "!! no PostgreSQL on 127.0.0.1:5432 and no cluster to start (apt-get install postgresql)" >&2
    exit 1
  fi
fi
if ! psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'test'" \
    | grep -q 1; then
  createdb -h 127.0.0.1 -U postgres test
fi
