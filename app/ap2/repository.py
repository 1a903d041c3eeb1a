"""Every query of the AP2 v0.2 feature: ledgers (locked per root), approvals, receipts,
stored v0.2 mandates, and the tenant's active root-key issuers. Tenant scoped by base."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, exists, literal_column, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.core.repository import TenantScopedRepository
from app.issuers.repository import _COLUMNS, IssuerRecord, IssuerRepository
from app.keys import IssuerStatus
from app.mandates.repository import MandateRepository
from app.models import Ap2Approval, Ap2Ledger, Ap2Receipt, Ap2Rejection, Issuer, Mandate
from app.models.mandate import MandateFormat

_LEDGER_KEY = ["tenant_id", "open_mandate_hash"]


def _insert_ledger(dialect: str, values: dict[str, Any]) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING the new ledger row (ORM)."""
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    return (
        insert(Ap2Ledger)
        .values(values)
        .on_conflict_do_nothing(index_elements=_LEDGER_KEY)
        .returning(Ap2Ledger)
        .execution_options(populate_existing=True)
    )


class RootIssuerRepository(IssuerRepository):
    """The issuers whose JWKS keys may sign a v0.2 root or a receipt for this tenant."""

    async def active_records(self) -> list[IssuerRecord]:
        """Own and global active issuers that hold keys (a JWKS, given or fetched)."""
        query = select(*_COLUMNS).where(
            self._visible_clause(), Issuer.status == IssuerStatus.ACTIVE, Issuer.jwks.is_not(None)
        )
        return [IssuerRecord(*row) for row in await self.session.execute(query)]


