"""The slow-issuer drill on both databases: one tenant's JWKS host accepts and
never answers, with eight submissions hung on it (the pool holds two connections),
while that tenant's other issuer and another tenant ingest one request at a time.

    flock /tmp/mandate-vault-bench.lock .venv/bin/python bench/slow_issuer_drill.py

Reports p50/p99 of those ingests without the slow issuer and with it (three
measuring windows while the submissions are hung; the table shows the quietest,
the JSON lines every window's p99).
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.dbops import migrations
from tests.conftest import create_pg_database, drop_pg_database
from tests.drills.slow_issuer import run_slow_issuer_drill


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory(prefix="mv-bench-slow-") as directory:
        url = f"sqlite+aiosqlite:///{Path(directory) / 'bench.db'}"
        migrations.upgrade(url)
        rows.append(asyncio.run(run_slow_issuer_drill(url, "sqlite"))[0].summary())
    name = f"mvb_{uuid.uuid4().hex[:12]}"
    url = create_pg_database(name)
    try:
        migrations.upgrade(url)
        rows.append(asyncio.run(run_slow_issuer_drill(url, "postgresql"))[0].summary())
    finally:
        drop_pg_database(name)
    for row in rows:
        print(json.dumps(row))
    print(
        "| engine | who | p50 without | p99 without | p50 with slow issuer | p99 with slow issuer |"
    )
    print("|---|---|---|---|---|---|")
    for row in rows:
        for who, key in (
            ("same tenant, other issuer", "same_tenant_other_issuer"),
            ("other tenant", "other_tenant"),
        ):
            data = row[key]
            print(
                f"| {row['engine']} | {who} | {data['without']['p50_ms']} ms | {data['without']['p99_ms']} ms | "
                f"{data['with_slow_issuer']['p50_ms']} ms | {data['with_slow_issuer']['p99_ms']} ms |"
            )


if __name__ == "__main__":
    main()
