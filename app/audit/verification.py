"""Verifying the chains stored in the database, memory flat, from the newest anchor on.

Per chain: the recorded head (rows sealed after it is read are left for the next
run), the newest retention anchor, then rows page by page in seq order with the
checkpoints of each page fed before its rows (app.audit.verify.ChainVerifier).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from app.audit import chain_repository as store
from app.audit.report import ChainReport
from app.audit.verify import ChainVerifier
from app.signing import KeySet


async def verify_stored_chain(
    connection: AsyncConnection,
    chain: str,
    keys: KeySet,
    *,
    now: datetime,
    retention_days: int,
    row_budget: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> ChainReport:
    """Verify one chain; with `row_budget`, stop after that many rows (report incomplete)."""
    head = await store.head_of(connection, chain)
    anchor = await store.newest_anchor(connection, chain)
    verifier = ChainVerifier(
        chain,
        keys,
        anchor=anchor,
        expected_head=head,
        retention_horizon=now - timedelta(days=retention_days),
    )
    start = anchor.last_seq if anchor is not None else 0
    upto = head.seq if head is not None else 0
    fed = start
    checked = 0
    complete = True
    pages = store.pages_with_checkpoints(connection, chain, after=start, upto=upto)
    async with contextlib.aclosing(pages):
        async for page, pending in pages:
            page_end = page[-1].seq
            fed = page_end
            index = 0
            stop = False
            for row in page:
                while index < len(pending) and pending[index].seq <= row.seq:
                    verifier.add_checkpoint(pending[index])
                    index += 1
                if not verifier.add_row(row):
                    stop = True
                    break
            for checkpoint in pending[index:]:
                if stop:
                    break
                verifier.add_checkpoint(checkpoint)
            checked += len(page)
            if progress is not None:
                progress(len(page))
            if stop:
                break
            if row_budget is not None and checked >= row_budget and page_end < upto:
                complete = False
                break
        else:
            # Up to the head read first: a checkpoint signed since belongs to the next run.
            tail = await store.stored_checkpoints(connection, chain, after=fed, upto=upto)
            for checkpoint in tail:
                verifier.add_checkpoint(checkpoint)
    return verifier.finish(complete=complete or verifier.done)


async def all_chains(connection: AsyncConnection) -> list[str]:
    return await store.chain_ids(connection)
