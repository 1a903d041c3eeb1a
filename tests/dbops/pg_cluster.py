"""Throwaway PostgreSQL clusters for the TLS and replica tests.

A primary with TLS on (a CA and a server certificate made with `cryptography`)
and replication allowed, and a streaming replica made with `pg_basebackup -R`,
each on a free port in a temporary directory, run as the `postgres` OS user
when the tests run as root. The system cluster is never touched.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.conftest import free_port

BIN_CANDIDATES = [
    Path(os.environ.get("PG_BIN", "")),
    *sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True),
]


def pg_bin() -> Path | None:
    for candidate in BIN_CANDIDATES:
        if candidate and (candidate / "initdb").is_file() and (candidate / "pg_ctl").is_file():
            return candidate
    return None


def _as_owner(command: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


def _key_pem(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def make_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A CA, and a server certificate it signed for localhost / 127.0.0.1."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mandate-vault test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([x509.OID_SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_file = directory / "ca.crt"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file = directory / "server.crt"
    cert_file.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    key_file = directory / "server.key"
    key_file.write_bytes(_key_pem(key))
    return ca_file, cert_file, key_file


@dataclass
class ClusterPair:
    root: Path
    bin: Path
    primary_port: int
    replica_port: int
    ca_file: Path

    @property
    def primary(self) -> Path:
        return self.root / "primary"

    @property
    def replica(self) -> Path:
        return self.root / "replica"

    def url(self, database: str = "postgres", port: int | None = None, query: str = "") -> str:
        port = port or self.primary_port
        return f"postgresql+asyncpg://postgres@127.0.0.1:{port}/{database}{query}"

    def ctl(self, data: Path, action: str) -> None:
        command = [str(self.bin / "pg_ctl"), "-D", str(data), "-w", "-t", "60"]
        if action == "start":
            command += ["-l", str(data / "server.log"), "start"]
        else:
            command += ["-m", "immediate", "stop"]
        subprocess.run(_as_owner(command), check=True, capture_output=True, timeout=90)

    def stop(self) -> None:
        for data in (self.replica, self.primary):
            if (data / "postmaster.pid").exists():
                subprocess.run(
                    _as_owner(
                        [str(self.bin / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]
                    ),
                    capture_output=True,
                    timeout=60,
                )
        shutil.rmtree(self.root, ignore_errors=True)


def start_pair() -> ClusterPair:
    bin_dir = pg_bin()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL server binaries (initdb, pg_ctl) not found; set PG_BIN")
    root = Path(tempfile.mkdtemp(prefix="mv-pg-pair-"))
    pair = ClusterPair(root, bin_dir, free_port(), free_port(), root / "ca.crt")
    try:
        ca_file, cert_file, key_file = make_certificates(root)
        pair.ca_file = ca_file
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(root, owner.pw_uid, owner.pw_gid)
            for path in (cert_file, key_file):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        os.chmod(root, 0o755)
        key_file.chmod(0o600)
        subprocess.run(
            _as_owner(
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(pair.primary),
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
        settings = f"""
listen_addresses = '127.0.0.1'
port = {pair.primary_port}
unix_socket_directories = '{root}'
ssl = on
ssl_cert_file = '{cert_file}'
ssl_key_file = '{key_file}'
wal_level = replica
max_wal_senders = 4
hot_standby = on
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 32MB
max_connections = 40
"""
        with (pair.primary / "postgresql.conf").open("a") as conf:
            conf.write(settings)
        with (pair.primary / "pg_hba.conf").open("a") as hba:
            hba.write("host replication all 127.0.0.1/32 trust\n")
        pair.ctl(pair.primary, "start")
        subprocess.run(
            _as_owner(
                [
                    str(bin_dir / "pg_basebackup"),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(pair.primary_port),
                    "-U",
                    "postgres",
                    "-D",
                    str(pair.replica),
                    "-R",
                    "-X",
                    "stream",
                    "--no-sync",
                ]
            ),
            check=True,
            capture_output=True,
            timeout=120,
        )
        with (pair.replica / "postgresql.conf").open("a") as conf:
            conf.write(f"port = {pair.replica_port}\n")
        pair.ctl(pair.replica, "start")
        _wait_streaming(pair)
    except BaseException:
        pair.stop()
        raise
    return pair


def _wait_streaming(pair: ClusterPair) -> None:
    psql = shutil.which("psql") or str(pair.bin / "psql")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        done = subprocess.run(
            [
                psql,
                "-X",
                "-At",
                "-h",
                "127.0.0.1",
                "-p",
                str(pair.primary_port),
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-c",
                "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'",
            ],
            capture_output=True,
            text=True,
        )
        if done.stdout.strip() == "1":
            return
        time.sleep(0.1)
    raise RuntimeError("the replica did not start streaming within 30 s")
