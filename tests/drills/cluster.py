"""A throwaway PostgreSQL cluster the outage tests may stop, start and starve.

Built like the TLS/replica pair (`tests/dbops/pg_cluster.py`): `initdb` into a
temporary directory, a free port, run as the `postgres` OS user when the tests
run as root. The machine's shared cluster is never touched.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from tests.conftest import free_port
from tests.dbops.pg_cluster import _as_owner, pg_bin


@dataclass
class Cluster:
    root: Path
    bin: Path
    port: int

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, database: str = "postgres", query: str = "") -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}{query}"

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _ctl(self, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[bytes]:
        command = [str(self.bin / "pg_ctl"), "-D", str(self.data), *args]
        return subprocess.run(_as_owner(command), capture_output=True, timeout=timeout)

    def start(self) -> None:
        done = self._ctl("-w", "-t", "60", "-l", str(self.root / "server.log"), "start")
        if done.returncode != 0:
            raise RuntimeError(f"pg_ctl start failed: {done.stderr.decode(errors='replace')}")

    def stop(self, mode: str = "fast", wait: bool = True) -> None:
        """`fast`: sessions are cut; `smart`: waits for them (new ones get 57P03)."""
        args = ["-m", mode, "stop"] if wait else ["-m", mode, "-W", "stop"]
        self._ctl(*args)

    def running(self) -> bool:
        return self._ctl("status").returncode == 0

    def wait_stopped(self, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while self.running() and time.monotonic() < deadline:
            time.sleep(0.05)

    def remove(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._ctl("-m", "immediate", "stop", timeout=60)
        shutil.rmtree(self.root, ignore_errors=True)

    async def execute(self, statement: str, database: str = "postgres") -> None:
        connection = await asyncpg.connect(self.dsn(database), timeout=5)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    def create_database(self, name: str) -> str:
        asyncio.run(self.execute(f'CREATE DATABASE "{name}"'))
        return self.url(name)


def start_cluster(max_connections: int = 40) -> Cluster:
    bin_dir = pg_bin()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL server binaries (initdb, pg_ctl) not found; set PG_BIN")
    root = Path(tempfile.mkdtemp(prefix="mv-pg-drill-"))
    cluster = Cluster(root, bin_dir, free_port())
    try:
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(root, owner.pw_uid, owner.pw_gid)
        os.chmod(root, 0o755)
        subprocess.run(
            _as_owner(
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(cluster.data),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "--no-sync",
                    "-E",
                    "UTF8",
                    "--locale=C",
                ]
            ),
            check=True,
            capture_output=True,
            timeout=120,
        )
        with (cluster.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"""
listen_addresses = '127.0.0.1'
port = {cluster.port}
unix_socket_directories = '{root}'
ssl = off
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 32MB
max_connections = {max_connections}
"""
            )
        cluster.start()
    except BaseException:
        cluster.remove()
        raise
    return cluster
