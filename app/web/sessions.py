"""Database sessions for requests: one unit of work per request on the primary,
or a session for reads that tolerate replica lag."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.database import Database, closed_if_used
from app.core.driver import WROTE_ALONE
from app.web.state import DATABASE


@asynccontextmanager
async def unit_of_work(database: Database) -> AsyncIterator[AsyncSession]:
    """A session on the primary, committed when the block ends, rolled back when it raises.

    A write sent alone (`write_rows(..., sole=True)`) committed when it ran; a
    block that then ran anything else in the session is refused and rolled back.
    """
    async with closed_if_used(database.unit_of_work_session()) as session:
        try:
            yield session
            if session.info.get(WROTE_ALONE) and session.in_transaction():
                raise RuntimeError("a unit of work ran statements after its sole write")
            if session.in_transaction() or session.new or session.dirty or session.deleted:
                await session.commit()
        except BaseException:
            await session.rollback()
            raise


async def write_session(request: Request) -> AsyncIterator[AsyncSession]:
    """Committed when the handler returns, rolled back when it raises."""
    async with unit_of_work(DATABASE.get(request)) as session:
        yield session


async def read_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with DATABASE.get(request).read_sessions() as session:
        yield session


# scope="function": commit before the response is sent, so a failed commit is
# never reported to the client as a success.
SessionDep = Annotated[AsyncSession, Depends(write_session, scope="function")]
ReadSessionDep = Annotated[AsyncSession, Depends(read_session, scope="function")]
