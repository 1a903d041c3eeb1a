#!/usr/bin/env bash
# Restore a backup: ./scripts/restore_database.sh backups/mandate_vault_backup_YYYYMMDD_HHMMSS.sql.gz [--yes]
# A thin shim over `mandate-vault db restore`; see README "Database operations".
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$#" -lt 1 ]; then
  echo "usage: $0 BACKUP_FILE [--yes]" >&2
  exit 2
fi
if [ -x .venv/bin/mandate-vault ]; then exec .venv/bin/mandate-vault db restore "$@"; fi
# No .venv yet: the bootstrap creates it (one line says so), then runs the command there.
exec python3 -m app.bootstrap db restore "$@"
