"""The bulk path on PostgreSQL: `mandates import` of 100,000 lines and `POST /mandates/batch`.

1. Mints LINES distinct valid ES256 generic mandates with the demo minting code
   (`app.demo.minting`; cached in /tmp between runs) into a JSON Lines file.
2. Imports them into a fresh migrated database through `import_lines` (what
   `mandate-vault mandates import` runs), and reports mandates/s with the CPU of
   this process, of the verification workers and of the PostgreSQL backends.
3. The same file through the command itself (`python -m app.cli mandates import`).
4. Baseline, same run: the per-item path (each line through `MandateService.ingest`,
   200 lines a transaction, as the importer did before) on BASELINE lines.
5. A server on port 8740 and `POST /api/v1/mandates/batch` of 1,000 items each,
   sequential requests: items/s and server CPU (with its workers) per item.

    flock /tmp/mandate-vault-bench.lock .venv/bin/python bench/bulk_import.py [LINES] [BASELINE]
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import resource
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from dbops_common import (  # noqa: E402
    cli_env,
    create_database,
    drop_database,
    migrate,
    settings_for,
    url_for,
)

LINES = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
BASELINE = int(sys.argv[2]) if len(sys.argv) > 2 else 5_000
PORT = int(os.environ.get("BENCH_PORT", "8740"))
BATCH = 1_000
BATCH_REQUESTS = min(20, LINES // BATCH - 1)
CACHE = Path("/tmp/mandate-vault-bench-bulk")
TICKS = os.sysconf("SC_CLK_TCK")


def _mint_part(args: tuple[dict, int, int]) -> list[str]:
    from app.demo.minting import IssuerKey, MintOptions, mint

    key_data, start, count = args
    key = IssuerKey(**key_data)
    return [
        json.dumps({"vc_jwt": mint(key, MintOptions("generic", scope=f"bulk-{i}", days=300))})
        for i in range(start, start + count)
    ]


def mandates_file(lines: int) -> tuple[Path, dict]:
    """LINES tokens of one issuer (minted once, reused while they are valid)."""
    from app.demo.minting import new_key

    CACHE.mkdir(exist_ok=True)
    path, key_path = CACHE / f"mandates-{lines}.jsonl", CACHE / f"key-{lines}.json"
    if path.exists() and key_path.exists() and time.time() - path.stat().st_mtime < 200 * 86400:
        return path, json.loads(key_path.read_text())
    key = new_key("did:web:bulk.bench.example", "k1")
    key_data = {"did": key.did, "kid": key.kid, "private_jwk": key.private_jwk}
    step = 5_000
    parts = [(key_data, start, min(step, lines - start)) for start in range(0, lines, step)]
    started = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool() as pool:
        chunks = pool.map(_mint_part, parts)
    path.write_text("\n".join(line for chunk in chunks for line in chunk) + "\n")
    key_path.write_text(json.dumps(key_data))
    print(f"minted {lines:,} tokens in {time.perf_counter() - started:.1f} s")
    return path, key_data


def cpu_of(pid: int) -> float:
    """utime + stime of a live process, seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def descendants(pid: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int(
                    (entry / "stat").read_text().rsplit(")", 1)[1].split()[1]
                )
            except (OSError, ValueError):
                continue
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, of in parents.items() if of == parent]
        found += children
        frontier += children
    return found


async def pg_backends_cpu(database: str) -> float:
    """CPU of the PostgreSQL backends connected to `database` now (same machine)."""
    import asyncpg

    connection = await asyncpg.connect(url_for("postgres").replace("+asyncpg", ""))
    try:
        pids = [
            r[0]
            for r in await connection.fetch(
                "SELECT pid FROM pg_stat_activity WHERE datname = $1", database
            )
        ]
    finally:
        await connection.close()
    total = 0.0
    for pid in pids:
        try:
            total += cpu_of(pid)
        except OSError:
            continue
    return total


