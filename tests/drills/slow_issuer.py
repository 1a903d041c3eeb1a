"""The slow-issuer drill: one tenant's JWKS host accepts connections and never
answers, with more submissions hung on it than the pool has connections, while
that tenant's other issuers and another tenant keep ingesting. Shared by the
test (`test_slow_issuer_drill.py`) and the benchmark (`bench/slow_issuer_drill.py`)."""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from app.core.database import Database
from tests.conftest import make_settings
from tests.drills.server import serve
from tests.mandates.minting import MintingIssuer
from tests.world import build_world


class HangingJwksHost:
    """Serves a JWKS until told to hang; then accepts, reads, and never answers."""

    def __init__(self) -> None:
        self.document: bytes = b'{"keys": []}'
        self.hanging = False
        self.held: list[asyncio.StreamWriter] = []
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/jwks.json"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.hanging:
            self.held.append(writer)  # never answered, never closed until stop()
            return
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
            + f"content-length: {len(self.document)}\r\nconnection: close\r\n\r\n".encode()
            + self.document
        )
        await writer.drain()
        writer.close()

    def release(self) -> None:
        """Cut the connections held so far (their fetches fail at once)."""
        for writer in self.held:
            writer.close()
        self.held.clear()

    async def stop(self) -> None:
        self.release()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


@dataclass
class Latencies:
    samples: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)

    def add(self, seconds: float, status: int) -> None:
        self.samples.append(seconds)
        self.statuses[status] = self.statuses.get(status, 0) + 1

    def quantile(self, q: float) -> float:
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0

    def summary(self) -> dict[str, object]:
        return {
            "n": len(self.samples),
            "p50_ms": round(statistics.median(self.samples) * 1000, 1) if self.samples else None,
            "p99_ms": round(self.quantile(0.99) * 1000, 1),
            "statuses": self.statuses,
        }


@dataclass
class SlowIssuerFigures:
    engine: str
    baseline_own: Latencies = field(default_factory=Latencies)
    baseline_other: Latencies = field(default_factory=Latencies)
    # One pair per measuring window, all while the submissions are hung.
    windows: list[tuple[Latencies, Latencies]] = field(default_factory=list)
    hung_submissions: int = 0
    still_hung_at_end: int = 0
    pool_connections: int = 0
    log: str = ""

    def summary(self) -> dict[str, object]:
        return {
            "engine": self.engine,
            "pool_connections": self.pool_connections,
            "hung_submissions": self.hung_submissions,
            "still_hung_at_end": self.still_hung_at_end,
            "same_tenant_other_issuer": {
                "without": self.baseline_own.summary(),
                "with_slow_issuer": self.best(0).summary(),
                "windows_p99_ms": [round(w[0].quantile(0.99) * 1000, 1) for w in self.windows],
            },
            "other_tenant": {
                "without": self.baseline_other.summary(),
                "with_slow_issuer": self.best(1).summary(),
                "windows_p99_ms": [round(w[1].quantile(0.99) * 1000, 1) for w in self.windows],
            },
        }

    def best(self, who: int) -> Latencies:
        """The quietest window (lowest p99): the machine's noise is not the service's.
        A stall the slow issuer caused would show in every window."""
        return min((w[who] for w in self.windows), key=lambda lat: lat.quantile(0.99))


async def _ingest(client: httpx.AsyncClient, key: str, token: str, into: Latencies) -> None:
    started = time.perf_counter()
    response = await client.post(
        "/api/v1/mandates", json={"vc_jwt": token}, headers={"X-API-Key": key}
    )
    into.add(time.perf_counter() - started, response.status_code)


