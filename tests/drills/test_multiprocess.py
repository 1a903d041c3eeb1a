"""Several server processes on one PostgreSQL database.

Two real `mandate-vault serve` processes (A and B) share a database: a change made
through one (revoking a key, signing out, deactivating a user or a tenant) is
refused by the other within the stated bound (at once through Redis pub/sub when
REDIS_URL is set, within AUTH_CACHE_TTL_SECONDS otherwise); a rate limit counted in
Redis holds across both; the expiry sweep and retention do their work once. And
`serve --workers 2` is one port answered by two processes.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import redis
from sqlalchemy import func, insert, select

from app.core.database import Database
from app.models import AuditLog, Mandate
from tests.conftest import (
    TEST_SECRET,
    create_pg_database,
    drop_pg_database,
    make_settings,
    run_cli,
)
from tests.drills.server import ROOT, Server, serve, serve_several, server_env
from tests.world import PASSWORD, World, build_world

REDIS_URL = "redis://127.0.0.1:6379/5"
PROMPT = 1.0  # seconds: "at once" through Redis
LONG_TTL = 30.0  # with Redis, so only the broadcast can explain a prompt refusal
SHORT_TTL = 3.0  # without Redis: the bound itself
KEY_LIMIT = 30  # requests per minute per API key on the Redis pair

pytestmark = [pytest.mark.drill, pytest.mark.slow, pytest.mark.xdist_group("multiprocess")]


@dataclass
class Pair:
    a: Server
    b: Server
    world: World
    database_url: str
    env: dict[str, str]


@pytest.fixture(scope="module")
def pg_database(postgres_available: bool, postgres_template: str) -> Iterator[str]:
    if not postgres_available:
        pytest.skip("POSTGRESQL TESTS SKIPPED: several processes are a PostgreSQL deployment")
    name = f"mph_{uuid.uuid4().hex[:16]}"
    url = create_pg_database(name, template=postgres_template)
    try:
        yield url
    finally:
        drop_pg_database(name)


def _world(url: str) -> World:
    async def build() -> World:
        database = Database(make_settings(url))
        try:
            return await build_world(database, make_settings(url))
        finally:
            await database.dispose()

    return asyncio.run(build())


def _db(url: str, job: Callable[..., object]) -> object:
    async def main() -> object:
        database = Database(make_settings(url))
        try:
            async with database.sessions() as session, session.begin():
                return await job(session)
        finally:
            await database.dispose()

    return asyncio.run(main())


@pytest.fixture(scope="module")
def redis_prefix() -> Iterator[str]:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError as error:
        pytest.fail(f"no Redis at {REDIS_URL}: {error}")
    prefix = f"mvt:{uuid.uuid4().hex[:12]}:"
    yield prefix
    for key in client.scan_iter(match=f"{prefix}*"):
        client.delete(key)
    client.close()


@pytest.fixture(scope="module")
def redis_pair(pg_database: str, redis_prefix: str) -> Iterator[Pair]:
    world = _world(pg_database)
    extra = {
        "REDIS_URL": REDIS_URL,
        "REDIS_PREFIX": redis_prefix,
        "AUTH_CACHE_TTL_SECONDS": str(LONG_TTL),
        "RATE_LIMIT_API_KEY_PER_MINUTE": str(KEY_LIMIT),
        "EXPIRY_SWEEP_SECONDS": "0.3",
        "ALERT_SWEEP_SECONDS": "0",
    }
    with serve_several(2, pg_database, **extra) as (a, b):
        pair = Pair(a, b, world, pg_database, server_env(pg_database, **extra))
        _listening(pair)
        yield pair


def _refused_within(
    server: Server, headers: dict[str, str], seconds: float, poll: float = 0.05
) -> tuple[float, httpx.Response]:
    """Seconds until `server` refuses these credentials (fails past `seconds`)."""
    started = time.monotonic()
    with httpx.Client(base_url=server.base, timeout=5) as client:
        while True:
            answer = client.get("/api/v1/auth/me", headers=headers)
            elapsed = time.monotonic() - started
            if answer.status_code != 200:
                return elapsed, answer
            assert elapsed < seconds, f"still accepted after {elapsed:.2f} s"
            time.sleep(poll)


def _metrics(server: Server) -> dict[str, float]:
    """The process's invalidation figures from its /metrics."""
    from prometheus_client.parser import text_string_to_metric_families

    found = {"subscribed": 0.0, "sent": 0.0, "heard": 0.0, "not_sent": 0.0}
    text = httpx.get(server.base + "/metrics", timeout=5).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "mandate_vault_auth_invalidation_subscribed":
                found["subscribed"] = sample.value
            elif sample.name == "mandate_vault_auth_invalidations_total":
                found[sample.labels["outcome"]] = sample.value
    return found


