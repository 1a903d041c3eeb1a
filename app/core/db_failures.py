"""Which database failures mean "the database is out or busy", read from the driver.

SQLAlchemy hands asyncpg's connection failures over as a plain `DBAPIError`
(the dialect emulates DB-API classes and maps most server errors to the base
`Error`), so the class SQLAlchemy chose says little. The driver exception
underneath does: its SQLSTATE, or the Python networking error it is. One
function decides, and every caller (the problem handler, the auth dependency,
the CLI kit) asks it.
"""

from __future__ import annotations

import enum
import sqlite3

from sqlalchemy import exc as sa_exc


class DbFailure(enum.StrEnum):
    UNAVAILABLE = "unavailable"  # refused, shutting down, lost mid-query, TLS refused
    BUSY = "busy"  # no pooled connection free in time, server out of connection slots


# SQLSTATE prefixes of PostgreSQL errors that mean the server cannot serve now.
_UNAVAILABLE_STATES = (
    "08",  # connection exception: does not exist, failure, rejected, cannot connect
    "57P01",  # admin_shutdown (pg_terminate_backend, fast shutdown)
    "57P02",  # crash_shutdown
    "57P03",  # cannot_connect_now (starting up or shutting down)
    "57P04",  # database_dropped
    "58",  # system error (I/O)
)
_BUSY_STATES = ("53300", "53400", "57014")  # too many connections, config limit, statement timeout
_SQLITE_BUSY = ("database is locked", "database table is locked")


def driver_error(error: BaseException) -> BaseException:
    """The exception the driver itself raised, under SQLAlchemy's wrappers."""
    found: BaseException = error
    for _ in range(4):
        inner = getattr(found, "orig", None)
        if not isinstance(inner, BaseException) or inner is found:
            break
        found = inner
    return found


def sqlstate(error: BaseException) -> str | None:
    state = getattr(driver_error(error), "sqlstate", None)
    return state if isinstance(state, str) else None


def _asyncpg_interface_error(error: BaseException) -> bool:
    try:
        from asyncpg import exceptions as pg
    except ImportError:  # pragma: no cover - asyncpg is a dependency
        return False
    return isinstance(error, pg.InterfaceError)


def classify(error: BaseException) -> DbFailure | None:
    """UNAVAILABLE or BUSY for a connection-class failure; None for anything else
    (a bad query, a constraint, a bug), which stays a 500 or its own error."""
    if isinstance(error, sa_exc.TimeoutError):  # the pool's own wait ran out
        return DbFailure.BUSY
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return DbFailure.UNAVAILABLE
    driver = driver_error(error)
    state = getattr(driver, "sqlstate", None)
    if isinstance(state, str):
        if state.startswith(_BUSY_STATES):
            return DbFailure.BUSY
        if state.startswith(_UNAVAILABLE_STATES):
            return DbFailure.UNAVAILABLE
        return None
    if isinstance(driver, sqlite3.OperationalError):
        message = str(driver)
        return DbFailure.BUSY if message.startswith(_SQLITE_BUSY) else DbFailure.UNAVAILABLE
    if isinstance(driver, sqlite3.InterfaceError | sqlite3.DatabaseError) and not isinstance(
        driver, sqlite3.IntegrityError | sqlite3.ProgrammingError | sqlite3.DataError
    ):
        return DbFailure.UNAVAILABLE
    # Refused, reset, unreachable, DNS, TLS refused or failed, connect timeout.
    if isinstance(driver, OSError):  # ConnectionError, TimeoutError and ssl.SSLError included
        return DbFailure.UNAVAILABLE
    if _asyncpg_interface_error(driver):
        # "connection is closed", "cannot perform operation: connection is closed",
        # a connection lost while the pool handed it out.
        return DbFailure.UNAVAILABLE
    if isinstance(error, sa_exc.OperationalError | sa_exc.InterfaceError):
        return DbFailure.UNAVAILABLE
    return None
