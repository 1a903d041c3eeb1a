"""Making one mandate's evidence pack from the database (docs/audit-chain.md,
"Evidence queries, bounded"): a handful of indexed queries, whatever the chain's length.

1. The mandate's sealed audit rows (sealing and checkpointing its chain first
   when one is unsealed or past the newest checkpoint);
2. per covering checkpoint its JWS and its batch's row hashes (at most
   AUDIT_CHECKPOINT_MAX_ROWS), hence the inclusion proofs;
3. the verification re-run now with today's issuer keys, and as of ingest with
   the keys the issuer key history says were in force then;
4. the signed ZIP; the export itself is audited in the caller's transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.ap2.evidence import pack_files as ap2_pack_files
from app.audit import chain_repository as store
from app.audit.chain import chain_id_for
from app.audit.checkpoint import parse_checkpoint_payload
from app.audit.service import record
from app.audit.vault_keys import cached_keyring
from app.audit.worker import checkpoint_once, seal_once
from app.core.actor import Actor
from app.core.clock import SYSTEM_CLOCK, Clock
from app.core.config import Settings
from app.core.database import Database
from app.core.errors import NotFound
from app.core.logging import get_logger
from app.evidence.builder import (
    PackContents,
    PackFile,
    VerificationRecord,
    build_pack,
    prove_rows,
)
from app.evidence.documents import ProvenRow
from app.evidence.issuers import IssuerKeys, KeyVersion, StatusChange, issuers_as_of
from app.issuers.repository import issuers_for_dids, key_history
from app.keys import InvalidKeyMaterial, TrustSnapshot, b64url_decode
from app.mandates.repository import MandateRepository
from app.mandates.verification import referenced_issuers, verify_token
from app.models import Mandate
from app.signing import Keyring

log = get_logger(__name__)
EXPORTED = "mandate.evidence_exported"  # the audit row each export writes


@dataclass(frozen=True, slots=True)
class Pack:
    mandate_id: uuid.UUID
    data: bytes
    rows: int
    proven: int


def _snapshot(issuers: Sequence[IssuerKeys]) -> TrustSnapshot:
    usable = []
    for issuer in issuers:
        try:
            usable.append(issuer.trusted())
        except (InvalidKeyMaterial, ValueError):
            continue  # unusable keys: the engine answers as if the issuer were unknown
    return TrustSnapshot(usable)


class EvidenceService:
    def __init__(
        self,
        session: AsyncSession,
        database: Database,
        tenant_id: uuid.UUID,
        actor: Actor,
        settings: Settings,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.session = session
        self.database = database
        self.tenant_id = tenant_id
        self.actor = actor
        self.settings = settings
        self.clock = clock
        self.chain = chain_id_for(tenant_id)

    async def mandate(self, mandate_id: uuid.UUID) -> Mandate:
        mandate = await MandateRepository(self.session, self.tenant_id).get(mandate_id)
        if mandate is None:
            raise NotFound("mandate not found")
        return mandate

    async def _bring_under_checkpoint(self, mandate_id: str, keyring: Keyring) -> None:
        """Seal and checkpoint this chain now when the mandate's history needs it: a
        row of it not sealed yet, or sealed after the chain's last checkpoint. Earlier
        exports' own rows do not count (see `_proven_rows`), so exporting a mandate
        again costs no new checkpoint."""
        async with self.database.write_engine.connect() as connection:
            unsealed, newest = await store.resource_position(
                connection, self.chain, "mandate", mandate_id, skip_action=EXPORTED
            )
            head = await store.read_heads(connection, [self.chain])
            await connection.rollback()
        stored = head.get(self.chain)
        covered = stored is not None and (newest or 0) <= stored.last_checkpoint_seq
        if not unsealed and (newest is None or covered):
            return
        try:
            if unsealed:
                await seal_once(self.database, self.clock)
            await checkpoint_once(
                self.database, keyring, self.settings, self.clock, force=True, chains=[self.chain]
            )
        except Exception as error:  # packed without proofs for those rows (a warning)
            log.warning("evidence_checkpoint_failed", error=type(error).__name__)

    async def _proven_rows(self, mandate_id: str) -> tuple[list[ProvenRow], list[str]]:
        """The mandate's rows with inclusion proofs: three queries whatever the row count."""
        async with self.database.write_engine.connect() as connection:
            rows = await store.rows_of_resource(connection, self.chain, "mandate", mandate_id)
            found = await store.covering_checkpoints(connection, self.chain, [r.seq for r in rows])
            hashes = await store.batches_hashes(
                connection, self.chain, [(first, seq) for first, seq, _jws in found]
            )
            await connection.rollback()
        proven: list[ProvenRow] = []
        checkpoints: list[str] = []
        placed: set[int] = set()
        for first, seq, jws in found:
            members = [row for row in rows if first <= row.seq <= seq]
            if not members:
                continue
            batch = [hashes.get(n) for n in range(first, seq + 1)]
            checkpoint = parse_checkpoint_payload(verify_jws_payload(jws))
            if None in batch or checkpoint.first_seq != first or checkpoint.seq != seq:
                continue  # the batch lost rows (retention): these rows get no proof
            proven += prove_rows(members, checkpoint, [h for h in batch if h is not None])
            checkpoints.append(jws)
            placed.update(row.seq for row in members)
        # A row not under a checkpoint yet goes in without a proof (a warning), except
        # an earlier export's own row: it is proven in the packs made after the next
        # checkpoint, and is no part of the mandate's history.
        proven += [
            ProvenRow(row=row) for row in rows if row.seq not in placed and row.action != EXPORTED
        ]
        proven.sort(key=lambda p: p.row.seq)
        return proven, checkpoints

    async def _issuers(
        self, dids: Sequence[str], ingest: datetime
    ) -> tuple[tuple[IssuerKeys, ...], tuple[IssuerKeys, ...]]:
        current = await issuers_for_dids(self.session, self.tenant_id, dids)
        now_keys: dict[str, IssuerKeys] = {}
        for row in sorted(current, key=lambda r: r.tenant_id is None):
            if row.did not in now_keys:
                jwks: dict[str, Any] | None = dict(row.jwks) if row.jwks else None
                now_keys[row.did] = IssuerKeys(row.did, row.status, jwks)
        keys, statuses = await key_history(self.session, self.tenant_id, dids)
        versions = [KeyVersion(k.did, dict(k.jwk), k.valid_from, k.valid_until) for k in keys]
        changes = [StatusChange(s.did, s.status, s.since) for s in statuses]
        at_ingest = list(issuers_as_of(ingest, dids, versions, changes))
        known = {issuer.did for issuer in at_ingest}
        history_dids = {v.did for v in versions}
        for did in dids:
            # An issuer registered before the key history existed: its keys of today.
            if did not in known and did not in history_dids and did in now_keys:
                at_ingest.append(now_keys[did])
        return tuple(at_ingest), tuple(now_keys[d] for d in dids if d in now_keys)

    async def build(self, mandate_id: uuid.UUID) -> Pack:
        # Connections of their own first, before the request's unit of work holds one
        # (SQLite has a single writer): the keyring, sealing, the proofs. They read only
        # this tenant's chain, so an unknown id finds nothing there and is a 404 below.
        keyring = await cached_keyring(self.database, self.settings)
        key = str(mandate_id)
        await self._bring_under_checkpoint(key, keyring)
        rows, checkpoints = await self._proven_rows(key)
        mandate = await self.mandate(mandate_id)
        token = mandate.vc_jwt
        dids = sorted(referenced_issuers(token) | {mandate.issuer_did})
        at_ingest, now_issuers = await self._issuers(dids, mandate.created_at)
        now = self.clock.now()
        options: dict[str, Any] = {
            "leeway_seconds": self.settings.verify_leeway_seconds,
            "max_bytes": self.settings.mandate_max_token_bytes,
        }
        extra = [
            PackFile(path, data)
            for path, data in await ap2_pack_files(self.session, self.tenant_id, mandate)
        ]
        ingest_result = verify_token(token, _snapshot(at_ingest), now=mandate.created_at, **options)
        now_result = verify_token(token, _snapshot(now_issuers), now=now, **options)
        data = build_pack(
            PackContents(
                mandate_id=key,
                tenant_id=str(self.tenant_id),
                token=token,
                at_ingest=VerificationRecord(ingest_result, mandate.created_at, at_ingest),
                now=VerificationRecord(now_result, now, now_issuers),
                rows=rows,
                checkpoints=checkpoints,
                extra_files=extra,
            ),
            keyring,
            created_at=now,
        )
        proven = sum(1 for row in rows if row.checkpoint_seq is not None)
        await record(
            self.session,
            tenant_id=self.tenant_id,
            actor=self.actor,
            action=EXPORTED,
            resource_type="mandate",
            resource_id=mandate.id,
            details={"rows": len(rows), "proven": proven, "bytes": len(data)},
        )
        return Pack(mandate.id, data, len(rows), proven)

    async def audit_rows(self, mandate_id: uuid.UUID, limit: int) -> list[Any]:
        """The mandate's audit rows, newest first (404 for another tenant's mandate)."""
        from app.audit.repository import AuditTrail

        mandate = await self.mandate(mandate_id)
        return await AuditTrail(self.session, self.tenant_id).for_resource(
            "mandate", str(mandate.id), limit=limit
        )


def verify_jws_payload(jws: str) -> bytes:
    """The payload of a checkpoint JWS read from our own table (its signature is the
    verifier's business, offline; here only its members matter)."""
    return b64url_decode(jws.split(".")[1])