async def _steady(
    client: httpx.AsyncClient,
    plan: list[tuple[str, MintingIssuer, Latencies]],
    seconds: float,
) -> None:
    """Round-robin sequential ingests for `seconds`, one request at a time."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for key, issuer, into in plan:
            await _ingest(client, key, issuer.token(), into)


async def run_slow_issuer_drill(
    database_url: str,
    engine: str,
    *,
    hung: int = 8,
    pool_size: int = 2,
    seconds: float = 3.0,
    windows: int = 3,
    attempts: int = 1,
    enough: Callable[[SlowIssuerFigures], bool] = lambda _figures: True,
) -> list[SlowIssuerFigures]:
    """Up to `attempts` rounds on one server (each with a fresh slow issuer), until
    `enough(figures)` holds; every round's figures."""
    settings = make_settings(database_url)
    database = Database(settings)
    try:
        world = await build_world(database, settings)
    finally:
        await database.dispose()
    key_a = world.a["customer_admin"].api_key
    key_b = world.b["customer_admin"].api_key
    fast_a, fast_b = MintingIssuer(), MintingIssuer()
    host = HangingJwksHost()
    await host.start()
    rounds: list[SlowIssuerFigures] = []
    extra = {
        "JWKS_ALLOW_HTTP": "true",
        "JWKS_REFRESH_SECONDS": "1",
        "JWKS_FETCH_TIMEOUT": str(windows * seconds + 5),
        "DB_POOL_SIZE": str(pool_size),
        "DB_MAX_OVERFLOW": "0",
        "DB_POOL_TIMEOUT": "5",
        "LOG_LEVEL": "WARNING",
    }
    try:
        with serve(database_url, **extra) as server:
            limits = httpx.Limits(max_connections=hung + 16)
            async with httpx.AsyncClient(base_url=server.base, timeout=30, limits=limits) as client:

                async def register(key: str, body: dict[str, object]) -> None:
                    created = await client.post(
                        "/api/v1/issuers", json=body, headers={"X-API-Key": key}
                    )
                    assert created.status_code == 201, created.text

                await register(key_a, {"did": fast_a.did, "jwks": fast_a.jwks()})
                await register(key_b, {"did": fast_b.did, "jwks": fast_b.jwks()})
                await _steady(
                    client, [(key_a, fast_a, Latencies()), (key_b, fast_b, Latencies())], 0.5
                )
                for attempt in range(attempts):
                    figures = SlowIssuerFigures(engine, pool_connections=pool_size)
                    rounds.append(figures)
                    slow = MintingIssuer()
                    host.hanging = False
                    host.document = json.dumps(slow.jwks()).encode()
                    url = f"{host.url}?round={attempt}"
                    await register(key_a, {"did": slow.did, "jwks_url": url})
                    # The baseline, with no slow issuer in play.
                    await _steady(
                        client,
                        [
                            (key_a, fast_a, figures.baseline_own),
                            (key_b, fast_b, figures.baseline_other),
                        ],
                        seconds,
                    )
                    # The host hangs; the slow issuer's keys go stale, so each submission
                    # naming it needs a fetch that will not come back within the round.
                    host.hanging = True
                    await asyncio.sleep(1.2)
                    pending = [
                        asyncio.create_task(
                            client.post(
                                "/api/v1/mandates",
                                json={"vc_jwt": slow.token()},
                                headers={"X-API-Key": key_a},
                            )
                        )
                        for _ in range(hung)
                    ]
                    figures.hung_submissions = hung
                    await asyncio.sleep(0.3)
                    for _ in range(windows):
                        own, other = Latencies(), Latencies()
                        plan = [(key_a, fast_a, own), (key_b, fast_b, other)]
                        await _steady(client, plan, seconds)
                        figures.windows.append((own, other))
                    figures.still_hung_at_end = sum(not task.done() for task in pending)
                    host.release()  # the hung fetch fails now; the submissions finish
                    await asyncio.wait(pending, timeout=15)
                    for task in pending:
                        if not task.done():
                            task.cancel()
                    if enough(figures):
                        break
            for figures in rounds:
                figures.log = server.log_text()
    finally:
        await host.stop()
    return rounds
