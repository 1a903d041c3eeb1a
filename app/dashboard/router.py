"""The dashboard's routes, server-rendered, under `/`. Every page calls the
services the API calls; `app/dashboard/nav.py` and `panels.py` are where the
webhooks, alerts and audit sections join."""

from __future__ import annotations

from fastapi import APIRouter

from app.dashboard import alerts, audit, issuers, mandates, platform, signin, team, webhooks

router = APIRouter(include_in_schema=False)
for part in (
    signin.router,
    audit.router,  # before mandates: /mandates/{id}/evidence.zip is its
    mandates.router,
    issuers.router,
    webhooks.router,
    alerts.router,
    team.router,
    platform.router,
):
    router.include_router(part)
