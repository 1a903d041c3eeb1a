"""The bulk ingest's queries on `mandates`, scoped to one tenant like every other."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from app.core.multirow import insert_many
from app.core.repository import TenantScopedRepository
from app.models import Mandate
from app.models.base import table_of

_MANDATES = table_of(Mandate)
_LOOKUP_CHUNK = 1000


class BulkMandateRepository(TenantScopedRepository[Mandate]):
    model = Mandate

    async def stored(self, digests: Sequence[str]) -> dict[str, Mandate]:
        """This tenant's mandates among these token hashes, by hash."""
        found: dict[str, Mandate] = {}
        unique = sorted(set(digests))
        for start in range(0, len(unique), _LOOKUP_CHUNK):
            part = unique[start : start + _LOOKUP_CHUNK]
            query = self.base().where(Mandate.token_sha256.in_(part))
            for mandate in await self.session.scalars(query):
                found[mandate.token_sha256] = mandate
        return found

    async def insert_new(self, rows: Sequence[dict[str, Any]]) -> set[str]:
        """INSERT the rows this tenant does not hold yet (one statement); the hashes written.

        ON CONFLICT DO NOTHING, as a single ingest: a row a concurrent request
        stored first is skipped, not an error.
        """
        for row in rows:
            self.owns(row)
        written = await insert_many(
            self.session,
            _MANDATES,
            rows,
            skip_conflicts_on=("tenant_id", "token_sha256"),
            returning="token_sha256",
        )
        return set(written)
