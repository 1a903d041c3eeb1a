"""One attempt against a real local receiver: every status semantic, failures as results."""

from __future__ import annotations

import asyncio
import email.utils
import time
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address

import httpx
import orjson
import pytest
from standardwebhooks.webhooks import Webhook

from app.core.secretbox import SecretBox, new_key
from app.webhooks.attempt import AttemptLimits, attempt_delivery, send_attempt
from app.webhooks.catalogue import EventType, build_event, parse_event
from app.webhooks.resolve import PinnedTarget
from app.webhooks.results import AttemptOutcome, AttemptResult
from app.webhooks.retry import DisableReason, RetryPolicy, Verdict, decide
from app.webhooks.rotation import current_secret, issue_secrets, rotate_secrets, signing_keys
from app.webhooks.signing import SigningKey, new_secret
from app.webhooks.urls import UrlPolicy
from tests.conftest import free_port
from tests.webhooks.conftest import FAST_LIMITS, LOCAL_POLICY, StaticResolver
from tests.webhooks.receiver import Receiver, Reply
from tests.webhooks.samples import AT, SAMPLES

SECRET = new_secret()
KEYS = (SigningKey.from_secret(SECRET),)
BODY = build_event(EventType.WEBHOOK_TEST, SAMPLES[EventType.WEBHOOK_TEST], timestamp=AT).body
MiB = 1024 * 1024


@pytest.fixture
def deliver(
    client: httpx.AsyncClient, receiver: Receiver
) -> Callable[..., Awaitable[AttemptResult]]:
    async def run(
        url: str | None = None,
        *,
        limits: AttemptLimits = FAST_LIMITS,
        policy: UrlPolicy = LOCAL_POLICY,
        resolver: StaticResolver | None = None,
        body: bytes = BODY,
        keys: tuple[SigningKey, ...] = KEYS,
    ) -> AttemptResult:
        return await attempt_delivery(
            client,
            url=url or receiver.url("/hook"),
            message_id="msg_attempt",
            body=body,
            keys=keys,
            policy=policy,
            resolver=resolver or StaticResolver(),
            limits=limits,
        )

    return run


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
async def test_2xx_is_success_and_the_request_verifies(
    deliver, receiver: Receiver, status: int
) -> None:
    receiver.script(Reply(status, body=b"thanks" if status != 204 else b""))
    result = await deliver()
    assert result.outcome is AttemptOutcome.SUCCESS
    assert result.succeeded
    assert result.status_code == status
    assert result.error is None
    assert result.remote_address == "127.0.0.1"
    assert result.elapsed_ms > 0
    [request] = receiver.requests
    assert request.method == "POST"
    assert request.path == "/hook"
    assert request.body == BODY
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"].startswith("MandateVault-Webhooks/")
    assert request.headers["accept-encoding"] == "identity"
    assert request.headers["webhook-id"] == "msg_attempt"
    assert abs(int(request.headers["webhook-timestamp"]) - time.time()) < 5
    assert Webhook(SECRET).verify(request.body, request.headers) == orjson.loads(BODY)


async def test_every_delivery_of_a_rotating_endpoint_verifies_with_either_secret(
    deliver, receiver: Receiver
) -> None:
    box = SecretBox([new_key()])
    stored = issue_secrets(box)
    old = current_secret(box, stored)
    now = datetime.now(UTC)
    rotated = rotate_secrets(box, stored, now=now, overlap=timedelta(hours=24))
    new = current_secret(box, rotated)
    bodies = [
        build_event(event_type, data, timestamp=AT).body for event_type, data in SAMPLES.items()
    ]
    for body in bodies:
        result = await deliver(body=body, keys=signing_keys(box, rotated, now=now))
        assert result.succeeded
    requests = receiver.requests
    assert [request.body for request in requests] == bodies
    for request in requests:
        for secret in (old, new):
            payload = Webhook(secret).verify(request.body, request.headers)
            assert parse_event(request.body).type.value == payload["type"]


