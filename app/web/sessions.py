"""Database sessions for requests: one unit of work per request on the primary,
or a session for reads that tolerate replica lag."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from app.web.state import DatabaseDep


async def write_session(database: DatabaseDep) -> AsyncIterator[AsyncSession]:
    """Committed when the handler returns, rolled back when it raises."""
    async with database.sessions() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


async def read_session(database: DatabaseDep) -> AsyncIterator[AsyncSession]:
    async with database.read_sessions() as session:
        yield session


# scope="function": commit before the response is sent, so a failed commit is
# never reported to the client as a success.
SessionDep = Annotated[AsyncSession, Depends(write_session, scope="function")]
ReadSessionDep = Annotated[AsyncSession, Depends(read_session, scope="function")]
