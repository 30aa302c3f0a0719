#!/usr/bin/env bash
# Start or stop a throwaway PostgreSQL server on 127.0.0.1, run by a non-root user, its data in a
# temporary folder. Used by .ci/run and the benchmarks.
#   eval "$(.ci/postgres.sh start [PORT])"   -> exports DATABASE_URL and PG_TMPDIR (default: a free port)
#   .ci/postgres.sh stop "$PG_TMPDIR"
# PG_OPTIONS adds server options (e.g. "-c shared_buffers=1GB", as the benchmarks do).
# The server does not wait for the disk (fsync, synchronous_commit and full_page_writes off: fine
# for tests, whose data is thrown away); PG_DURABLE=1 starts it with all three on, as production
# runs, so a commit is on disk when it returns (`benchmarks/ingest.py --durable`).
set -euo pipefail

find_bin() {
  local name=$1
  if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return; fi
  local candidate
  candidate=$(ls -d /usr/lib/postgresql/*/bin/"$name" 2>/dev/null | sort -V | tail -n 1 || true)
  [ -n "$candidate" ] && echo "$candidate"
}

ensure_installed() {
  if [ -z "$(find_bin initdb)" ]; then
    echo "PostgreSQL not found: installing it with apt-get" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
  fi
}

run_as() {
  if [ "$(id -u)" = "0" ]; then
    id -u postgres >/dev/null 2>&1 || useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin postgres
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() {
  local port=${1:-$(free_port)}
  ensure_installed
  local initdb pg_ctl tmp
  initdb=$(find_bin initdb)
  pg_ctl=$(find_bin pg_ctl)
  local durability="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  if [ "${PG_DURABLE:-}" = "1" ]; then
    durability="-c fsync=on -c synchronous_commit=on -c full_page_writes=on"
  fi
  tmp=$(mktemp -d /tmp/billing-pg.XXXXXX)
  chmod 755 "$tmp"
  [ "$(id -u)" = "0" ] && chown postgres "$tmp"
  run_as "$initdb" -D "$tmp/data" -U billing --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  run_as "$pg_ctl" -D "$tmp/data" -l "$tmp/log" -w -t 60 \
    -o "-h 127.0.0.1 -p $port -k $tmp $durability -c max_connections=200 ${PG_OPTIONS:-}" \
    start >/dev/null
  run_as "$(find_bin createdb)" -h 127.0.0.1 -p "$port" -U billing billing
  echo "export PG_TMPDIR=$tmp"
  echo "export DATABASE_URL=postgres://billing@127.0.0.1:$port/billing"
}

stop() {
  local tmp=$1
  run_as "$(find_bin pg_ctl)" -D "$tmp/data" -m fast -w stop >/dev/null || true
  rm -rf "$tmp"
}

"$@"