async def test_410_gone_disables_the_endpoint_at_once(deliver, receiver: Receiver) -> None:
    receiver.script(Reply(410, body=b"endpoint removed"))
    result = await deliver()
    assert (result.outcome, result.status_code) == (AttemptOutcome.GONE, 410)
    assert result.response_excerpt == "endpoint removed"
    decision = decide(
        RetryPolicy(), attempt=1, outcome=result.outcome, now=datetime.now(UTC), failing_since=None
    )
    assert (decision.verdict, decision.disable_reason) == (
        Verdict.DISABLE_ENDPOINT,
        DisableReason.GONE,
    )


@pytest.mark.parametrize("status", [429, 503])
async def test_throttling_honours_retry_after_seconds(
    deliver, receiver: Receiver, status: int
) -> None:
    receiver.script(Reply(status, headers={"Retry-After": "120"}))
    result = await deliver()
    assert (result.outcome, result.status_code) == (AttemptOutcome.THROTTLED, status)
    assert result.retry_after_seconds == 120
    now = datetime.now(UTC)
    decision = decide(
        RetryPolicy(),
        attempt=1,
        outcome=result.outcome,
        now=now,
        failing_since=None,
        retry_after_seconds=result.retry_after_seconds,
        draw=lambda: 0.5,
    )
    assert decision.verdict is Verdict.RETRY
    assert decision.next_attempt_at == now + timedelta(seconds=120)


async def test_throttling_honours_an_http_date(deliver, receiver: Receiver) -> None:
    later = email.utils.format_datetime(datetime.now(UTC) + timedelta(minutes=10), usegmt=True)
    receiver.script(Reply(429, headers={"Retry-After": later}))
    result = await deliver()
    assert result.outcome is AttemptOutcome.THROTTLED
    assert result.retry_after_seconds is not None
    assert 590 <= result.retry_after_seconds <= 600


async def test_throttling_without_a_usable_retry_after_keeps_the_schedule(
    deliver, receiver: Receiver
) -> None:
    receiver.script(Reply(503, headers={"Retry-After": "soon"}))
    result = await deliver()
    assert (result.outcome, result.retry_after_seconds) == (AttemptOutcome.THROTTLED, None)


@pytest.mark.parametrize("status", [500, 502, 400, 401, 404, 418])
async def test_other_statuses_are_http_errors_with_an_excerpt(
    deliver, receiver: Receiver, status: int
) -> None:
    receiver.script(Reply(status, body=b'{"error":"boom"}'))
    result = await deliver()
    assert (result.outcome, result.status_code) == (AttemptOutcome.HTTP_ERROR, status)
    assert result.response_excerpt == '{"error":"boom"}'
    assert result.error == f"HTTP {status}"
    decision = decide(RetryPolicy(), attempt=1, outcome=result.outcome, now=AT, failing_since=None)
    assert decision.verdict is Verdict.RETRY


async def test_a_receiver_that_never_answers_times_out_on_time(deliver, receiver: Receiver) -> None:
    receiver.script(Reply(hang=True))
    limits = AttemptLimits(connect_timeout=1.0, total_timeout=0.5, excerpt_bytes=1024)
    started = time.monotonic()
    result = await deliver(limits=limits)
    elapsed = time.monotonic() - started
    assert result.outcome is AttemptOutcome.TIMEOUT
    assert result.status_code is None
    assert 0.45 <= elapsed < 1.5
    assert result.error


async def test_a_slow_receiver_times_out_at_the_total_timeout(deliver, receiver: Receiver) -> None:
    receiver.script(Reply(200, delay=3))
    result = await deliver(limits=AttemptLimits(total_timeout=0.4))
    assert result.outcome is AttemptOutcome.TIMEOUT
    assert result.elapsed_ms < 1500


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_redirects_are_failures_and_never_followed(
    deliver, receiver: Receiver, status: int
) -> None:
    receiver.script(Reply(status, headers={"Location": receiver.url("/elsewhere")}))
    result = await deliver()
    assert (result.outcome, result.status_code) == (AttemptOutcome.REDIRECT, status)
    assert result.error is not None
    assert "/elsewhere" in result.error
    assert "not followed" in result.error
    assert [request.path for request in receiver.requests] == ["/hook"]
    decision = decide(RetryPolicy(), attempt=1, outcome=result.outcome, now=AT, failing_since=None)
    assert decision.verdict is Verdict.RETRY


