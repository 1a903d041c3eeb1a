"""One writer process of the concurrency test: audit rows into two tenants in small
transactions, sealing now and then like a server would (under the advisory lock on
PostgreSQL, inside BEGIN IMMEDIATE on SQLite)."""

from __future__ import annotations

import asyncio
import random
import sys
import uuid

from app.audit.service import audit_values, record_many
from app.audit.worker import AuditWorker
from app.core.actor import Actor
from app.core.database import Database
from tests.conftest import make_settings


async def main(url: str, tenants: list[uuid.UUID], rows: int, seed: int) -> None:
    settings = make_settings(url, audit_checkpoint_max_rows=64, audit_checkpoint_seconds=0.2)
    database = Database(settings)
    worker = AuditWorker(database, settings)
    chance = random.Random(seed)
    actor = Actor("api_key", f"writer-{seed}", "customer_user")
    try:
        written = 0
        while written < rows:
            batch = min(chance.randint(1, 3), rows - written)
            tenant = chance.choice(tenants)
            async with database.write_engine.begin() as connection:
                await record_many(
                    connection,
                    [
                        audit_values(
                            tenant_id=tenant,
                            actor=actor,
                            action="test.concurrent",
                            resource_type="mandate",
                            resource_id=f"{seed}-{written + i}",
                            details={"writer": seed, "n": written + i},
                        )
                        for i in range(batch)
                    ],
                )
            written += batch
            if chance.random() < 0.15:
                await worker.round()
        await worker.round()
    finally:
        await worker.close()
        await database.dispose()


if __name__ == "__main__":
    url, first, second, count, seed = sys.argv[1:6]
    asyncio.run(main(url, [uuid.UUID(first), uuid.UUID(second)], int(count), int(seed)))
