"""HTTPS to a pinned address: the name is kept for Host, SNI and certificate checks."""

from __future__ import annotations

import httpx
from standardwebhooks.webhooks import Webhook

from app.webhooks.attempt import attempt_delivery
from app.webhooks.results import AttemptOutcome, AttemptResult
from app.webhooks.signing import SigningKey, new_secret
from app.webhooks.transport import build_delivery_client
from app.webhooks.urls import UrlPolicy
from tests.webhooks.conftest import FAST_LIMITS, LOCAL_POLICY, TLS_NAME, StaticResolver
from tests.webhooks.receiver import Receiver, Reply

SECRET = new_secret()
BODY = b'{"data":{"webhook_id":"w"},"timestamp":"2026-06-01T12:30:00Z","type":"webhook.test"}'
# https only, private addresses allowed: what a test on one machine can reach.
HTTPS_LOCAL = UrlPolicy(allow_http=False, allow_private_networks=True)


async def send(client: httpx.AsyncClient, url: str, resolver: StaticResolver) -> AttemptResult:
    return await attempt_delivery(
        client,
        url=url,
        message_id="msg_tls",
        body=BODY,
        keys=[SigningKey.from_secret(SECRET)],
        policy=HTTPS_LOCAL,
        resolver=resolver,
        limits=FAST_LIMITS,
    )


async def test_https_to_the_checked_address_verifies_the_certificate_for_the_name(
    client: httpx.AsyncClient, tls_receiver: Receiver, resolver: StaticResolver
) -> None:
    tls_receiver.script(Reply(200, body=b"ok"))
    # The certificate names only hooks.vault.test (no IP): it verifies only if SNI and
    # the host name check use the name, while the socket goes to 127.0.0.1.
    result = await send(client, tls_receiver.url("/hook", host=TLS_NAME), resolver)
    assert result.outcome is AttemptOutcome.SUCCESS, result.error
    assert result.remote_address == "127.0.0.1"
    assert resolver.lookups == [TLS_NAME]
    [request] = tls_receiver.requests
    assert request.headers["host"] == f"{TLS_NAME}:{tls_receiver.port}"
    Webhook(SECRET).verify(request.body, request.headers)


async def test_another_name_on_the_same_address_fails_the_certificate_check(
    client: httpx.AsyncClient, tls_receiver: Receiver
) -> None:
    resolver = StaticResolver({"impostor.vault.test": ["127.0.0.1"]})
    result = await send(client, tls_receiver.url("/hook", host="impostor.vault.test"), resolver)
    assert result.outcome is AttemptOutcome.TLS_FAILED
    assert tls_receiver.requests == []


async def test_an_ip_literal_does_not_match_a_name_certificate(
    client: httpx.AsyncClient, tls_receiver: Receiver
) -> None:
    result = await send(client, tls_receiver.url("/hook"), StaticResolver())
    assert result.outcome is AttemptOutcome.TLS_FAILED


async def test_an_untrusted_ca_is_refused(tls_receiver: Receiver, resolver: StaticResolver) -> None:
    async with build_delivery_client() as public_trust:  # the system's CAs, not the test CA
        result = await send(public_trust, tls_receiver.url("/hook", host=TLS_NAME), resolver)
    assert result.outcome is AttemptOutcome.TLS_FAILED
    assert "CERTIFICATE_VERIFY_FAILED" in (result.error or "")


async def test_plain_http_to_a_tls_port_is_a_failure_not_a_crash(
    client: httpx.AsyncClient, tls_receiver: Receiver, resolver: StaticResolver
) -> None:
    url = f"http://{TLS_NAME}:{tls_receiver.port}/hook"
    result = await attempt_delivery(
        client,
        url=url,
        message_id="msg_tls",
        body=BODY,
        keys=[SigningKey.from_secret(SECRET)],
        policy=LOCAL_POLICY,
        resolver=resolver,
        limits=FAST_LIMITS,
    )
    assert result.outcome is AttemptOutcome.PROTOCOL_ERROR, result


async def test_https_is_required_unless_allowed(
    client: httpx.AsyncClient, receiver: Receiver
) -> None:
    result = await attempt_delivery(
        client,
        url=receiver.url("/hook"),
        message_id="msg_tls",
        body=BODY,
        keys=[SigningKey.from_secret(SECRET)],
        policy=HTTPS_LOCAL,
        resolver=StaticResolver(),
        limits=FAST_LIMITS,
    )
    assert result.outcome is AttemptOutcome.BLOCKED
    assert "https_required" in (result.error or "")
    assert receiver.requests == []