async def test_connection_refused_is_a_result(deliver) -> None:
    result = await deliver(f"http://127.0.0.1:{free_port()}/hook")
    assert result.outcome is AttemptOutcome.CONNECT_FAILED
    assert result.status_code is None
    assert result.error is not None


async def test_a_10_mib_body_is_never_downloaded(deliver, receiver: Receiver) -> None:
    receiver.script(Reply(200), Reply(200, body_size=10 * MiB), Reply(500, body_size=10 * MiB))
    assert (await deliver()).succeeded  # warm up: lazy imports are not what is measured
    tracemalloc.start()
    try:
        ok = await deliver()
        failed = await deliver()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (ok.outcome, failed.outcome) == (AttemptOutcome.SUCCESS, AttemptOutcome.HTTP_ERROR)
    for result in (ok, failed):
        assert len(result.response_excerpt) == FAST_LIMITS.excerpt_bytes
        assert result.response_truncated
        assert result.elapsed_ms < 1500
    # Both attempts together allocated far less than one body (the receiver included).
    assert peak < 2 * MiB


async def test_a_body_cut_mid_character_still_gives_text(deliver, receiver: Receiver) -> None:
    receiver.script(Reply(500, body="é".encode() * 2000))
    result = await deliver(limits=AttemptLimits(excerpt_bytes=5))
    assert result.response_truncated
    assert result.response_excerpt.startswith("éé")


async def test_send_time_check_blocks_a_name_that_now_resolves_to_a_private_address(
    deliver, receiver: Receiver
) -> None:
    rebinding = StaticResolver({"hooks.example.com": ["10.0.0.1"]})
    result = await deliver("https://hooks.example.com/hook", policy=UrlPolicy(), resolver=rebinding)
    assert result.outcome is AttemptOutcome.BLOCKED
    assert "address_not_allowed" in (result.error or "")
    assert receiver.requests == []


async def test_send_time_check_refuses_literals_when_private_networks_are_off(
    deliver, receiver: Receiver
) -> None:
    result = await deliver(policy=UrlPolicy(allow_http=True))
    assert result.outcome is AttemptOutcome.BLOCKED
    assert receiver.requests == []


async def test_a_host_that_no_longer_resolves_is_a_dns_failure(deliver) -> None:
    result = await deliver("https://gone.example.com/hook", policy=UrlPolicy())
    assert result.outcome is AttemptOutcome.DNS_FAILED
    slow = StaticResolver({"slow.example.com": ["93.184.216.34"]}, delay=5)
    limits = AttemptLimits(dns_timeout=0.2)
    started = time.monotonic()
    timed_out = await deliver(
        "https://slow.example.com/hook", policy=UrlPolicy(), resolver=slow, limits=limits
    )
    assert timed_out.outcome is AttemptOutcome.DNS_FAILED
    assert time.monotonic() - started < 1


async def test_the_connection_goes_to_the_pinned_address_never_through_dns(
    deliver, receiver: Receiver
) -> None:
    # `.test` names never resolve: success means the pinned address was used.
    resolver = StaticResolver({"pinned.vault.test": ["127.0.0.1"]})
    result = await deliver(receiver.url("/hook", host="pinned.vault.test"), resolver=resolver)
    assert result.outcome is AttemptOutcome.SUCCESS
    assert resolver.lookups == ["pinned.vault.test"]
    [request] = receiver.requests
    assert request.headers["host"] == f"pinned.vault.test:{receiver.port}"


async def test_a_wrong_pin_fails_closed(client: httpx.AsyncClient, receiver: Receiver) -> None:
    url = httpx.URL(receiver.url("/hook", host="asked.vault.test"))
    wrong = PinnedTarget(url, "other.vault.test", receiver.port, (ip_address("127.0.0.1"),))
    result = await send_attempt(client, wrong, {}, BODY, limits=FAST_LIMITS)
    assert result.outcome is AttemptOutcome.BLOCKED
    with pytest.raises(httpx.ConnectError):
        await client.post(receiver.url("/hook"), content=b"{}")  # no pin: no connection at all
    assert receiver.requests == []


