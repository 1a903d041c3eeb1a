"""Instructions per request, counted by valgrind, for changes too small for wall clocks.

On a shared 2-core VM the CPU time of one request moves by 20-30 % from run to run,
which hides a change of a few per cent. The number of instructions a request runs
moves by about 1 %. This script counts them (valgrind's callgrind, counting only
around the measured requests) for requests sent straight to the ASGI app, in
process, on PostgreSQL: no HTTP parsing, no sockets to the client, so it measures
the application's own work (the database driver's included).

    .venv/bin/python bench/instructions.py                       # this checkout
    .venv/bin/python bench/instructions.py --tree /tmp/base      # and another one, in turns

Each tree is a checkout of the project (say `git worktree add /tmp/base <commit>`);
all run with this virtualenv, against one scratch database filled with `--rows`
mandates. System calls and waits are not instructions of the process: the figure
complements the wrk runs of `throughput.py`, it does not replace them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _server import ROOT, cli, production_environment

ADMIN = os.environ.get("BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
OPS = ("healthz", "me", "get", "search")


async def prepare(dsn: str, env: dict[str, str], rows: int) -> dict[str, object]:
    """A migrated database with a tenant, its key and `rows` mandates; some of their ids."""
    # Imported here: it imports the app, which the measured child takes from its own tree.
    from dashboard_pages import FILL_MANDATES

    cli(env, "db", "upgrade")
    tenant = cli(env, "tenants", "create", "Bench").strip()
    key = cli(env, "api-keys", "create", "--tenant", tenant, "--role", "customer_admin",
              "--name", "bench").strip().splitlines()[-1]  # fmt: skip
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(FILL_MANDATES, uuid.UUID(tenant), 7 * 86400 - 60, rows)
        await connection.execute("VACUUM ANALYZE")
        ids = await connection.fetch("SELECT id FROM mandates ORDER BY random() LIMIT 1000")
    finally:
        await connection.close()
    return {"key": key, "ids": [str(row["id"]) for row in ids]}


def count(
    tree: Path, state: Path, env: dict[str, str], requests: int, keep: Path | None = None
) -> dict[str, int]:
    """Instructions per request of each op, from a child run under callgrind.

    With `keep`, each op's callgrind file is copied there (`<op>.callgrind`), for
    `callgrind_annotate --inclusive=yes` to say where the instructions went.
    """
    with tempfile.TemporaryDirectory(prefix="mv-instructions-") as work:
        subprocess.run(
            ["valgrind", "--tool=callgrind", "--instr-atstart=no", sys.executable, __file__,
             "--child", str(tree), "--state", str(state), "--requests", str(requests)],
            env=env, cwd=work, check=True, capture_output=True,
        )  # fmt: skip
        figures = {}
        for dump in Path(work).glob("callgrind.out.*.*"):
            text = dump.read_text(errors="replace")
            op = next(
                line.split()[-1] for line in text.splitlines() if line.startswith("desc: Trigger")
            )
            total = next(
                int(line.split()[1]) for line in text.splitlines() if line.startswith("totals:")
            )
            figures[op] = total // requests
            if keep is not None:
                keep.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(dump, keep / f"{op}.callgrind")
        return figures


async def child(tree: Path, state: dict[str, object], requests: int, settle: float) -> None:
    """Runs in the measured process: the app of `tree`, each op `requests` times."""
    sys.path.insert(0, str(tree))
    from app.main import create_app

    app = create_app()
    key = str(state["key"]).encode()
    ids = list(state["ids"])  # type: ignore[call-overload]

    async def call(path: str, query: bytes = b"") -> int:
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
            "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": query,
            "root_path": "", "headers": [(b"host", b"127.0.0.1"), (b"x-api-key", key)],
            "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000),
        }  # fmt: skip
        status = 0

        async def receive() -> dict[str, object]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, object]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])  # type: ignore[call-overload]

        await app(scope, receive, send)
        return status

    requests_of = {
        "healthz": lambda i: call("/healthz"),
        "me": lambda i: call("/api/v1/auth/me"),
        "get": lambda i: call(f"/api/v1/mandates/{ids[i % len(ids)]}"),
        "search": lambda i: call("/api/v1/mandates", b"status=active&limit=50"),
    }

    def callgrind(*args: str) -> None:
        subprocess.run(["callgrind_control", *args, str(os.getpid())], check=True,
                       capture_output=True)  # fmt: skip

    async with app.router.lifespan_context(app):
        if settle:
            # The server's jobs (expiry sweep, alerts, sealing) catch up with the fill
            # here, outside valgrind, so that no turn counts that work.
            await asyncio.sleep(settle)
            return
        for op in OPS:
            send = requests_of[op]
            for i in range(20):  # warm: caches, prepared statements, pooled connections
                if await send(i) != 200:
                    raise SystemExit(f"{op} answered {await send(i)}")
            callgrind("--instr=on")
            for i in range(requests):
                await send(i)
            callgrind("--instr=off")
            callgrind("--dump=" + op)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tree", action="append", default=[], help="another checkout to count")
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--turns", type=int, default=2)
    parser.add_argument("--keep", type=Path, help="copy the last turn's callgrind files here")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--state", help=argparse.SUPPRESS)
    parser.add_argument("--settle", type=float, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        state = json.loads(Path(args.state).read_text())
        asyncio.run(child(Path(args.child), state, args.requests, args.settle))
        return
    trees = [ROOT, *(Path(tree).resolve() for tree in args.tree)]
    name = f"bench_ir_{uuid.uuid4().hex[:8]}"
    dsn = ADMIN.rsplit("/", 1)[0] + f"/{name}"
    env = production_environment(dsn, RETENTION_SCHEDULE_ENABLED="false")

    # Imported here, like FILL_MANDATES: throughput imports the app through it.
    from throughput import sql

    asyncio.run(sql(ADMIN, f'CREATE DATABASE "{name}"'))
    state: Path | None = None
    try:
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
            json.dump(asyncio.run(prepare(dsn, env, args.rows)), handle)
        state = Path(handle.name)
        subprocess.run(
            [sys.executable, __file__, "--child", str(ROOT), "--state", str(state), "--settle", "30"],
            env=env, check=True, capture_output=True,
        )  # fmt: skip
        print(f"{args.rows:,} mandates, {args.requests} requests per op, instructions per request")
        runs: dict[Path, list[dict[str, int]]] = {tree: [] for tree in trees}
        for turn in range(args.turns):
            for tree in trees:
                started = time.perf_counter()
                keep = args.keep / tree.name if args.keep else None
                figures = count(tree, state, env, args.requests, keep)
                runs[tree].append(figures)
                shown = "  ".join(f"{op} {figures[op]:>9,}" for op in OPS)
                print(f"  turn {turn + 1} {tree}: {shown}  ({time.perf_counter() - started:.0f} s)")
        first = trees[0]
        for tree in trees:
            best = {op: min(run[op] for run in runs[tree]) for op in OPS}
            ratios = "  ".join(
                f"{op} {best[op] / min(run[op] for run in runs[first]):.3f}" for op in OPS
            )
            print(f"least of the turns, {tree}: " + "  ".join(f"{op} {best[op]:,}" for op in OPS))
            if tree != first:
                print(f"  as a share of {first}: {ratios}")
    finally:
        if state is not None:
            state.unlink()
        asyncio.run(sql(ADMIN, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
