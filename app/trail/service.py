"""Reading, exporting and verifying one tenant's audit trail: the use cases the
API (`router.py`) and the dashboard's audit page share."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import orjson

from app.audit.chain import chain_id_for, row_record
from app.audit.report import ChainReport
from app.audit.repository import AuditTrail, TrailFilter
from app.audit.schemas import AuditPage, AuditQuery, entry
from app.audit.vault_keys import load_keyring
from app.audit.verification import verify_stored_chain
from app.core.clock import SYSTEM_CLOCK, Clock
from app.core.config import Settings
from app.core.cursor import CursorCodec
from app.core.database import Database

VERIFY_ROW_BUDGET = 500_000
EXPORT_PAGE = 1000
CURSOR_SORT = "-id"


def export_line(row: Any) -> bytes:
    """One sealed row as the export writes it: seq, hashes and the hashed record."""
    record = row_record(row, row.seq, row.prev_hash)
    line = {"seq": row.seq, "prev_hash": row.prev_hash, "row_hash": row.row_hash, "record": record}
    return orjson.dumps(line) + b"\n"


class TrailService:
    def __init__(
        self,
        database: Database,
        tenant_id: uuid.UUID,
        settings: Settings,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.database = database
        self.tenant_id = tenant_id
        self.settings = settings
        self.clock = clock
        # The shared signed keyset cursor: the row id rides in its id field.
        self.cursors = CursorCodec(settings.secret_key.get_secret_value())

    async def page(self, params: AuditQuery) -> AuditPage:
        """Rows newest first, filtered; `next_cursor` leads to the older ones."""
        where = TrailFilter(
            action=params.action,
            actor_id=params.actor,
            actor_type=params.actor_type,
            resource_type=params.resource_type,
            resource_id=params.resource_id,
            since=params.since,
            until=params.until,
        )
        before = None
        if params.cursor is not None:
            before = self.cursors.decode(params.cursor, CURSOR_SORT).id.int
        async with self.database.read_sessions() as session:
            rows = await AuditTrail(session, self.tenant_id).page(
                where, before_id=before, limit=params.limit + 1
            )
        page = rows[: params.limit]
        cursor = None
        if len(rows) > params.limit:
            last = page[-1]
            cursor = self.cursors.encode(CURSOR_SORT, last.timestamp, uuid.UUID(int=last.id))
        return AuditPage(items=[entry(row) for row in page], next_cursor=cursor)

    async def export(self, since: datetime | None, after_seq: int = 0) -> AsyncIterator[bytes]:
        """The sealed rows in seq order as JSON Lines, a page per transaction."""
        after = after_seq
        while True:
            async with self.database.sessions() as session:
                rows = await AuditTrail(session, self.tenant_id).sealed_after(
                    after_seq=after, since=since, limit=EXPORT_PAGE
                )
                chunk = b"".join(export_line(row) for row in rows)
            if chunk:
                yield chunk
            if len(rows) < EXPORT_PAGE:
                return
            after = int(rows[-1].seq or 0)

    async def verify(self) -> ChainReport:
        """The chain verified from its newest anchor, at most VERIFY_ROW_BUDGET rows."""
        keyring = await load_keyring(self.database, self.settings)
        async with self.database.write_engine.connect() as connection:
            report = await verify_stored_chain(
                connection,
                chain_id_for(self.tenant_id),
                keyring.keyset(),
                now=self.clock.now(),
                retention_days=self.settings.audit_retention_days,
                row_budget=VERIFY_ROW_BUDGET,
            )
            await connection.rollback()
        return report
