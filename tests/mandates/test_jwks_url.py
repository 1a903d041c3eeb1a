"""Issuers whose keys live at a URL, against a real local HTTP server."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from app.core.errors import Unprocessable
from app.issuers.jwks import JwksClient
from app.issuers.schemas import IssuerCreate
from app.issuers.service import IssuerService
from app.issuers.trust import TrustLoader
from app.mandates.schemas import MandateCreate
from app.mandates.service import MandateService
from tests.conftest import make_settings
from tests.mandates.conftest import ACTOR, new_tenant
from tests.mandates.minting import MintingIssuer


class JwksServer:
    def __init__(self) -> None:
        self.body: bytes = b"{}"
        self.status = 200
        self.delay = 0.0
        self.hits = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.hits += 1
                time.sleep(server.delay)
                self.send_response(server.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(server.body)))
                self.end_headers()
                self.wfile.write(server.body)

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/.well-known/jwks.json"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def serve(self, *issuers: MintingIssuer) -> None:
        self.body = json.dumps({"keys": [i.jwks()["keys"][0] for i in issuers]}).encode()
        self.status, self.delay = 200, 0.0


@pytest.fixture
def jwks_server() -> Iterator[JwksServer]:
    server = JwksServer()
    yield server
    server.httpd.shutdown()


class UrlSetup:
    """Registration and ingest as requests do them: each in a unit of work of its own."""

    def __init__(self, database, tenant_id, client, settings, clock) -> None:
        self.database, self.tenant_id, self.client = database, tenant_id, client
        self.settings, self.clock = settings, clock
        self.trust = TrustLoader(client, database)

    async def register(self, body: IssuerCreate):
        async with self.database.sessions.begin() as session:
            return await IssuerService(session, self.tenant_id, ACTOR, self.client).create(body)

    async def ingest(self, token: str):
        # As SessionDep: a session that has begun nothing yet, committed at the end.
        async with self.database.sessions() as session:
            mandates = MandateService(
                session, self.tenant_id, ACTOR, self.trust, self.settings, self.clock
            )
            outcome = await mandates.ingest(MandateCreate(vc_jwt=token))
            await session.commit()
            return outcome


@pytest.fixture
async def url_setup(database_url, database, clock):
    settings = make_settings(
        database_url,
        jwks_allow_http=True,
        jwks_fetch_timeout=1,
        jwks_min_refetch_seconds=1,
        jwks_refresh_seconds=1,
    )
    async with database.sessions.begin() as session:
        tenant_id = await new_tenant(session)
    async with httpx.AsyncClient() as http:
        yield UrlSetup(database, tenant_id, JwksClient(http, settings, clock), settings, clock)


async def test_keys_fetched_rotated_and_kept_when_the_server_fails(url_setup, jwks_server, clock):
    first = MintingIssuer(kid="k1")
    jwks_server.serve(first)
    row = await url_setup.register(IssuerCreate(did=first.did, jwks_url=jwks_server.url))
    assert row.jwks_fetched_at is not None
    assert (await url_setup.ingest(first.token())).created

    # Rotation at the source: a kid the cache does not know triggers one refetch
    # (at most one per JWKS_MIN_REFETCH_SECONDS, counting the fetch at registration).
    clock.advance(1.05)
    second = MintingIssuer(did=first.did, kid="k2")
    jwks_server.serve(first, second)
    hits = jwks_server.hits
    assert (await url_setup.ingest(second.token())).created
    assert jwks_server.hits == hits + 1

    # Another unknown kid straight away: no second early refetch.
    third = MintingIssuer(did=first.did, kid="k3")
    jwks_server.serve(first, second, third)
    hits = jwks_server.hits
    outcome = await url_setup.ingest(third.token())
    assert outcome.result.code.value == "KEY_NOT_FOUND"
    assert jwks_server.hits == hits

    # The source breaks after the refresh interval: the last good keys still verify.
    clock.advance(1.1)
    jwks_server.status = 500
    assert (await url_setup.ingest(second.token())).created


@pytest.mark.parametrize("engine_name", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("setup", "fragment"),
    [
        (lambda s: setattr(s, "status", 404), "HTTP 404"),
        (lambda s: setattr(s, "body", b"not json"), "did not return JSON"),
        (
            lambda s: setattr(s, "body", b'{"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}'),
            "unusable key set",
        ),
        (lambda s: setattr(s, "body", b'{"keys": []}' + b" " * 300_000), "larger than"),
        (lambda s: setattr(s, "delay", 1.5), "did not answer in time"),
    ],
)
async def test_unusable_key_sources_are_refused(url_setup, jwks_server, setup, fragment):
    setup(jwks_server)
    with pytest.raises(Unprocessable, match=fragment) as caught:
        await url_setup.register(
            IssuerCreate(did="did:web:broken.example", jwks_url=jwks_server.url)
        )
    assert caught.value.code == "jwks_unavailable"


@pytest.mark.parametrize("engine_name", ["sqlite"], indirect=True)
async def test_plain_http_needs_an_explicit_setting(database_url, session, tenant_id):
    async with httpx.AsyncClient() as http:
        client = JwksClient(http, make_settings(database_url))
        issuers = IssuerService(session, tenant_id, ACTOR, client)
        with pytest.raises(Unprocessable, match="must use https"):
            await issuers.create(
                IssuerCreate(did="did:web:x.example", jwks_url="http://127.0.0.1:9/jwks")
            )
        with pytest.raises(Unprocessable, match="must not carry credentials"):
            await issuers.create(
                IssuerCreate(did="did:web:x.example", jwks_url="https://u:p@x.example/jwks")
            )
