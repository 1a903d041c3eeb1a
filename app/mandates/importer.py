"""Streaming a JSON Lines file of tokens through the ingest path.

Each line is a JSON object with `vc_jwt` (and optional `retention_days`,
`labels`) or a JSON string holding the token. Lines are committed in chunks,
so a large file never sits in memory or in one transaction; each chunk goes
through the bulk ingest (app.mandates.bulk), answered item by item as `ingest`.
"""

from __future__ import annotations

import gc
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import orjson
from pydantic import ValidationError

from app.core.actor import Actor
from app.core.config import Settings
from app.core.database import Database
from app.issuers.trust import TrustLoader
from app.mandates.bulk import Verifying, start_verifying, store_verified
from app.mandates.schemas import MandateCreate
from app.mandates.service import MandateService
from app.mandates.verifier_pool import VerifierPool

CHUNK = 2000
# Chunks verifying while the oldest is written.
IN_FLIGHT = 2


@dataclass
class ImportSummary:
    lines: int = 0
    created: int = 0
    duplicates: int = 0
    codes: Counter[str] = field(default_factory=Counter)


def parse_line(line: bytes) -> MandateCreate | str:
    """A request, or the code explaining why the line is unusable."""
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError:
        return "INVALID_LINE"
    try:
        if isinstance(value, str):
            return MandateCreate(vc_jwt=value)
        return MandateCreate.model_validate(value)
    except ValidationError:
        return "INVALID_LINE"


async def import_lines(
    database: Database,
    tenant_id: uuid.UUID,
    lines: Iterable[bytes],
    settings: Settings,
    trust: TrustLoader,
    progress: Callable[[int], None] = lambda n: None,
    actor: Actor | None = None,
    pool: VerifierPool | None = None,
) -> ImportSummary:
    """Chunks of `CHUNK` lines through the bulk ingest, one transaction each; while a
    chunk is written the next ones verify in the pool."""
    summary = ImportSummary()
    actor = actor or Actor.system("cli-import")
    pending: deque[tuple[int, Verifying | None]] = deque()

    async def start(chunk: list[bytes]) -> tuple[int, Verifying | None]:
        requests = []
        for raw in chunk:
            request = parse_line(raw)
            if isinstance(request, str):
                summary.codes[request] += 1
            else:
                requests.append(request)
        if not requests:
            return len(chunk), None
        # Issuers are read in a short session of their own: the chunk's transaction
        # opens only once its tokens have verified.
        async with database.sessions() as session:
            service = MandateService(session, tenant_id, actor, trust, settings)
            return len(chunk), await start_verifying(service, requests, pool)

    async def finish(count: int, verifying: Verifying | None) -> None:
        if verifying is not None:
            async with database.sessions() as session, session.begin():
                service = MandateService(session, tenant_id, actor, trust, settings)
                outcomes = await store_verified(service, verifying)
            for outcome in outcomes:
                summary.codes[outcome.result.code.value] += 1
                summary.created += outcome.created
                summary.duplicates += outcome.mandate is not None and not outcome.created
        progress(count)

    chunk: list[bytes] = []
    # The process's long-lived objects (modules, engines) leave the collector's sight
    # for the import: its full passes would walk them every few thousand rows.
    gc.freeze()
    try:
        for line in lines:
            if not line.strip():
                continue
            summary.lines += 1
            chunk.append(line)
            if len(chunk) >= CHUNK:
                pending.append(await start(chunk))
                chunk = []
                if len(pending) > IN_FLIGHT:
                    await finish(*pending.popleft())
        if chunk:
            pending.append(await start(chunk))
        while pending:
            await finish(*pending.popleft())
    finally:
        gc.unfreeze()
        for _count, verifying in pending:
            if verifying is not None:
                verifying.results.cancel()
    return summary