def _warm(server: Server, headers: dict[str, str]) -> None:
    """Make `server` hold these credentials in its cache."""
    for _ in range(2):
        assert httpx.get(server.base + "/api/v1/auth/me", headers=headers).status_code == 200


def _listening(pair: Pair) -> None:
    """Until both processes have subscribed to the invalidation channel."""
    deadline = time.monotonic() + 15
    for server in (pair.a, pair.b):
        while "auth_invalidation_listening" not in server.log_text():
            assert time.monotonic() < deadline, f"{server.base} never subscribed"
            time.sleep(0.05)


# Through Redis: at once.


def test_key_revoked_through_one_process_is_refused_by_the_other_at_once(redis_pair):
    pair = redis_pair
    user = pair.world.a["customer_user"]
    admin = pair.world.a["customer_admin"]
    _warm(pair.b, user.key())
    revoked = httpx.delete(
        f"{pair.a.base}/api/v1/api-keys/{user.key_id}", headers=admin.bearer(), timeout=5
    )
    assert revoked.status_code == 204
    elapsed, answer = _refused_within(pair.b, user.key(), PROMPT)
    assert (answer.status_code, answer.json()["code"]) == (401, "api_key_revoked")
    assert elapsed < PROMPT
    # Each process says so in its own /metrics.
    told, heard = _metrics(pair.a), _metrics(pair.b)
    assert told["subscribed"] == heard["subscribed"] == 1
    assert told["sent"] >= 1
    assert heard["heard"] >= 1


def test_signing_out_through_one_process_ends_the_session_in_the_other(redis_pair):
    pair = redis_pair
    user = pair.world.a["readonly"]
    _warm(pair.b, user.bearer())
    out = httpx.post(f"{pair.a.base}/api/v1/auth/logout", headers=user.bearer(), timeout=5)
    assert out.status_code == 204
    elapsed, answer = _refused_within(pair.b, user.bearer(), PROMPT)
    assert (answer.status_code, answer.json()["code"]) == (401, "session_revoked")


CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
HTML = {"accept": "text/html"}


