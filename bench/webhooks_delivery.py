"""Webhook delivery on PostgreSQL: one `mandate-vault worker` process against a local receiver.

Figure 1, throughput: the worker is started and left idle, then N deliveries are
committed at once; the rate is N over the time from that commit until the last
is recorded delivered, and the worker's CPU per delivery is read from /proc.
The baselines, in the same run and interleaved, are a bare `httpx.AsyncClient.post`
loop of the same body at the worker's concurrency (50), from this process: one
client (one pool of 50, httpx's default shape) and seven clients of 8 (the shape
the worker uses).

Figure 2, latency: one event committed every 10 ms (100 events/s) for DURATION
seconds, each its own transaction; commit -> delivered is `delivered_at -
created_at` of each delivery (created_at is taken just before the commit).

    .venv/bin/python bench/webhooks_delivery.py [N] [DURATION_S]
(run under `flock /tmp/mandate-vault-bench.lock`).
"""

from __future__ import annotations

import asyncio
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime

import httpx
from _server import cpu_seconds
from _webhooks import ROOT, receiver, scratch_database
from sqlalchemy import func, select

from app.core.actor import Actor
from app.core.clock import SYSTEM_CLOCK
from app.core.config import load_settings
from app.core.database import Database
from app.events.outbox import emit
from app.events.schemas import WebhookCreate
from app.events.service import WebhookService
from app.models import Tenant, WebhookDelivery
from app.webhooks import event_data
from app.webhooks.catalogue import EventType, encode_payload

N = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
DURATION = float(sys.argv[2]) if len(sys.argv) > 2 else 20.0
ROUNDS = 2
CONCURRENCY = 50


def revoked(now: datetime) -> event_data.MandateRevoked:
    return event_data.MandateRevoked(mandate_id=uuid.uuid4(), reason="bench", revoked_at=now)


async def setup(database: Database, settings, url: str) -> uuid.UUID:
    async with database.sessions.begin() as session:
        tenant = Tenant(name="Bench", slug=f"bench-{uuid.uuid4().hex[:8]}")
        session.add(tenant)
        await session.flush()
        service = WebhookService(session, tenant.id, Actor.system("bench"), settings, SYSTEM_CLOCK)
        await service.create(WebhookCreate(url=url))
        return tenant.id


async def commit_batch(database: Database, tenant_id: uuid.UUID, count: int) -> float:
    async with database.sessions.begin() as session:
        now = datetime.now(UTC)
        for _ in range(count):
            await emit(
                session, tenant_id=tenant_id, event_type=EventType.MANDATE_REVOKED,
                data=revoked(now), now=now,
            )  # fmt: skip
    return time.perf_counter()


async def succeeded(database: Database) -> int:
    async with database.sessions() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(WebhookDelivery)
                .where(WebhookDelivery.status == "succeeded")
            )
            or 0
        )


async def baseline(url: str, pools: int = 1) -> tuple[float, float]:
    body = encode_payload(
        {"type": "mandate.revoked", "timestamp": "2026-12-02T00:00:00Z",
         "data": revoked(datetime.now(UTC)).model_dump(mode="json")}
    )  # fmt: skip
    size = -(-CONCURRENCY // pools)
    limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
    clients = [httpx.AsyncClient(limits=limits) for _ in range(pools)]
    try:
        queue = iter(range(N))

        async def loop(client: httpx.AsyncClient) -> None:
            for _ in queue:
                response = await client.post(
                    url, content=body, headers={"content-type": "application/json"}
                )
                response.raise_for_status()

        cpu0, wall0 = time.process_time(), time.perf_counter()
        await asyncio.gather(*(loop(clients[n % pools]) for n in range(CONCURRENCY)))
        return N / (time.perf_counter() - wall0), (time.process_time() - cpu0) / N
    finally:
        for client in clients:
            await client.aclose()


async def main() -> None:
    with scratch_database("bench_wh") as (url, env), receiver() as (hook_url, _rx):
        settings = load_settings(
            _env_file=None, database_url=url, secret_key=env["SECRET_KEY"],
            environment="development", log_level="WARNING",
            webhook_allow_private_networks=True, webhook_allow_http=True,
        )  # fmt: skip
        database = Database(settings)
        tenant_id = await setup(database, settings, hook_url)
        worker = subprocess.Popen([sys.executable, "-m", "app.cli", "worker"], env=env, cwd=ROOT)
        try:
            await asyncio.sleep(3)  # started and idle
            done = 0
            rows = []
            for round_number in range(ROUNDS):
                base_rate, base_cpu = await baseline(hook_url)
                split_rate, split_cpu = await baseline(hook_url, pools=7)
                cpu0 = cpu_seconds(worker.pid)
                committed = await commit_batch(database, tenant_id, N)
                while await succeeded(database) < done + N:
                    await asyncio.sleep(0.02)
                elapsed = time.perf_counter() - committed
                done += N
                cpu = (cpu_seconds(worker.pid) - cpu0) / N
                rate = N / elapsed
                rows.append((rate, cpu, base_rate, base_cpu))
                print(
                    f"round {round_number + 1}: worker {rate:,.0f} deliveries/s "
                    f"({cpu * 1e3:.2f} ms CPU each) | bare httpx {base_rate:,.0f} posts/s "
                    f"({base_cpu * 1e3:.2f} ms CPU each) | ratio {rate / base_rate:.2f}, "
                    f"per CPU second {base_cpu / cpu:.2f} | bare httpx over 7 pools of 8 "
                    f"{split_rate:,.0f} posts/s ({split_cpu * 1e3:.2f} ms CPU each) | ratio "
                    f"{rate / split_rate:.2f}, per CPU second {split_cpu / cpu:.2f}"
                )
            # Figure 2: steady 100 events/s, one transaction each.
            started = time.perf_counter()
            sent = 0
            while time.perf_counter() - started < DURATION:
                target = started + sent * 0.01
                delay = target - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                await commit_batch(database, tenant_id, 1)
                sent += 1
            while await succeeded(database) < done + sent:
                await asyncio.sleep(0.05)
            async with database.sessions() as session:
                latencies = sorted(
                    (row.delivered_at - row.created_at).total_seconds()
                    for row in (
                        await session.execute(
                            select(WebhookDelivery.created_at, WebhookDelivery.delivered_at)
                            .order_by(WebhookDelivery.created_at.desc())
                            .limit(sent)
                        )
                    )
                )
            p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]  # noqa: E731
            print(
                f"steady {sent / (time.perf_counter() - started):.0f} events/s for {DURATION:.0f} s "
                f"({sent} events): commit->delivered p50 {p(0.5) * 1e3:.0f} ms, "
                f"p99 {p(0.99) * 1e3:.0f} ms, max {latencies[-1] * 1e3:.0f} ms, "
                f"mean {statistics.fmean(latencies) * 1e3:.0f} ms"
            )
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=30)
            await database.dispose()
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    asyncio.run(main())
