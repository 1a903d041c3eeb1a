"""Streaming a JSON Lines file of tokens through the ingest path.

Each line is a JSON object with `vc_jwt` (and optional `retention_days`,
`labels`) or a JSON string holding the token. Lines are committed in chunks,
so a large file never sits in memory or in one transaction.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import orjson
from pydantic import ValidationError

from app.core.actor import Actor
from app.core.config import Settings
from app.core.database import Database
from app.issuers.trust import TrustLoader
from app.mandates.schemas import MandateCreate
from app.mandates.service import MandateService

CHUNK = 200


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
) -> ImportSummary:
    summary = ImportSummary()
    actor = actor or Actor.system("cli-import")
    chunk: list[bytes] = []

    async def flush() -> None:
        async with database.sessions() as session, session.begin():
            service = MandateService(session, tenant_id, actor, trust, settings)
            for raw in chunk:
                request = parse_line(raw)
                if isinstance(request, str):
                    summary.codes[request] += 1
                    continue
                outcome = await service.ingest(request)
                summary.codes[outcome.result.code.value] += 1
                summary.created += outcome.created
                summary.duplicates += outcome.mandate is not None and not outcome.created
        progress(len(chunk))
        chunk.clear()

    for line in lines:
        if not line.strip():
            continue
        summary.lines += 1
        chunk.append(line)
        if len(chunk) >= CHUNK:
            await flush()
    if chunk:
        await flush()
    return summary