def _csrf(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page has no form token"
    return found.group(1)


def test_signing_out_of_the_dashboard_in_one_process_ends_it_in_the_other(redis_pair):
    pair = redis_pair
    person = pair.world.a["customer_admin"]
    with (
        httpx.Client(base_url=pair.a.base, timeout=5, headers=HTML) as a,
        httpx.Client(base_url=pair.b.base, timeout=5, headers=HTML) as b,
    ):
        form = a.get("/login")
        signed_in = a.post(
            "/login",
            data={"csrf_token": _csrf(form.text), "email": person.email, "password": PASSWORD},
        )
        assert signed_in.status_code in (302, 303)
        b.cookies = a.cookies  # the same browser, balanced onto the other process
        assert httpx.get(pair.b.base + "/audit", headers=HTML).status_code == 303  # no cookie
        for _ in range(2):
            assert b.get("/audit").status_code == 200
        overview = a.get("/")
        assert overview.status_code == 200
        out = a.post("/logout", data={"csrf_token": _csrf(overview.text)})
        assert (out.status_code, out.headers["location"]) == (303, "/login?reason=signed_out")
        started = time.monotonic()
        while (page := b.get("/audit")).status_code == 200:
            assert time.monotonic() - started < PROMPT, "the other process still serves it"
            time.sleep(0.05)
        assert page.status_code in (302, 303)
        assert page.headers["location"].startswith("/login")


def test_deactivating_a_user_holds_in_the_other_process(redis_pair):
    pair = redis_pair
    user = pair.world.a["customer_user"]
    admin = pair.world.a["customer_admin"]
    _warm(pair.b, user.bearer())
    changed = httpx.patch(
        f"{pair.a.base}/api/v1/users/{user.user_id}",
        json={"is_active": False},
        headers=admin.bearer(),
        timeout=5,
    )
    assert changed.status_code == 200
    assert changed.json()["is_active"] is False
    _elapsed, answer = _refused_within(pair.b, user.bearer(), PROMPT)
    assert answer.status_code == 401
    assert answer.json()["code"] in {"session_revoked", "account_disabled"}


def test_deactivating_a_tenant_holds_in_the_other_process(redis_pair):
    pair = redis_pair
    member = pair.world.b["readonly"]
    _warm(pair.b, member.key())
    assert pair.world.admin is not None
    gone = httpx.delete(
        f"{pair.a.base}/api/v1/customers/{pair.world.tenant_b}",
        headers=pair.world.admin.bearer(),
        timeout=5,
    )
    assert gone.status_code == 200
    _elapsed, answer = _refused_within(pair.b, member.key(), PROMPT)
    assert (answer.status_code, answer.json()["code"]) == (403, "tenant_inactive")


def test_a_key_revoked_at_the_command_line_is_refused_by_both_at_once(redis_pair):
    pair = redis_pair
    key = pair.world.a["readonly"]
    for server in (pair.a, pair.b):
        _warm(server, key.key())
    env = {**pair.env, "LOG_LEVEL": "WARNING", "WEBHOOK_WORKER_IN_SERVER": "false"}
    result = run_cli("api-keys", "revoke", str(key.key_id), env=env, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"revoked {key.key_id}"
    assert "Redis did not answer" not in result.stderr
    for server in (pair.a, pair.b):
        _elapsed, answer = _refused_within(server, key.key(), PROMPT)
        assert (answer.status_code, answer.json()["code"]) == (401, "api_key_revoked")


def test_a_rate_limit_counted_in_redis_holds_across_both(redis_pair):
    pair = redis_pair
    headers = pair.world.a["customer_admin"].key()  # a key no other test spends
    if time.time() % 60 > 45:  # one fixed one-minute window for the whole burst
        time.sleep(61 - time.time() % 60)
    codes: list[int] = []
    with (
        httpx.Client(base_url=pair.a.base, timeout=5) as a,
        httpx.Client(base_url=pair.b.base, timeout=5) as b,
    ):
        for i in range(2 * KEY_LIMIT):
            codes.append((a if i % 2 else b).get("/api/v1/auth/me", headers=headers).status_code)
    assert codes.count(200) == KEY_LIMIT
    assert codes.count(429) == KEY_LIMIT
    assert codes[:KEY_LIMIT] == [200] * KEY_LIMIT  # admitted first, then refused by both
    limited_by = {i % 2 for i, code in enumerate(codes) if code == 429}
    assert limited_by == {0, 1}


def test_the_expiry_sweep_expires_each_mandate_once(redis_pair):
    pair = redis_pair
    soon = datetime.now(UTC) + timedelta(seconds=1)
    rows = [
        {
            **_mandate(pair.world.tenant_a),
            "expires_at": soon + timedelta(milliseconds=10 * i),
        }
        for i in range(60)
    ]
    ids = {row["id"] for row in rows}

    async def add(session):
        await session.execute(insert(Mandate), rows)

    _db(pair.database_url, add)

    async def expired(session):
        return await session.scalar(
            select(func.count()).where(Mandate.id.in_(ids), Mandate.status == "expired")
        )

    deadline = time.monotonic() + 30
    while _db(pair.database_url, expired) != len(ids):
        assert time.monotonic() < deadline, "the sweep did not expire them"
        time.sleep(0.2)
    time.sleep(1.5)  # several more rounds of both processes

    async def audited(session):
        return list(
            await session.scalars(
                select(AuditLog.resource_id).where(
                    AuditLog.action == "mandate.expired",
                    AuditLog.resource_id.in_([str(i) for i in ids]),
                )
            )
        )

    resources = _db(pair.database_url, audited)
    assert isinstance(resources, list)
    assert len(resources) == len(ids)
    assert {uuid.UUID(str(r)) for r in resources} == ids


# Without Redis: within the TTL; retention at its time, once.


RETENTION_PURGED = 5


@pytest.fixture(scope="module")
def ttl_pair(pg_database_2: str) -> Iterator[tuple[Pair, datetime]]:
    world = _world(pg_database_2)
    deleted = datetime.now(UTC) - timedelta(days=100)
    rows = [_mandate(world.tenant_a, deleted_at=deleted) for _ in range(RETENTION_PURGED)]

    async def add(session):
        await session.execute(insert(Mandate), rows)

    _db(pg_database_2, add)
    run_at = (datetime.now(UTC) + timedelta(seconds=20)).replace(microsecond=0)
    extra = {
        "AUTH_CACHE_TTL_SECONDS": str(SHORT_TTL),
        "RETENTION_SCHEDULE_ENABLED": "true",
        "RETENTION_RUN_AT": run_at.strftime("%H:%M:%S"),
        "ALERT_SWEEP_SECONDS": "0",
    }
    with serve_several(2, pg_database_2, **extra) as (a, b):
        yield Pair(a, b, world, pg_database_2, server_env(pg_database_2, **extra)), run_at


@pytest.fixture(scope="module")
def pg_database_2(postgres_available: bool, postgres_template: str) -> Iterator[str]:
    if not postgres_available:
        pytest.skip("POSTGRESQL TESTS SKIPPED: several processes are a PostgreSQL deployment")
    name = f"mph_{uuid.uuid4().hex[:16]}"
    url = create_pg_database(name, template=postgres_template)
    try:
        yield url
    finally:
        drop_pg_database(name)


def test_without_redis_a_revoked_key_is_refused_by_the_other_within_the_ttl(ttl_pair):
    pair, _run_at = ttl_pair
    user = pair.world.a["customer_user"]
    admin = pair.world.a["customer_admin"]
    with httpx.Client(base_url=pair.b.base, timeout=5) as b:
        assert b.get("/api/v1/auth/me", headers=user.key()).status_code == 200
        cached_at = time.monotonic()  # B looked the key up in the database just now
        revoked = httpx.delete(
            f"{pair.a.base}/api/v1/api-keys/{user.key_id}", headers=admin.bearer(), timeout=5
        )
        assert revoked.status_code == 204
        # A refuses it at once; B answers from its cache until the entry's TTL ends.
        assert httpx.get(pair.a.base + "/api/v1/auth/me", headers=user.key()).status_code == 401
        still = b.get("/api/v1/auth/me", headers=user.key())
        if time.monotonic() - cached_at < SHORT_TTL - 0.5:
            assert still.status_code == 200
    _elapsed, answer = _refused_within(pair.b, user.key(), SHORT_TTL + 1.0)
    assert (answer.status_code, answer.json()["code"]) == (401, "api_key_revoked")
    assert time.monotonic() - cached_at <= SHORT_TTL + 1.0


def test_scheduled_retention_runs_once_across_both(ttl_pair):
    pair, run_at = ttl_pair

    async def runs(session):
        return list(
            await session.scalars(
                select(AuditLog.details).where(AuditLog.action == "retention.run")
            )
        )

    deadline = run_at + timedelta(seconds=40)
    while not _db(pair.database_url, runs):
        assert datetime.now(UTC) < deadline, "retention did not run at RETENTION_RUN_AT"
        time.sleep(0.5)
    # Both processes woke at RETENTION_RUN_AT: one ran, the other found it taken or done.
    for server in (pair.a, pair.b):
        wait_for_log(server, "retention_run", until=deadline)
    reports = _db(pair.database_url, runs)
    assert isinstance(reports, list)
    assert len(reports) == 1
    assert reports[0]["mandates_purged"] == RETENTION_PURGED

    async def purged(session):
        return await session.scalar(select(func.count()).where(AuditLog.action == "mandate.purged"))

    assert _db(pair.database_url, purged) == RETENTION_PURGED


def wait_for_log(server: Server, event: str, until: datetime) -> None:
    while event not in server.log_text():
        assert datetime.now(UTC) < until, f"{server.base} never logged {event}"
        time.sleep(0.2)


def _mandate(tenant_id: uuid.UUID, **values: object) -> dict[str, object]:
    from tests.factories import mandate_row

    return mandate_row(tenant_id, **values)


# `serve --workers 2`: one port, two processes.


def _children(pid: int) -> list[int]:
    """The worker processes uvicorn spawned (not multiprocessing's helpers)."""
    found = []
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        cmdline = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ")
        if b"spawn_main" in cmdline:
            found.append(int(child))
    return found


def _tcp_sockets(port: int) -> dict[int, tuple[str, int]]:
    """inode -> (state, remote port) of this host's IPv4 sockets with local `port`."""
    sockets = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, state, inode = fields[1], fields[2], fields[3], int(fields[9])
        if int(local.split(":")[1], 16) == port:
            sockets[inode] = (state, int(remote.split(":")[1], 16))
    return sockets


def _socket_inodes(pid: int) -> set[int]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if match := re.fullmatch(r"socket:\[(\d+)\]", target):
            inodes.add(int(match.group(1)))
    return inodes


LISTEN, ESTABLISHED = "0A", "01"


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads /proc (Linux)")
def test_serve_with_two_workers_answers_on_one_port_from_two_processes(pg_database):
    # Each worker reads the settings file itself (SECRET_KEY is only there).
    with serve(
        pg_database, "--workers", "2", settings_file=True, ALERT_SWEEP_SECONDS="0"
    ) as server:
        port = int(server.base.rsplit(":", 1)[1])
        deadline = time.monotonic() + 30
        while len(workers := _children(server.process.pid)) < 2:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert len(workers) == 2
        # Each started the application once (the banner is the parent's, once).
        while server.log_text().count("Application startup complete.") < 2:
            assert time.monotonic() < deadline, "a worker did not finish starting"
            time.sleep(0.1)
        log = server.log_text()
        assert log.count("Application startup complete.") == 2
        assert log.count("Dashboard: ") == 1
        assert f"2 server processes on port {port}" in log
        started = {int(p) for p in re.findall(r"\bstartup\b.*\bpid=(\d+)", log)}
        assert started == set(workers)
        # Both hold the one listening socket.
        listening = {i for i, (state, _) in _tcp_sockets(port).items() if state == LISTEN}
        assert len(listening) == 1
        for worker in workers:
            assert listening <= _socket_inodes(worker)
        # And each answers on it: with the other paused for a moment (SIGSTOP, well
        # inside uvicorn's worker health check), a connection can only be its.
        for worker in workers:
            others = [w for w in workers if w != worker]
            for other in others:
                os.kill(other, signal.SIGSTOP)
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
                    connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: vault\r\n\r\n")
                    assert connection.recv(65536).startswith(b"HTTP/1.1 200")
                    ours = connection.getsockname()[1]
                    accepted = {
                        inode
                        for inode, (state, remote) in _tcp_sockets(port).items()
                        if state == ESTABLISHED and remote == ours
                    }
                    assert len(accepted) == 1
                    assert accepted <= _socket_inodes(worker)
            finally:
                for other in others:
                    os.kill(other, signal.SIGCONT)
        # A worker that dies is replaced; the port answers throughout.
        os.kill(workers[0], signal.SIGKILL)
        deadline = time.monotonic() + 30
        while True:
            now = _children(server.process.pid)
            if len(now) == 2 and workers[0] not in now:
                break
            assert httpx.get(server.base + "/healthz", timeout=5).status_code == 200
            assert time.monotonic() < deadline, "the dead worker was not replaced"
            time.sleep(0.1)
        assert workers[1] in now
        assert len(now) == 2


def test_reload_and_several_workers_are_refused():
    env = {
        **os.environ,
        "SECRET_KEY": TEST_SECRET,
        "MANDATE_VAULT_ENV_FILE": os.devnull,
        "DATABASE_URL": "sqlite+aiosqlite:///./unused.db",
    }
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "serve", "--reload", "--workers", "2"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: --reload runs a single process and cannot serve with 2 workers: "
        "drop --reload, or pass --workers 1 (or WORKERS=1)"
    )
