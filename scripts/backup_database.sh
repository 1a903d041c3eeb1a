#!/usr/bin/env bash
# Back up the database named by DATABASE_URL (.env) into BACKUP_DIR.
# A thin shim over `mandate-vault db backup`; see README "Database operations".
# Silent on success unless on a terminal; exit status tells a scheduler what failed.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -x .venv/bin/mandate-vault ]; then exec .venv/bin/mandate-vault db backup "$@"; fi
# No .venv yet: the bootstrap creates it (one line says so), then runs the command there.
exec python3 -m app.bootstrap db backup "$@"
