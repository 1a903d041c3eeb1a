"""The ASGI application: `create_app()` wires it; `app` is built on first access.

Nothing touches the database at import. The lifespan opens the engines and
disposes them on shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from app import __version__
from app.core.config import Settings, get_settings
from app.core.database import Database
from app.core.errors import install_error_handlers
from app.core.logging import configure_logging, get_logger
from app.core.middleware import RequestContextMiddleware

log = get_logger(__name__)


def create_app(settings: Settings | None = None, database: Database | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from app.dbops.metrics import instrument
        from app.dbops.retention import start_schedule

        db = database or Database(settings)
        app.state.database = db
        instrument(db)
        schedule = start_schedule(db) if settings.retention_schedule_enabled else None
        log.info("startup", environment=settings.environment.value, database=settings.backend)
        try:
            yield
        finally:
            if schedule is not None:
                schedule.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await schedule
            if database is None:
                await db.dispose()

    app = FastAPI(
        title="Mandate Vault",
        version=__version__,
        debug=False,
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    if database is not None:
        app.state.database = database
    install_error_handlers(app, pool_retry_after=max(1, int(settings.db_pool_timeout // 10) or 1))
    app.add_middleware(RequestContextMiddleware)

    from app.dashboard.router import router as dashboard_router
    from app.health.router import router as health_router

    app.include_router(health_router)
    app.include_router(dashboard_router)
    if settings.metrics_enabled:
        from app.dbops.metrics import router as metrics_router

        app.include_router(metrics_router)
    return app


def _app_from_environment() -> FastAPI:
    from app.core.config import SettingsError

    try:
        return create_app()
    except SettingsError as error:
        import sys

        print(f"error: {error}", file=sys.stderr)  # noqa: T201
        raise SystemExit(2) from None


def __getattr__(name: str) -> Any:
    # `uvicorn app.main:app` looks the attribute up; build it then, once.
    if name == "app":
        application = _app_from_environment()
        globals()["app"] = application
        return application
    raise AttributeError(name)
