"""The ASGI application: `create_app()` wires it; `app` is built on first access.

Nothing touches the database at import. The lifespan opens the engines and
disposes them on shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from app import __version__
from app.core.clock import SYSTEM_CLOCK, Clock
from app.core.config import Environment, Settings, get_settings, startup_warnings
from app.core.database import Database
from app.core.logging import configure_logging, get_logger
from app.issuers.deps import JWKS_CLIENT, TRUST_LOADER
from app.tenancy.cache import AuthCache
from app.tenancy.deps import (
    AUTH_CACHE,
    RATE_LIMITER,
    current_tenant_id,
    get_principal,
    route_permission,
)
from app.tenancy.ratelimit import build_rate_limiter
from app.web.middleware import (
    BodyChecksMiddleware,
    EdgeMiddleware,
)
from app.web.openapi import AuthMarkers, DocumentedAPI
from app.web.problems import install_error_handlers
from app.web.routes import add_routes
from app.web.state import CLOCK, DATABASE, HTTP_CLIENT, SETTINGS

log = get_logger(__name__)


async def _report_unreachable_database(db: Database, settings: Settings) -> None:
    """Say clearly at start-up when the database cannot be used; keep serving so
    /readyz can report it and recover on its own."""
    from app.health.checks import readiness

    checks = await readiness(db, settings.readiness_timeout)
    for name, result in checks.items():
        if not result["ok"]:
            log.error(
                "startup_check_failed",
                check=name,
                detail=result.get("error") or result,
                hint="serving anyway; /readyz answers 503 until this passes",
            )


async def _ensure_signing_key(db: Database, settings: Settings) -> None:
    """The vault's signing key exists from the first start on (made now if not)."""
    from app.audit.vault_keys import load_keyring

    try:
        await load_keyring(db, settings)
    except Exception as error:  # the database may be down: made on first use then
        log.error("signing_key_unavailable", error=f"{type(error).__name__}: {error}")