async def prepare(database: str, key_data: dict) -> uuid.UUID:
    from app.core.actor import Actor
    from app.core.database import Database
    from app.issuers.schemas import IssuerCreate
    from app.issuers.service import IssuerService
    from app.models import Tenant

    db = Database(settings_for(database))
    try:
        async with db.sessions() as session, session.begin():
            tenant = Tenant(name="Bulk bench", slug=f"bulk-{uuid.uuid4().hex[:8]}")
            session.add(tenant)
            await session.flush()
            public = {k: v for k, v in key_data["private_jwk"].items() if k != "d"}
            await IssuerService(session, tenant.id, Actor.system("bench"), None).create(
                IssuerCreate(did=key_data["did"], jwks={"keys": [public]})
            )
            return tenant.id
    finally:
        await db.dispose()


async def import_in_process(database: str, tenant_id: uuid.UUID, path: Path) -> dict:
    from app.core.database import Database
    from app.issuers.trust import TrustLoader
    from app.mandates.importer import import_lines
    from app.mandates.verifier_pool import VerifierPool

    settings = settings_for(database)
    db = Database(settings)
    pool = VerifierPool()
    try:
        # Start the workers before the clock runs (a server has them warm after its first batch).
        workers = pool.start()
        workers_before = sum(cpu_of(pid) for pid in workers)
        cpu_before, started = time.process_time(), time.perf_counter()
        with path.open("rb") as lines:
            summary = await import_lines(
                db, tenant_id, lines, settings, TrustLoader(None), pool=pool
            )
        elapsed = time.perf_counter() - started
        main_cpu = time.process_time() - cpu_before
        workers_cpu = sum(cpu_of(pid) for pid in workers) - workers_before
        pg_cpu = await pg_backends_cpu(database)
    finally:
        pool.close()
        await db.dispose()
    return {
        "summary": summary,
        "elapsed": elapsed,
        "main_cpu": main_cpu,
        "workers_cpu": workers_cpu,
        "pg_cpu": pg_cpu,
    }


async def baseline_per_item(database: str, tenant_id: uuid.UUID, path: Path, lines: int) -> float:
    """The importer as it was: each line through `ingest`, 200 lines a transaction."""
    from app.core.actor import Actor
    from app.core.database import Database
    from app.issuers.trust import TrustLoader
    from app.mandates.importer import parse_line
    from app.mandates.service import MandateService

    settings = settings_for(database)
    db = Database(settings)
    trust, actor = TrustLoader(None), Actor.system("cli-import")
    with path.open("rb") as handle:
        raw = [next(handle) for _ in range(lines)]
    requests = [parse_line(line) for line in raw]
    try:
        started = time.perf_counter()
        for start in range(0, len(requests), 200):
            async with db.sessions() as session, session.begin():
                service = MandateService(session, tenant_id, actor, trust, settings)
                for request in requests[start : start + 200]:
                    assert not isinstance(request, str)
                    await service.ingest(request)
        return time.perf_counter() - started
    finally:
        await db.dispose()


def import_command(database: str, tenant_id: uuid.UUID, path: Path) -> tuple[float, float, str]:
    env = cli_env(url_for(database))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "app.cli",
            "mandates",
            "import",
            str(path),
            "--tenant",
            str(tenant_id),
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu, done.stdout.splitlines()[0]


