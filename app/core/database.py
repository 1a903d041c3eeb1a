"""Engines, sessions and pool figures.

`Database` owns a write engine and, when `READ_DB_URL` is set, a read engine.
The application's lifespan creates one and disposes it. Scripts and the
operations guide's snippet use the process-wide instance through the module
attributes `engine` and `read_engine`:

    from app.core.database import engine
    engine.pool.size()
"""

from __future__ import annotations

import ssl
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from app.core import jsoncodec
from app.core.config import SSL_MODES, Settings, backend_of, get_settings
from app.core.driver import AUTOCOMMIT_BIND, SOLE_WRITE_BIND


def _sqlite_hooks(engine: AsyncEngine, settings: Settings, *, writer: bool) -> None:
    """Pragmas on every connection; explicit BEGIN so SQLAlchemy owns transactions.

    The writer starts transactions with BEGIN IMMEDIATE: the write lock is taken
    up front and waits on `busy_timeout`, instead of failing with "database is
    locked" when a deferred reader tries to upgrade to a writer.
    """
    begin = "BEGIN IMMEDIATE" if writer else "BEGIN"

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(settings.sqlite_busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql(begin)


def _ping_when_idle(engine: AsyncEngine, idle_seconds: float) -> None:
    """Test a pooled connection before use when it sat idle `idle_seconds` or more.

    SQLAlchemy's own pre-ping tests every checkout: three round trips on
    PostgreSQL (BEGIN, a query, ROLLBACK) on every request. A connection that
    was in use a moment ago is almost never dead, and when it is (the server
    restarted under load) the statement fails, the request answers 503 with
    Retry-After and the pool drops every connection opened before the failure.
    A failed ping raises DisconnectionError: the pool replaces the connection and
    checks out again.
    """
    pool = engine.sync_engine.pool
    dialect = engine.sync_engine.dialect

    @event.listens_for(pool, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info["checked_in_at"] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("checked_in_at")
        if since is None or time.monotonic() - since < idle_seconds:
            return  # fresh from connect, or in steady use
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as error:
            raise exc.DisconnectionError(f"pooled connection failed its ping: {error}") from error


def pg_ssl_mode(url: URL) -> str | None:
    """The TLS mode a PostgreSQL URL asks for (`?ssl=` or libpq's `?sslmode=`)."""
    mode = url.query.get("ssl") or url.query.get("sslmode")
    if isinstance(mode, tuple):
        mode = mode[-1]
    return str(mode) if mode else None


def pg_ssl_argument(url: URL, settings: Settings) -> tuple[URL, Any]:
    """The URL without its TLS query and the `ssl` argument for asyncpg.

    `verify-full`/`verify-ca` with DB_SSL_CA_FILE get an SSLContext that trusts
    that bundle (host name checked for verify-full); other modes pass through.
    """
    mode = pg_ssl_mode(url)
    if mode is None:
        return url, None
    if mode not in SSL_MODES:
        raise ValueError(f"unknown TLS mode ssl={mode} (one of {', '.join(SSL_MODES)})")
    url = url.difference_update_query(["ssl", "sslmode"])
    if mode in ("verify-ca", "verify-full") and settings.db_ssl_ca_file:
        context = ssl.create_default_context(cafile=settings.db_ssl_ca_file)
        context.check_hostname = mode == "verify-full"
        return url, context
    return url, mode


def create_engine_for(
    url: URL,
    settings: Settings,
    *,
    writer: bool = True,
    pooled: bool = True,
    ping_idle_seconds: float | None = None,
) -> AsyncEngine:
    """An async engine with the pool settings; SQLite gets its pragmas.

    `pooled=False` (one-off jobs: backup, copy, retention) opens a connection
    per use and keeps none. `ping_idle_seconds` overrides
    DB_POOL_PRE_PING_IDLE_SECONDS (the replica's engine tests every checkout).
    """
    idle = (
        settings.db_pool_pre_ping_idle_seconds if ping_idle_seconds is None else ping_idle_seconds
    )
    options: dict[str, Any] = (
        {
            "pool_size": settings.pool_size,
            "max_overflow": settings.max_overflow,
            "pool_timeout": settings.db_pool_timeout,
            "pool_recycle": settings.db_pool_recycle,
        }
        if pooled
        else {"poolclass": NullPool}
    )
    # Statement parameters (emails, token hashes, labels) never appear in an
    # exception's text, so no log line or traceback can carry them.
    options["hide_parameters"] = True
    options["json_serializer"] = jsoncodec.dumps
    options["json_deserializer"] = jsoncodec.loads
    if backend_of(url) == "sqlite":
        options["connect_args"] = {"timeout": settings.sqlite_busy_timeout_ms / 1000}
        engine = create_async_engine(url, **options)
        _sqlite_hooks(engine, settings, writer=writer)
        if pooled and settings.db_pool_pre_ping:
            _ping_when_idle(engine, idle)
        return engine
    url, ssl_argument = pg_ssl_argument(url, settings)
    options["connect_args"] = {
        "timeout": settings.db_connect_timeout,
        "server_settings": {"application_name": "mandate-vault"},
    }
    if ssl_argument is not None:
        options["connect_args"]["ssl"] = ssl_argument
    engine = create_async_engine(url, **options)
    if pooled and settings.db_pool_pre_ping:
        _ping_when_idle(engine, idle)
    return engine


def pool_figures(engine: AsyncEngine) -> dict[str, int]:
    pool = engine.pool
    figures = {}
    for name, method in (
        ("size", "size"),
        ("checked_out", "checkedout"),
        ("overflow", "overflow"),
        ("checked_in", "checkedin"),
    ):
        getter = getattr(pool, method, None)
        figures[name] = int(getter()) if getter else 0
    # QueuePool counts overflow from -pool_size (negative until the pool is full);
    # reported as what it means: connections open beyond the pool size.
    figures["overflow"] = max(0, figures["overflow"])
    return figures


def _autocommit(engine: AsyncEngine) -> AsyncEngine:
    """`engine` in autocommit on PostgreSQL (the same pool; asyncpg sets the mode
    without a round trip); SQLite's engines stay as they are, their transactions
    being what WAL readers need."""
    if engine.dialect.name != "postgresql":
        return engine
    return engine.execution_options(isolation_level="AUTOCOMMIT")


def _driver(bind: AsyncEngine | AsyncConnection) -> dict[str, Any]:
    """A read session's info: on PostgreSQL (autocommit), the bind its hot reads
    may send on the driver directly (`app.core.driver`)."""
    return {AUTOCOMMIT_BIND: bind} if bind.dialect.name == "postgresql" else {}


def _holds_something(session: AsyncSession) -> bool:
    """A transaction, loaded or pending rows: what only closing the session lets go."""
    return bool(session.in_transaction() or session.identity_map or session.new)


@asynccontextmanager
async def closed_if_used(session: AsyncSession) -> AsyncIterator[AsyncSession]:
    """`session`, closed when the block ends only if it holds something: a
    transaction, loaded or pending rows. SQLAlchemy's `async with` exit closes a
    session in a task of its own, shielded from cancellation, which costs about
    as much as a pool checkout; a read the driver answered (`app.core.driver`), or
    a unit of work whose writes went there and committed, holds nothing to close.
    A session that holds something is closed by that same exit."""
    try:
        yield session
    finally:
        if _holds_something(session):
            async with session:  # SQLAlchemy's own, cancellation-safe close
                pass


class _ReadSessions:
    """Read sessions on one engine, each used again when a read left it as it
    was made: no transaction, no rows, the same `info`. A read the driver answers
    never touches its session, and building one costs about as much as that read.
    A session that holds something is closed (`closed_if_used`) and not kept."""

    KEEP = 64

    def __init__(self, bind: AsyncEngine) -> None:
        self.bind = bind
        self.info = _driver(bind)
        self._idle: list[AsyncSession] = []

    def session(self) -> _KeptSession:
        return _KeptSession(self)

    def _take(self) -> AsyncSession:
        idle = self._idle
        if idle:
            return idle.pop()
        return AsyncSession(self.bind, expire_on_commit=False, info=self.info)

    async def _give_back(self, session: AsyncSession) -> None:
        if _holds_something(session):
            async with session:  # closed as closed_if_used closes it
                pass
        elif session.info == self.info and len(self._idle) < self.KEEP:
            self._idle.append(session)


class _KeptSession:
    """`async with` one of `_ReadSessions`' sessions. A class rather than a
    generator-based context manager: this wraps every read on the primary, and a
    generator's entry and exit cost several times these two calls."""

    __slots__ = ("_sessions", "_session")

    def __init__(self, sessions: _ReadSessions) -> None:
        self._sessions = sessions
        self._session: AsyncSession | None = None

    async def __aenter__(self) -> AsyncSession:
        self._session = self._sessions._take()
        return self._session

    async def __aexit__(self, *_exc: object) -> None:
        session, self._session = self._session, None
        if session is not None:
            await self._sessions._give_back(session)


def _read_session(
    bind: AsyncEngine | AsyncConnection,
) -> AbstractAsyncContextManager[AsyncSession]:
    """A session for reads, closed if used."""
    return closed_if_used(AsyncSession(bind, expire_on_commit=False, info=_driver(bind)))


# Failures that mean "this server cannot be reached", as opposed to a bad query.
UNREACHABLE = (OSError, TimeoutError, ConnectionError, exc.OperationalError, exc.InterfaceError)


class Database:
    """The write engine, the optional read engine and their session factories.

    `read_sessions()` opens a session on the replica when `READ_DB_URL` is set.
    On PostgreSQL read sessions (and `primary_reads()`, reads that must see the
    primary) run in autocommit: each statement sees the latest committed data
    and no BEGIN/COMMIT round trips are spent on reads; code that writes uses
    `sessions()`.
    When the replica cannot be reached the session is opened on the primary
    instead, `on_read_fallback` hooks are told (the metrics count it), and the
    replica is left alone for `READ_DB_RETRY_SECONDS` before it is tried again.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.write_engine = create_engine_for(settings.database, settings, writer=True)
        read_url = settings.read_database
        if read_url is not None:
            # Every checkout of a replica connection is tested: a replica that went
            # away is noticed before a read is sent to it, and reads fall back.
            self.read_engine: AsyncEngine | None = create_engine_for(
                read_url, settings, writer=False, ping_idle_seconds=0
            )
        elif settings.backend == "sqlite":
            # WAL lets readers run beside the writer; give them their own
            # connections with deferred transactions so they never queue
            # behind BEGIN IMMEDIATE.
            self.read_engine = create_engine_for(settings.database, settings, writer=False)
        else:
            self.read_engine = None
        self.sessions = async_sessionmaker(self.write_engine, expire_on_commit=False)
        self._primary_reads = _autocommit(self.write_engine)
        self._primary_read_sessions = _ReadSessions(self._primary_reads)
        self._sole_writes = (
            {SOLE_WRITE_BIND: self._primary_reads}
            if self.write_engine.dialect.name == "postgresql"
            else {}
        )
        self._replica_down_until = 0.0
        self.read_fallbacks = 0
        self.on_read_fallback: list[Callable[[str], None]] = []

    @property
    def has_replica(self) -> bool:
        return self.settings.read_database is not None and self.read_engine is not None

    def _fell_back(self, reason: str) -> None:
        self.read_fallbacks += 1
        for hook in self.on_read_fallback:
            hook(reason)

    def read_sessions(self) -> AbstractAsyncContextManager[AsyncSession]:
        """A session for reads that tolerate replica lag (primary when no replica answers)."""
        if not self.has_replica:
            if self.read_engine is None:
                return self._primary_read_sessions.session()
            return _read_session(self.read_engine)
        return self._replica_reads()

    @asynccontextmanager
    async def _replica_reads(self) -> AsyncIterator[AsyncSession]:
        assert self.read_engine is not None
        engine = _autocommit(self.read_engine)
        connection = None
        if time.monotonic() >= self._replica_down_until:
            try:
                connection = await engine.connect()
            except UNREACHABLE as error:
                self._replica_down_until = time.monotonic() + self.settings.read_db_retry_seconds
                self._fell_back(type(error).__name__)
        else:
            self._fell_back("replica_marked_down")
        if connection is None:
            async with self.primary_reads() as session:
                yield session
            return
        try:
            async with _read_session(connection) as session:
                yield session
        finally:
            await connection.close()

    def unit_of_work_session(self) -> AsyncSession:
        """A session for one unit of work on the primary. On PostgreSQL its sole
        write may be sent alone in autocommit (`app.core.driver.write_rows`)."""
        return self.sessions(info=self._sole_writes)

    def primary_reads(self) -> AbstractAsyncContextManager[AsyncSession]:
        """A session for reads on the primary (autocommit on PostgreSQL)."""
        return self._primary_read_sessions.session()

    @asynccontextmanager
    async def fresh_reads(self) -> AsyncIterator[AsyncSession]:
        """Reads that must see the latest commit and never take the write lock: a
        background job asking whether it has work. The primary in autocommit on
        PostgreSQL (never the replica), the deferred read connections on SQLite
        (the writer's BEGIN IMMEDIATE would queue behind, or block, the writers)."""
        if self.backend == "sqlite" and self.read_engine is not None:
            async with _read_session(self.read_engine) as session:
                yield session
            return
        async with self.primary_reads() as session:
            yield session

    @property
    def backend(self) -> str:
        return self.settings.backend

    def engines(self) -> dict[str, AsyncEngine]:
        found = {"write": self.write_engine}
        if self.read_engine is not None:
            found["read"] = self.read_engine
        return found

    def pool_status(self) -> dict[str, dict[str, int]]:
        return {name: pool_figures(engine) for name, engine in self.engines().items()}

    async def dispose(self) -> None:
        for engine in self.engines().values():
            await engine.dispose()


_default: Database | None = None


def get_database() -> Database:
    """The process-wide Database built from the environment's settings."""
    global _default
    if _default is None:
        _default = Database(get_settings())
    return _default


def pool_status() -> dict[str, dict[str, int]]:
    return get_database().pool_status()


def __getattr__(name: str) -> Any:
    if name == "engine":
        return get_database().write_engine
    if name == "read_engine":
        database = get_database()
        return database.read_engine or database.write_engine
    raise AttributeError(name)
