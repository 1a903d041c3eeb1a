"""Demo data: a tenant, its admin, a demo API key, a trusted issuer and a few signed mandates.

Running it again changes nothing: each piece is looked up before it is made.
The admin password comes from DEMO_ADMIN_PASSWORD, or is generated when the admin
is first created (the command then saves it to the settings file). A rerun checks
DEMO_ADMIN_PASSWORD against the stored hash, so it says honestly whether it still
signs in.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.actor import Actor
from app.core.config import Settings
from app.core.database import Database
from app.core.security import new_secret, verify_password
from app.issuers.schemas import IssuerCreate, IssuerUpdate
from app.issuers.service import IssuerService
from app.issuers.trust import TrustLoader
from app.mandates.schemas import MandateCreate
from app.mandates.service import MandateService
from app.models import Tenant
from app.tenancy import service
from app.tenancy.permissions import Role
from app.tenancy.repository import CredentialLookup

DEMO_TENANT_SLUG = "demo"
DEMO_ADMIN_EMAIL = "admin@demo.example"
DEMO_ISSUER_DID = "did:web:issuer.demo.example"
DEMO_SUBJECT_DID = "did:example:shopping-agent-1"
DEMO_API_KEY_NAME = "demo"
SEED_ACTOR = Actor.system("seed")


@dataclass
class SeedResult:
    tenant_id: uuid.UUID
    admin_email: str
    admin_password: str | None  # the password that signs in, when known
    admin_created: bool = False
    password_generated: bool = False
    # The admin existed and DEMO_ADMIN_PASSWORD is set, but no longer signs in.
    password_stale: bool = False
    api_key: str | None = None  # None when the demo key already existed
    created: list[str] = field(default_factory=list)


async def _tenant(session: AsyncSession, result: list[str]) -> Tenant:
    tenant = await service.tenant_by_slug(session, DEMO_TENANT_SLUG)
    if tenant is None:
        tenant = await service.create_tenant(
            session, "Demo Merchant", slug=DEMO_TENANT_SLUG, email="ops@demo.example"
        )
        result.append("tenant")
    return tenant


@dataclass(frozen=True, slots=True)
class AdminOutcome:
    password: str | None
    created: bool
    generated: bool = False
    stale: bool = False


async def _admin(
    session: AsyncSession, tenant: Tenant, result: list[str], given: str | None
) -> AdminOutcome:
    existing = await CredentialLookup(session).user_by_email(DEMO_ADMIN_EMAIL)
    if existing is not None:
        if given is None:
            return AdminOutcome(None, created=False)
        if verify_password(existing.password_hash, given):
            return AdminOutcome(given, created=False)
        return AdminOutcome(None, created=False, stale=True)
    password = given or new_secret(12)
    await service.create_user_record(
        session,
        tenant_id=tenant.id,
        email=DEMO_ADMIN_EMAIL,
        role=Role.CUSTOMER_ADMIN,
        password=password,
        full_name="Demo Admin",
    )
    result.append("admin user")
    return AdminOutcome(password, created=True, generated=given is None)


async def _api_key(session: AsyncSession, tenant: Tenant, result: list[str]) -> str | None:
    if await service.api_key_named(session, tenant.id, DEMO_API_KEY_NAME) is not None:
        return None
    created = await service.create_api_key(
        session, None, tenant.id, name=DEMO_API_KEY_NAME, role=Role.CUSTOMER_ADMIN
    )
    result.append("API key")
    return created.secret


def _sample_tokens(key: Ed25519PrivateKey, now: datetime) -> list[tuple[str, dict]]:
    samples = [
        ("groceries", "250.00", "USD", ["fresh-market.example"], now + timedelta(days=30)),
        ("travel", "1200.00", "EUR", ["rail.example", "air.example"], now + timedelta(days=90)),
        ("subscriptions", "19.99", "USD", ["video.example"], now + timedelta(days=5)),
    ]
    tokens = []
    for scope, amount, currency, merchants, expires in samples:
        claims = {
            "iss": DEMO_ISSUER_DID,
            "sub": DEMO_SUBJECT_DID,
            "iat": int(now.timestamp()),
            "exp": int(expires.timestamp()),
            "jti": str(uuid.uuid4()),
            "vc": {
                "@context": ["https://www.w3.org/ns/credentials/v2"],
                "type": ["VerifiableCredential", "Mandate"],
                "credentialSubject": {
                    "scope": scope,
                    "amount_limit": amount,
                    "currency": currency,
                    "merchants": merchants,
                },
            },
        }
        token = jwt.encode(
            claims, key, algorithm="EdDSA", headers={"kid": "demo-1", "typ": "vc+jwt"}
        )
        tokens.append((token, claims))
    return tokens


async def _issuer_and_mandates(
    session: AsyncSession, tenant: Tenant, result: list[str], settings: Settings
) -> None:
    """A demo issuer and sample mandates, through the same services as the API."""
    mandates = MandateService(session, tenant.id, SEED_ACTOR, TrustLoader(None), settings)
    if await mandates.holds_any():
        return
    key = Ed25519PrivateKey.generate()
    public_jwk = jwt.algorithms.OKPAlgorithm.to_jwk(key.public_key(), as_dict=True)
    public_jwk["kid"] = "demo-1"
    # The demo signing key lives only for this run; the issuer keeps its public half.
    jwks = {"keys": [public_jwk]}
    issuers = IssuerService(session, tenant.id, SEED_ACTOR, None)
    existing = next((i for i in await issuers.list() if i.did == DEMO_ISSUER_DID), None)
    if existing is None:
        await issuers.create(IssuerCreate(did=DEMO_ISSUER_DID, name="Demo Bank", jwks=jwks))
        result.append("issuer")
    else:
        await issuers.update(existing.id, IssuerUpdate(jwks=jwks))
    tokens = _sample_tokens(key, datetime.now(UTC).replace(microsecond=0))
    for token, _claims in tokens:
        outcome = await mandates.ingest(MandateCreate(vc_jwt=token))
        if not outcome.created:
            raise RuntimeError(f"a demo mandate did not verify: {outcome.result.reason}")
    result.append(f"{len(tokens)} sample mandates")


async def seed_demo_data(settings: Settings) -> SeedResult:
    database = Database(settings)
    try:
        async with database.sessions.begin() as session:
            created: list[str] = []
            tenant = await _tenant(session, created)
            given = settings.demo_admin_password
            admin = await _admin(
                session, tenant, created, given.get_secret_value() if given else None
            )
            api_key = await _api_key(session, tenant, created)
            await _issuer_and_mandates(session, tenant, created, settings)
            return SeedResult(
                tenant.id,
                DEMO_ADMIN_EMAIL,
                admin.password,
                admin_created=admin.created,
                password_generated=admin.generated,
                password_stale=admin.stale,
                api_key=api_key,
                created=created,
            )
    finally:
        await database.dispose()


RESET_HINT = f"mandate-vault users reset-password --email {DEMO_ADMIN_EMAIL}"


def login_line(result: SeedResult, source: str, saved: str | None) -> str:
    """The demo login, and honestly where its password is.

    `source`: where DEMO_ADMIN_PASSWORD was read ("the environment", a file), or ""
    when unset; `saved`: what became of a generated password.
    """
    email = result.admin_email
    if result.admin_password and result.password_generated:
        return f"Demo login: {email} / {result.admin_password} (generated; {saved})"
    if result.admin_password:
        return f"Demo login: {email} / {result.admin_password} (DEMO_ADMIN_PASSWORD in {source})"
    if result.password_stale:
        return (
            f"Demo login: {email} (DEMO_ADMIN_PASSWORD in {source} is not this admin's "
            f"password: it was changed since or set later; set a new one with `{RESET_HINT}`)"
        )
    return (
        f"Demo login: {email} (its password was shown when it was created and is not in "
        f"DEMO_ADMIN_PASSWORD; set a new one with `{RESET_HINT}`)"
    )


def print_summary(result: SeedResult, login: str) -> None:
    from rich.console import Console

    console = Console(soft_wrap=True, highlight=False)
    if result.created:
        console.print(f"[green]Seeded:[/green] {', '.join(result.created)}")
    else:
        console.print("Demo data already present; nothing changed.")
    console.print(f"Demo tenant id: {result.tenant_id}")
    console.print(login, markup=False)
    if result.api_key:
        console.print(f"Demo API key (shown once): {result.api_key}")
    else:
        console.print(
            f"Demo API key: '{DEMO_API_KEY_NAME}' exists (its secret was shown when made; "
            "make another: mandate-vault api-keys create --tenant "
            f"{result.tenant_id} --role customer_admin --name NAME)"
        )