def batch_endpoint(database: str, tenant_id: uuid.UUID, path: Path) -> dict:
    env = cli_env(
        url_for(database),
        ENVIRONMENT="production",
        RATE_LIMIT_ENABLED="false",
        EXPIRY_SWEEP_SECONDS="0",
    )
    key = subprocess.run(
        [sys.executable, "-m", "app.cli", "api-keys", "create", "--tenant", str(tenant_id),
         "--role", "customer_user", "--name", "bench"],
        env=env, cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.strip().splitlines()[-1]  # fmt: skip
    with path.open() as handle:
        tokens = [json.loads(next(handle))["vc_jwt"] for _ in range(BATCH * (BATCH_REQUESTS + 1))]
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app.main:app", "--port", str(PORT),
         "--log-level", "warning", "--no-access-log"],
        env=env, cwd=ROOT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{PORT}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(base + "/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        headers = {"X-API-Key": key}
        with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
            # Warm-up: the first big batch starts the verification workers.
            first = client.post(
                "/api/v1/mandates/batch", json={"items": [{"vc_jwt": t} for t in tokens[:BATCH]]}
            )
            first.raise_for_status()
            tree = [server.pid, *descendants(server.pid)]
            cpu_before = sum(cpu_of(pid) for pid in tree)
            latencies = []
            started = time.perf_counter()
            for n in range(1, BATCH_REQUESTS + 1):
                items = [{"vc_jwt": t} for t in tokens[n * BATCH : (n + 1) * BATCH]]
                sent = time.perf_counter()
                response = client.post("/api/v1/mandates/batch", json={"items": items})
                latencies.append(time.perf_counter() - sent)
                response.raise_for_status()
                assert response.json()["summary"] == {"VALID": BATCH}, response.json()["summary"]
            elapsed = time.perf_counter() - started
            cpu = sum(cpu_of(pid) for pid in tree) - cpu_before
    finally:
        server.terminate()
        server.wait(timeout=20)
    latencies.sort()
    return {
        "items_per_s": BATCH * BATCH_REQUESTS / elapsed,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "max_ms": latencies[-1] * 1000,
        "cpu_ms_per_item": cpu * 1000 / (BATCH * BATCH_REQUESTS),
        "processes": len(tree),
    }


def main() -> None:
    path, key_data = mandates_file(LINES)
    print(f"nproc={os.cpu_count()} loadavg={tuple(round(x, 2) for x in os.getloadavg())}")
    names = []
    try:
        name = create_database("bulkh_import")
        names.append(name)
        migrate(name)
        tenant = asyncio.run(prepare(name, key_data))
        run = asyncio.run(import_in_process(name, tenant, path))
        summary, elapsed = run["summary"], run["elapsed"]
        assert summary.created == LINES, summary
        rate = LINES / elapsed
        print(
            f"import_lines, {LINES:,} lines: {elapsed:.2f} s = {rate:,.0f} mandates/s; CPU: "
            f"importer {run['main_cpu']:.1f} s, workers {run['workers_cpu']:.1f} s, "
            f"PostgreSQL backends {run['pg_cpu']:.1f} s "
            f"({(run['main_cpu'] + run['workers_cpu'] + run['pg_cpu']) * 1e6 / LINES:.0f} us CPU per mandate in all)"
        )

        name = create_database("bulkh_cli")
        names.append(name)
        migrate(name)
        tenant = asyncio.run(prepare(name, key_data))
        elapsed, cpu, said = import_command(name, tenant, path)
        print(
            f"mandate-vault mandates import, {LINES:,} lines: {elapsed:.2f} s = "
            f"{LINES / elapsed:,.0f} mandates/s (process start and line count included; "
            f"CPU of the command and its reaped children {cpu:.1f} s): {said}"
        )

        name = create_database("bulkh_base")
        names.append(name)
        migrate(name)
        tenant = asyncio.run(prepare(name, key_data))
        base_elapsed = asyncio.run(baseline_per_item(name, tenant, path, BASELINE))
        base_rate = BASELINE / base_elapsed
        print(
            f"baseline per-item path, {BASELINE:,} lines: {base_elapsed:.2f} s = "
            f"{base_rate:,.0f} mandates/s; bulk/baseline {rate / base_rate:.1f}x"
        )

        name = create_database("bulkh_batch")
        names.append(name)
        migrate(name)
        tenant = asyncio.run(prepare(name, key_data))
        batch = batch_endpoint(name, tenant, path)
        print(
            f"POST /api/v1/mandates/batch x{BATCH_REQUESTS} of {BATCH:,} items, sequential: "
            f"{batch['items_per_s']:,.0f} items/s, p50 {batch['p50_ms']:.0f} ms, "
            f"max {batch['max_ms']:.0f} ms; server + {batch['processes'] - 1} workers "
            f"{batch['cpu_ms_per_item']:.2f} ms CPU per item"
        )
    finally:
        for name in names:
            drop_database(name)


if __name__ == "__main__":
    main()