async def test_all_pinned_addresses_are_tried_in_order(
    client: httpx.AsyncClient, receiver: Receiver
) -> None:
    url = httpx.URL(receiver.url("/hook", host="two.vault.test"))
    dead_first = PinnedTarget(
        url, "two.vault.test", receiver.port, (ip_address("127.0.0.2"), ip_address("127.0.0.1"))
    )
    result = await send_attempt(client, dead_first, {}, BODY, limits=FAST_LIMITS)
    # 127.0.0.2 is loopback too, but nothing listens there on this port.
    assert result.outcome is AttemptOutcome.SUCCESS
    assert result.remote_address == "127.0.0.1"


async def test_connections_are_reused_per_name_and_never_shared_between_names(
    deliver, receiver: Receiver
) -> None:
    resolver = StaticResolver({"a.vault.test": ["127.0.0.1"], "b.vault.test": ["127.0.0.1"]})
    for host in ("a.vault.test", "a.vault.test", "b.vault.test"):
        assert (await deliver(receiver.url("/hook", host=host), resolver=resolver)).succeeded
    first, second, third = receiver.requests
    assert first.client_port == second.client_port  # keep-alive for one name
    assert third.client_port != first.client_port  # another name, its own connection
    assert third.headers["host"].startswith("b.vault.test:")


@pytest.fixture
async def raw_server() -> AsyncIterator[Callable[[bytes | None], Awaitable[str]]]:
    """A TCP server that answers raw bytes (or closes at once), for protocol failures."""
    servers: list[asyncio.Server] = []

    async def start(answer: bytes | None) -> str:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.read(65536)
            if answer is not None:
                writer.write(answer)
                await writer.drain()
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        servers.append(server)
        return f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/hook"

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize(
    "answer",
    [None, b"NOT HTTP AT ALL\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\nshort"],
    ids=["closed", "garbage", "truncated-body"],
)
async def test_broken_answers_are_protocol_errors_or_cut_excerpts(
    deliver, raw_server, answer
) -> None:
    result = await deliver(await raw_server(answer))
    if answer is not None and answer.startswith(b"HTTP/1.1 200"):
        # The status arrived; the body broke off: still the receiver's 2xx, excerpt marked cut.
        assert result.outcome is AttemptOutcome.SUCCESS
        assert result.response_truncated
        assert result.error is not None
    else:
        assert result.outcome is AttemptOutcome.PROTOCOL_ERROR
        assert result.error


async def test_cookies_a_receiver_sets_are_never_sent_back(deliver, receiver: Receiver) -> None:
    receiver.script(Reply(200, headers={"Set-Cookie": "session=tenant-a; Path=/"}), Reply(200))
    assert (await deliver()).succeeded
    assert (await deliver()).succeeded
    first, second = receiver.requests
    assert first.client_port == second.client_port  # same connection, same host
    assert "cookie" not in second.headers


async def test_an_ipv6_literal_endpoint_is_reached_when_allowed(client: httpx.AsyncClient) -> None:
    with Receiver(host="::1") as receiver6:
        receiver6.script(Reply(200))
        url = receiver6.url("/hook")
        assert url.startswith("http://[::1]:")
        result = await attempt_delivery(
            client,
            url=url,
            message_id="msg_v6",
            body=BODY,
            keys=KEYS,
            policy=LOCAL_POLICY,
            resolver=StaticResolver(),
            limits=FAST_LIMITS,
        )
        assert result.succeeded, result.error
        assert result.remote_address == "::1"
        refused = await attempt_delivery(
            client,
            url=url,
            message_id="msg_v6",
            body=BODY,
            keys=KEYS,
            policy=UrlPolicy(allow_http=True),
            resolver=StaticResolver(),
            limits=FAST_LIMITS,
        )
        assert refused.outcome is AttemptOutcome.BLOCKED
        assert len(receiver6.requests) == 1
