"""Fixtures: real local receivers (HTTP and HTTPS), a delivery client, a scripted resolver."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence

import httpx
import pytest

from app.webhooks.attempt import AttemptLimits
from app.webhooks.transport import build_delivery_client
from app.webhooks.urls import UrlPolicy
from tests.webhooks.receiver import Receiver
from tests.webhooks.tls import LocalPki, make_pki

# A name under the reserved .test domain: it never resolves, so reaching it at all
# proves the connection went to the pinned address and not through DNS.
TLS_NAME = "hooks.vault.test"
LOCAL_POLICY = UrlPolicy(allow_http=True, allow_private_networks=True)
FAST_LIMITS = AttemptLimits(connect_timeout=1.0, total_timeout=2.0, excerpt_bytes=1024)


class StaticResolver:
    """A resolver answering from a table; counts lookups; unknown names do not resolve."""

    def __init__(self, table: Mapping[str, Sequence[str]] | None = None, delay: float = 0.0):
        self.table = dict(table or {})
        self.delay = delay
        self.lookups: list[str] = []

    async def resolve(self, host: str, port: int) -> Sequence[str]:
        self.lookups.append(host)
        if self.delay:
            await asyncio.sleep(self.delay)
        if host not in self.table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return list(self.table[host])


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> LocalPki:
    return make_pki(tmp_path_factory.mktemp("webhook-pki"), [TLS_NAME])


@pytest.fixture
def tls_receiver(pki: LocalPki) -> Iterator[Receiver]:
    with Receiver(certfile=pki.cert_file, keyfile=pki.key_file) as running:
        yield running


@pytest.fixture
async def client(pki: LocalPki) -> AsyncIterator[httpx.AsyncClient]:
    async with build_delivery_client(ssl_context=pki.client_context()) as delivery_client:
        yield delivery_client


@pytest.fixture
def resolver() -> StaticResolver:
    return StaticResolver({TLS_NAME: ["127.0.0.1"]})
