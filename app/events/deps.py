"""HTTP dependencies of webhooks: the resolver slot and the service."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.events.service import WebhookService
from app.tenancy.deps import CurrentPrincipal, TenantId
from app.web.sessions import SessionDep
from app.web.state import ClockDep, SettingsDep, Slot
from app.webhooks.resolve import Resolver, SystemResolver

WEBHOOK_RESOLVER: Slot[Resolver] = Slot("webhook_resolver")
_SYSTEM_RESOLVER = SystemResolver()


def resolver_of(request: Request) -> Resolver:
    """The resolver a test or drill put in place, or the system's."""
    return WEBHOOK_RESOLVER.find(request) or _SYSTEM_RESOLVER


async def resolver(request: Request) -> Resolver:
    return resolver_of(request)


async def webhook_service(
    session: SessionDep,
    tenant_id: TenantId,
    principal: CurrentPrincipal,
    settings: SettingsDep,
    clock: ClockDep,
    chosen: Annotated[Resolver, Depends(resolver)],
) -> WebhookService:
    return WebhookService(session, tenant_id, principal.actor, settings, clock, chosen)


WebhookServiceDep = Annotated[WebhookService, Depends(webhook_service)]
