"""Running pg_dump and psql against the database a URL names.

Credentials travel in the child's environment (PGPASSWORD), never on its
command line; TLS settings map to libpq's PGSSLMODE / PGSSLROOTCERT.
"""

from __future__ import annotations

import os
import shutil

from sqlalchemy.engine import URL

from app.core.config import Settings
from app.core.database import pg_ssl_mode
from app.dbops.errors import DatabaseUnreachable


def libpq_env(url: URL, settings: Settings | None, application_name: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    host = url.query.get("host")
    if isinstance(host, tuple):
        host = host[-1]
    values = {
        "PGHOST": str(host or url.host or "localhost"),
        "PGPORT": str(url.port or 5432),
        "PGUSER": url.username or "",
        "PGPASSWORD": url.password or "",
        "PGDATABASE": url.database or "",
        "PGAPPNAME": application_name,
        "PGCONNECT_TIMEOUT": str(int(settings.db_connect_timeout) if settings else 10),
    }
    mode = pg_ssl_mode(url)
    if mode:
        values["PGSSLMODE"] = mode
    if settings is not None and settings.db_ssl_ca_file:
        values["PGSSLROOTCERT"] = settings.db_ssl_ca_file
    env.update({k: v for k, v in values.items() if v})
    return env


def tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise DatabaseUnreachable(
            f"{name} is not installed (Debian/Ubuntu: apt-get install postgresql-client)"
        )
    return found
