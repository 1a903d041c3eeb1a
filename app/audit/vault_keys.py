"""The vault's signing keys in the database: made on first start, rotated, published.

The private part of a stored key is sealed with the SecretBox (ENCRYPTION_KEYS,
or a key derived from SECRET_KEY); with SIGNING_KEY_FILE the key lives in that
PEM file and the row holds only its public JWK. Rotation makes a new current
key and retires the old one, whose public key stays in `GET /.well-known/jwks.json`
so everything it signed still verifies.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.config import Settings
from app.core.database import Database
from app.core.logging import get_logger
from app.core.secretbox import SecretBox
from app.models import VaultSigningKey
from app.models.base import table_of
from app.signing import (
    Keyring,
    SigningKey,
    generate_signing_key,
    read_signing_key_file,
    seal_signing_key,
    unseal_signing_key,
)

log = get_logger(__name__)
KEYS = table_of(VaultSigningKey)
CURRENT = "current"
RETIRED = "retired"


def secret_box(settings: Settings) -> SecretBox:
    return SecretBox.from_settings(
        settings.secret_key.get_secret_value(), settings.encryption_key_list
    )


async def published_jwks(connection: AsyncConnection) -> dict[str, list[dict[str, Any]]]:
    """Every public key, current first then retired newest first (what jwks.json serves)."""
    rows = (
        await connection.execute(
            select(KEYS.c.public_jwk, KEYS.c.status, KEYS.c.created_at).order_by(
                (KEYS.c.status == CURRENT).desc(), KEYS.c.created_at.desc()
            )
        )
    ).all()
    return {"keys": [dict(row.public_jwk) for row in rows]}


async def _retired(connection: AsyncConnection, current_kid: str) -> list[dict[str, Any]]:
    jwks = await published_jwks(connection)
    return [jwk for jwk in jwks["keys"] if jwk.get("kid") != current_kid]


async def _insert_current(
    connection: AsyncConnection, key: SigningKey, sealed: str | None, now: datetime
) -> None:
    await connection.execute(
        update(KEYS)
        .where(KEYS.c.status == CURRENT, KEYS.c.kid != key.kid)
        .values(status=RETIRED, retired_at=now)
    )
    existing = (
        await connection.execute(select(KEYS.c.kid).where(KEYS.c.kid == key.kid))
    ).scalar_one_or_none()
    if existing is None:
        await connection.execute(
            KEYS.insert().values(
                kid=key.kid,
                public_jwk=key.public_jwk(),
                sealed_private_key=sealed,
                status=CURRENT,
                created_at=now,
            )
        )
    else:
        await connection.execute(
            update(KEYS).where(KEYS.c.kid == key.kid).values(status=CURRENT, retired_at=None)
        )


async def load_keyring(database: Database, settings: Settings) -> Keyring:
    """The vault's keyring; the first call on a new database makes and stores the key."""
    now = datetime.now(UTC)
    if settings.signing_key_file:
        key = read_signing_key_file(settings.signing_key_file)
        async with database.write_engine.begin() as connection:
            current = (
                await connection.execute(select(KEYS.c.kid).where(KEYS.c.status == CURRENT))
            ).scalar_one_or_none()
            if current != key.kid:
                await _insert_current(connection, key, None, now)
                log.info("vault_signing_key_from_file", kid=key.kid)
            return Keyring.of(key, await _retired(connection, key.kid))
    box = secret_box(settings)
    for _attempt in range(3):
        async with database.write_engine.connect() as connection:
            row = (
                await connection.execute(
                    select(KEYS.c.kid, KEYS.c.sealed_private_key).where(KEYS.c.status == CURRENT)
                )
            ).first()
            if row is not None and row.sealed_private_key is not None:
                key = unseal_signing_key(row.sealed_private_key, box, kid=row.kid)
                return Keyring.of(key, await _retired(connection, key.kid))
            await connection.rollback()
        if row is not None:
            # The current key lives in a file this process was not given.
            raise RuntimeError(
                f"the vault's current signing key {row.kid} is kept in SIGNING_KEY_FILE, "
                "which is not set here"
            )
        try:
            await _create_first(database, box)
        except IntegrityError:
            continue  # another process made the first key at the same moment: read it
    raise RuntimeError("could not read or create the vault signing key")


async def _create_first(database: Database, box: SecretBox) -> None:
    """The first key, unless another process made one meanwhile (then it is read)."""
    key = generate_signing_key()
    async with database.write_engine.begin() as connection:
        current = (
            await connection.execute(select(KEYS.c.kid).where(KEYS.c.status == CURRENT))
        ).scalar_one_or_none()
        if current is None:
            await _insert_current(connection, key, seal_signing_key(key, box), datetime.now(UTC))
            log.info("vault_signing_key_created", kid=key.kid)


async def rotate_key(database: Database, settings: Settings) -> Keyring:
    """Make a new current key (sealed in the database); the old one stays published."""
    key = generate_signing_key()
    now = datetime.now(UTC)
    async with database.write_engine.begin() as connection:
        await _insert_current(connection, key, seal_signing_key(key, secret_box(settings)), now)
        retired = await _retired(connection, key.kid)
    log.info("vault_signing_key_created", kid=key.kid, retired=len(retired))
    return Keyring.of(key, retired)
