#!/usr/bin/env bash
# Create the Mandate Vault database and its user on a PostgreSQL server.
#
#   ./scripts/setup_postgres.sh [--write-env [FILE]] [--rotate-password]
#
# Names: DB_NAME (mandate_vault), DB_USER (mandate_user). Server and superuser:
# PGHOST (localhost), PGPORT (5432), PGUSER (postgres), PGPASSWORD if needed.
# DB_PASSWORD sets the new user's password (default: 32 random characters).
#
# It checks that psql is installed and the server answers, creates the user
# and the database (saying what already existed: running it twice is safe and
# never changes an existing password unless --rotate-password), grants database
# and `public` schema privileges, enables uuid-ossp and pgcrypto, and prints the
# async DATABASE_URL. --write-env sets DATABASE_URL in FILE (default .env, mode 600).
set -euo pipefail

DB_NAME="${DB_NAME:-mandate_vault}"
DB_USER="${DB_USER:-mandate_user}"
export PGHOST="${PGHOST:-localhost}"
export PGPORT="${PGPORT:-5432}"
export PGUSER="${PGUSER:-postgres}"
export PGCONNECT_TIMEOUT="${PGCONNECT_TIMEOUT:-5}"
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"
ENV_FILE=""
ROTATE=0

die() { echo "error: $1" >&2; exit "${2:-1}"; }
new_password() {  # 32 letters and digits from the kernel's CSPRNG (~190 bits)
  local p=""
  while [ "${#p}" -lt 32 ]; do p+=$(head -c 64 /dev/urandom | LC_ALL=C tr -dc 'A-Za-z0-9'); done
  echo "${p:0:32}"
}
say() { echo "$*" >&2; }

while [ "$#" -gt 0 ]; do
  case "$1" in
    --write-env)
      ENV_FILE=".env"
      if [ "$#" -gt 1 ] && [ "${2#--}" = "$2" ]; then ENV_FILE="$2"; shift; fi ;;
    --rotate-password) ROTATE=1 ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" 2 ;;
  esac
  shift
done

for name in "$DB_NAME" "$DB_USER"; do
  [[ "$name" =~ ^[a-z_][a-z0-9_]{0,62}$ ]] \
    || die "'$name' is not a plain PostgreSQL name (lower-case letters, digits, _)" 2
done

# 1. PostgreSQL installed and reachable.
command -v psql >/dev/null 2>&1 \
  || die "psql is not installed. Debian/Ubuntu: apt-get install postgresql-client; macOS: brew install postgresql" 3
if ! probe=$(psql -X -At -d postgres -c "SELECT current_setting('server_version')" 2>&1); then
  die "PostgreSQL is not reachable at ${PGHOST}:${PGPORT} as ${PGUSER}: $(echo "$probe" | head -1 | sed 's/^psql: error: //')
Is the server running (sudo systemctl status postgresql)? Set PGHOST/PGPORT/PGUSER to point at it. Nothing was changed." 4
fi
say "PostgreSQL ${probe} at ${PGHOST}:${PGPORT} (as ${PGUSER})"

run_sql() {  # run_sql DATABASE  (SQL on stdin; psql variables db, user, password)
  psql -X -q -At -v ON_ERROR_STOP=1 -d "$1" \
    -v db="$DB_NAME" -v user="$DB_USER" -v password="${PASSWORD:-}"
}

# 2. The user.
user_exists=$(run_sql postgres <<'SQL'
SELECT count(*) FROM pg_roles WHERE rolname = :'user';
SQL
)
PASSWORD=""
if [ "$user_exists" = "1" ]; then
  if [ "$ROTATE" = "1" ] || [ -n "${DB_PASSWORD:-}" ]; then
    PASSWORD="${DB_PASSWORD:-$(new_password)}"
    run_sql postgres <<'SQL'
ALTER ROLE :"user" WITH LOGIN PASSWORD :'password';
SQL
    say "user ${DB_USER} already existed: password changed"
  else
    say "user ${DB_USER} already exists: password left unchanged (--rotate-password sets a new one)"
  fi
else
  PASSWORD="${DB_PASSWORD:-$(new_password)}"
  run_sql postgres <<'SQL'
CREATE ROLE :"user" WITH LOGIN PASSWORD :'password';
SQL
  say "created user ${DB_USER}"
fi

# 3. The database.
db_exists=$(run_sql postgres <<'SQL'
SELECT count(*) FROM pg_database WHERE datname = :'db';
SQL
)
if [ "$db_exists" = "1" ]; then
  say "database ${DB_NAME} already exists"
else
  run_sql postgres <<'SQL'
CREATE DATABASE :"db";
SQL
  say "created database ${DB_NAME}"
fi

# 4. Privileges and 5. extensions (all idempotent).
run_sql postgres <<'SQL'
GRANT ALL PRIVILEGES ON DATABASE :"db" TO :"user";
SQL
for extension in uuid-ossp pgcrypto; do
  had=$(run_sql "$DB_NAME" <<SQL
SELECT count(*) FROM pg_extension WHERE extname = '${extension}';
SQL
)
  run_sql "$DB_NAME" <<SQL
CREATE EXTENSION IF NOT EXISTS "${extension}";
SQL
  if [ "$had" = "1" ]; then say "extension ${extension} already enabled"; else say "enabled extension ${extension}"; fi
done
run_sql "$DB_NAME" <<'SQL'
GRANT ALL ON SCHEMA public TO :"user";
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES TO :"user";
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON SEQUENCES TO :"user";
SQL
say "granted ${DB_USER} all privileges on database ${DB_NAME} and schema public"

# 6. The connection string.
secret="${PASSWORD:-<existing password>}"
case "$PGHOST" in
  /*) url="postgresql+asyncpg://${DB_USER}:${secret}@/${DB_NAME}?host=${PGHOST}" ;;
  *) url="postgresql+asyncpg://${DB_USER}:${secret}@${PGHOST}:${PGPORT}/${DB_NAME}" ;;
esac
echo "DATABASE_URL=${url}"

if [ -n "$ENV_FILE" ]; then
  if [ -z "$PASSWORD" ]; then
    say "not writing ${ENV_FILE}: the existing password is unknown (use --rotate-password or DB_PASSWORD)"
    exit 0
  fi
  touch "$ENV_FILE"
  chmod 600 "$ENV_FILE"
  tmp="$(mktemp "${ENV_FILE}.XXXXXX")"
  grep -v '^DATABASE_URL=' "$ENV_FILE" >"$tmp" || true
  echo "DATABASE_URL=${url}" >>"$tmp"
  chmod 600 "$tmp"
  mv "$tmp" "$ENV_FILE"
  say "wrote DATABASE_URL to ${ENV_FILE}"
fi
say "next: alembic upgrade head   (or: mandate-vault db upgrade)"
