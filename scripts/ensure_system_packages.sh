#!/usr/bin/env bash
# Install the system tools the test suite and the operations kit use, when
# they are missing: the PostgreSQL client (pg_dump, psql), the server binaries
# (initdb, pg_basebackup: throwaway clusters in the TLS/replica tests), the
# sqlite3 shell, Chromium and its driver (the API docs and dashboard browser
# tests, run headless with no network; no browser is ever downloaded), jq and
# curl (the README tutorial's commands), wrk (the load benchmarks) and valgrind
# (bench/instructions.py counts instructions with it). Needs root and apt-get to
# install; otherwise it only reports.
set -euo pipefail

missing=()
command -v pg_dump >/dev/null 2>&1 || missing+=(postgresql-client)
command -v psql >/dev/null 2>&1 || missing+=(postgresql-client)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v sqlite3 >/dev/null 2>&1 || missing+=(sqlite3)
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
command -v jq >/dev/null 2>&1 || missing+=(jq)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v valgrind >/dev/null 2>&1 || missing+=(valgrind)
[ ${#missing[@]} -eq 0 ] && exit 0

packages=$(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing system packages: $packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $packages >/dev/null
else
  echo "warning: missing system packages ($packages); install them for the full test suite" >&2
fi