class LedgerRepository(TenantScopedRepository[Ap2Ledger]):
    model = Ap2Ledger

    def _dialect(self) -> str:
        return self.session.get_bind().dialect.name

    async def find(self, open_mandate_hash: str) -> Ap2Ledger | None:
        """The ledger as committed now (no lock): reads and dry runs."""
        query = (
            self.base()
            .where(Ap2Ledger.open_mandate_hash == open_mandate_hash)
            .execution_options(populate_existing=True)
        )
        return await self.session.scalar(query)

    async def lock(
        self, open_mandate_hash: str, family: str | None, now: datetime
    ) -> tuple[Ap2Ledger, bool]:
        """The ledger row, made if new, locked until the transaction ends.

        INSERT ... ON CONFLICT DO NOTHING RETURNING: a row it returns is new and this
        transaction's own (a concurrent insert of the same key waits for it to end), so
        a new ledger costs one statement. Otherwise SELECT ... FOR UPDATE on
        PostgreSQL, so concurrent presentations under one root queue on that row and
        each reads what the one before committed (a fresh snapshot after the wait).
        SQLite: the writer's BEGIN IMMEDIATE already holds the database's single write
        lock. Also says whether this call made the row.
        """
        values: dict[str, Any] = {
            "id": uuid.uuid4(),
            "tenant_id": self.tenant_id,
            "open_mandate_hash": open_mandate_hash,
            "family": family,
            "occurrences": 0,
            "spent": {},
            "created_at": now,
            "updated_at": now,
        }
        self.owns(values)
        made = await self.session.scalar(_insert_ledger(self._dialect(), values))
        if made is not None:
            return made, True
        query = (
            self.base()
            .where(Ap2Ledger.open_mandate_hash == open_mandate_hash)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        row = await self.session.scalar(query)
        if row is None:  # pragma: no cover - present just above, and ledgers are not deleted
            raise RuntimeError("the ledger row vanished under its lock")
        return row, False

    async def forget(self, ledger: Ap2Ledger) -> None:
        """Remove a ledger row this transaction made for a presentation that was refused."""
        await self.session.execute(delete(Ap2Ledger).where(self.scope(), Ap2Ledger.id == ledger.id))

    async def record(
        self,
        ledger: Ap2Ledger,
        *,
        occurrences: int,
        spent: dict[str, int],
        approved_at: datetime,
        family: str,
    ) -> None:
        await self.session.execute(
            update(Ap2Ledger)
            .where(self.scope(), Ap2Ledger.id == ledger.id)
            .values(
                occurrences=occurrences,
                spent=spent,
                last_approval_at=approved_at,
                family=family,
                updated_at=approved_at,
            )
        )

    async def revoke(self, ledger: Ap2Ledger, reason: str, now: datetime) -> None:
        await self.session.execute(
            update(Ap2Ledger)
            .where(self.scope(), Ap2Ledger.id == ledger.id)
            .values(revoked_at=now, revocation_reason=reason, updated_at=now)
        )


class ApprovalRepository(TenantScopedRepository[Ap2Approval]):
    model = Ap2Approval

    async def leaf_approved(self, leaf_jwt_hash: str) -> bool:
        """Whether this leaf JWT was approved before anywhere in the tenant (replay)."""
        query = select(
            exists(
                select(literal_column("1")).where(
                    self.scope(), Ap2Approval.leaf_jwt_hash == leaf_jwt_hash
                )
            )
        )
        return bool(await self.session.scalar(query))

    async def of_ledger(self, ledger_id: Any, limit: int = 1000) -> list[Ap2Approval]:
        query = (
            self.base()
            .where(Ap2Approval.ledger_id == ledger_id)
            .order_by(Ap2Approval.approved_at, Ap2Approval.id)
            .limit(limit)
        )
        return list(await self.session.scalars(query))


class ReceiptRepository(TenantScopedRepository[Ap2Receipt]):
    model = Ap2Receipt

    async def by_sha(self, jwt_sha256: str) -> Ap2Receipt | None:
        return await self.session.scalar(self.base().where(Ap2Receipt.jwt_sha256 == jwt_sha256))

    async def of_mandate(self, mandate_id: Any) -> list[Ap2Receipt]:
        query = (
            self.base()
            .where(Ap2Receipt.mandate_id == mandate_id)
            .order_by(Ap2Receipt.created_at, Ap2Receipt.id)
        )
        return list(await self.session.scalars(query))


class Ap2MandateRepository(MandateRepository):
    """Stored v0.2 chains (rows of `mandates` with format ap2-v0.2)."""

    def v02(self) -> Any:
        return self.base().where(Mandate.format == MandateFormat.AP2_V02)

    async def by_reference(self, reference: str) -> Mandate | None:
        """The stored closed mandate whose spec- or SDK-form reference is `reference`."""
        query = (
            self.v02()
            .where(or_(Mandate.reference == reference, Mandate.reference_sdk == reference))
            .order_by(Mandate.created_at, Mandate.id)
            .limit(1)
        )
        return await self.session.scalar(query)

    async def checkout_by_hash(self, checkout_hash: str) -> Mandate | None:
        query = (
            self.v02()
            .where(Mandate.mandate_type == "checkout", Mandate.transaction_id == checkout_hash)
            .order_by(Mandate.created_at, Mandate.id)
            .limit(1)
        )
        return await self.session.scalar(query)

    async def latest_of_ledger(self, open_mandate_hash: str) -> Mandate | None:
        query = (
            self.v02()
            .where(Mandate.open_mandate_hash == open_mandate_hash)
            .order_by(Mandate.created_at.desc(), Mandate.id.desc())
            .limit(1)
        )
        return await self.session.scalar(query)


class RejectionRepository(TenantScopedRepository[Ap2Rejection]):
    """Genuine chains refused in stage D, newest first."""

    model = Ap2Rejection

    async def search(
        self,
        *,
        limit: int,
        after: tuple[datetime, uuid.UUID] | None = None,
        **equal: str | None,
    ) -> list[Ap2Rejection]:
        """Up to `limit` rows matching every given column value, older than `after`."""
        query = self.base()
        for name, value in equal.items():
            if value is not None:
                query = query.where(getattr(Ap2Rejection, name) == value)
        if after is not None:
            at, row_id = after
            query = query.where(
                or_(
                    Ap2Rejection.created_at < at,
                    and_(Ap2Rejection.created_at == at, Ap2Rejection.id < row_id),
                )
            )
        query = query.order_by(Ap2Rejection.created_at.desc(), Ap2Rejection.id.desc())
        return list(await self.session.scalars(query.limit(limit)))
