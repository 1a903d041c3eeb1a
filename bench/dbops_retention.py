"""Retention over expired audit rows on PostgreSQL: rows/s and the longest
time any single transaction held its locks.

    .venv/bin/python bench/dbops_retention.py [--expired 1000000] [--kept 100000]
"""

from __future__ import annotations

import argparse
import asyncio

from dbops_common import create_database, drop_database, fill, migrate, psql, settings_for

from app.core.database import Database
from app.dbops.retention import run_retention


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--expired", type=int, default=1_000_000)
    parser.add_argument("--kept", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=5000)
    args = parser.parse_args()
    name = create_database("mvb_ret")
    try:
        migrate(name)
        fill(name, 0, args.expired, audit_age_days=400)
        psql(
            name,
            f"""INSERT INTO audit_log (tenant_id, timestamp, actor_type, action, details)
            SELECT (SELECT id FROM customers LIMIT 1), now() - (i || ' seconds')::interval,
                   'system', 'recent', '{{}}' FROM generate_series(1, {args.kept}) i
            """,
        )
        psql(name, "VACUUM ANALYZE audit_log")

        async def run():
            database = Database(settings_for(name, retention_batch_size=args.batch))
            try:
                return await run_retention(database)
            finally:
                await database.dispose()

        report = asyncio.run(run())
        left = psql(name, "SELECT count(*) FROM audit_log")
        anchors = psql(name, "SELECT count(*) FROM audit_anchors")
        print(
            f"retention: deleted {report['audit_log']['deleted']:,} expired audit rows in "
            f"{report['seconds']:.2f}s = {report['rows_per_second']:,} rows/s; "
            f"{report['batches']} transactions of {args.batch}, longest {report['longest_transaction_ms']} ms; "
            f"{left} recent rows kept, {anchors} anchors"
        )
    finally:
        drop_database(name)


if __name__ == "__main__":
    main()
