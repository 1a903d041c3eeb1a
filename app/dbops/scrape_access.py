"""Who may scrape `GET /metrics`: a bearer token, an address allow-list, or, with
neither configured, everyone in development and test and nobody when deployed."""

from __future__ import annotations

import hmac
import ipaddress

from app.core.config import Settings
from app.core.errors import Forbidden, Unauthorized

BEARER_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="metrics"'}


def _presented_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _address_allowed(settings: Settings, client_ip: str | None) -> bool:
    if not client_ip:
        return False
    try:
        address = ipaddress.ip_address(client_ip)
    except ValueError:
        return False
    return any(address in network for network in settings.metrics_networks)


def check_scrape(settings: Settings, client_ip: str | None, authorization: str | None) -> None:
    """Return when this scrape is admitted; raise 401 or 403 otherwise."""
    token = settings.metrics_token
    networks = settings.metrics_networks
    if token is None and not networks:
        if settings.environment.is_deployed:
            raise Forbidden(
                "Metrics are closed: set METRICS_TOKEN or METRICS_ALLOWED_IPS.",
                code="metrics_closed",
            )
        return
    if networks and _address_allowed(settings, client_ip):
        return
    if token is not None:
        presented = _presented_token(authorization)
        expected = token.get_secret_value().encode()
        if presented is not None and hmac.compare_digest(presented.encode(), expected):
            return
        raise Unauthorized(
            "Scraping needs 'Authorization: Bearer <METRICS_TOKEN>'.",
            code="metrics_token_required" if presented is None else "metrics_token_invalid",
            headers=BEARER_CHALLENGE,
        )
    raise Forbidden("This address may not scrape metrics.", code="metrics_address_refused")
