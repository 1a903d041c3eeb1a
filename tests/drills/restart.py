"""The PostgreSQL restart drill: a real server under steady ingest while its
database stops and starts. Shared by the test (`test_restart_drill.py`) and the
benchmark (`bench/restart_drill.py`)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import httpx

from app.core.database import Database
from tests.conftest import make_settings
from tests.drills.cluster import Cluster
from tests.drills.server import Server, serve
from tests.mandates.minting import MintingIssuer
from tests.world import build_world


@dataclass
class RestartFigures:
    environment: str
    statuses: Counter[int] = field(default_factory=Counter)
    acknowledged: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    readyz_down: list[tuple[int, float]] = field(default_factory=list)  # (status, seconds)
    recovery_seconds: float | None = None
    down_seconds: float = 0.0
    log: str = ""

    @property
    def worst_readyz_down(self) -> float:
        return max((seconds for _, seconds in self.readyz_down), default=0.0)

    def summary(self) -> dict[str, object]:
        return {
            "environment": self.environment,
            "statuses": dict(sorted(self.statuses.items())),
            "5xx_other_than_503": sum(n for s, n in self.statuses.items() if s >= 500 and s != 503),
            "503": self.statuses.get(503, 0),
            "readyz_while_down": len(self.readyz_down),
            "worst_readyz_seconds_while_down": round(self.worst_readyz_down, 3),
            "recovery_seconds": None
            if self.recovery_seconds is None
            else round(self.recovery_seconds, 3),
            "acknowledged": len(self.acknowledged),
            "lost": len(self.lost),
        }


async def prepare(url: str) -> tuple[str, MintingIssuer]:
    """A tenant key that may write mandates and an issuer it trusts (inline keys)."""
    settings = make_settings(url)
    database = Database(settings)
    try:
        world = await build_world(database, settings)
        issuer = MintingIssuer()
        async with database.sessions.begin() as session:
            await issuer.register(session, world.tenant_a)
    finally:
        await database.dispose()
    return world.a["customer_admin"].api_key, issuer


async def _load(
    server: Server, key: str, issuer: MintingIssuer, stop: asyncio.Event, figures: RestartFigures
) -> None:
    headers = {"X-API-Key": key}
    async with httpx.AsyncClient(base_url=server.base, timeout=15) as client:
        while not stop.is_set():
            token = issuer.token()
            try:
                response = await client.post(
                    "/api/v1/mandates", json={"vc_jwt": token}, headers=headers
                )
            except httpx.TransportError:
                figures.statuses[0] += 1  # the connection itself failed: counted, not acked
                await asyncio.sleep(0.05)
                continue
            figures.statuses[response.status_code] += 1
            if response.status_code == 201:
                figures.acknowledged.append(response.json()["id"])
            elif response.status_code == 503:
                await asyncio.sleep(0.05)


async def _readyz(client: httpx.AsyncClient) -> tuple[int, float]:
    started = time.perf_counter()
    try:
        status = (await client.get("/readyz")).status_code
    except httpx.TransportError:
        status = 0
    return status, time.perf_counter() - started


async def run_restart_drill(
    cluster: Cluster,
    url: str,
    environment: str,
    *,
    writers: int = 4,
    warmup: float = 1.5,
    down: float = 4.0,
    after: float = 2.0,
) -> RestartFigures:
    key, issuer = await prepare(url)
    figures = RestartFigures(environment)
    extra = {"ENVIRONMENT": environment, "DB_POOL_TIMEOUT": "3", "DB_CONNECT_TIMEOUT": "2"}
    with serve(url, **extra) as server:
        stop = asyncio.Event()
        load = [
            asyncio.create_task(_load(server, key, issuer, stop, figures)) for _ in range(writers)
        ]
        async with httpx.AsyncClient(base_url=server.base, timeout=10) as probe:
            try:
                await asyncio.sleep(warmup)
                await asyncio.to_thread(cluster.stop, "fast")
                stopped = time.monotonic()
                while time.monotonic() - stopped < down:
                    figures.readyz_down.append(await _readyz(probe))
                    await asyncio.sleep(0.2)
                figures.down_seconds = time.monotonic() - stopped
                await asyncio.to_thread(cluster.start)
                back = time.monotonic()
                while time.monotonic() - back < 15:
                    status, _ = await _readyz(probe)
                    if status == 200:
                        figures.recovery_seconds = time.monotonic() - back
                        break
                    await asyncio.sleep(0.1)
                await asyncio.sleep(after)
            finally:
                stop.set()
                await asyncio.gather(*load)
            headers = {"X-API-Key": key}
            for mandate_id in figures.acknowledged:
                response = await probe.get(f"/api/v1/mandates/{mandate_id}", headers=headers)
                if response.status_code != 200:
                    figures.lost.append(mandate_id)
        figures.log = server.log_text()
    return figures


def fresh_database(cluster: Cluster) -> str:
    from app.dbops import migrations

    url = cluster.create_database(f"mvd_{uuid.uuid4().hex[:12]}")
    migrations.upgrade(url)
    return url