def create_app(
    settings: Settings | None = None,
    database: Database | None = None,
    clock: Clock | None = None,
) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        import httpx

        from app.activity.jobs import activity_rollup
        from app.alerts.chain_alerts import register as alert_on_broken_chains
        from app.alerts.jobs import alert_sweeper
        from app.alerts.publish import publish_raised
        from app.ap2.deps import VAULT_SIGNERS
        from app.ap2.signer import VaultSigners
        from app.audit.worker import audit_worker
        from app.dbops.metrics import DatabaseMetrics, instrument
        from app.dbops.retention import start_schedule
        from app.dbops.router import DATABASE_METRICS
        from app.events.metrics import QueueCollector
        from app.events.worker import worker_in_server
        from app.issuers.jwks import JwksClient
        from app.issuers.trust import TrustLoader
        from app.mandates.jobs import expiry_sweeper
        from app.tenancy import invalidation

        db = database or Database(settings)
        alert_on_broken_chains()
        DATABASE.set(app, db)
        instrument(db)
        exporter = DatabaseMetrics(db)
        queue = QueueCollector(db, now)
        exporter.add(queue, queue.refresh)
        DATABASE_METRICS.set(app, exporter)
        schedule = start_schedule(db) if settings.retention_schedule_enabled else None
        log.info(
            "startup",
            environment=settings.environment.value,
            database=settings.backend,
            pid=os.getpid(),
        )
        for warning in startup_warnings(settings):
            log.error("unsafe_setting", problem=warning)
        await _report_unreachable_database(db, settings)
        await _ensure_signing_key(db, settings)
        VAULT_SIGNERS.set(app, VaultSigners(db, settings))
        http = httpx.AsyncClient(headers={"User-Agent": f"mandate-vault/{__version__}"})
        HTTP_CLIENT.set(app, http)
        jwks = JwksClient(http, settings, now)
        JWKS_CLIENT.set(app, jwks)
        trust = TrustLoader(jwks, db)
        TRUST_LOADER.set(app, trust)
        try:
            async with (
                invalidation.in_server(auth_cache, settings),
                expiry_sweeper(db, settings.expiry_sweep_seconds, now),
                activity_rollup(db, settings.activity_rollup_seconds, now),
                alert_sweeper(db, settings, publish_raised, now),
                worker_in_server(db, settings, now),
                audit_worker(db, settings, now),
            ):
                # Everything made so far lives as long as the process: out of the
                # collector's sight, so its full passes do not walk it on every
                # few thousand requests' garbage.
                gc.freeze()
                yield
        finally:
            from app.mandates.verifier_pool import shared_pool

            shared_pool().close()
            await trust.aclose()
            await jwks.aclose()
            await http.aclose()
            await rate_limiter.close()
            if schedule is not None:
                schedule.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await schedule
            if database is None:
                await db.dispose()

    app = DocumentedAPI(
        markers=AuthMarkers(get_principal, current_tenant_id, route_permission),
        title="Mandate Vault",
        version=__version__,
        debug=False,
        lifespan=lifespan,
        # Metrics are Prometheus' (app.web.request_metrics); FastAPI's OpenTelemetry
        # hooks would cost a provider lookup on every request for nothing.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
        # The docs pages are the service's own (app.web.docs): local assets, strict CSP.
        docs_url=None,
        redoc_url=None,
    )
    SETTINGS.set(app, settings)
    now = clock or SYSTEM_CLOCK
    CLOCK.set(app, now)
    if database is not None:
        DATABASE.set(app, database)
    auth_cache = AuthCache(settings.auth_cache_ttl_seconds)
    AUTH_CACHE.set(app, auth_cache)
    rate_limiter = build_rate_limiter(settings.redis_url, settings.redis_prefix)
    RATE_LIMITER.set(app, rate_limiter)
    retry_after = max(1, int(settings.db_pool_timeout // 10) or 1)
    install_error_handlers(app, retry_after=retry_after)
    _install_dashboard(app, settings)
    # Added innermost first: the body checks right around the application, CORS
    # (when configured), and the edge layer around everything.
    app.add_middleware(
        BodyChecksMiddleware,
        max_bytes=settings.max_body_bytes,
        # The dashboard's bulk import takes a file; the form around it needs a little more.
        larger={"/mandates/import": settings.dashboard_import_max_bytes + 64 * 1024},
    )
    if settings.cors_origin_list:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origin_list,
            allow_methods=["GET", "POST", "PATCH", "PUT", "DELETE"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "X-API-Key",
                "X-Tenant-ID",
                "X-Request-ID",
                "Idempotency-Key",
            ],
            expose_headers=["X-Request-ID", "Retry-After"],
            max_age=600,
        )
    metrics = None
    if settings.metrics_enabled:  # counts every answer, 413s and 500s too
        from app.web.request_metrics import RequestMetrics

        metrics = RequestMetrics()
    app.add_middleware(
        EdgeMiddleware,
        retry_after=retry_after,
        hsts=settings.environment is Environment.PRODUCTION,
        metrics=metrics,
    )

    from app.alerts.router import router as alerts_router
    from app.ap2.router import disputes_router as ap2_disputes_router
    from app.ap2.router import router as ap2_router
    from app.dashboard.router import router as dashboard_router
    from app.dbops.router import router as admin_router
    from app.events.router import deliveries_router, event_types_router
    from app.events.router import router as webhooks_router
    from app.evidence.router import router as evidence_router
    from app.health.router import router as health_router
    from app.issuers.router import router as issuers_router
    from app.mandates.router import router as mandates_router
    from app.tenancy.router import routers as tenancy_routers
    from app.trail.router import router as audit_router
    from app.trail.router import well_known as well_known_router
    from app.web.docs import router as docs_router

    # Routes are matched in order, one by one: the hot paths (ingest, reads,
    # presentations) come first. No two routers share a path and method.
    for router in (
        mandates_router,
        ap2_router,
        health_router,
        *tenancy_routers,
        issuers_router,
        evidence_router,
        alerts_router,
        webhooks_router,
        deliveries_router,
        event_types_router,
        audit_router,
        well_known_router,
        ap2_disputes_router,
        admin_router,
    ):
        add_routes(app, router)
    # The console's router includes its page routers (out of the API docs): it stays
    # a branch, tested after every API route.
    app.include_router(dashboard_router)
    add_routes(app, docs_router)
    if settings.metrics_enabled:
        from app.dbops.router import metrics_router

        add_routes(app, metrics_router)
    return app


def _install_dashboard(app: FastAPI, settings: Settings) -> None:
    """Static files under /static, the dashboard's session codec and error pages."""
    from app.dashboard.deps import SESSION_CODEC
    from app.dashboard.render import error_page
    from app.dashboard.session import SessionCodec
    from app.web.problems import ERROR_PAGE
    from app.web.static import STATIC_ASSETS, StaticAssets

    assets = StaticAssets()
    STATIC_ASSETS.set(app, assets)
    app.mount("/static", assets, name="static")
    SESSION_CODEC.set(app, SessionCodec(settings))
    ERROR_PAGE.set(app, error_page)


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
