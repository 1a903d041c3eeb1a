"""The worker under failure: SIGKILL mid-batch, PostgreSQL cut under load, two
workers sharing one PostgreSQL queue. Real processes, a real receiver."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from app.core.clock import SYSTEM_CLOCK
from app.core.database import Database
from app.events.worker import DeliveryWorker
from tests.events.helpers import add_endpoint, deliveries, emit_revoked, hook_settings
from tests.tcp_proxy import TcpProxy
from tests.webhooks.receiver import Receiver, Reply

ROOT = Path(__file__).resolve().parents[2]


async def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


def start_worker(cli_env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    env = {
        **cli_env,
        "WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true",
        "WEBHOOK_ALLOW_HTTP": "true",
        "WEBHOOK_TIMEOUT": "3",
        "WEBHOOK_DNS_TIMEOUT": "1",
        "WEBHOOK_LEASE_SECONDS": "5",
        "WEBHOOK_WORKER_BATCH": "10",
        "WEBHOOK_WORKER_POLL_SECONDS": "0.1",
        "WEBHOOK_RETRY_JITTER": "0",
    }
    with log.open("ab") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "app.cli", "worker"],
            env=env,
            cwd=ROOT,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )


async def test_sigkill_mid_batch_then_restart_delivers_everything_with_the_same_ids(
    database_url, cli_env, tmp_path
):
    settings = hook_settings(database_url)
    database = Database(settings)
    log = tmp_path / "worker.log"
    try:
        with Receiver() as receiver:
            receiver.default = Reply(204, delay=0.4)  # a batch stays in flight a while
            endpoint = await add_endpoint(database, settings, receiver.url())
            events = await emit_revoked(database, endpoint.tenant_id, 40, now=SYSTEM_CLOCK.now())
            worker = start_worker(cli_env, log)

            async def in_flight() -> bool:
                return len(receiver.requests) >= 12  # past the first batch of 10

            try:
                await wait_until(in_flight, 60, "the first deliveries")
            finally:
                os.kill(worker.pid, signal.SIGKILL)
                worker.wait(timeout=10)
            rows = await deliveries(database, endpoint.webhook_id)
            held = [r for r in rows if r.status == "delivering"]
            assert held, "the kill should leave claimed deliveries behind"
            assert any(r.status == "pending" for r in rows)

            restarted = start_worker(cli_env, log)
            try:

                async def all_delivered() -> bool:
                    rows = await deliveries(database, endpoint.webhook_id)
                    return all(r.status == "succeeded" for r in rows)

                await wait_until(all_delivered, 90, "every delivery after the restart")
            finally:
                restarted.send_signal(signal.SIGTERM)
                assert restarted.wait(timeout=20) == 0, log.read_text()[-2000:]
            ids = Counter(r.headers["webhook-id"] for r in receiver.requests)
            assert set(ids) == {f"msg_{event.hex}" for event in events}
            # The messages the killed worker had claimed went out again, with the same id.
            resent = {f"msg_{r.event_id.hex}" for r in held}
            assert all(ids[message] >= 1 for message in resent)
    finally:
        await database.dispose()


@pytest.mark.parametrize("engine_name", ["postgres"], indirect=True)
async def test_postgres_cut_under_delivery_load_loses_nothing(database_url):
    target = make_url(database_url)
    proxy = TcpProxy(target.host or "127.0.0.1", target.port or 5432)
    await proxy.start()
    via_proxy = target.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    direct_settings = hook_settings(database_url)
    worker_settings = hook_settings(
        via_proxy, db_connect_timeout=1, webhook_worker_poll_seconds=0.05, webhook_worker_batch=20
    )
    direct = Database(direct_settings)
    through_proxy = Database(worker_settings)
    worker = DeliveryWorker(through_proxy, worker_settings)
    stop = asyncio.Event()
    try:
        with Receiver() as receiver:
            endpoint = await add_endpoint(direct, direct_settings, receiver.url())
            running = asyncio.create_task(worker.run(stop))
            events = []
            for round_number in range(30):
                events += await emit_revoked(direct, endpoint.tenant_id, 10, now=SYSTEM_CLOCK.now())
                if round_number == 10:
                    await proxy.stop()  # the database goes away under load
                if round_number == 20:
                    await proxy.start()  # and comes back on the same port
                await asyncio.sleep(0.1)

            async def all_delivered() -> bool:
                rows = await deliveries(direct, endpoint.webhook_id)
                return len(rows) == len(events) and all(r.status == "succeeded" for r in rows)

            await wait_until(all_delivered, 90, "every delivery after the outage")
            assert not running.done(), "the worker must survive the outage"
            ids = Counter(r.headers["webhook-id"] for r in receiver.requests)
            assert set(ids) == {f"msg_{event.hex}" for event in events}
    finally:
        stop.set()
        await asyncio.wait_for(running, 20)
        await worker.aclose()
        await through_proxy.dispose()
        await direct.dispose()
        await proxy.stop()


@pytest.mark.parametrize("engine_name", ["postgres"], indirect=True)
async def test_two_workers_on_postgres_never_send_the_same_delivery_twice(database_url):
    settings = hook_settings(database_url, webhook_worker_batch=25, webhook_worker_concurrency=25)
    direct = Database(settings)
    pools = [Database(settings), Database(settings)]
    workers = [
        DeliveryWorker(pool, settings, worker_id=f"worker-{n}") for n, pool in enumerate(pools)
    ]
    try:
        with Receiver() as receiver:
            receiver.default = Reply(204, delay=0.02)
            endpoint = await add_endpoint(direct, settings, receiver.url())
            events = await emit_revoked(direct, endpoint.tenant_id, 400, now=SYSTEM_CLOCK.now())

            async def drain(worker: DeliveryWorker) -> int:
                sent = 0
                while (count := await worker.run_once()) > 0:
                    sent += count
                return sent

            sent = await asyncio.gather(*(drain(w) for w in workers))
            assert sum(sent) == len(events)
            assert all(count > 0 for count in sent), sent  # both took a share
            ids = Counter(r.headers["webhook-id"] for r in receiver.requests)
            assert len(ids) == len(events)
            assert set(ids.values()) == {1}  # no message was sent twice
            rows = await deliveries(direct, endpoint.webhook_id)
            assert {(r.status, r.attempts) for r in rows} == {("succeeded", 1)}
    finally:
        for worker in workers:
            await worker.aclose()
        for pool in pools:
            await pool.dispose()
        await direct.dispose()
